"""The `afe` command line (its subcommands arrive with the user-facing issues)."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="afe", description="sima post-training quantizer")
    parser.add_subparsers(dest="command", title="commands")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
