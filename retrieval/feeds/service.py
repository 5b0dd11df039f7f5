"""FeedService: following feeds, beside NewsService and built from the same settings.

Its surface is async; fetching, parsing, ingesting and the SQLite calls run in worker threads, and
feeds are polled one at a time (so a poll never holds more than one worker).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from retrieval.errors import ConfigError, InputError
from retrieval.feeds.parse import parse_feed
from retrieval.feeds.poller import FeedPoller, PollReport, fetch_feed
from retrieval.feeds.store import Feed, FeedStore
from retrieval.settings import Settings
from retrieval.store.chroma_records import validate_library

if TYPE_CHECKING:
    from retrieval.service import NewsService

MAX_FEEDS = 200  # per library


def feeds_path(settings: Settings) -> Path:
    return settings.data_dir / "feeds.sqlite3"


class FeedService:
    """Feeds followed by libraries, and their polling. ``news`` ingests what the feeds bring; without
    it (``newsbot feed add/list/remove``, which need not open the articles) polling is refused."""

    def __init__(self, settings: Settings, news: NewsService | None = None, *, store: FeedStore | None = None) -> None:
        self.settings = settings
        self.store = store or FeedStore(feeds_path(settings))
        self._stop = threading.Event()
        self._poller: FeedPoller | None = None
        if news is not None:
            self._poller = FeedPoller(settings, self.store, ingest=news.ingest, remove=news.writer.remove,
                                      stop=self._stop)

    async def follow(self, library: str, url: str, *, channel_id: int | None = None) -> Feed:
        """Follow the feed at ``url`` in ``library`` (checked now: it must answer with a feed); due
        for its first poll at once. ``channel_id``: where the bot posts its new articles."""
        validate_library(library)
        url = url.strip()

        def check() -> Feed:
            if len(self.store.feeds(library)) >= MAX_FEEDS:
                raise InputError(f"This library already follows {MAX_FEEDS} feeds, the most it can.",
                                 hint="Remove one first.")
            page = fetch_feed(self.settings, url)
            parsed = parse_feed(page.content, url=page.final_url, content_type=page.content_type)
            return self.store.add(library, url, title=parsed.title, channel_id=channel_id)

        return await asyncio.to_thread(check)

    async def unfollow(self, library: str | None, feed_id: int) -> Feed | None:
        """Stop following feed ``feed_id`` of ``library`` (None: of any); its articles stay."""
        return await asyncio.to_thread(self.store.remove, library, feed_id)

    async def feeds(self, library: str | None = None) -> list[Feed]:
        return await asyncio.to_thread(self.store.feeds, library)

    async def due(self) -> list[Feed]:
        return await asyncio.to_thread(self.store.due)

    async def poll(self, feed: Feed) -> PollReport | None:
        """Poll one feed now (None: stopped midway by ``stop``)."""
        if self._poller is None:
            raise ConfigError("Feeds can only be polled with the article library open.")
        return await asyncio.to_thread(self._poller.poll, feed)

    async def poll_due(self, *, library: str | None = None, everything: bool = False) -> list[PollReport]:
        """Poll, one after the other, every feed that is due (``everything``: every feed) of
        ``library`` (None: of every library)."""
        feeds = await (self.feeds(library) if everything else self.due())
        reports = []
        for feed in feeds:
            if library is not None and feed.library != library:
                continue
            report = await self.poll(feed)
            if report is None:
                break
            reports.append(report)
        return reports

    def seconds_to_next(self, now: float | None = None) -> float | None:
        """Seconds until the next feed is due (0 when one is; None without feeds). Blocking, brief."""
        when = self.store.next_poll()
        return None if when is None else max(0.0, when - (time.time() if now is None else now))

    def stop(self) -> None:
        """Ask a running poll to stop before its next entry (shutting down)."""
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self.store.close()
