"""The numpy tree ensemble that scores search candidates, and the shipped ranking model."""

import json

import numpy as np
import pytest

from retrieval.errors import ConfigError
from retrieval.search.features import FEATURES
from retrieval.search.trees import RANKER_MODEL, TreeEnsemble, load_ranker

# x0 <= 1 ? (x1 <= 0.5 ? 1 : 2) : 10    and a tree that is one leaf (+0.25)
MODEL = {
    "features": ["a", "b"],
    "trees": [
        {"feature": [0, 1], "threshold": [1.0, 0.5], "left": [1, ~0], "right": [~2, ~1], "value": [1.0, 2.0, 10.0]},
        {"feature": [], "threshold": [], "left": [], "right": [], "value": [0.25]},
    ],
}


def _walk(tree: dict, row) -> float:
    node = 0
    while node >= 0 and tree["feature"]:
        go_left = row[tree["feature"][node]] <= tree["threshold"][node]
        node = tree["left"][node] if go_left else tree["right"][node]
    return tree["value"][~node if tree["feature"] else 0]


def test_rows_take_each_trees_branch_and_leaf_values_add_up():
    model = TreeEnsemble.from_dict(MODEL)
    x = np.array([[0.0, 0.0], [0.0, 0.9], [1.0, 0.5], [1.5, 0.0], [5.0, 9.0]])
    assert model.predict(x).tolist() == [1.25, 2.25, 1.25, 10.25, 10.25]
    assert model.predict(np.zeros((0, 2))).tolist() == []


def test_deep_uneven_trees_match_a_node_by_node_walk():
    rng = np.random.default_rng(3)
    # a chain that always splits on the right: depth 5, leaves at every level
    chain = {"feature": [0, 1, 2, 0, 1], "threshold": [0.5, 0.2, 0.7, 0.9, 0.4],
             "left": [~0, ~1, ~2, ~3, ~4], "right": [1, 2, 3, 4, ~5], "value": [1, 2, 3, 4, 5, 6]}
    small = {"feature": [2, 0], "threshold": [0.3, 0.6], "left": [1, ~0], "right": [~2, ~1], "value": [7, 8, 9]}
    data = {"features": ["a", "b", "c"], "trees": [chain, small]}
    model = TreeEnsemble.from_dict(data)
    x = rng.random((200, 3))
    expected = [sum(_walk(t, row) for t in data["trees"]) for row in x]
    assert np.allclose(model.predict(x), expected)


def test_wrong_shapes_and_broken_trees_are_refused():
    model = TreeEnsemble.from_dict(MODEL)
    with pytest.raises(ValueError):
        model.predict(np.zeros((3, 3)))
    broken = {"features": ["a"], "trees": [{"feature": [0], "threshold": [1.0], "left": [~0], "right": [~5], "value": [1.0, 2.0]}]}
    with pytest.raises(ValueError):
        TreeEnsemble.from_dict(broken)


def test_a_model_file_for_other_features_or_a_corrupt_one_is_a_clear_config_error(tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps(MODEL))
    with pytest.raises(ConfigError, match="other features"):
        TreeEnsemble.load(other, features=FEATURES)
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    with pytest.raises(ConfigError, match="NEWSBOT_RERANK=false"):
        TreeEnsemble.load(corrupt, features=FEATURES)


def test_the_shipped_ranker_loads_and_prefers_a_candidate_that_matches_every_clause():
    ranker = load_ranker()
    assert RANKER_MODEL.is_file() and ranker.features == FEATURES and len(ranker.trees) > 10
    # Two candidates of one question, equal but for how well they match its clauses and sources.
    weak = dict(fused_rank=0, bm25=0.6, vector=0.4, source_bm25=0.3, clause_bm25=0.2, coverage=0.4,
                article_rank=0, rank_in_article_bm25=0, rank_in_article_vector=0)
    strong = weak | dict(fused_rank=1, source_bm25=1.0, clause_bm25=1.0, coverage=0.8)
    scores = ranker.predict(np.array([[row[f] for f in FEATURES] for row in (weak, strong)]))
    assert scores[1] > scores[0]
