"""A BM25 keyword index over a library: searches run on numpy arrays (retrieval.store.bm25) loaded from the
library's keyword file (retrieval.store.keyword_file), which is kept in step with Chroma before each search.

Searches are given stems (retrieval.text.terms.tokens of a question's content words, cut once by the
caller), never text: a stem given twice counts twice, and stopwords, never indexed, are skipped.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from retrieval.store.bm25 import Bm25
from retrieval.store.chroma import ChromaStore
from retrieval.store.keyword_file import SKIP, KeywordFile
from retrieval.store.keyword_layout import REMOVED, Layout

__all__ = ["KeywordHit", "KeywordIndex", "share_of_terms"]

CACHED_SCORES = 8  # a question's searches and the re-ranking features read the same few arrays


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float  # BM25, higher is better


class KeywordIndex:
    """One library's keyword search; its file is kept in step with the library's Chroma collection."""

    def __init__(self, path: Path, store: ChromaStore, library: str, *, resync_seconds: float = 300.0) -> None:
        self.path = path
        self._file = KeywordFile(path, store, library, resync_seconds=resync_seconds)
        self._lock = threading.RLock()  # also serialises every use of the file
        self._bm25 = Bm25()
        self._meta: dict[int, tuple[str, str, str | None, int | None]] = {}  # rowid -> chunk, article, publisher, day
        self._by_chunk: dict[str, tuple[str, str | None, int | None]] = {}  # chunk id -> article, publisher, day
        self._loaded: str | None = None  # the file's version the arrays were loaded at
        self._layout: Layout | None = None
        self._cache: OrderedDict[object, np.ndarray] = OrderedDict()  # a question's last few score arrays
        self._slot_of: dict[str, int] = {}
        self._masks: dict[tuple, np.ndarray] = {}
        self._facets: tuple[list[str], list[int]] | None = None

    def close(self) -> None:
        self._file.close()

    def sync(self, *, force: bool = False) -> bool:
        """Bring the index in line with Chroma; returns True when anything had to be checked."""
        with self._lock:
            return self._file.sync(force=force)

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return self._file.chunk_ids()

    # -- the arrays searches run on ---------------------------------------------------------
    def _refresh(self) -> None:
        """Load what changed in the file (by this process or another) into the arrays."""
        version = self._file.version()
        if version == self._loaded:
            return
        rowids = self._file.rowids()
        gone = [r for r in self._meta if r not in rowids]
        new = sorted(rowids - self._meta.keys())
        self._bm25.remove(gone)
        for r in gone:
            self._by_chunk.pop(self._meta.pop(r)[0], None)
        for rows in self._file.rows(new):
            docs = []
            for rowid, chunk_id, article_id, publisher, day, title_len, body_len, blob in rows:
                self._meta[rowid] = (chunk_id, article_id, publisher, day)
                self._by_chunk[chunk_id] = (article_id, publisher, day)
                docs.append((rowid, np.frombuffer(blob, dtype=np.int32), title_len, body_len))
            self._bm25.add(docs)
        # Removed documents keep their slots (score 0, never returned) until the BM25 arrays merge.
        self._layout = Layout.of([self._meta.get(int(k), REMOVED) for k in self._bm25.keys])
        self._slot_of = {cid: slot for slot, cid in enumerate(self._layout.chunk_ids) if cid}
        self._cache.clear()
        self._masks.clear()
        self._file.forget_absent()
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
                self._facets = self._layout.facets(self._bm25.alive)
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

    def _scores(self, query: Sequence[str], title_weight: float, bm25: tuple[float, float] | None) -> np.ndarray | None:
        if isinstance(query, str):  # a sequence of one-letter "stems" that would find nothing
            raise TypeError("the keyword index takes stems (retrieval.text.terms.tokens of the words), not text")
        stems = Counter(t for t in query if t not in SKIP)
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
        ids = [(self._file.term_id(t), w) for t, w in rest.items()]
        k1, b = bm25 if bm25 is not None else (None, None)
        scores = self._bm25.scores([(i, float(w)) for i, w in ids if i is not None], title_weight, k1, b)
        if base is not None:
            scores = base[1] + scores if len(scores) else base[1]
        self._cache[key] = scores
        while len(self._cache) > CACHED_SCORES:
            self._cache.popitem(last=False)
        return scores

    def _mask(self, publishers: Sequence[str], days: Sequence[int], since: date | None) -> np.ndarray | None:
        """Slots from one of ``publishers``, on one of ``days`` and published on or after ``since``
        (None: no restriction). A question's sub-searches and re-ranking ask for the same few masks:
        they are kept until the next load."""
        if not publishers and not days and since is None:
            return None
        key = (tuple(sorted(publishers)), tuple(sorted(days)), since)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._layout.mask(publishers, days, since)
            if len(self._masks) >= CACHED_SCORES:
                self._masks.clear()
            self._masks[key] = mask
        return mask

    def search(
        self,
        stems: Sequence[str],
        n: int,
        *,
        publishers: Sequence[str] = (),
        days: Sequence[int] = (),
        since: date | None = None,
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
        sync: bool = True,
    ) -> list[KeywordHit]:
        """Best ``n`` chunks by BM25 for ``stems`` (a stem given twice counts twice), optionally
        only those from ``publishers``, on ``days`` (yyyymmdd) and/or of articles published on or
        after ``since``. ``bm25`` overrides the index's
        (k1, b). ``sync=False`` skips the check against Chroma (for a search that has just made it)."""
        if sync:
            self.sync()
        with self._lock:
            self._refresh()
            scores = self._scores(stems, title_weight, bm25)
            if scores is None or len(scores) == 0:
                return []
            slots = self._bm25.top(scores, n, self._mask(publishers, days, since))
            return [KeywordHit(self._layout.chunk_ids[s], float(scores[s])) for s in slots]

    # -- what re-ranking needs to know about candidates (call after a search: no sync) ---------
    def _slots(self, chunk_ids: Sequence[str]) -> np.ndarray:
        return np.array([self._slot_of.get(cid, -1) for cid in chunk_ids], dtype=np.int64)

    def relative_scores(
        self,
        chunk_ids: Sequence[str],
        stems: Sequence[str],
        *,
        publishers: Sequence[str] = (),
        days: Sequence[int] = (),
        since: date | None = None,
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
    ) -> np.ndarray:
        """BM25 of each chunk for ``stems`` as a share of the best any chunk gets (among those from
        ``publishers`` / on ``days`` / published since ``since``, when given; others get 0)."""
        with self._lock:
            self._refresh()
            out = np.zeros(len(chunk_ids), dtype=np.float32)
            scores = self._scores(stems, title_weight, bm25)
            if scores is None or len(scores) == 0:
                return out
            mask = self._mask(publishers, days, since)
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
        stems: Sequence[str],
        *,
        title_weight: float = 0.5,
        bm25: tuple[float, float] | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """Each distinct searchable one of ``stems``'s share of each chunk's BM25 score: a
        (chunks, stems) matrix (0 where the chunk lacks the stem), and those stems."""
        columns = searchable_stems(stems)
        with self._lock:
            self._refresh()
            ids = [self._file.term_id(t) for t in columns]
            k1, b = bm25 if bm25 is not None else (None, None)
            gains = self._bm25.term_gains([-1 if i is None else i for i in ids], self._slots(chunk_ids), title_weight, k1, b)
            return gains, columns

    def coverage(self, chunk_ids: Sequence[str], term_stems: Sequence[Sequence[str]]) -> np.ndarray:
        """Share of a question's terms (given as each term's stems) each chunk holds all the words
        of, in its title or body: retrieval.text.terms.term_coverage without reading the text.
        Stopwords inside a term ("at" in "at&t") are never indexed, so they count as present; chunks
        the index lacks get 0."""
        if not term_stems:
            return np.zeros(len(chunk_ids), dtype=np.float32)
        stems = searchable_stems([s for each in term_stems for s in each])
        with self._lock:
            self._refresh()
            slots = self._slots(chunk_ids)
            ids = [self._file.term_id(t) for t in stems]
            present = self._bm25.contains([-1 if i is None else i for i in ids], slots)
        out = share_of_terms(present, stems, term_stems)
        out[slots < 0] = 0.0
        return out

    def articles(self, chunk_ids: Sequence[str]) -> list[str | None]:
        """The article each chunk belongs to (None for a chunk the index does not hold)."""
        with self._lock:
            self._refresh()
            return [(self._by_chunk.get(cid) or (None,))[0] for cid in chunk_ids]


def searchable_stems(stems: Sequence[str]) -> list[str]:
    """The distinct indexed ones of ``stems``, in order (stopwords are never indexed)."""
    return list(dict.fromkeys(t for t in stems if t not in SKIP))


def share_of_terms(present: np.ndarray, stems: Sequence[str], term_stems: Sequence[Sequence[str]]) -> np.ndarray:
    """Share of a question's terms (each term's stems) each row holds all the searchable stems of,
    from a (rows, ``stems``) presence matrix; a term made only of stopwords counts as held (it is
    never indexed)."""
    out = np.zeros(present.shape[0], dtype=np.float32)
    if not term_stems:
        return out
    column = {stem: i for i, stem in enumerate(stems)}
    for each in term_stems:
        out += present[:, [column[t] for t in each if t not in SKIP]].all(axis=1)
    return out / len(term_stems)
