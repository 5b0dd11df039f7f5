"""The keyword index's SQLite file, kept in step with Chroma, which stays the single source of truth.

Each chunk's term counts (and its publisher and day, for filtered searches) are kept in one file per
library. The file records the Chroma generation it was built from (writers bump it before and after
every write). Before each search it compares it with Chroma's, and every few minutes it checks
anyway; on a difference it diffs chunk ids and copies what changed, so a crash between writes or
another process writing to the same Chroma server never leaves the two disagreeing for longer than
one search. retrieval.store.keyword_index loads the file into arrays and searches them: only the
chunks of complete article versions (a write cut short leaves fewer chunks than the version has,
and its chunks are not searched until the rest arrive).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from retrieval.models import Chunk
from retrieval.store.chroma import ChromaStore
from retrieval.text.terms import STOPWORDS, stem, term_counts

SCHEMA = "6"  # bump when the tables or the tokeniser change: older index files are rebuilt from Chroma
SKIP = frozenset(stem(w) for w in STOPWORDS)  # never searched for, so never indexed

# rowid, chunk id, article id, publisher, day (yyyymmdd), title length, body length, term counts
# (int32 triples: term id, count in the title, count in the body)
StoredRow = tuple[int, str, str, str | None, int | None, int, int, bytes]


class KeywordFile:
    """One library's SQLite file. Not thread-safe: its owner (KeywordIndex) serialises the calls."""

    def __init__(self, path: Path, store: ChromaStore, library: str, *, resync_seconds: float = 300.0) -> None:
        self.path = path
        self._store = store
        self._library = library
        self._resync_seconds = resync_seconds
        self._last_full = 0.0
        self._vocab: dict[str, int] = {}
        self._absent: set[str] = set()  # words no chunk had when last looked up
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        _use_wal(self._db)
        self._db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT)")
        with self._db:  # a write lock first: two processes opening a new file do not both reset it
            self._db.execute("BEGIN IMMEDIATE")
            if self._state("schema") != SCHEMA:
                # An index from an older newsbot: it is derived data, so rebuild it from Chroma.
                for table in ("fts", "chunks", "vocab"):
                    self._db.execute(f"DROP TABLE IF EXISTS {table}")
                self._db.execute("DELETE FROM state")
                self._db.execute("INSERT INTO state VALUES ('schema', ?)", (SCHEMA,))
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS chunks (
                rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, article_id TEXT NOT NULL,
                content_hash TEXT NOT NULL, parts INTEGER NOT NULL, publisher TEXT, published INTEGER,
                title_len INTEGER NOT NULL, body_len INTEGER NOT NULL, terms BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS versions ON chunks(article_id, content_hash, parts);
            CREATE TABLE IF NOT EXISTS vocab (id INTEGER PRIMARY KEY, term TEXT UNIQUE NOT NULL);
            """
        )

    def close(self) -> None:
        self._db.close()

    def _state(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    # -- keeping in step with Chroma -------------------------------------------------------
    def sync(self, *, force: bool = False) -> bool:
        """Bring the file in line with Chroma; returns True when anything had to be checked."""
        # Every newsbot write bumps the generation before and after it, so comparing it is
        # enough between the periodic full checks (which count Chroma's chunks: costly in a big library).
        generation = self._store.generation(self._library)
        stale = (
            force
            or generation != self._state("generation")
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
        have = self.chunk_ids()
        stale, missing = have - truth, sorted(truth - have)
        if stale:
            with self._db:
                self._db.executemany("DELETE FROM chunks WHERE chunk_id=?", [(c,) for c in stale])
                self._changed()
        titles: dict[str, tuple[Counter[str], int]] = {}
        for start in range(0, len(missing), 2000):
            chunks, _ = self._store.get(self._library, missing[start : start + 2000])
            rows = [self._row(chunk, titles) for chunk in chunks]
            with self._db:
                self._db.executemany(
                    "INSERT OR IGNORE INTO chunks(chunk_id, article_id, content_hash, parts, publisher, published, "
                    "title_len, body_len, terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._changed()

    def _changed(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES ('version', ?)", (uuid.uuid4().hex,))

    def _row(self, chunk: Chunk, titles: dict[str, tuple[Counter[str], int]]) -> tuple:
        src = chunk.source
        if src.title not in titles:
            titles[src.title] = term_counts(src.title, SKIP)
        in_title, title_len = titles[src.title]
        in_body, body_len = term_counts(chunk.text, SKIP)
        terms = sorted(set(in_title) | set(in_body))
        data = np.array([(self.term_id(t, create=True), in_title[t], in_body[t]) for t in terms], dtype=np.int32)
        day = int(src.published.strftime("%Y%m%d")) if src.published else None
        return (
            chunk.id, src.article_id, chunk.content_hash, chunk.parts, src.publisher, day, title_len, body_len, data.tobytes()
        )

    # -- reading -----------------------------------------------------------------------------
    def version(self) -> str:
        """Changes whenever the chunks do (in this process or another)."""
        return self._state("version") or ""

    def chunk_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}

    def rowids(self) -> set[int]:
        """The rows of complete article versions (those with as many chunks as they record)."""
        return {
            row[0]
            for row in self._db.execute(
                "SELECT rowid FROM chunks WHERE (article_id, content_hash) NOT IN (SELECT article_id, content_hash "
                "FROM chunks GROUP BY article_id, content_hash HAVING count(*) < max(parts))"
            )
        }

    def rows(self, rowids: Sequence[int], *, batch: int = 5000) -> Iterable[list[StoredRow]]:
        """The stored rows of ``rowids``, ``batch`` at a time."""
        for start in range(0, len(rowids), batch):
            part = rowids[start : start + batch]
            yield self._db.execute(
                f"SELECT rowid, chunk_id, article_id, publisher, published, title_len, body_len, terms FROM chunks "
                f"WHERE rowid IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()

    def term_id(self, term: str, *, create: bool = False) -> int | None:
        """The id of an indexed stem (None if no chunk has it; ``create`` adds it to the vocabulary)."""
        tid = self._vocab.get(term)
        if tid is None:
            if not create and term in self._absent:
                return None  # no chunk had it when last looked up
            if create:
                self._db.execute("INSERT OR IGNORE INTO vocab(term) VALUES (?)", (term,))
            row = self._db.execute("SELECT id FROM vocab WHERE term=?", (term,)).fetchone()
            if row is None:
                self._absent.add(term)
                return None
            tid = self._vocab[term] = row[0]
        return tid

    def forget_absent(self) -> None:
        """Look words up again: chunks loaded since may have them."""
        self._absent.clear()


def _use_wal(db: sqlite3.Connection, timeout: float = 30.0) -> None:
    """Switch a (possibly brand-new) file to WAL. SQLite's busy timeout does not cover this switch,
    so a reader opening the same new file at that moment makes it fail at once: retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
