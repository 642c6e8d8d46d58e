"""The one `thinktune` command. Subcommands are thin: each lives in `thinktune/commands/<name>.py`, which
defines `register(subparsers)` and sets `func` on its parser; the work happens in library functions.

Modules are listed here explicitly (no implicit discovery); they must import nothing heavy at the top
level so `thinktune --help` stays fast. Errors a user can cause (`UserError` and its kin) are printed as
one line and exit 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from thinktune.errors import UserError  # noqa: F401 - re-exported: `thinktune.cli.UserError`

COMMANDS = ("train", "chat", "data", "models", "eval", "compare", "advise", "runs", "serve", "traces", "flywheel", "studio", "export", "distill", "pipeline", "plan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thinktune", description="Turn LLMs into reasoning models, and measure when reasoning pays."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"thinktune.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"thinktune.commands.{name}":
                continue  # not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    from thinktune.config import ConfigError

    try:
        result = args.func(args)
    except (UserError, ConfigError, FileNotFoundError) as e:
        print(f"thinktune {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
