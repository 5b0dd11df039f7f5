"""The benchmark's metrics, as MultiHop-RAG's ``retrieval_evaluate.py`` computes them.

A retrieved passage "holds" a gold fact when the fact, whitespace removed, is a substring of the
passage, whitespace removed. Hits@K and MRR@K look for any fact; FactRecall@K and AllFacts@K
count every fact of a query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

QUESTION_TYPES = ("comparison_query", "inference_query", "temporal_query")


@dataclass(frozen=True)
class EvalQuery:
    qid: int
    query: str
    question_type: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class QueryScore:
    """One query's result: rank (1-based) of the first passage holding each fact, None when absent."""

    question_type: str
    fact_ranks: tuple[int | None, ...]
    map_sum: float  # the benchmark's average-precision numerator

    def hit(self, k: int) -> bool:
        return any(r is not None and r <= k for r in self.fact_ranks)

    def reciprocal_rank(self, k: int) -> float:
        ranks = [r for r in self.fact_ranks if r is not None and r <= k]
        return 1.0 / min(ranks) if ranks else 0.0

    def fact_recall(self, k: int) -> float:
        return sum(1 for r in self.fact_ranks if r is not None and r <= k) / len(self.fact_ranks)

    def all_facts(self, k: int) -> bool:
        return all(r is not None and r <= k for r in self.fact_ranks)


@dataclass(frozen=True)
class Metrics:
    queries: int
    hits4: float
    hits_k: float
    mrr_k: float
    map_k: float
    fact_recall_k: float
    all_facts_k: float


def squash(text: str) -> str:
    """The benchmark's comparison form: all whitespace removed."""
    return "".join(text.split())


def score_query(question_type: str, facts: Sequence[str], passages: Sequence[str], k: int = 10) -> QueryScore:
    """Ranks of the first of ``passages[:k]`` holding each (distinct) fact, and the MAP numerator."""
    gold = list(dict.fromkeys(squash(f) for f in facts if squash(f)))
    if not gold:
        raise ValueError("a query needs at least one non-empty fact")
    ranks: dict[str, int] = {}
    map_sum = 0.0
    for rank, text in enumerate(passages[:k], start=1):
        flat = squash(text)
        new = [g for g in gold if g not in ranks and g in flat]
        for g in new:
            ranks[g] = rank
        if any(g in flat for g in gold):
            map_sum += len(new) / rank  # retrieval_evaluate.py: newly found facts / rank
    return QueryScore(question_type, tuple(ranks.get(g) for g in gold), map_sum)


def aggregate(scores: Sequence[QueryScore], k: int = 10) -> Metrics:
    n = len(scores)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def mean(values) -> float:
        return sum(values) / n

    return Metrics(
        queries=n,
        hits4=mean(s.hit(4) for s in scores),
        hits_k=mean(s.hit(k) for s in scores),
        mrr_k=mean(s.reciprocal_rank(k) for s in scores),
        map_k=mean(s.map_sum / min(len(s.fact_ranks), k) for s in scores),
        fact_recall_k=mean(s.fact_recall(k) for s in scores),
        all_facts_k=mean(s.all_facts(k) for s in scores),
    )


def by_type(scores: Sequence[QueryScore], k: int = 10) -> dict[str, Metrics]:
    """Metrics per question type (in the benchmark's order, then any others), then ``overall``."""
    types = [t for t in QUESTION_TYPES if any(s.question_type == t for s in scores)]
    types += sorted({s.question_type for s in scores} - set(types))
    out = {t: aggregate([s for s in scores if s.question_type == t], k) for t in types}
    out["overall"] = aggregate(scores, k)
    return out
