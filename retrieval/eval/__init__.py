"""Retrieval quality on MultiHop-RAG, measured through the product's own ingest and search.

- ``scores``: the benchmark's metrics (``score_query``, ``aggregate``, ``by_type``).
- ``multihop``: its files read (``checked_queries``), the corpus built into a throw-away library
  (``prepare_library``), and every query searched and scored (``run_multihop``, returning the report).
- ``report``: ``build_report``, the report as data (what ``--json`` prints), and ``metric_names``.
"""
