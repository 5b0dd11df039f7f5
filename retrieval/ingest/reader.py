"""Articles from what people give: files and folders, links, pasted text and uploaded files, with
the configured limits (sizes, the fetch timeout, whether private addresses may be fetched).
Blocking: the service runs these in worker threads."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from retrieval.ingest.dates import DateLike
from retrieval.ingest.extract import article_from_text, articles_from_file
from retrieval.ingest.fetch import article_from_url
from retrieval.ingest.gather import ReadReport, articles_from_paths, read_sources
from retrieval.models import Article
from retrieval.settings import Settings


class ArticleReader:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def paths(self, paths: Sequence[Path], **overrides: object) -> list[Article]:
        """The articles in files and folders (every supported file under a folder)."""
        return articles_from_paths(paths, max_bytes=self.settings.max_article_bytes, **overrides)

    def sources(self, sources: Sequence[str], **overrides: object) -> ReadReport:
        """Articles from links, files and folders, each read on its own: the ones that cannot be
        read are reported as failures rather than stopping the others."""
        return read_sources(sources, read_url=functools.partial(self.url, **overrides),
                            max_bytes=self.settings.max_article_bytes, **overrides)

    def url(self, url: str, **overrides: object) -> Article:
        """Fetch and extract one article."""
        s = self.settings
        return article_from_url(url, timeout=s.fetch_timeout, max_bytes=s.fetch_max_bytes,
                                allow_private=s.allow_private_urls, max_article_bytes=s.max_article_bytes, **overrides)

    def text(self, text: str, *, title: str | None = None, publisher: str | None = None, published: DateLike = None,
             url: str | None = None) -> Article:
        return article_from_text(text, title=title, url=url, publisher=publisher, published=published,
                                 max_bytes=self.settings.max_article_bytes)

    def file(self, filename: str, data: bytes, *, title: str | None = None, publisher: str | None = None,
             published: DateLike = None) -> list[Article]:
        """The articles of an uploaded file, by its extension."""
        return articles_from_file(filename, data, max_bytes=self.settings.max_article_bytes, title=title,
                                  publisher=publisher, published=published)
