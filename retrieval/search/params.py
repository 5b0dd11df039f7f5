"""How a search runs (SearchParams), and what a re-ranker must offer (Ranker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class SearchParams:
    """Defaults tuned on MultiHop-RAG's development split (bench/RESULTS.md has what was tried)."""

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
    # A keyword sub-search for each publisher / day the question names (retrieval.search.candidates).
    source_hints: bool = True
    hint_weight: float = 2.0
    vector_pool: int = 100  # nearest chunks whose similarity the re-ranker uses
    # Re-rank the fused candidates with the learned ranker (when the Searcher has one).
    rerank: bool = True

    @property
    def keyword_scoring(self) -> dict:
        """How the keyword index scores: the keyword arguments of its search and score methods."""
        return {"title_weight": self.title_weight, "bm25": (self.bm25_k1, self.bm25_b)}


class Ranker(Protocol):
    """Scores candidates from their feature rows (retrieval.search.features.FEATURES), higher first."""

    def predict(self, x: np.ndarray) -> np.ndarray: ...
