"""The one command-line entry point: ``drugresponse <command> ...``, one module per stage.

Each module adds its sub-command (``add_command``) and, when run, parses nothing more than its arguments and calls
its stage. Stages are imported only when their command runs, so ``drugresponse serve`` never imports torch.
"""

from __future__ import annotations

import argparse
import sys

from drugresponse.errors import UserError

from . import data, evaluate, export, predict, screen, seed_study, serve, train, tune

COMMANDS = (data, train, evaluate, tune, export, serve, predict, screen, seed_study)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drugresponse",
        description="Predict cancer cell-line drug sensitivity (ln IC50) from genomic profiles (GDSC). "
                    "Research use only: not a clinical tool.")
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for command in COMMANDS:
        command.add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
