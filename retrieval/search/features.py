"""What the re-ranker knows about each candidate passage of a question.

Every feature is relative to the question: ranks among this question's candidates, or scores as
a share of the best score this question gets. None describes a chunk on its own (its position,
its article's length), so a ranker trained on one benchmark cannot learn to recognise that
benchmark's passages rather than what makes a passage answer a question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.search.params import SearchParams
from retrieval.search.question import Question
from retrieval.store.keyword_index import KeywordIndex, share_of_terms

# The order of the columns the ranker was trained on (bench/train_ranker.py writes them into the
# model file; loading a model with other columns fails).
FEATURES = (
    "fused_rank",  # position in the fused (keyword + vector + per-source) ranking, 0 = first
    "bm25",  # BM25 for the whole question, as a share of the library's (or the asked period's) best
    "vector",  # cosine similarity to the question (the similarity at the vector pool's end if beyond it)
    "source_bm25",  # best BM25, as a share of the best in that source, over the sources the question names
    "clause_bm25",  # best BM25, as a share of the best candidate's for that clause, over the question's clauses
    "coverage",  # share of the question's searchable stems the chunk has
    "article_rank",  # rank of the chunk's article by its first candidate in the fused ranking
    "rank_in_article_bm25",  # rank among its article's candidates by bm25
    "rank_in_article_vector",  # rank among its article's candidates by vector
)


@dataclass(frozen=True)
class CandidateSignals:
    """Per-candidate scores, aligned with the candidates in fused order."""

    chunk_ids: Sequence[str]
    articles: Sequence[str | None]
    bm25: np.ndarray
    vector: np.ndarray
    source_bm25: np.ndarray
    clause_bm25: np.ndarray
    coverage: np.ndarray
    # Not a feature: the relevance gate's word coverage (keyword_index.share_of_terms), so the
    # search need not compute it again. None when not computed.
    term_share: np.ndarray | None = None


def feature_matrix(signals: CandidateSignals) -> np.ndarray:
    """One row per candidate, columns in FEATURES order."""
    n = len(signals.chunk_ids)
    articles = [a if a is not None else f"?{i}" for i, a in enumerate(signals.articles)]
    first_seen = {a: r for r, a in enumerate(dict.fromkeys(articles))}
    by_article: dict[str, list[int]] = {}
    for i, a in enumerate(articles):
        by_article.setdefault(a, []).append(i)
    in_article_bm25 = np.zeros(n, dtype=np.float32)
    in_article_vector = np.zeros(n, dtype=np.float32)
    for rows in by_article.values():
        idx = np.array(rows)
        for values, out in ((signals.bm25, in_article_bm25), (signals.vector, in_article_vector)):
            order = idx[np.argsort(-values[idx], kind="stable")]
            out[order] = np.arange(len(order))
    columns = {
        "fused_rank": np.arange(n, dtype=np.float32),
        "bm25": signals.bm25,
        "vector": signals.vector,
        "source_bm25": signals.source_bm25,
        "clause_bm25": signals.clause_bm25,
        "coverage": signals.coverage,
        "article_rank": np.array([first_seen[a] for a in articles], dtype=np.float32),
        "rank_in_article_bm25": in_article_bm25,
        "rank_in_article_vector": in_article_vector,
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float32) for name in FEATURES]) if n else np.zeros(
        (0, len(FEATURES)), dtype=np.float32
    )


def candidate_signals(
    index: KeywordIndex,
    question: Question,
    ids: Sequence[str],
    nearest: Sequence[tuple[str, float]],
    params: SearchParams,
) -> CandidateSignals:
    """What the ranker is told about each of ``ids`` (candidates in fused order), from the keyword
    index (in step already) and the (chunk id, cosine distance) of the nearest chunks."""
    similarity = {cid: 1.0 - distance for cid, distance in nearest}
    floor = min(similarity.values(), default=0.0)
    source = np.zeros(len(ids), dtype=np.float32)
    for named in question.sources:
        source = np.maximum(source, index.relative_scores(
            ids, named.stems, publishers=named.publishers, days=named.days, since=question.since, **params.keyword_scoring))
    # Per-stem BM25 of the candidates: clause scores and coverage without another pass over the library.
    gains, stems = index.term_matrix(ids, question.stems, **params.keyword_scoring)
    column = {stem: i for i, stem in enumerate(stems)}
    clause = np.zeros(len(ids), dtype=np.float32)
    for part in question.clauses:
        score = gains[:, sorted({column[t] for t in part.stems if t in column})].sum(axis=1)
        if score.max(initial=0.0) > 0:
            clause = np.maximum(clause, score / score.max())
    present = gains > 0  # BM25's idf is always positive, so a gain means the stem is there
    articles = index.articles(ids)
    share = share_of_terms(present, stems, question.words.term_stems)
    share[[i for i, a in enumerate(articles) if a is None]] = 0.0  # not in the index yet
    return CandidateSignals(
        chunk_ids=ids,
        articles=articles,
        bm25=index.relative_scores(ids, question.stems, since=question.since, **params.keyword_scoring),
        vector=np.array([similarity.get(cid, floor) for cid in ids], dtype=np.float32),
        source_bm25=source,
        clause_bm25=clause,
        coverage=(present.sum(axis=1) / max(1, len(stems))).astype(np.float32),
        term_share=share,
    )
