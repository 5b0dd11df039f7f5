"""Where chunks live: Chroma (the single source of truth) and the keyword index derived from it.

- ``chroma``: ``ChromaStore`` (one collection per library; with ``chroma_reads`` and
  ``chroma_records``, the only code that speaks Chroma) and, in ``chroma_records``,
  ``validate_library``. Around it: ``folder_lock`` (one process per on-disk folder),
  ``write_lease`` (one writer per library on a server), ``owners`` (who holds either) and
  ``chroma_errors`` (Chroma's failures as StoreErrors).
- ``keyword_index``: ``KeywordIndex`` (BM25 over a library, kept in step with Chroma);
  ``keyword_file`` (its SQLite term counts) and ``bm25`` (the scoring on numpy arrays) serve it.
"""
