"""Stage 4, the gate: which ranked candidates become passages.

The relevance gate keeps a candidate that is semantically close to the question, or that holds
most of the question's content words (names the embedding model does not know); the per-article
cap keeps a few chunks of one article from filling every place. Decided from what is already known
(articles, word coverage, the vector search's similarities) plus the stored vectors of the few
candidates that need one, so only the passages returned have their text read from Chroma.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from retrieval.search.params import SearchParams


def choose(
    ranked: Sequence[tuple[str, float]],
    articles: Sequence[str | None],
    similarity: dict[str, float],
    params: SearchParams,
    *,
    coverage: Callable[[], np.ndarray],
    read_similarities: Callable[[Sequence[str]], dict[str, float]],
    gone: set[str],
) -> list[tuple[str, float]]:
    """The best ``k`` of ``ranked`` that pass the relevance gate, at most ``per_article`` of each
    of ``articles`` (the article of each ranked chunk; None: a chunk the index does not hold,
    never chosen).

    ``similarity``: the cosine similarity to the question of the chunks it is known for; completed
    from ``read_similarities(ids)`` (those of ``ids`` still stored) as needed, and ``gone`` collects
    the chunks found no longer stored. ``coverage()``: the share of the question's terms each ranked
    chunk holds, asked for once, when first needed."""
    ids = [cid for cid, _ in ranked]
    shares: np.ndarray | None = None
    per_article: dict[str, int] = {}
    out: list[tuple[str, float]] = []
    for i, (cid, score) in enumerate(ranked):
        aid = articles[i]
        # Not in the index: a chunk of an article version still being written (shown once complete),
        # or one written since the search synced the index (shown from the next search on).
        if aid is None or cid in gone or per_article.get(aid, 0) >= params.per_article:
            continue
        if params.min_similarity is not None and similarity.get(cid, -1.0) < params.min_similarity:
            if shares is None:
                shares = coverage()
            if shares[i] < params.min_coverage:
                if cid not in similarity:
                    # the next few candidates that may need a similarity too, read in one call
                    ahead = [ids[j] for j in range(i, min(i + 4 * params.k, len(ids))) if shares[j] < params.min_coverage]
                    wanted = [c for c in ahead if c not in similarity and c not in gone]
                    found = read_similarities(wanted)
                    similarity.update((c, found[c]) for c in wanted if c in found)
                    gone.update(c for c in wanted if c not in found)
                if cid in gone or similarity[cid] < params.min_similarity:
                    continue
        per_article[aid] = per_article.get(aid, 0) + 1
        out.append((cid, score))
        if len(out) >= params.k:
            break
    return out
