"""Hybrid search: the stages of retrieval.search composed, from a question's text to Passages.

The question is read once (``candidates.read_question``), with the period it asks about, if any;
its vector is computed, and the vector search run, in a worker thread while the keyword lists are
made; the lists are fused, re-ranked when a ranker is set, and gated; only the passages finally
returned have their text read from Chroma.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from functools import partial

import numpy as np

from retrieval.embed.base import Embedder
from retrieval.models import Passage
from retrieval.search.candidates import Nearest, gather, read_question
from retrieval.search.features import candidate_signals
from retrieval.search.fusion import Ranked, fuse
from retrieval.search.gate import choose
from retrieval.search.params import Ranker, SearchParams
from retrieval.search.question import Question
from retrieval.search.rerank import rerank
from retrieval.store.chroma import ChromaStore
from retrieval.store.keyword_index import KeywordIndex


class Searcher:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        keyword_index: Callable[[str], KeywordIndex],
        ranker: Ranker | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._keyword_index = keyword_index
        self._ranker = ranker
        self._pool: ThreadPoolExecutor | None = None  # embeds questions while the keyword searches run
        self._pool_lock = threading.Lock()

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _soon(self, work: Callable[[], object]) -> Future:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsbot-question")
            return self._pool.submit(work)

    def _embed_and_find_soon(self, library: str, text: str, n: int, since: date | None) -> tuple[Future, Future]:
        """The question's vector and its ``n`` nearest chunks (of articles published since ``since``,
        when given), both computed in one worker, one after the other: Chroma's nearest search then
        overlaps the keyword searches. An embedding that fails reaches the caller through both
        futures, and no vector search runs."""
        vector: Future = Future()

        def embed_then_find() -> Nearest:
            try:
                found = _as_vector(self._embedder.embed(text))
            except BaseException as exc:
                vector.set_exception(exc)
                raise
            vector.set_result(found)
            return self._store.nearest(library, found, n, since=since)

        return vector, self._soon(embed_then_find)

    def search(self, library: str, query: str, params: SearchParams = SearchParams(), since: date | None = None) -> list[Passage]:
        """Passages for ``query``; only from articles published on or after ``since``, when given."""
        reranks = self._ranker is not None and params.rerank
        if params.vector_weight:  # the re-ranker knows the similarity of the vector pool's chunks
            pool = max(params.candidates, params.vector_pool if reranks else 0)
            vector, near = self._embed_and_find_soon(library, query, pool, since)
        else:
            vector, near = self._soon(lambda: _as_vector(self._embedder.embed(query))), None
        index = self._keyword_index(library)
        question = read_question(index, query, params, since)
        found = gather(index, question, params, near.result if near is not None else list)
        ranked = fuse(index, question, found, params)
        coverage = None  # the gate's word coverage of the ranked candidates, when re-ranking computed it
        if reranks:
            signals = candidate_signals(index, question, [cid for cid, _ in ranked], found.nearest, params)
            ranked, coverage = rerank(self._ranker, signals, ranked)
        similarity = {cid: 1.0 - distance for cid, distance in found.nearest}
        return self._passages(library, question, ranked, similarity, vector.result(), params, coverage)

    def _passages(
        self,
        library: str,
        question: Question,
        ranked: Ranked,
        similarity: dict[str, float],
        qvec: np.ndarray,
        params: SearchParams,
        coverage: np.ndarray | None,
    ) -> list[Passage]:
        """The gate's choice among ``ranked``, read from Chroma: a chunk removed since the search
        began gives its place to the next candidate."""
        ids = [cid for cid, _ in ranked]

        def read_similarities(wanted: Sequence[str]) -> dict[str, float]:
            return {cid: float(np.dot(v, qvec)) for cid, v in self._store.vectors(library, wanted).items()}

        gone: set[str] = set()
        while True:
            index = self._keyword_index(library)
            shares = partial(index.coverage, ids, question.words.term_stems) if coverage is None else partial(_given, coverage)
            chosen = choose(ranked, index.articles(ids), similarity, params, coverage=shares,
                            read_similarities=read_similarities, gone=gone)
            unknown = any(cid not in similarity for cid, _ in chosen)
            chunks, vectors = self._store.get(library, [cid for cid, _ in chosen], with_embeddings=unknown)
            found = {c.id: c for c in chunks}
            if vectors is not None:
                similarity.update((c.id, float(np.dot(v, qvec))) for c, v in zip(chunks, vectors))
            if all(cid in found for cid, _ in chosen):
                break
            gone.update(cid for cid, _ in chosen if cid not in found)
        return [
            Passage(cid, found[cid].source, found[cid].position, found[cid].text, score, similarity[cid])
            for cid, score in chosen
        ]


def _given(coverage: np.ndarray) -> np.ndarray:
    return coverage


def _as_vector(embedding: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.asarray(embedding, dtype=np.float32)
