"""Hybrid search: vector (Chroma) + keyword (BM25) results fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.keyword_index import KeywordIndex, query_terms, term_coverage
from retrieval.models import Chunk, Passage
from retrieval.store import ChromaStore


@dataclass(frozen=True)
class SearchParams:
    k: int = 6
    per_article: int = 3
    # A passage counts as relevant when it is semantically close to the question, or when it
    # contains most of the question's content words (names the embedding model does not know).
    min_similarity: float | None = 0.30  # None: return the best k whatever their relevance
    min_coverage: float = 0.51
    candidates: int = 50
    rrf_k: int = 60
    vector_weight: float = 1.0
    keyword_weight: float = 1.0


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

    def search(self, library: str, query: str, params: SearchParams = SearchParams()) -> list[Passage]:
        qvec = np.asarray(self._embedder.embed(query), dtype=np.float32)
        vector_hits = self._store.query(library, qvec, params.candidates)
        keyword_hits = self._keyword_index(library).search(query, params.candidates)

        fused: dict[str, float] = {}
        for rank, hit in enumerate(vector_hits):
            fused[hit.chunk.id] = fused.get(hit.chunk.id, 0.0) + params.vector_weight / (params.rrf_k + rank + 1)
        for rank, khit in enumerate(keyword_hits):
            fused[khit.chunk_id] = fused.get(khit.chunk_id, 0.0) + params.keyword_weight / (params.rrf_k + rank + 1)

        chunks: dict[str, Chunk] = {h.chunk.id: h.chunk for h in vector_hits}
        similarity: dict[str, float] = {h.chunk.id: 1.0 - h.distance for h in vector_hits}
        missing = [cid for cid in fused if cid not in chunks]
        if missing:
            got, vectors = self._store.get(library, missing, with_embeddings=True)
            for chunk, vec in zip(got, vectors if vectors is not None else []):
                chunks[chunk.id] = chunk
                similarity[chunk.id] = float(np.dot(vec, qvec))

        terms = query_terms(query)
        ranked = sorted((cid for cid in fused if cid in chunks), key=lambda cid: fused[cid], reverse=True)
        per_article: dict[str, int] = {}
        out: list[Passage] = []
        for cid in ranked:
            chunk = chunks[cid]
            if params.min_similarity is not None and similarity[cid] < params.min_similarity:
                if term_coverage(terms, f"{chunk.source.title} {chunk.text}") < params.min_coverage:
                    continue
            aid = chunk.source.article_id
            if per_article.get(aid, 0) >= params.per_article:
                continue
            per_article[aid] = per_article.get(aid, 0) + 1
            out.append(
                Passage(
                    chunk_id=cid,
                    source=chunk.source,
                    position=chunk.position,
                    text=chunk.text,
                    score=fused[cid],
                    similarity=similarity[cid],
                )
            )
            if len(out) >= params.k:
                break
        return out
