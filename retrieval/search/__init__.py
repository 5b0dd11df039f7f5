"""A question -> ranked Passages.

- ``searcher``: ``Searcher`` (vector + keyword + per-source candidates, reciprocal rank fusion,
  re-ranking); ``gate``: the relevance gate and per-article cap; ``params``: ``SearchParams``
  and the ``Ranker`` interface.
- ``hints``: publishers, days and clauses a question names.
- ``features``: what the re-ranker knows about each candidate (``FEATURES``, ``feature_matrix``).
- ``trees``: ``TreeEnsemble`` (the LambdaMART trees in ``ranker.json``) and ``load_ranker``.
"""
