"""A question -> ranked Passages.

- ``searcher``: ``Searcher`` and ``SearchParams`` (vector + keyword + per-source candidates,
  reciprocal rank fusion, re-ranking, per-article cap, relevance gate).
- ``hints``: publishers, days and clauses a question names.
- ``features``: what the re-ranker knows about each candidate (``FEATURES``, ``feature_matrix``).
- ``trees``: ``TreeEnsemble`` (the LambdaMART trees in ``ranker.json``) and ``load_ranker``.
"""
