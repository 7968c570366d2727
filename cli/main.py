"""``videogen``: the one command-line entry. Each subcommand lives in its own module under ``cli/`` with
``add_parser(subparsers)`` and ``run(args) -> int``; heavy imports happen inside ``run`` so ``--help`` is instant
and the API process never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.errors import VideoGenError

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("generate", "serve", "worker", "up", "export", "init", "train", "eval", "world")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videogen", description="Self-hostable text-to-video (VideoGen).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"cli.{name}":
                raise
            continue  # not built yet
        module.add_parser(subparsers)
    return parser


def one_line(exc: Exception) -> str:
    """The message of ``exc`` on one line; a settings ``ValidationError`` names each field and what is wrong."""
    errors = getattr(exc, "errors", None)
    if callable(errors):  # pydantic.ValidationError (a ValueError), e.g. a bad VIDEOGEN_* value or flag
        settings = getattr(exc, "title", "") == "Settings"
        parts = []
        for error in errors():
            field, *rest = [str(p) for p in error["loc"]] or ["input"]
            where = ".".join([f"VIDEOGEN_{field.upper()}" if settings else field, *rest])
            parts.append(f"{where}: {error['msg']}")
        return "; ".join(parts)
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, VideoGenError) as exc:
        # Bad input is the user's to fix: one line, no traceback.
        print(f"videogen {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"videogen {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
