"""Feature rows for the re-ranker: columns in the trained order, ranks within the question."""

import numpy as np

from retrieval.search.features import FEATURES, CandidateSignals, feature_matrix


def _signals(**overrides):
    values = dict(
        chunk_ids=["a1", "b1", "a2", "c1", "a3"],
        articles=["A", "B", "A", None, "A"],
        bm25=np.array([0.9, 0.8, 1.0, 0.1, 0.2], dtype=np.float32),
        vector=np.array([0.5, 0.6, 0.4, 0.3, 0.7], dtype=np.float32),
        source_bm25=np.zeros(5, dtype=np.float32),
        clause_bm25=np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32),
        coverage=np.full(5, 0.5, dtype=np.float32),
    )
    values.update(overrides)
    return CandidateSignals(**values)


def test_columns_follow_the_trained_order():
    x = feature_matrix(_signals())
    assert x.shape == (5, len(FEATURES)) and x.dtype == np.float32
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    assert col["fused_rank"].tolist() == [0, 1, 2, 3, 4]
    assert col["clause_bm25"].tolist() == [np.float32(v) for v in (0.1, 0.2, 0.3, 0.4, 0.5)]


def test_articles_are_ranked_by_their_first_candidate_and_chunks_within_their_article():
    x = feature_matrix(_signals())
    col = {name: x[:, i].tolist() for i, name in enumerate(FEATURES)}
    assert col["article_rank"] == [0, 1, 0, 2, 0]  # A first, then B, then the unknown article
    # article A's candidates a1, a2, a3: bm25 0.9, 1.0, 0.2 and vector 0.5, 0.4, 0.7
    assert [col["rank_in_article_bm25"][i] for i in (0, 2, 4)] == [1, 0, 2]
    assert [col["rank_in_article_vector"][i] for i in (0, 2, 4)] == [1, 2, 0]
    assert col["rank_in_article_bm25"][1] == 0 and col["rank_in_article_bm25"][3] == 0


def test_no_candidates_no_rows():
    empty = np.zeros(0, dtype=np.float32)
    x = feature_matrix(_signals(chunk_ids=[], articles=[], bm25=empty, vector=empty, source_bm25=empty,
                                clause_bm25=empty, coverage=empty))
    assert x.shape == (0, len(FEATURES))
