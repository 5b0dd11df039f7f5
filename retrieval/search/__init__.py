"""A question -> ranked Passages, as a chain of stages that each read one parsed ``Question``.

- ``question``: ``Question`` (content words and stems, clauses, the sources it names), read once
  per search; ``hints``: finding the publishers and days a question names.
- ``candidates``: the lists to fuse: keyword (BM25), one keyword sub-search per named source,
  and the vector search's nearest chunks.
- ``fusion``: weighted reciprocal-rank fusion, named sources interleaved.
- ``rerank``: the learned ranker orders the fused candidates by their ``features`` (``trees``:
  the LambdaMART trees of ``ranker.json``; ``params.Ranker``: what any ranker offers).
- ``gate``: the relevance gate and the per-article cap.
- ``searcher``: ``Searcher`` composes them (and embeds the question in a worker thread), then
  reads the chosen passages from the store; ``params``: ``SearchParams``.
"""

from retrieval.search.question import Question

__all__ = ["Question"]
