"""Stage 2, fusion: the candidate lists joined into one ranking by weighted reciprocal rank.

A chunk scores ``weight / (rrf_k + rank)`` in each list it is in (rank 1 = first). When the question
names two or more sources, the fused ranking then takes the best chunk of each source in turn, so
every source it asks about is represented near the top.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.search.candidates import Candidates
from retrieval.search.params import SearchParams
from retrieval.search.question import Question
from retrieval.store.keyword_index import KeywordIndex

Ranked = list[tuple[str, float]]  # (chunk id, score), best first


def reciprocal_rank(lists: Sequence[tuple[float, Sequence[str]]], rrf_k: int) -> Ranked:
    """(weight, ids best first) lists fused; equal scores keep the order chunks were first met in."""
    fused: dict[str, float] = {}
    for weight, ids in lists:
        for rank, cid in enumerate(ids):
            fused[cid] = fused.get(cid, 0.0) + weight / (rrf_k + rank + 1)
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)


def interleave(ranked: Ranked, turns: Sequence[Sequence[str]]) -> Ranked:
    """``ranked`` reordered row by row: the first of ``ranked``, then the first of each of ``turns``
    (``ranked``'s ids restricted to one source each), then the second of each, ...; scores kept."""
    score = dict(ranked)
    ids = [cid for cid, _ in ranked]
    order: dict[str, None] = {}
    for row in range(len(ids)):
        for turn in (ids, *turns):
            if row < len(turn):
                order.setdefault(turn[row], None)
    return [(cid, score[cid]) for cid in order]


def fuse(index: KeywordIndex, question: Question, candidates: Candidates, params: SearchParams) -> Ranked:
    """The candidates in one ranking (``index`` tells which source each chunk is from)."""
    lists: list[tuple[float, Sequence[str]]] = []
    if params.vector_weight:
        lists.append((params.vector_weight, [cid for cid, _ in candidates.nearest[: params.candidates]]))
    if params.keyword_weight:
        lists.append((params.keyword_weight, candidates.keyword))
        lists.extend((params.hint_weight * params.keyword_weight, ids) for ids in candidates.by_source)
    ranked = reciprocal_rank(lists, params.rrf_k)
    if len(question.sources) < 2:
        return ranked
    ids = [cid for cid, _ in ranked]
    return interleave(ranked, [index.within(ids, s.publishers, s.days) for s in question.sources])
