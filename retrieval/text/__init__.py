"""Text as newsbot reads it: tiktoken tokens, search terms, sentences and chunks.

- ``tokens``: ``get_encoding`` (tiktoken's cl100k_base) and ``count_tokens``.
- ``terms``: ``tokens``/``stem`` for the keyword index, ``query_terms``, ``term_coverage`` and the
  stopword lists.
- ``chunking``: ``split_sentences`` and ``chunk_article`` (Article -> token-bounded Chunks).
"""
