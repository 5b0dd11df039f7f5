"""The ``newsbot`` console script: the core's commands plus ``newsbot run`` (the Discord bot)."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from bot.cli import commands as core_cli
from retrieval.settings import Settings


def cmd_run(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from bot.runner import run  # imported here: discord.py loads only for this command

    return run(settings)


def build_parser() -> argparse.ArgumentParser:
    return core_cli.build_parser(extra=[("run", "start the Discord bot (needs DISCORD_TOKEN)")])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return core_cli.run_command(args, {**core_cli.HANDLERS, "run": cmd_run})


if __name__ == "__main__":
    sys.exit(main())
