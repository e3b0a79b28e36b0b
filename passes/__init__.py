"""The sima passes: one ModulePass per module, registered lazily by name.

`get_all_passes()` maps each pass name to a factory that imports its module only
when the pass is used, as xDSL's own registry does; `sima-opt` and (through the
`xdsl.universe` entry point) `xdsl-opt` both read it.
"""

from collections.abc import Callable

from xdsl.passes import ModulePass


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """Pass name -> factory returning the pass class."""
    return {name: factory for name, factory in _REGISTRY.items()}


_REGISTRY: dict[str, Callable[[], type[ModulePass]]] = {}
