"""The library commands: ask, add, list, latest, remove, stats, reindex; and run (the Discord bot).

Each takes the parsed arguments, the settings and a console, and returns the exit code. The
service is async: each command runs it with ``asyncio.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.terminal import (
    print_answer,
    print_failures,
    print_ingest,
    print_latest,
    printable,
    progress_bar,
    show_stream,
)
from bot.settings import BotSettings
from retrieval.errors import InputError
from retrieval.ingest.dates import published_date
from retrieval.ingest.decode import decode_text, read_limited
from retrieval.ingest.extract import article_from_text
from retrieval.ingest.gather import ReadFailure
from retrieval.settings import Settings

if TYPE_CHECKING:
    from retrieval.service import NewsService


def open_service(settings: Settings, command: str) -> NewsService:
    """The service for ``newsbot COMMAND``, imported on first use: ``newsbot --help`` and ``newsbot
    run`` need not load it here. If another newsbot has the data open, says once whom it waits for."""
    from retrieval.service import NewsService
    from retrieval.store.owners import Owner

    def waiting(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return NewsService.from_settings(settings, owner=Owner(f"newsbot {command}"), on_wait=waiting)


@contextlib.contextmanager
def opened_service(settings: Settings, command: str) -> Iterator[NewsService]:
    """``open_service``, closed (its data folder released) however the command ends."""
    service = open_service(settings, command)
    try:
        yield service
    finally:
        service.close()


def cmd_ask(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    async def ask(service: NewsService) -> None:
        question = service.validate_question(" ".join(args.question))  # a bad question adds nothing
        with progress_bar(console, "Adding the bundled articles") as update:
            await service.ensure_seeded(args.library, update)
        events = service.ask(args.library, question)
        answer = await show_stream(console, events, live=console.is_terminal and not args.no_stream)
        print_answer(console, answer)

    with opened_service(settings, "ask") as service:
        asyncio.run(ask(service))
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """Add what can be read; name every file, folder or link that cannot (exit code 1 then)."""
    overrides = {"title": args.title, "publisher": args.source, "published": published_date(args.published)}
    async def add(service: NewsService) -> list[ReadFailure]:
        report = await service.read_sources([t for t in args.targets if t != "-"], **overrides)
        if "-" in args.targets:
            try:
                data = read_limited(sys.stdin.buffer, what="standard input", max_bytes=settings.max_article_bytes)
                text = decode_text(data, what="standard input", max_bytes=settings.max_article_bytes)
                report.articles.append(article_from_text(text, max_bytes=settings.max_article_bytes, **overrides))
            except InputError as exc:
                report.failures.append(ReadFailure("standard input", exc))
        if report.articles:
            with progress_bar(console, "Adding articles") as update:
                print_ingest(console, await service.add_articles(args.library, report.articles, update))
        return report.failures

    with opened_service(settings, "add") as service:
        failures = asyncio.run(add(service))
    print_failures(Console(stderr=True), failures)
    return 1 if failures else 0


def cmd_list(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with opened_service(settings, "list") as service:
        rows, _ = asyncio.run(service.list_articles(args.library, limit=None))
    table = Table("id", "published", "publisher", "title", "chunks", box=None, pad_edge=False)
    for r in rows:
        s = r.source
        cells = (s.article_id, s.published.isoformat() if s.published else "", s.publisher or "", s.title, str(r.chunks))
        table.add_row(*(Text(printable(cell)) for cell in cells))  # Text: a "[" in a title is not markup
    console.print(table if rows else Text(f"Library '{args.library}' is empty."))
    return 0


def cmd_latest(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """The articles of the last days, newest first (undated ones after them when no topic is given)."""
    service = open_service(settings, "latest")
    try:
        result = asyncio.run(service.latest(args.library, " ".join(args.topic) or None, days=args.days))
    finally:
        service.close()
    print_latest(console, result)
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with opened_service(settings, "remove") as service:
        removed = asyncio.run(service.remove(args.library, args.article_id))
    if removed:
        console.print(Text(printable(f"Removed {args.article_id}.")))
        return 0
    raise InputError(f"No article {args.article_id} in library '{args.library}'.", hint="`newsbot list` shows the ids.")


def cmd_stats(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with opened_service(settings, "stats") as service:
        s = asyncio.run(service.stats(args.library))
    console.print(f"library {s.library}: {s.articles} articles, {s.chunks} chunks, embedder {s.embedder}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    with opened_service(settings, "reindex") as service, progress_bar(console, "Re-embedding chunks") as update:
        written = asyncio.run(service.reindex(args.library, update))
        embedder = service.embedder.name
    console.print(f"Rebuilt library '{args.library}' with {embedder}: {written} chunks.")
    return 0


def cmd_run(args: argparse.Namespace, settings: BotSettings, console: Console, notices: Sequence[str] = ()) -> int:
    """``notices``: warnings already shown, for the bot's log too."""
    from bot.runner import configure_endpoints, run  # imported here: discord.py loads only for this command

    configure_endpoints(settings)  # process-wide: discord.py's REST base and gateway, when set
    return run(settings, notices=notices)
