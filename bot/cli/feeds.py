"""``newsbot feed add|list|remove|poll``: the feeds a library follows, from the command line.

``add``, ``list`` and ``remove`` use only the feeds file (they work while the bot runs; the bot
picks up a feed added here within a minute); ``poll`` opens the articles too, like ``newsbot add``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.commands import open_service
from bot.cli.terminal import printable
from retrieval.errors import InputError
from retrieval.feeds.poller import PollReport
from retrieval.feeds.service import FeedService
from retrieval.feeds.store import Feed
from retrieval.settings import Settings


def _when(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    stamp = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    return f"{stamp} (now)" if abs(ts - now) < 60 else stamp


def _line(console: Console, text: str) -> None:
    console.print(printable(text), highlight=False, markup=False, soft_wrap=True)


def print_feeds(console: Console, feeds: list[Feed], library: str | None) -> None:
    if not feeds:
        where = f"Library '{library}' follows" if library else "No library follows"
        _line(console, f"{where} no feeds. Follow one with `newsbot feed add URL`.")
        return
    now = time.time()
    table = Table("id", "library", "feed", "last success", "next poll", "last error", box=None, pad_edge=False)
    for f in feeds:
        error = f"{f.last_error} ({f.failures}x in a row)" if f.last_error else ""
        cells = (str(f.id), f.library, f.name, _when(f.last_success, now), _when(f.next_poll, now), error)
        table.add_row(*(Text(printable(c)) for c in cells))
    console.print(table)


def print_reports(console: Console, reports: list[PollReport]) -> None:
    if not reports:
        _line(console, "No feed was due; `newsbot feed poll --all` polls every feed now.")
    for r in reports:
        head = f"feed {r.feed.id} ({r.feed.name}, library {r.feed.library}):"
        if r.error:
            _line(Console(stderr=True), f"newsbot: {head} {r.error}")
            continue
        if r.not_modified:
            _line(console, f"{head} not modified since the last poll")
            continue
        waiting = f", {r.waiting} more next time" if r.waiting else ""
        _line(console, f"{head} {len(r.added)} new, {r.updated} updated{waiting}")
        for source in r.added:
            _line(console, f"  added     {source.article_id}  {source.title}")


def cmd_feed(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    action = args.feed_command
    if action == "poll":
        news = open_service(settings, "feed poll")
        feeds = FeedService(settings, news)
        try:
            reports = asyncio.run(feeds.poll_due(library=args.library, everything=args.all))
        finally:
            feeds.close()
            news.close()
        print_reports(console, reports)
        return 1 if any(r.error for r in reports) else 0
    feeds = FeedService(settings)
    try:
        if action == "add":
            feed = asyncio.run(feeds.follow(args.library, args.url))
            _line(console, f"Following {feed.name} (feed {feed.id}) in library '{feed.library}'; "
                           "`newsbot feed poll` fetches its articles (the bot, when running, does it by itself).")
        elif action == "list":
            print_feeds(console, asyncio.run(feeds.feeds(args.library)), args.library)
        else:
            feed = asyncio.run(feeds.unfollow(args.library, args.feed_id))
            if feed is None:
                where = f" in library '{args.library}'" if args.library else ""
                raise InputError(f"No feed {args.feed_id}{where}.", hint="`newsbot feed list` shows the ids.")
            _line(console, f"Stopped following {feed.name} (feed {feed.id}); its articles stay.")
    finally:
        feeds.close()
    return 0
