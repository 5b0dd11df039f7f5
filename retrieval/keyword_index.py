"""A BM25 keyword index (SQLite FTS5) derived from Chroma, which stays the single source of truth.

The index records the Chroma generation and chunk count it was built from. Before each search it
compares them with Chroma's; on any difference it diffs chunk ids and copies what changed, so a
crash between writes or another process writing to the same Chroma server never leaves the two
disagreeing for longer than one search.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.store import ChromaStore

_WORD = re.compile(r"[\w][\w'’.-]*[\w]|[\w]", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    did does tell said says say according report reported reports article articles news also per via""".split()
)


def query_terms(text: str) -> list[str]:
    """Content words of a question, lower-cased, without stopwords or duplicates."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        word = word.strip("'’.-")
        if word and word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


def _stem(word: str) -> str:
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def term_coverage(terms: Sequence[str], text: str) -> float:
    """Share of ``terms`` that occur in ``text`` (light stemming), 0.0 when there are no terms."""
    if not terms:
        return 0.0
    words = {_stem(w.strip("'’.-")) for w in _WORD.findall(text.lower())}
    return sum(1 for t in terms if _stem(t) in words) / len(terms)


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float  # bm25: higher is better here (sign flipped from SQLite's)


class KeywordIndex:
    """One SQLite FTS5 file per library, kept in step with the library's Chroma collection."""

    def __init__(self, path: Path, store: ChromaStore, library: str, *, resync_seconds: float = 300.0) -> None:
        self.path = path
        self._store = store
        self._library = library
        self._resync_seconds = resync_seconds
        self._lock = threading.Lock()
        self._last_full = 0.0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS chunks (rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL);
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(title, body, tokenize='porter unicode61');
            """
        )

    def close(self) -> None:
        self._db.close()

    # -- keeping in step with Chroma -------------------------------------------------------
    def _state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def sync(self, *, force: bool = False) -> bool:
        """Bring the index in line with Chroma; returns True when anything had to be checked."""
        with self._lock:
            generation = self._store.generation(self._library)
            count = self._store.count(self._library)
            stale = (
                force
                or generation != self._state("generation")
                or str(count) != self._state("count")
                or time.monotonic() - self._last_full > self._resync_seconds
            )
            if not stale:
                return False
            self._diff_and_copy()
            self._last_full = time.monotonic()
            # Chroma may have moved on while we copied; recording the generation read *before*
            # the copy makes the next search look again in that case.
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO state VALUES (?, ?)",
                    [("generation", generation), ("count", str(self._indexed_count()))],
                )
            return True

    def _indexed_count(self) -> int:
        return self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def _diff_and_copy(self) -> None:
        truth = set(self._store.ids(self._library))
        have = {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}
        stale, missing = have - truth, sorted(truth - have)
        with self._db:
            for chunk_id in stale:
                row = self._db.execute("SELECT rowid FROM chunks WHERE chunk_id=?", (chunk_id,)).fetchone()
                self._db.execute("DELETE FROM fts WHERE rowid=?", (row[0],))
                self._db.execute("DELETE FROM chunks WHERE rowid=?", (row[0],))
        for start in range(0, len(missing), 2000):
            chunks, _ = self._store.get(self._library, missing[start : start + 2000])
            with self._db:
                for chunk in chunks:
                    cur = self._db.execute("INSERT OR IGNORE INTO chunks(chunk_id) VALUES (?)", (chunk.id,))
                    if cur.rowcount:
                        self._db.execute(
                            "INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)",
                            (cur.lastrowid, chunk.source.title, chunk.text),
                        )

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}

    # -- search ------------------------------------------------------------------------------
    def search(self, text: str, n: int, *, terms: Sequence[str] | None = None) -> list[KeywordHit]:
        self.sync()
        terms = list(terms) if terms is not None else query_terms(text)
        if not terms:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        with self._lock:
            rows = self._db.execute(
                "SELECT c.chunk_id, bm25(fts, 0.5, 1.0) AS s FROM fts JOIN chunks c ON c.rowid = fts.rowid "
                "WHERE fts MATCH ? ORDER BY s LIMIT ?",
                (match, n),
            ).fetchall()
        return [KeywordHit(chunk_id, -score) for chunk_id, score in rows]
