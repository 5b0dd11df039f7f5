"""One poll of one feed: fetch it (conditionally), turn its new or changed entries into articles
and ingest them, and record how it went. Blocking: async callers run it in a worker thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from retrieval.errors import InputError, NewsbotError
from retrieval.feeds import schedule
from retrieval.feeds.parse import FEED_ACCEPT, FEED_TYPES, FeedEntry, parse_feed
from retrieval.feeds.store import Feed, FeedStore
from retrieval.ingest.addresses import safe_url
from retrieval.ingest.extract import article_from_text
from retrieval.ingest.fetch import FetchedPage, HTTPStatusError, article_from_url, fetch_url
from retrieval.models import Article, IngestResult, IngestStatus, Source
from retrieval.settings import Settings

_log = logging.getLogger(__name__)
SUMMARY_NOTE = "(This is the feed's summary of the article: its page could not be read.)"

Ingest = Callable[[str, Sequence[Article]], list[IngestResult]]
Remove = Callable[[str, str], bool]


@dataclass(frozen=True)
class PollReport:
    """How one poll went. ``feed``: its state after the poll; ``added``: the new articles, in the
    feed's order; ``waiting``: new entries left for the next poll (over the per-poll limit)."""

    feed: Feed
    added: list[Source] = field(default_factory=list)
    updated: int = 0
    waiting: int = 0
    not_modified: bool = False
    error: str | None = None


def fetch_feed(s: Settings, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchedPage:
    """The feed at ``url`` through the safe URL path (its limits, private-address guard, User-Agent),
    conditionally when the validators of the last copy are given."""
    return fetch_url(url, timeout=s.fetch_timeout, max_bytes=s.fetch_max_bytes, allow_private=s.allow_private_urls,
                     accept=FEED_TYPES, accept_header=FEED_ACCEPT, etag=etag, last_modified=last_modified)


class _Stopped(Exception):
    """The poller was asked to stop between two entries."""


class FeedPoller:
    def __init__(self, settings: Settings, store: FeedStore, *, ingest: Ingest, remove: Remove,
                 stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.store = store
        self._ingest = ingest
        self._remove = remove
        self.stop = stop or threading.Event()

    @property
    def interval(self) -> float:
        return self.settings.feed_interval * 60

    def poll(self, feed: Feed, *, now: float | None = None) -> PollReport | None:
        """Poll ``feed`` once; a failure is recorded and reported, never raised. None when asked to
        stop midway (nothing of that poll is recorded: the next one does it again)."""
        now = time.time() if now is None else now
        try:
            return self._poll(feed, now)
        except _Stopped:
            return None
        except NewsbotError as exc:
            _log.warning("Feed %d (%s) of %s: %s", feed.id, safe_url(feed.url), feed.library, exc.message)
            wait = exc.retry_after if isinstance(exc, HTTPStatusError) else None
            return self._failed(feed, now, exc.message, wait)
        except Exception as exc:  # a bug or a library's surprise must not stop the other feeds
            _log.exception("Feed %d (%s) of %s failed", feed.id, safe_url(feed.url), feed.library)
            return self._failed(feed, now, f"Unexpected error ({type(exc).__name__}); the log has the details.", None)

    def _failed(self, feed: Feed, now: float, error: str, retry_after: float | None) -> PollReport:
        if retry_after is not None:
            error += f" It asked to wait {retry_after:.0f} s."
        when = schedule.after_failure(now, self.interval, feed.failures + 1, retry_after=retry_after)
        return PollReport(self.store.record_failure(feed.id, now=now, next_poll=when, error=error) or feed, error=error)

    def _poll(self, feed: Feed, now: float) -> PollReport:
        page = fetch_feed(self.settings, feed.url, etag=feed.etag, last_modified=feed.last_modified)
        if page.not_modified:
            state = self.store.record_success(feed.id, now=now, next_poll=schedule.after_success(now, self.interval),
                                              etag=page.etag or feed.etag,
                                              last_modified=page.last_modified or feed.last_modified)
            return PollReport(state or feed, not_modified=True)
        parsed = parse_feed(page.content, url=page.final_url, content_type=page.content_type)
        seen = self.store.seen(feed.id, [e.key for e in parsed.entries])
        unique: dict[str, FeedEntry] = {}
        for entry in parsed.entries:
            unique.setdefault(entry.key, entry)
        fresh = [e for e in unique.values() if e.key not in seen or seen[e.key].fingerprint != e.fingerprint]
        batch, waiting = fresh[: self.settings.feed_max_entries], len(fresh) - self.settings.feed_max_entries
        publisher = parsed.title or feed.title
        taken = [(entry, article) for entry in batch if (article := self._article(entry, publisher)) is not None]
        results = self._ingest(feed.library, [a for _, a in taken]) if taken else []
        self.store.mark_seen(feed.id, [(e.key, e.fingerprint, a.id) for e, a in taken], now=now)
        for entry, article in taken:  # an entry without a link whose text changed is a new article id
            old = seen.get(entry.key)
            if old is not None and old.article_id != article.id:
                self._remove(feed.library, old.article_id)
        # With entries left over, the next poll must get the whole feed again (no validators).
        etag, modified = (page.etag, page.last_modified) if waiting <= 0 else (None, None)
        state = self.store.record_success(feed.id, now=now, next_poll=schedule.after_success(now, self.interval),
                                          etag=etag, last_modified=modified, title=parsed.title)
        added = [a.source for (_, a), r in zip(taken, results) if r.status is IngestStatus.ADDED]
        updated = sum(r.status is IngestStatus.UPDATED for r in results)
        if added or updated:
            _log.info("Feed %d (%s) of %s: %d new, %d updated", feed.id, safe_url(feed.url), feed.library,
                      len(added), updated)
        return PollReport(state or feed, added=added, updated=updated, waiting=max(waiting, 0))

    def _article(self, entry: FeedEntry, publisher: str | None) -> Article | None:
        """The entry's page as an article; else the feed's own text for it; None when it has neither."""
        if self.stop.is_set():
            raise _Stopped
        s = self.settings
        meta = {"title": entry.title, "publisher": publisher, "published": entry.published}
        why = "the entry has no link"
        if entry.link:
            try:
                return article_from_url(entry.link, timeout=s.fetch_timeout, max_bytes=s.fetch_max_bytes,
                                        allow_private=s.allow_private_urls, max_article_bytes=s.max_article_bytes,
                                        **meta)
            except InputError as exc:
                why = exc.message
            except Exception:  # the extractor's surprise on one page must not fail the whole feed
                _log.exception("Reading the page of feed entry %s failed", safe_url(entry.link))
                why = "reading its page failed"
        if not entry.text.strip():
            _log.warning("Feed entry %s skipped: %s, and the feed gives no text for it", entry.link or entry.key, why)
            return None
        _log.info("Feed entry %s: using the feed's summary (%s)", safe_url(entry.link or "") if entry.link else
                  entry.key, why)
        return article_from_text(f"{entry.text}\n\n{SUMMARY_NOTE}", url=entry.link, max_bytes=s.max_article_bytes,
                                 what="the feed's summary", **meta)
