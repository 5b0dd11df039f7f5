"""A BM25 keyword index derived from Chroma, which stays the single source of truth.

Each chunk's term counts (and its publisher and day, for filtered searches) are kept in a SQLite
file; searches run on those counts loaded into numpy (retrieval.bm25). The file records the Chroma
generation it was built from (writers bump it before and after every write). Before each search it
compares it with Chroma's, and every few minutes it checks anyway; on a difference it diffs chunk
ids and copies what changed, so a crash between writes or another process writing to the same
Chroma server never leaves the two disagreeing for longer than one search.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.bm25 import Bm25
from retrieval.models import Chunk
from retrieval.store import ChromaStore
from retrieval.terms import STOPWORDS, query_terms, stem, term_counts, term_coverage, tokens

__all__ = ["KeywordHit", "KeywordIndex", "query_terms", "term_coverage"]

SCHEMA = "5"
CACHED_SCORES = 8  # a question's searches and the re-ranking features read the same few arrays  # bump when the tables or the tokeniser change: older index files are rebuilt from Chroma


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float  # BM25, higher is better


_SKIP = frozenset(stem(w) for w in STOPWORDS)  # never searched for, so never indexed


class KeywordIndex:
    """One SQLite file per library, kept in step with the library's Chroma collection."""

    def __init__(self, path: Path, store: ChromaStore, library: str, *, resync_seconds: float = 300.0) -> None:
        self.path = path
        self._store = store
        self._library = library
        self._resync_seconds = resync_seconds
        self._lock = threading.RLock()
        self._last_full = 0.0
        self._bm25 = Bm25()
        self._meta: dict[int, tuple[str, str, str | None, int | None]] = {}  # rowid -> chunk, article, publisher, day
        self._by_chunk: dict[str, tuple[str, str | None, int | None]] = {}  # chunk id -> article, publisher, day
        self._vocab: dict[str, int] = {}
        self._absent: set[str] = set()  # words no chunk has (until the next load)
        self._loaded: str | None = None  # the state 'version' the arrays were loaded at
        self._layout: _Layout | None = None
        self._cache: OrderedDict[object, np.ndarray] = OrderedDict()  # a question's last few score arrays
        self._slot_of: dict[str, int] = {}
        self._masks: dict[tuple, np.ndarray] = {}
        self._facets: tuple[list[str], list[int]] | None = None
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
                publisher TEXT, published INTEGER,
                title_len INTEGER NOT NULL, body_len INTEGER NOT NULL, terms BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS vocab (id INTEGER PRIMARY KEY, term TEXT UNIQUE NOT NULL);
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
            # Every newsbot write bumps the generation before and after it, so comparing it is
            # enough between the periodic full checks (Chroma's count costs ~11 ms at 100k chunks).
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
        have = {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}
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
                    "INSERT OR IGNORE INTO chunks(chunk_id, article_id, publisher, published, title_len, body_len, terms) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._changed()

    def _changed(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO state VALUES ('version', ?)", (uuid.uuid4().hex,))

    def _term_id(self, term: str, *, create: bool) -> int | None:
        tid = self._vocab.get(term)
        if tid is None:
            if not create and term in self._absent:
                return None  # no chunk had it when the arrays were last loaded
            if create:
                self._db.execute("INSERT OR IGNORE INTO vocab(term) VALUES (?)", (term,))
            row = self._db.execute("SELECT id FROM vocab WHERE term=?", (term,)).fetchone()
            if row is None:
                self._absent.add(term)
                return None
            tid = self._vocab[term] = row[0]
        return tid

    def _row(self, chunk: Chunk, titles: dict[str, tuple[Counter[str], int]]) -> tuple:
        src = chunk.source
        if src.title not in titles:
            titles[src.title] = term_counts(src.title, _SKIP)
        in_title, title_len = titles[src.title]
        in_body, body_len = term_counts(chunk.text, _SKIP)
        terms = sorted(set(in_title) | set(in_body))
        data = np.array([(self._term_id(t, create=True), in_title[t], in_body[t]) for t in terms], dtype=np.int32)
        day = int(src.published.strftime("%Y%m%d")) if src.published else None
        return (chunk.id, src.article_id, src.publisher, day, title_len, body_len, data.tobytes())

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._db.execute("SELECT chunk_id FROM chunks")}

    # -- the arrays searches run on ---------------------------------------------------------
    def _refresh(self) -> None:
        """Load what changed in the SQLite file (by this process or another) into the arrays."""
        version = self._state("version") or ""
        if version == self._loaded:
            return
        rowids = {r[0] for r in self._db.execute("SELECT rowid FROM chunks")}
        gone = [r for r in self._meta if r not in rowids]
        new = sorted(rowids - self._meta.keys())
        self._bm25.remove(gone)
        for r in gone:
            self._by_chunk.pop(self._meta.pop(r)[0], None)
        for start in range(0, len(new), 5000):
            part = new[start : start + 5000]
            rows = self._db.execute(
                f"SELECT rowid, chunk_id, article_id, publisher, published, title_len, body_len, terms FROM chunks "
                f"WHERE rowid IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            docs = []
            for rowid, chunk_id, article_id, publisher, day, title_len, body_len, blob in rows:
                self._meta[rowid] = (chunk_id, article_id, publisher, day)
                self._by_chunk[chunk_id] = (article_id, publisher, day)
                docs.append((rowid, np.frombuffer(blob, dtype=np.int32), title_len, body_len))
            self._bm25.add(docs)
        # Removed documents keep their slots (score 0, never returned) until the BM25 arrays merge.
        self._layout = _Layout.of([self._meta.get(int(k), _REMOVED) for k in self._bm25.keys])
        self._slot_of = {cid: slot for slot, cid in enumerate(self._layout.chunk_ids) if cid}
        self._cache.clear()
        self._masks.clear()
        self._absent.clear()
        self._facets = None
        self._loaded = version

    # -- search ------------------------------------------------------------------------------
    def facets(self, *, sync: bool = True) -> tuple[list[str], list[int]]:
        """The library's distinct publishers and publication days (yyyymmdd), for reading questions."""
        if sync:
            self.sync()
        with self._lock:
            self._refresh()
            if self._facets is None:
                lay, alive = self._layout, self._bm25.alive
                names = list(lay.codes)
                publishers = {names[c] for c in np.unique(lay.publisher_codes[alive]).tolist()}
                self._facets = sorted(publishers - {""}), sorted(set(lay.days[alive].tolist()) - {0})
            return self._facets

    def within(self, chunk_ids: Sequence[str], publishers: Sequence[str] = (), days: Sequence[int] = ()) -> list[str]:
        """Those of ``chunk_ids`` (order kept) from one of ``publishers`` and on one of ``days``."""
        pubs, wanted = set(publishers), set(days)
        with self._lock:
            self._refresh()
            out = []
            for cid in chunk_ids:
                meta = self._by_chunk.get(cid)
                if meta is not None and (not pubs or meta[1] in pubs) and (not wanted or meta[2] in wanted):
                    out.append(cid)
            return out

    def _scores(self, words: Sequence[str], title_weight: float, bm25: tuple[float, float] | None) -> np.ndarray | None:
        stems = Counter(t for w in words for t in tokens(w) if t not in _SKIP)
        if not stems:
            return None
        key = (tuple(sorted(stems.items())), title_weight, bm25)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        # BM25 adds up over query words: a sub-search for the question plus a few focus words is
        # the question's cached scores plus the focus words' scores.
        base, rest = None, stems
        for (cached_stems, *options), cached in self._cache.items():
            held = Counter(dict(cached_stems))
            if options == [title_weight, bm25] and held <= stems and (base is None or held.total() > base[0].total()):
                base = (held, cached)
        if base is not None:
            rest = stems - base[0]
        ids = [(self._term_id(t, create=False), w) for t, w in rest.items()]
        k1, b = bm25 if bm25 is not None else (None, None)
        scores = self._bm25.scores([(i, float(w)) for i, w in ids if i is not None], title_weight, k1, b)
        if base is not None:
            scores = base[1] + scores if len(scores) else base[1]
        self._cache[key] = scores
        while len(self._cache) > CACHED_SCORES:
            self._cache.popitem(last=False)
        return scores

    def _mask(self, publishers: Sequence[str], days: Sequence[int]) -> np.ndarray | None:
        """Slots from one of ``publishers`` and on one of ``days`` (None: no restriction). A question's
        sub-searches and re-ranking ask for the same few masks: they are kept until the next load."""
        if not publishers and not days:
            return None
        key = (tuple(sorted(publishers)), tuple(sorted(days)))
        mask = self._masks.get(key)
        if mask is None:
            lay = self._layout
            mask = np.ones(len(lay.days), dtype=bool)
            if publishers:
                codes = [lay.codes[p] for p in publishers if p in lay.codes]
                mask &= np.isin(lay.publisher_codes, codes)
            if days:
                mask &= np.isin(lay.days, list(days))
            if len(self._masks) >= CACHED_SCORES:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def search(
        self,
        text: str,
        n: int,
        *,
        terms: Sequence[str] | None = None,
        publishers: Sequence[str] = (),
        days: Sequence[int] = (),
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
        sync: bool = True,
    ) -> list[KeywordHit]:
        """Best ``n`` chunks by BM25 for the question's content words (``terms``; a word given
        twice counts twice), optionally only those from ``publishers`` and/or on ``days`` (yyyymmdd).
        ``bm25`` overrides the index's (k1, b). ``sync=False`` skips the check against Chroma (for
        a search that has just made it)."""
        if sync:
            self.sync()
        words = list(terms) if terms is not None else query_terms(text)
        with self._lock:
            self._refresh()
            scores = self._scores(words, title_weight, bm25)
            if scores is None or len(scores) == 0:
                return []
            slots = self._bm25.top(scores, n, self._mask(publishers, days))
            return [KeywordHit(self._layout.chunk_ids[s], float(scores[s])) for s in slots]

    # -- what re-ranking needs to know about candidates (call after a search: no sync) ---------
    def _slots(self, chunk_ids: Sequence[str]) -> np.ndarray:
        return np.array([self._slot_of.get(cid, -1) for cid in chunk_ids], dtype=np.int64)

    def relative_scores(
        self,
        chunk_ids: Sequence[str],
        words: Sequence[str],
        *,
        publishers: Sequence[str] = (),
        days: Sequence[int] = (),
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """BM25 of each chunk for ``words`` as a share of the best any chunk gets (among those from
        ``publishers`` / on ``days``, when given; chunks outside them get 0)."""
        with self._lock:
            self._refresh()
            out = np.zeros(len(chunk_ids), dtype=np.float32)
            scores = self._scores(words, title_weight, bm25)
            if scores is None or len(scores) == 0:
                return out
            mask = self._mask(publishers, days)
            if mask is not None:
                scores = np.where(mask, scores, 0.0)
            best = float(scores.max())
            slots = self._slots(chunk_ids)
            known = slots >= 0
            if best > 0:
                out[known] = scores[slots[known]] / best
            return out

    def term_matrix(
        self,
        chunk_ids: Sequence[str],
        words: Sequence[str],
        *,
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Each distinct searchable stem of ``words``'s share of each chunk's BM25 score: a
        (chunks, stems) matrix (0 where the chunk lacks the stem), and the stems."""
        stems = searchable_stems(words)
        with self._lock:
            self._refresh()
            ids = [self._term_id(t, create=False) for t in stems]
            k1, b = bm25 if bm25 is not None else (None, None)
            gains = self._bm25.term_gains([-1 if i is None else i for i in ids], self._slots(chunk_ids), title_weight, k1, b)
            return gains, stems

    def coverage(self, chunk_ids: Sequence[str], terms: Sequence[str]) -> np.ndarray:
        """Share of ``terms`` (query_terms) each chunk holds all the words of, in its title or body:
        retrieval.terms.term_coverage without reading the text. Stopwords inside a term ("at" in
        "at&t") are never indexed, so they count as present; chunks the index lacks get 0."""
        if not terms:
            return np.zeros(len(chunk_ids), dtype=np.float32)
        stems = searchable_stems(terms)
        with self._lock:
            self._refresh()
            slots = self._slots(chunk_ids)
            ids = [self._term_id(t, create=False) for t in stems]
            present = self._bm25.contains([-1 if i is None else i for i in ids], slots)
        out = share_of_terms(present, stems, terms)
        out[slots < 0] = 0.0
        return out

    def articles(self, chunk_ids: Sequence[str]) -> list[str | None]:
        """The article each chunk belongs to (None for a chunk the index does not hold)."""
        with self._lock:
            self._refresh()
            return [(self._by_chunk.get(cid) or (None,))[0] for cid in chunk_ids]


def searchable_stems(words: Sequence[str]) -> list[str]:
    """The distinct indexed stems of ``words``, in order (stopwords are never indexed)."""
    return list(dict.fromkeys(t for w in words for t in tokens(w) if t not in _SKIP))


def share_of_terms(present: np.ndarray, stems: Sequence[str], terms: Sequence[str]) -> np.ndarray:
    """Share of ``terms`` (query_terms) each row holds all the searchable words of, from a (rows,
    stems) presence matrix; a term made only of stopwords counts as held (it is never indexed)."""
    out = np.zeros(present.shape[0], dtype=np.float32)
    if not terms:
        return out
    column = {stem: i for i, stem in enumerate(stems)}
    for term in terms:
        out += present[:, [column[t] for t in tokens(term) if t not in _SKIP]].all(axis=1)
    return out / len(terms)


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


_REMOVED = ("", "", None, None)  # layout of a removed document's slot


@dataclass(frozen=True)
class _Layout:
    """What each BM25 slot is: its chunk id, publisher (a code into ``names``; "" if none) and day
    (0 if none). Publishers are codes so that restricting a search to some is an integer ``isin``."""

    chunk_ids: np.ndarray
    publisher_codes: np.ndarray
    codes: dict[str, int]
    days: np.ndarray

    @classmethod
    def of(cls, meta: Sequence[tuple[str, str, str | None, int | None]]) -> _Layout:
        codes: dict[str, int] = {}
        publisher_codes = np.array([codes.setdefault(m[2] or "", len(codes)) for m in meta], dtype=np.int32)
        return cls(
            chunk_ids=np.array([m[0] for m in meta], dtype=object),
            publisher_codes=publisher_codes,
            codes=codes,
            days=np.array([m[3] or 0 for m in meta], dtype=np.int64),
        )
