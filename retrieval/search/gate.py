"""The relevance gate and the per-article cap: which ranked candidates become passages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from retrieval.search.params import SearchParams
from retrieval.store.chroma import ChromaStore
from retrieval.store.keyword_index import KeywordIndex
from retrieval.text.terms import query_terms


def choose(
    index: KeywordIndex,
    store: ChromaStore,
    library: str,
    query: str,
    ranked: Sequence[tuple[str, float]],
    similarity: dict[str, float],
    qvec: np.ndarray,
    params: SearchParams,
    gone: set[str],
    coverage: np.ndarray | None = None,
) -> list[tuple[str, float]]:
    """The best ``k`` of ``ranked`` that pass the relevance gate, at most ``per_article`` per
    article: decided from the keyword index (articles, word coverage) and the vectors, so only
    the passages returned have their text read from Chroma (a read that grows with the library).
    Chunks the index does not hold are never chosen.
    ``similarity`` (known cosine similarities) is completed as vectors are read; ``gone`` collects
    chunks no longer in Chroma. ``coverage``: the candidates' word coverage if known (else
    computed when first needed)."""
    ids = [cid for cid, _ in ranked]
    articles = index.articles(ids)
    per_article: dict[str, int] = {}
    out: list[tuple[str, float]] = []
    for i, (cid, score) in enumerate(ranked):
        aid = articles[i]
        # Not in the index: a chunk of an article version still being written (shown once complete),
        # or one written since the search synced the index (shown from the next search on).
        if aid is None or cid in gone or per_article.get(aid, 0) >= params.per_article:
            continue
        if params.min_similarity is not None and similarity.get(cid, -1.0) < params.min_similarity:
            if coverage is None:
                coverage = index.coverage(ids, query_terms(query))
            if coverage[i] < params.min_coverage:
                if cid not in similarity:
                    ahead = [j for j in range(i, min(i + 4 * params.k, len(ids))) if coverage[j] < params.min_coverage]
                    _read_similarities(store, library, [ids[j] for j in ahead], similarity, qvec, gone)
                if cid in gone or similarity[cid] < params.min_similarity:
                    continue
        per_article[aid] = per_article.get(aid, 0) + 1
        out.append((cid, score))
        if len(out) >= params.k:
            break
    return out

def _read_similarities(
    store: ChromaStore, library: str, ids: Sequence[str], similarity: dict[str, float], qvec: np.ndarray, gone: set[str]
) -> None:
    """Cosine similarity to the question of those of ``ids`` the vector search did not return
    (the next few candidates that may need it, read in one call)."""
    wanted = [cid for cid in ids if cid not in similarity and cid not in gone]
    vectors = store.vectors(library, wanted)
    for cid in wanted:
        if cid in vectors:
            similarity[cid] = float(np.dot(vectors[cid], qvec))
        else:
            gone.add(cid)
