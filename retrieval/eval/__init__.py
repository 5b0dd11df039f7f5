"""Retrieval quality on MultiHop-RAG, measured through the product's own ingest and search.

- ``multihop``: ``score_query``, ``by_type``, ``load_queries``, ``prepare_library``, ``evaluate``
  and ``run_multihop`` (the whole evaluation, returning the report).
- ``report``: ``build_report`` (the report as a dict, also what ``--json`` prints) and
  ``metric_names``.
"""
