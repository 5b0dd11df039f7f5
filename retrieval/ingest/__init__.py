"""Articles in: read them from files, pasted text or URLs, then chunk, embed and store them.

- ``extract``: ``article_from_text``, ``articles_from_file``/``_path``/``_json``,
  ``iter_article_files``; ``decode``: ``decode_text`` (checked bytes -> text), ``SUPPORTED_EXTENSIONS``;
  ``dates``: ``parse_date``, ``published_date``.
- ``gather``: ``read_sources``/``read_files`` (many links, files and folders: the articles, and a
  ``ReadFailure`` for each one that cannot be read), ``articles_from_paths``.
- ``fetch``: ``article_from_url`` (with the private-address guard).
- ``pipeline``: ``Ingestor`` (dedupe, chunk, embed, write in a writer thread; ``reindex``).
"""
