"""BM25 on numpy arrays against a direct computation, and the keyword index's filters and reloads."""

import asyncio
import math
import random
from datetime import date

import numpy as np
import pytest

from retrieval.models import Article
from retrieval.store.bm25 import Bm25
from retrieval.text.terms import stem, term_coverage, tokens

K1, B = 1.2, 0.75


def _docs(n: int, seed: int = 0) -> dict[int, np.ndarray]:
    rng = random.Random(seed)
    out = {}
    for key in range(n):
        terms = rng.sample(range(40), rng.randint(1, 8))
        out[key] = np.array([(t, rng.randint(0, 2), rng.randint(1, 4)) for t in terms], dtype=np.int32)
    return out


def _lengths(docs):
    return {k: (int(d[:, 1].sum()) + 1, int(d[:, 2].sum()) + 3) for k, d in docs.items()}


def _reference(docs, lengths, alive, query, title_weight=0.5):
    """BM25 written out term by term (idf = ln(1 + (N - df + 0.5) / (df + 0.5)))."""
    n = len(alive)
    dl = {k: title_weight * lengths[k][0] + lengths[k][1] for k in alive}
    avg = sum(dl.values()) / n
    out = {}
    for term, weight in query:
        df = sum(1 for k in alive if term in docs[k][:, 0])
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for k in alive:
            rows = [r for r in docs[k] if r[0] == term]
            if rows:
                tf = title_weight * rows[0][1] + rows[0][2]
                out[k] = out.get(k, 0.0) + weight * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl[k] / avg))
    return out


def _as_dict(index: Bm25, scores: np.ndarray) -> dict[int, float]:
    return {int(index.keys[i]): float(s) for i, s in enumerate(scores) if s > 0}


def test_scores_match_the_formula_across_segments_and_weights():
    docs, lengths = _docs(150), None
    lengths = _lengths(docs)
    index = Bm25()
    items = list(docs.items())
    for start in range(0, len(items), 20):  # several segments, merged on the way
        index.add([(k, d.reshape(-1), *lengths[k]) for k, d in items[start : start + 20]])
    query = [(3, 1.0), (7, 2.0), (11, 1.0), (999, 1.0)]
    got, want = _as_dict(index, index.scores(query)), _reference(docs, lengths, list(docs), query)
    assert set(got) == set(want) and len(want) > 10
    assert all(got[k] == pytest.approx(want[k], rel=1e-5) for k in want)
    assert _as_dict(index, index.scores(query, title_weight=1.0)) == pytest.approx(
        _reference(docs, lengths, list(docs), query, title_weight=1.0), rel=1e-5
    )


def test_term_gains_split_each_candidates_score_by_term():
    docs = _docs(150, seed=2)
    lengths = _lengths(docs)
    index = Bm25()
    items = list(docs.items())
    for start in range(0, len(items), 40):  # several segments
        index.add([(k, d.reshape(-1), *lengths[k]) for k, d in items[start : start + 40]])
    index.remove([5, 6])  # dead slots score nothing
    terms = [3, 7, 11, 999]
    slots = np.array([0, 5, 17, 80, 149, -1])
    gains = index.term_gains(terms, slots, title_weight=1.0, k1=K1, b=B)
    full = index.scores([(t, 1.0) for t in terms], title_weight=1.0, k1=K1, b=B)
    assert gains.shape == (6, 4) and gains[:, 3].sum() == 0  # an unknown term adds nothing
    assert gains.sum(axis=1)[:5] == pytest.approx(full[slots[:5]], rel=1e-5)
    assert gains[1].sum() == 0 and gains[5].sum() == 0  # removed slot; no slot
    for row, slot in enumerate(slots[:5]):
        has = {int(t) for t in docs[int(index.keys[slot])][:, 0]} if slot != 5 else set()
        assert [bool(g) for g in gains[row]] == [t in has for t in terms]


def test_contains_agrees_with_the_documents_across_segments_merges_and_removals():
    docs = _docs(200, seed=3)
    lengths = _lengths(docs)
    index = Bm25()
    items = list(docs.items())
    for start in range(0, len(items), 30):  # several segments, merged on the way
        index.add([(k, d.reshape(-1), *lengths[k]) for k, d in items[start : start + 30]])
    index.remove([4, 9])
    terms = [int(docs[0][0, 0]), int(docs[31][-1, 0]), int(docs[4][0, 0]), 3, 39, 999]
    slots = np.array([0, 4, 9, 31, 100, 199, len(index.keys) - 1, -1, 10_000])
    got = index.contains(terms, slots)
    assert got.shape == (len(slots), len(terms)) and got.any()
    for row, slot in enumerate(slots):
        if 0 <= slot < len(index.keys) and index.alive[slot]:
            has = {int(t) for t in docs[int(index.keys[slot])][:, 0]}
            assert got[row].tolist() == [t in has for t in terms]
        else:
            assert not got[row].any()  # removed, or no such slot


def test_removed_documents_never_score_and_a_merge_keeps_the_rest_exact():
    docs = _docs(120, seed=1)
    lengths = _lengths(docs)
    index = Bm25()
    index.add([(k, d, *lengths[k]) for k, d in docs.items()])
    query = [(1, 1.0), (2, 1.0), (5, 1.0)]
    assert _as_dict(index, index.scores(query)) == pytest.approx(_reference(docs, lengths, list(docs), query), rel=1e-5)
    index.remove(range(0, 120, 2))  # below 75% alive: merged into one segment (lengths cached above are stale)
    alive = list(range(1, 120, 2))
    got = _as_dict(index, index.scores(query))
    assert set(got) <= set(alive) and len(index) == len(alive)
    want = _reference(docs, lengths, alive, query)
    assert all(got[k] == pytest.approx(want[k], rel=1e-5) for k in want)
    index.add([(0, docs[0], *lengths[0])])  # a removed key can come back
    assert 0 in index and len(index) == len(alive) + 1


def test_a_few_removals_before_a_merge_leave_every_live_match_scoring_positive():
    # Three documents share a term; removing one (no merge yet) must not turn its idf negative.
    shared = np.array([(7, 0, 1)], dtype=np.int32)
    index = Bm25()
    index.add([(k, shared, 1, 4) for k in range(10)])
    index.remove([3])  # 90% alive: no merge, the removed slot stays in the arrays
    scores = index.scores([(7, 1.0)])
    assert scores[3] == 0 and all(scores[k] > 0 for k in range(10) if k != 3)
    assert sorted(index.top(scores, 20)) == [k for k in range(10) if k != 3]


def test_top_orders_by_score_and_respects_the_mask():
    scores = np.array([0.5, 0.0, 2.0, 1.0, 3.0], dtype=np.float32)
    assert Bm25.top(scores, 3) == [4, 2, 3]
    assert Bm25.top(scores, 10) == [4, 2, 3, 0]  # zero means no query word: never returned
    assert Bm25.top(scores, 3, mask=np.array([True, True, True, False, False])) == [2, 0]


def test_tokens_are_lower_cased_and_lightly_stemmed():
    assert tokens("Reports: Google's chips SHIPPED, batteries") == ["report", "googl", "chip", "ship", "battery"]
    assert stem("press") == "press" and stem("boxes") == stem("box") and stem("closed") == stem("close")
    assert stem("status") == "status" and stem("running") == "run" and stem("falling") == "fall"
    assert term_coverage(["turbines", "Quokkaville", "harbour"], "Turbine shipped to quokkaville.") == pytest.approx(2 / 3)


ART = [
    Article(title="Turbines for Quokkaville", body="Zephyrine shipped turbines to Quokkaville harbour.", url="https://a.example/1", publisher="Windward Daily", published=date(2024, 3, 1)),
    Article(title="Quokkaville turbines again", body="Another turbine order reached Quokkaville.", url="https://b.example/2", publisher="Harbour Times", published=date(2024, 3, 5)),
    Article(title="Harbour news", body="The Quokkaville harbour reopened after repairs.", url="https://b.example/3", publisher="Harbour Times", published=date(2024, 3, 1)),
]


def test_filters_by_publisher_and_day_and_lists_facets(service):
    service.ingest("default", ART)
    index = service.keyword_index("default")
    publishers, days = index.facets()
    assert publishers == ["Harbour Times", "Windward Daily"] and days == [20240301, 20240305]
    every = index.search(tokens("Quokkaville turbines"), 10)
    assert len({h.chunk_id for h in every}) == 3
    times = index.search(tokens("Quokkaville turbines"), 10, publishers=["Harbour Times"])
    assert {h.chunk_id.split("-")[0] for h in times} == {ART[1].id, ART[2].id}
    both = index.search(tokens("Quokkaville"), 10, publishers=["Harbour Times"], days=[20240301])
    assert [h.chunk_id.split("-")[0] for h in both] == [ART[2].id]
    ids = [h.chunk_id for h in every]
    assert index.within(ids, days=[20240305]) == [i for i in ids if i.startswith(ART[1].id)]


def test_a_second_reader_of_the_same_file_sees_changes_made_through_the_first(service, settings, embedder, encoding):
    from tests.conftest import make_service

    service.ingest("default", ART[:1])
    assert service.keyword_index("default").search(tokens("Quokkaville"), 5)
    other = make_service(settings, embedder, encoding)  # same data dir: same keyword file
    try:
        assert len(other.keyword_index("default").search(tokens("Quokkaville"), 5)) == 1
        service.ingest("default", ART[1:])
        service.keyword_index("default").sync()  # the first process copies the new chunks
        assert len(other.keyword_index("default").search(tokens("Quokkaville"), 5)) == 3
        asyncio.run(service.remove("default", ART[0].id))
        assert len(other.keyword_index("default").search(tokens("Quokkaville"), 5)) == 2
    finally:
        other.close()
