"""The `afe` command line: quantize, run, inspect and analyze models, and a demo.

    afe demo                                                  # the shipped example, end to end
    afe quantize model.onnx --calibration-data calib.npz -o out/
    afe run out/model.sima --input samples.npz -o outputs.npz
    afe inspect out/model.sima
    afe analyze out/model.sima --data samples.npz --metric mae --local-feed

Each command lives in its own module (`afe/cli_<command>.py`) with an
`add_parser(subparsers, common)` that registers its options and sets
`run(args) -> exit code`. This module parses, dispatches and turns errors
into one line on stderr and a non-zero exit code: a `UserFacingException`
prints its message; anything else is reported as an internal error. With
--verbose the traceback is printed too (and the `afe` logger speaks at INFO).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator
from importlib import metadata

from afe.apis.errors import UserFacingException

EPILOG = """\
examples:
  afe demo                                                  quantize the shipped example, report
  afe quantize model.onnx --calibration-data calib.npz -o out/
  afe inspect model.onnx                                    node names, before quantizing
  afe run out/model.sima --input samples.npz -o outputs.npz
  afe inspect out/model.sima                                nodes, targets, precision, scales
  afe analyze out/model.sima --data samples.npz --metric mae --local-feed

Sample files (.npz) hold one array per model input, named as the input, samples
along the first axis; 4-D inputs are NHWC. 'afe COMMAND --help' says more.
"""

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports it


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, pointing to --help."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _version() -> str:
    try:
        return metadata.version("sima-quantizer")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from afe import cli_analyze, cli_demo, cli_inspect, cli_quantize, cli_run

    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's default must not hide a --verbose given before it
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress and print tracebacks of errors"
    )
    parser = _Parser(
        prog="afe",
        description="sima post-training quantizer: quantize float ONNX models to int8 / int16 and check the result",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for command in (cli_demo, cli_quantize, cli_run, cli_inspect, cli_analyze):
        command.add_parser(subparsers, common)
    return parser


def _one_line(error: UserFacingException) -> str:
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    # "Error while quantizing the model: ..." reads better after the command's name in lower case
    return text[0].lower() + text[1:] if text.startswith("Error while") else f"error: {text}"


def main(argv: list[str] | None = None) -> int:
    """Run `afe` with `argv` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else EXIT_USAGE)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    verbose = getattr(args, "verbose", False)
    with _verbosity(verbose):
        return _run(args, verbose)


@contextlib.contextmanager
def _verbosity(verbose: bool) -> Iterator[None]:
    """With --verbose: internal tracebacks kept as causes, the `afe` logger at INFO; restored after."""
    from afe.apis import error_handling_variables as variables

    logger = logging.getLogger("afe")
    was_verbose, level = variables.verbose_error_messages_enabled(), logger.level
    if verbose:
        variables.enable_verbose_error_messages()
        logging.basicConfig(format="%(name)s: %(message)s")
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        if not was_verbose:
            variables.disable_verbose_error_messages()
        logger.setLevel(level)


def _run(args: argparse.Namespace, verbose: bool) -> int:
    try:
        return args.run(args) or 0
    except UserFacingException as error:
        if verbose:
            traceback.print_exc()
        print(f"afe {args.command}: {_one_line(error)}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader went away (`afe inspect ... | head`): stop quietly
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"afe {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug: say so in one line; --verbose shows where
        if verbose:
            traceback.print_exc()
        print(
            f"afe {args.command}: internal error ({type(error).__name__}: {error}); "
            "run it again with --verbose for the traceback",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


if __name__ == "__main__":
    sys.exit(main())
