"""How a search runs (SearchParams), and what a re-ranker must offer (Ranker)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import numpy as np


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
    # Sub-searches for each publisher / day the question names (see retrieval.search.hints).
    source_hints: bool = True
    hint_candidates: int = 20
    hint_weight: float = 2.0
    hint_vectors: bool = False  # also fuse the vector results from that source (out of vector_pool)
    vector_pool: int = 100  # nearest chunks whose similarity the re-ranker (and hint_vectors) use
    focus_boost: int = 1  # extra weight (repeats) of the words of the question's part about that source
    min_focus_terms: int = 3
    # "interleave": the best chunk of each named source in turn, so every source the question
    # names is represented near the top; "fuse": one fused ranking.
    hint_order: str = "interleave"
    # Re-rank the fused candidates with the learned ranker (when the Searcher has one).
    rerank: bool = True


QuestionVector = np.ndarray | Future


def question_vector(qvec: QuestionVector) -> np.ndarray:
    """The question's vector, waiting for it when it is still being computed."""
    return np.asarray(qvec.result() if isinstance(qvec, Future) else qvec, dtype=np.float32)


class Ranker(Protocol):
    """Scores candidates from their feature rows (retrieval.search.features.FEATURES), higher first."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...
