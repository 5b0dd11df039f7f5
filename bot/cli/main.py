"""``newsbot``: the argument parser and the dispatch of one command, with its errors as one line."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from rich.console import Console

from bot.cli import commands
from bot.cli.feed_parser import add_feed_parser
from bot.cli.terminal import printable
from bot.cli.unknown_settings import check_environment
from bot.settings import load_bot_settings
from retrieval.errors import ConfigError, NewsbotError
from retrieval.settings import Settings
from retrieval.text.tokens import offline_cache_dir

Handler = Callable[[argparse.Namespace, Settings, Console], int]
# Arguments that must be text (file names may be any bytes): how messages name them.
TEXT_ARGUMENTS = {"question": "The question", "topic": "The topic", "title": "--title", "source": "--source",
                  "published": "--published", "library": "--library", "article_id": "ARTICLE_ID", "url": "The URL"}


class UsageError(NewsbotError):
    """The command line itself is wrong (exit code 2, like argparse's own errors)."""


def _feed(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from bot.cli.feeds import cmd_feed  # feedparser loads only for this command

    return cmd_feed(args, settings, console)


def _eval(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    from bot.cli.evaluate import cmd_eval  # the evaluation's modules load only for this command

    return cmd_eval(args, settings, console)


HANDLERS: dict[str, Handler] = {
    "eval": _eval,
    "ask": commands.cmd_ask,
    "add": commands.cmd_add,
    "list": commands.cmd_list,
    "latest": commands.cmd_latest,
    "remove": commands.cmd_remove,
    "stats": commands.cmd_stats,
    "reindex": commands.cmd_reindex,
    "run": commands.cmd_run,
    "feed": _feed,
}


def installed_version() -> str:
    """newsbot's version as installed (pip's metadata); a checkout that was never installed has none."""
    try:
        return metadata.version("newsbot")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; run pip install -e .)"


def days_argument(text: str) -> int:
    """``--days``: a whole number of days, 1 or more."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"“{text}” is not a number of days (give 1 or more, e.g. --days 30)")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsbot", description="Answers questions about company news, with citations.")
    parser.add_argument("--version", action="version", version=f"newsbot {installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--library", default="default", help="library (one Chroma collection) to use; default: default")
        return p

    ask = command("ask", "answer a question from the articles")
    ask.add_argument("question", nargs="+", help="the question")
    ask.add_argument("--no-stream", action="store_true", help="print the answer only when it is complete")
    add = command("add", "add articles from URLs, files, folders or - (standard input)")
    add.add_argument("targets", nargs="+", metavar="URL|FILE|DIR|-")
    add.add_argument("--title")
    add.add_argument("--published", help="publication date, e.g. 2022-05-27")
    add.add_argument("--source", help="publisher name")
    command("list", "list the articles in the library")
    latest = command("latest", "the newest articles, optionally about a topic")
    latest.add_argument("topic", nargs="*", help="only articles about this (found by the normal search)")
    latest.add_argument("--days", type=days_argument, help="how many days back; default: NEWSBOT_LATEST_DAYS (7)")
    rm = command("remove", "remove an article by its id (see `newsbot list`)")
    rm.add_argument("article_id")
    command("stats", "article and chunk counts")
    command("reindex", "rebuild the library with the configured embedder")
    add_feed_parser(sub)
    ev = sub.add_parser("eval", help="measure retrieval quality on a benchmark", description="Measure retrieval quality.")
    ev_sub = ev.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    mh = ev_sub.add_parser("multihop", help="MultiHop-RAG (Tang & Yang 2024): Hits@4/10, MRR@10, FactRecall@10, AllFacts@10")
    mh.add_argument("--corpus", type=Path, required=True, help="corpus.json")
    mh.add_argument("--queries", type=Path, required=True, help="queries JSON (query, question_type, evidence_list)")
    mh.add_argument("--k", type=int, default=10)
    mh.add_argument("--json", action="store_true", help="print JSON instead of a table")
    mh.add_argument("--library", default="eval-multihop", help="throw-away library used for the corpus")
    mh.add_argument("--limit", type=int, default=None, help="evaluate only the first N queries")
    run_help = "start the Discord bot (needs DISCORD_TOKEN)"
    sub.add_parser("run", help=run_help, description=run_help)
    return parser


def use_offline_tiktoken_cache(explicit: Path | None, offline_dir: Path | None) -> None:
    """Process-wide: tiktoken finds its cached encodings through TIKTOKEN_CACHE_DIR, so point it at
    the configured folder, or at the offline one (``offline_dir/tiktoken-cache``)."""
    folder = offline_cache_dir(explicit, offline_dir)
    if folder is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)


def _undecodable_byte(text: str) -> int | None:
    """The first byte that was not UTF-8 (Python keeps such argv bytes as lone surrogates)."""
    for ch in text:
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            return ord(ch) - 0xDC00
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return 0
    return None


def check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse text arguments (and URLs) whose bytes are not UTF-8, naming the argument."""
    named = [(label, getattr(args, dest, None)) for dest, label in TEXT_ARGUMENTS.items()]
    named += [("The URL", t) for t in getattr(args, "targets", None) or () if t.startswith(("http://", "https://"))]
    for label, value in named:
        for text in value if isinstance(value, list) else [value]:
            byte = _undecodable_byte(text) if isinstance(text, str) else None
            if byte is not None:
                raise UsageError(f"{label} is not valid UTF-8 text (it has the byte 0x{byte:02x}).",
                                 hint="Set your terminal or script to UTF-8 and type it again.")


def main(argv: list[str] | None = None) -> int:
    """Run one command; every NewsbotError becomes one clear line on stderr."""
    args = build_parser().parse_args(argv)
    err = Console(stderr=True)
    # pypdf logs the flaws of a damaged PDF as warnings, which Python would print to stderr before
    # newsbot's own line about the file; the bot's log (set up by `newsbot run`) still records them.
    logging.getLogger("pypdf").addHandler(logging.NullHandler())
    try:
        notices = check_environment(os.environ)  # misspelt setting names: one warning each
        for line in notices:
            err.print(printable(line), highlight=False, markup=False, soft_wrap=True)
        check_text_arguments(args)
        settings = load_bot_settings()  # every command checks the whole configuration once
        use_offline_tiktoken_cache(settings.tiktoken_cache_dir, settings.offline_dir)
        if args.command == "run":
            return commands.cmd_run(args, settings, Console(), notices=notices)  # and into the bot's log
        return HANDLERS[args.command](args, settings, Console())
    except (ConfigError, UsageError) as exc:
        err.print(printable(f"newsbot: {exc}"), highlight=False, markup=False, soft_wrap=True)
        return 2
    except NewsbotError as exc:
        err.print(printable(f"newsbot: {exc}"), highlight=False, markup=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 130
