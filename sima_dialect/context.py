"""A parsing context that knows every dialect a `sima` module may contain."""

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func


def sima_context() -> Context:
    from sima_dialect import Sima

    ctx = Context()
    for dialect in (Builtin, Func, Sima):
        ctx.load_dialect(dialect)
    return ctx


def parse_module(text: str):
    """Parse textual IR (generic or custom form) into a verified ModuleOp."""
    from xdsl.parser import Parser

    module = Parser(sima_context(), text).parse_module()
    module.verify()
    return module
