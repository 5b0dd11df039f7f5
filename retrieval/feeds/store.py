"""The feeds each library follows, their polling state and the entries already taken, in SQLite.

One file (``<data_dir>/feeds.sqlite3``) for every library: a feed belongs to one library (a Discord
server's, or one named on the command line), and the same address followed by two libraries is two
feeds with their own state. Calls are short and blocking; async callers run them in a worker thread.
The bot and a ``newsbot feed`` command may use the file at the same time (WAL, busy timeout).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import InputError
from retrieval.sqlite_files import open_database

# Seen entries kept per feed (the newest); older ones are forgotten, so the file stays small.
KEEP_SEEN = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    library       TEXT NOT NULL,
    url           TEXT NOT NULL,
    title         TEXT,
    channel_id    INTEGER,
    etag          TEXT,
    last_modified TEXT,
    last_success  REAL,
    last_error    TEXT,
    last_error_at REAL,
    next_poll     REAL NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,
    added_at      REAL NOT NULL,
    UNIQUE (library, url)
);
CREATE TABLE IF NOT EXISTS seen (
    feed_id     INTEGER NOT NULL REFERENCES feeds(feed_id) ON DELETE CASCADE,
    entry_key   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    seen_at     REAL NOT NULL,
    PRIMARY KEY (feed_id, entry_key)
);
"""
_COLUMNS = ("feed_id", "library", "url", "title", "channel_id", "etag", "last_modified", "last_success",
            "last_error", "last_error_at", "next_poll", "failures", "added_at")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM feeds"


@dataclass(frozen=True)
class Feed:
    """A followed feed and where its polling stands (times are Unix seconds)."""

    id: int
    library: str
    url: str
    title: str | None
    channel_id: int | None  # where the bot posts its new articles (None: nowhere)
    etag: str | None
    last_modified: str | None
    last_success: float | None
    last_error: str | None  # the last poll's error; None once a poll succeeds
    last_error_at: float | None
    next_poll: float
    failures: int  # polls that failed in a row
    added_at: float

    @property
    def name(self) -> str:
        return self.title or self.url


@dataclass(frozen=True)
class SeenEntry:
    fingerprint: str
    article_id: str


class FeedStore:
    """Feeds and their seen entries in one SQLite file (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    def _rows(self, where: str = "", args: Sequence[object] = ()) -> list[Feed]:
        with self._lock:
            rows = self._db.execute(f"{_SELECT} {where}", tuple(args)).fetchall()
        return [Feed(*row) for row in rows]

    def add(self, library: str, url: str, *, title: str | None, channel_id: int | None, now: float | None = None) -> Feed:
        """Follow ``url`` in ``library``, due for its first poll now."""
        now = time.time() if now is None else now
        try:
            with self._lock:
                cursor = self._db.execute(
                    "INSERT INTO feeds (library, url, title, channel_id, next_poll, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (library, url, title, channel_id, now, now),
                )
        except sqlite3.IntegrityError:
            (known,) = self._rows("WHERE library = ? AND url = ?", (library, url))
            raise InputError(f"This library already follows that feed (feed {known.id}).",
                             hint="Remove it first to follow it with other options.") from None
        return self.get(int(cursor.lastrowid or 0))  # type: ignore[return-value]

    def get(self, feed_id: int) -> Feed | None:
        rows = self._rows("WHERE feed_id = ?", (int(feed_id),))
        return rows[0] if rows else None

    def feeds(self, library: str | None = None) -> list[Feed]:
        """The feeds of ``library`` (None: of every library), oldest first."""
        if library is None:
            return self._rows("ORDER BY feed_id")
        return self._rows("WHERE library = ? ORDER BY feed_id", (library,))

    def remove(self, library: str | None, feed_id: int) -> Feed | None:
        """Stop following a feed of ``library`` (None: of any library); the feed, or None when there is none."""
        feed = self.get(feed_id)
        if feed is None or (library is not None and feed.library != library):
            return None
        with self._lock:
            self._db.execute("DELETE FROM feeds WHERE feed_id = ?", (feed.id,))
        return feed

    def due(self, now: float | None = None) -> list[Feed]:
        """Feeds whose next poll has come, the longest-waiting first."""
        return self._rows("WHERE next_poll <= ? ORDER BY next_poll, feed_id", (time.time() if now is None else now,))

    def next_poll(self) -> float | None:
        """When the next feed is due (None: no feeds)."""
        with self._lock:
            (when,) = self._db.execute("SELECT MIN(next_poll) FROM feeds").fetchone()
        return when

    def record_success(self, feed_id: int, *, now: float, next_poll: float, etag: str | None,
                       last_modified: str | None, title: str | None = None) -> Feed | None:
        with self._lock:
            self._db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, last_success = ?, last_error = NULL,"
                " last_error_at = NULL, failures = 0, next_poll = ?, title = COALESCE(?, title) WHERE feed_id = ?",
                (etag, last_modified, now, next_poll, title, feed_id),
            )
        return self.get(feed_id)

    def record_failure(self, feed_id: int, *, now: float, next_poll: float, error: str) -> Feed | None:
        with self._lock:
            self._db.execute(
                "UPDATE feeds SET last_error = ?, last_error_at = ?, failures = failures + 1, next_poll = ?"
                " WHERE feed_id = ?",
                (error, now, next_poll, feed_id),
            )
        return self.get(feed_id)

    def seen(self, feed_id: int, keys: Iterable[str]) -> dict[str, SeenEntry]:
        """What was taken of these entries (by key) earlier."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, SeenEntry] = {}
        with self._lock:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ",".join("?" * len(part))
                for key, fingerprint, article_id in self._db.execute(
                    f"SELECT entry_key, fingerprint, article_id FROM seen WHERE feed_id = ? AND entry_key IN ({marks})",
                    (feed_id, *part),
                ):
                    found[key] = SeenEntry(fingerprint, article_id)
        return found

    def mark_seen(self, feed_id: int, entries: Iterable[tuple[str, str, str]], *, now: float) -> None:
        """Remember entries (key, fingerprint, article id) as taken; keeps the newest KEEP_SEEN."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO seen VALUES (?, ?, ?, ?, ?)",
                    [(feed_id, key, fingerprint, article_id, now) for key, fingerprint, article_id in entries],
                )
                self._db.execute(
                    "DELETE FROM seen WHERE feed_id = ? AND entry_key NOT IN"
                    " (SELECT entry_key FROM seen WHERE feed_id = ? ORDER BY seen_at DESC LIMIT ?)",
                    (feed_id, feed_id, KEEP_SEEN),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
