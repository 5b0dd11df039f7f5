"""Hybrid search on the bundled articles, in a real Chroma."""

import asyncio
import threading

import numpy as np
import pytest

from retrieval.embed.base import Embedder
from retrieval.models import Passage
from retrieval.search.candidates import gather, read_question
from retrieval.search.features import FEATURES, candidate_signals
from retrieval.search.fusion import fuse
from retrieval.search.params import SearchParams
from retrieval.search.rerank import rerank
from retrieval.search.searcher import Searcher
from retrieval.settings import PROJECT_ROOT
from retrieval.text.terms import query_terms, term_coverage
from tests.conftest import make_service, make_settings


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, embedder, encoding):
    svc = make_service(make_settings(tmp_path_factory.mktemp("search"), seed_dir=PROJECT_ROOT / "data"), embedder, encoding)
    asyncio.run(svc.ensure_seeded("default"))
    yield svc
    svc.close()


def test_returns_typed_passages_with_sources(seeded):
    passages = seeded.search("default", "Who visited Biosyngen?")
    assert passages and all(isinstance(p, Passage) for p in passages)
    top = passages[0]
    assert "Biosyngen" in top.source.title and top.source.url.startswith("https://")
    assert top.source.published is not None and top.similarity is not None


def test_names_are_found_by_keyword_even_when_embeddings_miss_them(seeded):
    passages = seeded.search("default", "Loh Tuck Keat")
    assert passages, "a rare name must not be dismissed as irrelevant"
    assert "Loh Tuck Keat" in passages[0].text
    assert "CSGKC" in " ".join(p.text for p in seeded.search("default", "CSGKC"))


def test_at_most_n_passages_per_article(seeded):
    passages = seeded.search("default", "Biosyngen", SearchParams(k=10, per_article=2, min_similarity=None))
    per_article = {}
    for p in passages:
        per_article[p.source.article_id] = per_article.get(p.source.article_id, 0) + 1
    assert max(per_article.values()) <= 2 and len(per_article) >= 3


@pytest.mark.parametrize("question", ["What is the capital of France?", "recipe for banana bread", "Who won the 2018 football world cup?"])
def test_unrelated_questions_find_nothing_relevant(seeded, question):
    assert seeded.search("default", question) == []


def test_retrieval_chooses_the_visit_article_over_the_later_biosyngen_news(seeded):
    passages = seeded.search("default", "Which consuls general came to Biosyngen and when?")
    assert "consuls" in passages[0].source.title.lower()


def _fused(seeded, text, params):
    """The question read, its fused candidates and their signals, through the stage modules as
    bench/train_ranker.py goes through them (the vector pool searched in this thread)."""
    index = seeded.keyword_index("default")
    question = read_question(index, text, params)
    qvec = np.asarray(seeded.embedder.embed(text), dtype=np.float32)
    pool = max(params.candidates, params.vector_pool)
    found = gather(index, question, params, lambda: seeded.store.nearest("default", qvec, pool))
    fused = fuse(index, question, found, params)
    return question, fused, candidate_signals(index, question, [cid for cid, _ in fused], found.nearest, params)


class ReversingRanker:
    """A Ranker that prefers the last fused candidate, and records what it was shown."""

    def __init__(self):
        self.rows = []

    def predict(self, x):
        self.rows.append(x)
        return x[:, FEATURES.index("fused_rank")].astype(float)


def test_a_ranker_reorders_the_fused_candidates_from_their_feature_rows(seeded):
    question = "Which consuls general came to Biosyngen and when?"
    params = SearchParams(k=1000, per_article=1000, min_similarity=None)  # every candidate, in ranked order
    fused_ids = [cid for cid, _ in _fused(seeded, question, params)[1]]
    ranker = ReversingRanker()
    searcher = Searcher(seeded.store, seeded.embedder, seeded.keyword_index, ranker)
    reranked = searcher.search("default", question, params)
    rows = ranker.rows[0]
    assert rows.shape == (len(fused_ids), len(FEATURES)) and rows[:, 0].tolist() == list(range(len(rows)))
    assert [p.chunk_id for p in reranked] == fused_ids[::-1]
    off = SearchParams(k=1000, per_article=1000, min_similarity=None, rerank=False)
    assert [p.chunk_id for p in searcher.search("default", question, off)] == fused_ids


def test_candidate_signals_describe_each_candidate(seeded):
    question = "Which consuls general came to Biosyngen, according to GeneOnline?"
    signals = _fused(seeded, question, SearchParams())[2]
    n = len(signals.chunk_ids)
    assert n > 5 and len(signals.articles) == n and None not in signals.articles
    for name in ("bm25", "source_bm25", "clause_bm25", "coverage"):
        values = getattr(signals, name)
        assert values.shape == (n,) and values.min() >= 0 and values.max() <= 1.0 + 1e-6, name
    assert signals.bm25.max() == pytest.approx(1.0)  # the best keyword match is among the candidates
    assert signals.source_bm25.max() == pytest.approx(1.0)  # GeneOnline is named: its best chunk scores 1
    chunks, _ = seeded.store.get("default", list(signals.chunk_ids))
    publisher = {c.id: c.source.publisher for c in chunks}
    assert all(publisher[cid] == "GeneOnline" for cid, s in zip(signals.chunk_ids, signals.source_bm25) if s > 0)
    assert -1.0 <= signals.vector.min() and signals.vector.max() <= 1.0


def test_the_shipped_ranker_still_answers_the_seed_question_from_the_visit_article(seeded):
    passages = seeded.search("default", "Who visited Biosyngen?", SearchParams(k=6, min_similarity=None))
    assert "consuls" in passages[0].source.title.lower()


class RecordingStore:
    """The real ChromaStore, recording which chunks' text and vectors a search reads; ``removed``
    chunks read as if deleted from Chroma after the search ranked them."""

    def __init__(self, store, removed=()):
        self._store = store
        self.removed = set(removed)
        self.text_reads: list[list[str]] = []
        self.vector_reads: list[list[str]] = []
        self.nearest_calls: list[tuple[str, int]] = []  # (thread name, n)

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get(self, library, ids, *, with_embeddings=False):
        self.text_reads.append(list(ids))
        return self._store.get(library, [i for i in ids if i not in self.removed], with_embeddings=with_embeddings)

    def vectors(self, library, ids):
        self.vector_reads.append(list(ids))
        return self._store.vectors(library, [i for i in ids if i not in self.removed])

    def nearest(self, library, embedding, n, *, since=None):
        self.nearest_calls.append((threading.current_thread().name, n))
        return self._store.nearest(library, embedding, n, since=since)


def test_only_the_returned_passages_have_their_text_read(seeded):
    store = RecordingStore(seeded.store)
    searcher = Searcher(store, seeded.embedder, seeded.keyword_index, seeded.searcher._ranker)
    params = SearchParams(k=3, per_article=1)  # three of the seed articles pass the relevance gate
    passages = searcher.search("default", "Biosyngen cell therapy funding and visits", params)
    assert len(passages) == 3 and len({p.source.article_id for p in passages}) == 3
    assert store.text_reads == [[p.chunk_id for p in passages]]
    assert passages == seeded.search("default", "Biosyngen cell therapy funding and visits", params)
    assert all(p.similarity is not None and -1 <= p.similarity <= 1 for p in passages)


def test_a_chunk_removed_after_ranking_is_replaced_by_the_next_one(seeded):
    question = "Biosyngen cell therapy funding and visits"
    params = SearchParams(k=4, per_article=1, min_similarity=None)
    before = seeded.search("default", question, params)
    store = RecordingStore(seeded.store, removed={before[0].chunk_id})
    after = Searcher(store, seeded.embedder, seeded.keyword_index, seeded.searcher._ranker).search("default", question, params)
    assert len(store.text_reads) == 2 and before[0].chunk_id not in {p.chunk_id for p in after}
    assert {p.chunk_id for p in before[1:]} <= {p.chunk_id for p in after} and len(after) == 4


def test_candidates_beyond_the_vector_pool_are_gated_on_their_stored_vectors(seeded):
    # A small vector pool leaves keyword-only candidates whose similarity the search must read.
    question = "Biosyngen share price target after the consuls visited"
    params = SearchParams(k=5, per_article=5, candidates=4, vector_pool=4, rerank=False)
    store = RecordingStore(seeded.store)
    passages = Searcher(store, seeded.embedder, seeded.keyword_index).search("default", question, params)
    assert store.vector_reads and passages
    qvec = np.asarray(seeded.embedder.embed(question), dtype=np.float32)
    read = [cid for ids in store.vector_reads for cid in ids]
    chunks, vectors = seeded.store.get("default", read, with_embeddings=True)
    truth = {c.id: float(np.dot(v, qvec)) for c, v in zip(chunks, vectors)}
    for p in passages:
        if p.chunk_id in truth:
            assert p.similarity == pytest.approx(truth[p.chunk_id], abs=1e-5)
    terms = query_terms(question)
    refused = [cid for cid in read if cid not in {p.chunk_id for p in passages}]
    for c in seeded.store.get("default", refused)[0]:  # read, then refused: neither similar nor covering the question
        assert truth[c.id] < params.min_similarity and term_coverage(terms, f"{c.source.title} {c.text}") < params.min_coverage


def test_the_nearest_search_runs_in_the_question_worker_as_wide_as_the_ranking_needs(seeded):
    # Chroma's nearest search follows the question's embedding in its worker thread, so it
    # overlaps the keyword searches; the ranking is the one the caller-thread path gives.
    store = RecordingStore(seeded.store)
    searcher = Searcher(store, seeded.embedder, seeded.keyword_index, seeded.searcher._ranker)
    question = "Which diplomats visited Biosyngen in Guangzhou, and when?"
    fused, signals = _fused(seeded, question, SearchParams())[1:]
    reranked = [cid for cid, _ in rerank(seeded.searcher._ranker, signals, fused)[0]]
    cases = [
        (SearchParams(k=8, per_article=8, min_similarity=None), 100, reranked),  # re-ranked: the vector pool
        (SearchParams(k=8, per_article=8, min_similarity=None, rerank=False), 50, [c for c, _ in fused]),  # the candidates
        (SearchParams(k=8, per_article=8, min_similarity=None, vector_weight=0), None, None),  # no vector search
    ]
    for params, width, ranked in cases:
        store.nearest_calls.clear()
        passages = searcher.search("default", question, params)
        if width is None:
            assert store.nearest_calls == []
            continue
        assert len(store.nearest_calls) == 1
        thread, n = store.nearest_calls[0]
        assert thread.startswith("newsbot-question") and n == width
        assert [p.chunk_id for p in passages] == ranked[: params.k]


class InstantEmbedder(Embedder):
    """Vectors from a table, at once (as a warm cache or a very fast model would give them)."""

    def __init__(self, name, vectors):
        self.name = name
        self._vectors = vectors

    def embed_batch(self, texts):
        return np.stack([self._vectors[t] for t in texts])


def test_the_nearest_search_runs_in_the_worker_even_when_the_embedding_is_done_at_once(seeded):
    # An embedding finished before the search could ask to be told of it must not move the nearest
    # search into the caller's thread, ahead of the keyword searches it is meant to overlap.
    question = "Which diplomats visited Biosyngen in Guangzhou, and when?"
    instant = InstantEmbedder(seeded.embedder.name, {question: seeded.embedder.embed(question)})
    for _ in range(5):
        store = RecordingStore(seeded.store)
        searcher = Searcher(store, instant, seeded.keyword_index, seeded.searcher._ranker)  # a new worker each time
        try:
            assert searcher.search("default", question)
        finally:
            searcher.close()
        assert [thread.startswith("newsbot-question") for thread, _ in store.nearest_calls] == [True]


def test_a_failing_question_embedding_reaches_the_caller_and_runs_no_vector_search(seeded):
    from retrieval.embed.base import Embedder
    from retrieval.errors import LLMError

    class Unreachable(Embedder):
        name = seeded.embedder.name

        def embed_batch(self, texts):
            raise LLMError("The embedding endpoint timed out.")

    store = RecordingStore(seeded.store)
    searcher = Searcher(store, Unreachable(), seeded.keyword_index, seeded.searcher._ranker)
    try:
        with pytest.raises(LLMError, match="timed out"):
            searcher.search("default", "Who visited Biosyngen?")
    finally:
        searcher.close()
    assert store.nearest_calls == [] and store.text_reads == []


@pytest.mark.parametrize(
    "question",
    [
        "Which diplomats visited Biosyngen in Guangzhou, and when?",
        "Did GeneOnline report the AT&T-style deal before the Series B of Fernquill Payments?",
        "What is the capital of Peru?",
    ],
)
def test_the_gates_word_coverage_comes_with_the_rankers_signals(seeded, question):
    # The re-ranking path hands the gate the coverage it computed from the per-stem BM25 matrix:
    # the same figure the keyword index computes on its own (and term_coverage from the text).
    parsed, _, signals = _fused(seeded, question, SearchParams())
    index = seeded.keyword_index("default")
    assert signals.term_share is not None and len(signals.term_share) == len(signals.chunk_ids) > 0
    np.testing.assert_allclose(signals.term_share, index.coverage(signals.chunk_ids, parsed.words.term_stems), atol=1e-6)
    chunks = {c.id: c for c in seeded.store.get("default", list(signals.chunk_ids))[0]}
    for cid, share in zip(signals.chunk_ids, signals.term_share):
        c = chunks[cid]
        assert share == pytest.approx(term_coverage(query_terms(question), f"{c.source.title} {c.text}"), abs=1e-6)
