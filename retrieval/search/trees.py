"""A gradient-boosted tree ensemble evaluated with numpy (no LightGBM needed at run time).

The model file is JSON: ``{"features": [...], "trees": [{"feature": [...], "threshold": [...],
"left": [...], "right": [...], "value": [...]}, ...]}``. Each tree's nodes are numbered from 0
(the root); a child index below 0 is the leaf ``~index``; a row goes left when its value is at
most the node's threshold (LightGBM's rule). ``bench/train_ranker.py`` writes such files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.errors import ConfigError


@dataclass(frozen=True)
class Tree:
    feature: np.ndarray  # int, per split node
    threshold: np.ndarray  # float64, per split node
    left: np.ndarray  # int: next node, or ~leaf
    right: np.ndarray
    value: np.ndarray  # float64, per leaf

    def depth(self, node: int = 0) -> int:
        """Splits on the longest path from ``node`` to a leaf."""
        if node < 0 or len(self.feature) == 0:
            return 0
        return 1 + max(self.depth(int(self.left[node])), self.depth(int(self.right[node])))


class TreeEnsemble:
    """Trees held as padded arrays, so a prediction walks every tree at once, one level at a time."""

    def __init__(self, features: Sequence[str], trees: Sequence[Tree]) -> None:
        self.features = tuple(features)
        self.trees = tuple(trees)
        n_trees = len(self.trees)
        width = max([len(t.feature) for t in self.trees] + [1])
        self._feature = np.zeros((n_trees, width), dtype=np.int64)
        self._threshold = np.zeros((n_trees, width))
        # A tree without splits is one leaf: start it at "leaf 0" (~0 == -1) instead of node 0.
        self._root = np.array([0 if len(t.feature) else -1 for t in self.trees], dtype=np.int64)
        self._left = np.full((n_trees, width), -1, dtype=np.int64)
        self._right = np.full((n_trees, width), -1, dtype=np.int64)
        self._value = np.zeros((n_trees, width + 1))
        for i, t in enumerate(self.trees):
            n = len(t.feature)
            self._feature[i, :n], self._threshold[i, :n] = t.feature, t.threshold
            self._left[i, :n], self._right[i, :n] = t.left, t.right
            self._value[i, : len(t.value)] = t.value
        self._levels = max([t.depth() for t in self.trees] + [0])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Sum of the trees' leaf values for each row of ``x`` (columns in ``features`` order)."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features):
            raise ValueError(f"expected rows of {len(self.features)} features, got shape {x.shape}")
        n_trees, n_rows = len(self.trees), len(x)
        if n_trees == 0 or n_rows == 0:
            return np.zeros(n_rows)
        width = self._feature.shape[1]
        base = (np.arange(n_trees) * width)[:, None]  # flat offset of each tree's nodes
        cells = (np.arange(n_rows) * x.shape[1])[None, :]  # flat offset of each row's features
        flat_x = x.ravel()
        node = np.repeat(self._root[:, None], n_rows, axis=1)  # (trees, rows); < 0: a leaf, ~leaf
        for _ in range(self._levels):
            at = base + np.maximum(node, 0)
            go_left = flat_x.take(cells + self._feature.take(at)) <= self._threshold.take(at)
            step = np.where(go_left, self._left.take(at), self._right.take(at))
            node = np.where(node >= 0, step, node)
        return self._value.take((base + base // width) + ~node).sum(axis=0)

    @classmethod
    def from_dict(cls, data: dict) -> TreeEnsemble:
        trees = []
        for t in data["trees"]:
            tree = Tree(
                feature=np.asarray(t["feature"], dtype=np.int64),
                threshold=np.asarray(t["threshold"], dtype=np.float64),
                left=np.asarray(t["left"], dtype=np.int64),
                right=np.asarray(t["right"], dtype=np.int64),
                value=np.asarray(t["value"], dtype=np.float64),
            )
            n_nodes, n_leaves = len(tree.feature), len(tree.value)
            if not (len(tree.threshold) == len(tree.left) == len(tree.right) == n_nodes and n_leaves == n_nodes + 1):
                raise ValueError("a tree's arrays do not fit together")
            children = np.concatenate([tree.left, tree.right])
            if n_nodes and (children.max() >= n_nodes or (~children[children < 0]).max() >= n_leaves):
                raise ValueError("a tree points at a node or leaf it does not have")
            trees.append(tree)
        return cls(tuple(data["features"]), tuple(trees))

    @classmethod
    def load(cls, path: Path, *, features: Sequence[str]) -> TreeEnsemble:
        """Read a model file and check it was trained on ``features`` (in that order)."""
        try:
            model = cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"Could not read the ranking model {path} ({type(exc).__name__}: {exc}).",
                hint="Reinstall newsbot, or set NEWSBOT_RERANK=false to rank without it.",
            ) from None
        if model.features != tuple(features):
            raise ConfigError(
                f"The ranking model {path} was trained on other features than this newsbot computes.",
                hint="Retrain it with bench/train_ranker.py, or set NEWSBOT_RERANK=false.",
            )
        return model


RANKER_MODEL = Path(__file__).with_name("ranker.json")  # written by bench/train_ranker.py


def load_ranker(path: Path = RANKER_MODEL) -> TreeEnsemble:
    """newsbot's re-ranker: the trees in ``ranker.json``, checked against the features computed here."""
    from retrieval.search.features import FEATURES

    return TreeEnsemble.load(path, features=FEATURES)
