"""Hybrid search: vector (Chroma) + keyword (BM25) results fused by reciprocal rank, then re-ranked.

A question that names publishers or days ("did TechCrunch's October 31 report ...") also gets
one keyword sub-search per named source, restricted to it and weighted towards the part of the
question about it; every list joins the fusion. A learned ranker (retrieval.search.trees, trained
by bench/train_ranker.py) then orders the fused candidates by what else is known about them:
how well they match each clause of the question and the sources it names, and how they compare
with the other candidates from their article (retrieval.search.features). Only the passages finally
returned are fetched from Chroma.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from retrieval.embed.base import Embedder
from retrieval.models import Passage
from retrieval.search.features import CandidateSignals, feature_matrix
from retrieval.search.gate import choose
from retrieval.search.hints import SourceHint, clauses, source_hints
from retrieval.search.params import QuestionVector, Ranker, SearchParams, question_vector
from retrieval.store.chroma import ChromaStore
from retrieval.store.keyword_index import KeywordIndex, share_of_terms
from retrieval.text.terms import query_terms, tokens


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

    def _embed_soon(self, query: str) -> Future:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsbot-question")
            return self._pool.submit(self._embedder.embed, query)

    def _embed_and_find_soon(self, library: str, query: str, pool: int) -> tuple[Future, Future]:
        """The question's vector and, right after it in the same worker, its ``pool`` nearest chunks:
        Chroma's nearest search then overlaps the keyword searches instead of following them."""
        nearest: Future = Future()

        def find(vector: Future) -> None:  # runs in the worker that embedded the question
            try:
                nearest.set_result(self._store.nearest(library, question_vector(vector), pool))
            except BaseException as exc:  # an embedding failure reaches the caller through both futures
                nearest.set_exception(exc)

        pending = self._embed_soon(query)
        pending.add_done_callback(find)
        return pending, nearest

    def ranked_ids(self, library: str, query: str, params: SearchParams, qvec: QuestionVector) -> list[tuple[str, float]]:
        """Every candidate chunk id with its score, best first: re-ranked when a ranker is set.
        ``qvec`` is the question's vector, or a Future of it (awaited only when the vector is needed)."""
        return self._ranked(library, query, params, qvec)[0]

    def _reranks(self, params: SearchParams) -> bool:
        return self._ranker is not None and params.rerank

    def _ranked(
        self, library: str, query: str, params: SearchParams, qvec: QuestionVector, near: Future | None = None
    ) -> tuple[list[tuple[str, float]], dict[str, float], np.ndarray | None]:
        """``ranked_ids``, the cosine similarity of the candidates the vector search returned, and
        the gate's word coverage of the ranked candidates when re-ranking computed it (else None).
        ``near``: the nearest chunks when already on their way (``_embed_and_find_soon``)."""
        if not self._reranks(params):
            fused, _, nearest = self._fused(library, query, params, qvec, near=near)
            return fused, {cid: 1.0 - distance for cid, distance in nearest}, None
        fused, hints, nearest = self._fused(library, query, params, qvec, vector_pool=params.vector_pool, near=near)
        signals = self.signals(library, query, [cid for cid, _ in fused], hints, nearest, params)
        similarity = {cid: 1.0 - distance for cid, distance in nearest}
        if len(signals.chunk_ids) < 2:
            return fused, similarity, signals.term_share
        scores = self._ranker.predict(feature_matrix(signals))
        order = np.argsort(-scores, kind="stable")  # ties keep the fused order
        share = None if signals.term_share is None else signals.term_share[order]
        return [(signals.chunk_ids[i], float(scores[i])) for i in order], similarity, share

    def candidates(self, library: str, query: str, params: SearchParams, qvec: QuestionVector) -> CandidateSignals:
        """The fused candidates (in fused order) with what the ranker is told about each."""
        fused, hints, nearest = self._fused(library, query, params, qvec, vector_pool=params.vector_pool)
        return self.signals(library, query, [cid for cid, _ in fused], hints, nearest, params)

    def signals(
        self,
        library: str,
        query: str,
        ids: Sequence[str],
        hints: Sequence[SourceHint],
        nearest: Sequence[tuple[str, float]],
        params: SearchParams,
    ) -> CandidateSignals:
        """What the ranker is told about each of ``ids`` (candidates in fused order)."""
        index = self._keyword_index(library)
        terms = query_terms(query)
        options = {"title_weight": params.title_weight, "bm25": (params.bm25_k1, params.bm25_b)}
        similarity = {cid: 1.0 - distance for cid, distance in nearest}
        floor = min(similarity.values(), default=0.0)
        source = np.zeros(len(ids), dtype=np.float32)
        for hint in hints:
            extra = self._focus(hint, params)
            source = np.maximum(source, index.relative_scores(
                ids, [*terms, *extra], publishers=hint.publishers, days=hint.days, **options))
        # Per-stem BM25 of the candidates: clause scores and coverage without another pass over the library.
        gains, stems = index.term_matrix(ids, terms, **options)
        column = {stem: i for i, stem in enumerate(stems)}
        clause = np.zeros(len(ids), dtype=np.float32)
        for part in clauses(query):
            cols = sorted({column[t] for w in query_terms(part) for t in tokens(w) if t in column})
            score = gains[:, cols].sum(axis=1)
            if score.max(initial=0.0) > 0:
                clause = np.maximum(clause, score / score.max())
        present = gains > 0  # BM25's idf is always positive, so a gain means the stem is there
        coverage = present.sum(axis=1) / max(1, len(stems))
        articles = index.articles(ids)
        share = share_of_terms(present, stems, terms)
        share[[i for i, a in enumerate(articles) if a is None]] = 0.0  # not in the index yet
        return CandidateSignals(
            chunk_ids=ids,
            articles=articles,
            bm25=index.relative_scores(ids, terms, **options),
            vector=np.array([similarity.get(cid, floor) for cid in ids], dtype=np.float32),
            source_bm25=source,
            clause_bm25=clause,
            coverage=coverage.astype(np.float32),
            term_share=share,
        )

    @staticmethod
    def _focus(hint: SourceHint, params: SearchParams) -> list[str]:
        """The words of the question's part about ``hint``, repeated to weigh more in its sub-search."""
        focus = query_terms(hint.focus)
        return focus * params.focus_boost if len(focus) >= params.min_focus_terms else []

    def _fused(
        self,
        library: str,
        query: str,
        params: SearchParams,
        qvec: QuestionVector,
        *,
        vector_pool: int = 0,
        near: Future | None = None,
    ) -> tuple[list[tuple[str, float]], list[SourceHint], list[tuple[str, float]]]:
        """Reciprocal-rank fusion of the vector, keyword and per-source lists; also the hints and
        the (id, cosine distance) of the ``max(candidates, vector_pool)`` nearest chunks (``near``
        when given: a search of at least that many, already under way)."""
        index = self._keyword_index(library)
        index.sync()
        terms = query_terms(query)
        hints = source_hints(query, *index.facets(sync=False)) if params.source_hints and params.hint_weight else []
        pool = max(params.candidates, vector_pool, params.vector_pool if hints and params.hint_vectors else 0)

        def keyword(n: int, hint: SourceHint = SourceHint(), extra: Sequence[str] = ()) -> list[str]:
            hits = index.search(query, n, terms=[*terms, *extra], publishers=hint.publishers, days=hint.days,
                                title_weight=params.title_weight, bm25=(params.bm25_k1, params.bm25_b), sync=False)
            return [h.chunk_id for h in hits]

        # Keyword lists first: they do not need the question's vector, which may still be on its way.
        lists: list[tuple[float, list[str]]] = []
        if params.keyword_weight:
            lists.append((params.keyword_weight, keyword(params.candidates)))
            for hint in hints:
                ids = keyword(params.hint_candidates, hint, self._focus(hint, params))
                lists.append((params.hint_weight * params.keyword_weight, ids))
        if not params.vector_weight:
            nearest = []
        elif near is not None:
            nearest = near.result()
        else:
            nearest = self._store.nearest(library, question_vector(qvec), pool)
        near_ids = [cid for cid, _ in nearest]
        if params.vector_weight:
            lists.insert(0, (params.vector_weight, near_ids[: params.candidates]))  # first, for ties as before
            if params.hint_vectors:
                for hint in hints:
                    ids = index.within(near_ids, hint.publishers, hint.days)[: params.hint_candidates]
                    lists.append((params.hint_weight * params.vector_weight, ids))
        fused: dict[str, float] = {}
        for weight, ids in lists:
            for rank, cid in enumerate(ids):
                fused[cid] = fused.get(cid, 0.0) + weight / (params.rrf_k + rank + 1)
        ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
        if params.hint_order != "interleave" or len(hints) < 2:
            return ranked, hints, nearest
        ids = [cid for cid, _ in ranked]
        turns = [ids] + [index.within(ids, h.publishers, h.days) for h in hints]
        order: dict[str, None] = {}
        for row in range(len(ids)):
            for turn in turns:
                if row < len(turn):
                    order.setdefault(turn[row], None)
        return [(cid, fused[cid]) for cid in order], hints, nearest

    def search(self, library: str, query: str, params: SearchParams = SearchParams()) -> list[Passage]:
        if params.vector_weight:
            # as many as _fused asks for (it wants vector_pool when re-ranking or with hint_vectors)
            wide = self._reranks(params) or params.hint_vectors
            pending, near = self._embed_and_find_soon(library, query, max(params.candidates, params.vector_pool if wide else 0))
        else:
            pending, near = self._embed_soon(query), None
        ranked, similarity, coverage = self._ranked(library, query, params, pending, near)
        qvec = question_vector(pending)
        gone: set[str] = set()  # chunks removed from Chroma since the search began
        while True:
            index = self._keyword_index(library)
            chosen = choose(index, self._store, library, query, ranked, similarity, qvec, params, gone, coverage)
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
