"""Fusion and the gate as pure functions: lists in, ranking or choice out (no library, no model)."""

import numpy as np
import pytest

from retrieval.search.fusion import interleave, reciprocal_rank
from retrieval.search.gate import choose
from retrieval.search.params import SearchParams


def test_reciprocal_rank_adds_each_lists_weight_over_rank():
    fused = dict(reciprocal_rank([(1.0, ["a", "b"]), (2.0, ["b", "c"])], rrf_k=0))
    assert fused == pytest.approx({"a": 1.0, "b": 1.0 / 2 + 2.0, "c": 2.0 / 2})
    assert [cid for cid, _ in reciprocal_rank([(1.0, ["a", "b"]), (2.0, ["b", "c"])], rrf_k=0)] == ["b", "a", "c"]


def test_reciprocal_rank_ties_keep_the_order_chunks_were_first_met_in():
    # the vector list goes first into fusion, so on equal scores its chunks come first
    assert [cid for cid, _ in reciprocal_rank([(1.0, ["v"]), (1.0, ["k"])], rrf_k=20)] == ["v", "k"]
    assert [cid for cid, _ in reciprocal_rank([(1.0, ["k"]), (1.0, ["v"])], rrf_k=20)] == ["k", "v"]
    assert reciprocal_rank([], rrf_k=20) == [] and reciprocal_rank([(0.5, [])], rrf_k=20) == []


def test_interleaving_takes_the_best_of_each_named_source_in_turn():
    ranked = [("a1", 0.9), ("a2", 0.8), ("a3", 0.7), ("b1", 0.6), ("c1", 0.5), ("b2", 0.4)]
    by_source = [["b1", "b2"], ["c1"]]  # the ranked chunks of each source the question names
    assert interleave(ranked, by_source) == [("a1", 0.9), ("b1", 0.6), ("c1", 0.5), ("a2", 0.8), ("b2", 0.4), ("a3", 0.7)]
    assert interleave(ranked, [[], []]) == ranked  # the named sources have no candidates


PARAMS = SearchParams(k=3, per_article=2, min_similarity=0.3, min_coverage=0.5)


def _choose(ranked, articles, similarity, coverage, stored=None, params=PARAMS, gone=None):
    calls = {"coverage": 0, "reads": []}

    def shares():
        calls["coverage"] += 1
        return np.array(coverage, dtype=np.float32)

    def read(ids):
        calls["reads"].append(list(ids))
        return {cid: (stored or {})[cid] for cid in ids if cid in (stored or {})}

    gone = set() if gone is None else gone
    out = choose([(c, 1.0 - i / 10) for i, c in enumerate(ranked)], articles, similarity, params,
                 coverage=shares, read_similarities=read, gone=gone)
    return [cid for cid, _ in out], calls


def test_the_best_k_at_most_per_article_of_each_and_never_a_chunk_the_index_lacks():
    ids = ["a1", "a2", "a3", "x1", "b1", "c1", "d1"]
    articles = ["A", "A", "A", None, "B", "C", "D"]
    similarity = dict.fromkeys(ids, 0.9)
    chosen, calls = _choose(ids, articles, similarity, [0.0] * len(ids))
    assert chosen == ["a1", "a2", "b1"] and calls == {"coverage": 0, "reads": []}  # all similar: nothing else read


def test_a_chunk_not_similar_enough_passes_on_the_question_words_it_holds():
    ids = ["far", "named", "near"]
    chosen, calls = _choose(ids, ["A", "B", "C"], {"far": 0.1, "named": 0.1, "near": 0.8}, [0.2, 0.8, 0.0])
    assert chosen == ["named", "near"] and calls["coverage"] == 1 and calls["reads"] == []


def test_without_a_minimum_similarity_nothing_is_gated():
    ids = ["a", "b", "c"]
    chosen, calls = _choose(ids, ["A", "B", "C"], {}, [0.0] * 3, params=SearchParams(k=3, min_similarity=None))
    assert chosen == ids and calls == {"coverage": 0, "reads": []}


def test_unknown_similarities_are_read_together_for_the_next_candidates_that_may_need_them():
    ids = ["u1", "u2", "covered", "u3", "known"]
    stored = {"u1": 0.1, "u2": 0.6}  # u3 is no longer stored
    similarity = {"known": 0.9}
    gone: set[str] = set()
    chosen, calls = _choose(ids, ["A", "B", "C", "D", "E"], similarity, [0.0, 0.0, 0.9, 0.0, 0.0], stored, gone=gone)
    assert calls["reads"] == [["u1", "u2", "u3"]]  # one read; not the covered chunk, nor a known one
    assert chosen == ["u2", "covered", "known"] and gone == {"u3"}
    assert similarity == {"known": 0.9, "u1": 0.1, "u2": 0.6}  # completed for the caller
