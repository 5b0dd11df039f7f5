"""Hybrid search: vector (Chroma) + keyword (BM25) results fused by reciprocal rank.

A question that names publishers or days ("did TechCrunch's October 31 report ...") also gets
one keyword sub-search per named source, restricted to it and weighted towards the part of the
question about it, and the vector results from that source; every list joins the fusion. Only
the passages finally returned are fetched from Chroma.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.keyword_index import KeywordIndex
from retrieval.models import Passage
from retrieval.query_hints import SourceHint, source_hints
from retrieval.store import ChromaStore
from retrieval.terms import query_terms, term_coverage


@dataclass(frozen=True)
class SearchParams:
    """Defaults tuned on MultiHop-RAG's development split (see bench/README.md)."""

    k: int = 6
    per_article: int = 4
    # A passage counts as relevant when it is semantically close to the question, or when it
    # contains most of the question's content words (names the embedding model does not know).
    min_similarity: float | None = 0.30  # None: return the best k whatever their relevance
    min_coverage: float = 0.51
    candidates: int = 50
    rrf_k: int = 20
    vector_weight: float = 0.5
    keyword_weight: float = 1.0
    title_weight: float = 1.0  # BM25 weight of a title word (a body word's is 1)
    bm25_k1: float = 0.9
    bm25_b: float = 0.5
    # Sub-searches for each publisher / day the question names (see query_hints).
    source_hints: bool = True
    hint_candidates: int = 20
    hint_weight: float = 2.0
    hint_vectors: bool = False  # also fuse the vector results from that source (out of vector_pool)
    vector_pool: int = 300
    focus_boost: int = 1  # extra weight (repeats) of the words of the question's part about that source
    min_focus_terms: int = 3
    # "interleave": the best chunk of each named source in turn, so every source the question
    # names is represented near the top; "fuse": one fused ranking.
    hint_order: str = "interleave"


class Searcher:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        keyword_index: Callable[[str], KeywordIndex],
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._keyword_index = keyword_index

    def ranked_ids(self, library: str, query: str, params: SearchParams, qvec: np.ndarray) -> list[tuple[str, float]]:
        """Every candidate chunk id with its fused score, best first."""
        index = self._keyword_index(library)
        index.sync()
        terms = query_terms(query)
        hints = source_hints(query, *index.facets(sync=False)) if params.source_hints and params.hint_weight else []
        pool = max(params.candidates, params.vector_pool if hints and params.hint_vectors else 0)
        nearest = [cid for cid, _ in self._store.nearest(library, qvec, pool)] if params.vector_weight else []

        def keyword(n: int, hint: SourceHint = SourceHint(), extra: Sequence[str] = ()) -> list[str]:
            hits = index.search(query, n, terms=[*terms, *extra], publishers=hint.publishers, days=hint.days,
                                title_weight=params.title_weight, bm25=(params.bm25_k1, params.bm25_b), sync=False)
            return [h.chunk_id for h in hits]

        lists: list[tuple[float, list[str]]] = []
        if params.vector_weight:
            lists.append((params.vector_weight, nearest[: params.candidates]))
        if params.keyword_weight:
            lists.append((params.keyword_weight, keyword(params.candidates)))
        for hint in hints:
            focus = query_terms(hint.focus)
            focus = focus if len(focus) >= params.min_focus_terms else []
            if params.vector_weight and params.hint_vectors:
                ids = index.within(nearest, hint.publishers, hint.days)[: params.hint_candidates]
                lists.append((params.hint_weight * params.vector_weight, ids))
            if params.keyword_weight:
                ids = keyword(params.hint_candidates, hint, focus * params.focus_boost)
                lists.append((params.hint_weight * params.keyword_weight, ids))
        fused: dict[str, float] = {}
        for weight, ids in lists:
            for rank, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + weight / (params.rrf_k + rank + 1)
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        if params.hint_order != "interleave" or len(hints) < 2:
            return ranked
        ids = [cid for cid, _ in ranked]
        turns = [ids] + [index.within(ids, h.publishers, h.days) for h in hints]
        order: dict[str, None] = {}
        for row in range(len(ids)):
            for turn in turns:
                if row < len(turn):
                    order.setdefault(turn[row], None)
        return [(cid, fused[cid]) for cid in order]

    def search(self, library: str, query: str, params: SearchParams = SearchParams()) -> list[Passage]:
        qvec = np.asarray(self._embedder.embed(query), dtype=np.float32)
        ranked = self.ranked_ids(library, query, params, qvec)
        terms = query_terms(query)
        per_article: dict[str, int] = {}
        out: list[Passage] = []
        start, step = 0, max(2 * params.k, 20)
        while start < len(ranked):
            batch = ranked[start : start + step]
            start, step = start + step, 100  # later batches only when many candidates were refused
            chunks, vectors = self._store.get(library, [cid for cid, _ in batch], with_embeddings=True)
            found = {c.id: (c, float(np.dot(v, qvec))) for c, v in zip(chunks, vectors if vectors is not None else [])}
            for cid, score in batch:
                if cid not in found:
                    continue  # removed from Chroma since the search began
                chunk, similarity = found[cid]
                if params.min_similarity is not None and similarity < params.min_similarity:
                    if term_coverage(terms, f"{chunk.source.title} {chunk.text}") < params.min_coverage:
                        continue
                aid = chunk.source.article_id
                if per_article.get(aid, 0) >= params.per_article:
                    continue
                per_article[aid] = per_article.get(aid, 0) + 1
                out.append(Passage(cid, chunk.source, chunk.position, chunk.text, score, similarity))
                if len(out) >= params.k:
                    return out
        return out
