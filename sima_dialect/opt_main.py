"""`sima-opt`: xDSL's optimizer driver with the sima dialect and passes.

    sima-opt model.mlir -p sima-canonicalize,cancel-transposes
    sima-opt model.mlir --print-weights       # weights in full, not elided
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from xdsl.dialects.builtin import ModuleOp
from xdsl.xdsl_opt_main import xDSLOptMain

from sima_dialect.weights import print_weights_in_full


class SimaOptMain(xDSLOptMain):
    def __init__(self, args: Sequence[str] | None = None):
        super().__init__(description="sima-opt: the sima quantization compiler's IR driver", args=args)

    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        from sima_dialect import Sima

        if "sima" not in self.ctx.registered_dialect_names:
            self.ctx.register_dialect("sima", lambda: Sima)

    def register_all_passes(self) -> None:
        super().register_all_passes()
        from passes import get_all_passes

        for name, factory in get_all_passes().items():
            self.register_pass(name, factory)

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        # The sima passes get their own section after xDSL's long list. It is
        # built only when help is printed: it imports every pass module.
        format_xdsl_help = arg_parser.format_help
        arg_parser.format_help = lambda: format_xdsl_help() + "\n" + sima_passes_help()
        arg_parser.add_argument(
            "--print-weights",
            default=False,
            action="store_true",
            help="Print #sima.ndarray weights in full (hex) instead of elided",
        )

    def output_resulting_program(self, prog: ModuleOp) -> str:
        with print_weights_in_full(self.args.print_weights):
            return super().output_resulting_program(prog)


def sima_passes_help() -> str:
    """The `sima-opt --help` section: each sima pass, its docstring's first line, its options."""
    from xdsl.passes import get_pass_option_infos

    from passes import get_all_passes

    factories = get_all_passes()
    width = max((len(name) for name in factories), default=0)
    lines = ["sima passes (-p name or -p 'name{option=value,...}'):"]
    for name, factory in factories.items():
        try:
            pass_class = factory()
        except Exception as error:  # one broken pass module must not hide the others
            lines.append(f"  {name:<{width}}  (cannot be loaded: {type(error).__name__}: {error})")
            continue
        doc = (pass_class.__doc__ or "").strip()
        lines.append(f"  {name:<{width}}  {doc.splitlines()[0] if doc else ''}")
        for option in get_pass_option_infos(pass_class):
            option_name = option.name.replace("_", "-")
            lines.append(f"  {'':<{width}}    {option_name}={option.default_value} ({option.expected_type.strip(chr(39))})")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    SimaOptMain(args=argv).run()


if __name__ == "__main__":
    main(sys.argv[1:])
