"""BM25 over term counts held in numpy arrays: one pass scores every chunk, filters are masks.

A row-at-a-time scorer (SQLite FTS5 calls its ``bm25()`` once per matching row) is slow when a
long question matches most of a large library. Here a query is a few ``np.bincount`` calls over
the postings of its terms, and restricting to a publisher or a day only masks the score array,
so sub-searches cost almost nothing extra.

Documents live in slots; added documents form a new segment (term-sorted postings), removed ones
are masked out, and segments are merged once there are too many.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

MAX_SEGMENTS = 6


@dataclass
class _Segment:
    """Postings of some slots, sorted by term: ``docs[starts[i]:starts[i+1]]`` hold ``terms[i]``,
    in ascending slot order (rows arrive in slot order and the sort by term is stable)."""

    terms: np.ndarray  # int32, sorted, unique
    starts: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32 slot numbers
    tf_title: np.ndarray  # float32
    tf_body: np.ndarray  # float32

    @classmethod
    def build(cls, term_ids: np.ndarray, slots: np.ndarray, tf_title: np.ndarray, tf_body: np.ndarray) -> _Segment:
        order = np.argsort(term_ids, kind="stable")
        term_ids = term_ids[order]
        uniq, first = np.unique(term_ids, return_index=True)
        starts = np.append(first, len(term_ids)).astype(np.int64)
        return cls(uniq, starts, slots[order], tf_title[order], tf_body[order])

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        i = int(np.searchsorted(self.terms, term))
        if i >= len(self.terms) or self.terms[i] != term:
            return None
        a, b = self.starts[i], self.starts[i + 1]
        return self.docs[a:b], self.tf_title[a:b], self.tf_body[a:b]


class Bm25:
    """Documents are (key, {term id: (title count, body count)}, title length, body length)."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._segments: list[_Segment] = []
        self._slot: dict[int, int] = {}  # key -> slot
        self.keys = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self._len_title = np.zeros(0, dtype=np.float32)
        self._len_body = np.zeros(0, dtype=np.float32)
        self._df = np.zeros(0, dtype=np.int64)  # by term id; removed documents count until a merge
        self._norms: dict[tuple[float, float, float], np.ndarray] = {}  # until the documents change

    def __len__(self) -> int:
        return len(self._slot)

    def __contains__(self, key: int) -> bool:
        return key in self._slot

    def add(self, docs: Iterable[tuple[int, np.ndarray, int, int]]) -> None:
        """Add documents: (key, int32 array of rows [term id, title count, body count], title len, body len)."""
        docs = [(d[0], np.asarray(d[1], dtype=np.int32).reshape(-1, 3), d[2], d[3]) for d in docs if d[0] not in self._slot]
        if not docs:
            return
        first = len(self.keys)
        slots = np.concatenate([np.full(len(d[1]), first + i, dtype=np.int32) for i, d in enumerate(docs)])
        rows = np.concatenate([d[1] for d in docs])
        self.keys = np.append(self.keys, [d[0] for d in docs])
        self.alive = np.append(self.alive, np.ones(len(docs), dtype=bool))
        self._norms.clear()
        self._len_title = np.append(self._len_title, np.array([d[2] for d in docs], dtype=np.float32))
        self._len_body = np.append(self._len_body, np.array([d[3] for d in docs], dtype=np.float32))
        for i, d in enumerate(docs):
            self._slot[d[0]] = first + i
        self._count_terms(rows[:, 0])
        self._segments.append(
            _Segment.build(rows[:, 0], slots, rows[:, 1].astype(np.float32), rows[:, 2].astype(np.float32))
        )
        if len(self._segments) > MAX_SEGMENTS:
            self._merge()

    def _count_terms(self, term_ids: np.ndarray) -> None:
        counts = np.bincount(term_ids)
        if len(counts) > len(self._df):
            self._df = np.append(self._df, np.zeros(len(counts) - len(self._df), dtype=np.int64))
        self._df[: len(counts)] += counts

    def remove(self, keys: Iterable[int]) -> None:
        for key in keys:
            slot = self._slot.pop(key, None)
            if slot is not None:
                self.alive[slot] = False
                self._norms.clear()
        if len(self._slot) < 0.75 * len(self.keys):
            self._merge()

    def _merge(self) -> None:
        """Rebuild as one segment of the live documents (drops removed slots, renumbers)."""
        live = np.flatnonzero(self.alive)
        renumber = np.full(len(self.keys), -1, dtype=np.int32)
        renumber[live] = np.arange(len(live), dtype=np.int32)
        parts = []
        for seg in self._segments:
            counts = np.diff(seg.starts)
            terms = np.repeat(seg.terms, counts)
            keep = self.alive[seg.docs]
            parts.append((terms[keep], renumber[seg.docs[keep]], seg.tf_title[keep], seg.tf_body[keep]))
        term_ids, slots, tft, tfb = (np.concatenate([p[i] for p in parts]) for i in range(4))
        self._segments = [_Segment.build(term_ids, slots, tft, tfb)] if len(term_ids) else []
        self.keys, self.alive = self.keys[live], np.ones(len(live), dtype=bool)
        self._norms.clear()
        self._len_title, self._len_body = self._len_title[live], self._len_body[live]
        self._slot = {int(k): i for i, k in enumerate(self.keys)}
        self._df = np.zeros(0, dtype=np.int64)
        self._count_terms(term_ids.astype(np.int64))

    def _norm(self, title_weight: float, k1: float, b: float) -> np.ndarray:
        """BM25's length normalisation of every slot: k1 * (1 - b + b * length / average length)."""
        key = (title_weight, k1, b)
        if key not in self._norms:
            lengths = title_weight * self._len_title + self._len_body
            avg = float(lengths[self.alive].mean()) if self.alive.any() else 1.0
            if len(self._norms) >= 4:
                self._norms.clear()
            self._norms[key] = k1 * (1 - b + b * lengths / max(avg, 1e-6))
        return self._norms[key]

    def _postings_with_idf(self, term: int, title_weight: float) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
        """(idf, slots, weighted term frequency) for each segment holding ``term``. Removed slots
        still count in the document frequencies until a merge, so they count in N too."""
        df = int(self._df[term]) if 0 <= term < len(self._df) else 0
        if df == 0:
            return
        idf = math.log(1 + (len(self.keys) - df + 0.5) / (df + 0.5))
        for seg in self._segments:
            hit = seg.postings(term)
            if hit is not None:
                docs, tft, tfb = hit
                yield idf, docs, title_weight * tft + tfb

    def scores(
        self, weighted_terms: Sequence[tuple[int, float]], title_weight: float = 0.5, k1: float | None = None, b: float | None = None
    ) -> np.ndarray:
        """BM25 of every slot for the query terms (term id, query weight); removed slots score 0.
        ``k1`` and ``b`` default to the index's."""
        k1 = self.k1 if k1 is None else k1
        n_slots = len(self.keys)
        if n_slots == 0:
            return np.zeros(0, dtype=np.float32)
        norm = self._norm(title_weight, k1, self.b if b is None else b)
        all_docs, all_gain = [], []
        for term, weight in weighted_terms:
            for idf, docs, tf in self._postings_with_idf(term, title_weight):
                all_docs.append(docs)
                all_gain.append((weight * idf * (k1 + 1)) * tf / (tf + norm[docs]))
        if not all_docs:
            return np.zeros(n_slots, dtype=np.float32)
        total = np.bincount(np.concatenate(all_docs), weights=np.concatenate(all_gain), minlength=n_slots)
        total[~self.alive] = 0.0
        return total

    def term_gains(
        self, terms: Sequence[int], slots: np.ndarray, title_weight: float = 0.5, k1: float | None = None, b: float | None = None
    ) -> np.ndarray:
        """Each term's share of the BM25 score of each of ``slots``: a (slots, terms) matrix whose
        row sums are ``scores`` with every term weighted 1. Touches only the terms' postings."""
        k1 = self.k1 if k1 is None else k1
        out = np.zeros((len(slots), len(terms)), dtype=np.float32)
        n_slots = len(self.keys)
        if n_slots == 0 or len(slots) == 0:
            return out
        row_of = np.full(n_slots, -1, dtype=np.int64)  # slot -> row of ``out`` (-1: not asked for, or removed)
        valid = (slots >= 0) & (slots < n_slots)
        row_of[slots[valid]] = np.flatnonzero(valid)
        row_of[~self.alive] = -1
        norm = self._norm(title_weight, k1, self.b if b is None else b)
        for col, term in enumerate(terms):
            for idf, docs, tf in self._postings_with_idf(term, title_weight):
                rows = row_of[docs]
                keep = rows >= 0
                out[rows[keep], col] = idf * (k1 + 1) * tf[keep] / (tf[keep] + norm[docs[keep]])
        return out

    def contains(self, terms: Sequence[int], slots: np.ndarray) -> np.ndarray:
        """Whether each of ``slots`` (a live slot, else False) has each of ``terms`` in its title or
        body: a (slots, terms) boolean matrix. One binary search per term over its postings (every
        segment's, in slot order), so it costs next to nothing however long they are."""
        out = np.zeros((len(slots), len(terms)), dtype=bool)
        slots = np.asarray(slots, dtype=np.int64)
        live = (slots >= 0) & (slots < len(self.keys))
        live[live] = self.alive[slots[live]]
        wanted = slots[live]
        for col, term in enumerate(terms):
            parts = [hit[0] for seg in self._segments if (hit := seg.postings(term)) is not None]
            if not parts:
                continue
            docs = parts[0] if len(parts) == 1 else np.concatenate(parts)  # later segments hold later slots
            at = np.searchsorted(docs, wanted)
            out[live, col] = docs[np.minimum(at, len(docs) - 1)] == wanted
        return out

    @staticmethod
    def top(scores: np.ndarray, n: int, mask: np.ndarray | None = None) -> list[int]:
        """Slots of the ``n`` best positive scores (within ``mask``), best first."""
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        n = min(n, positive)
        if n <= 0:
            return []
        part = np.argpartition(-scores, n - 1)[:n]
        return part[np.argsort(-scores[part], kind="stable")].tolist()
