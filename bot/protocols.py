"""What the bot needs from the core; ``retrieval.service.NewsService`` satisfies it structurally."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import Protocol

from retrieval.models import ArticleSummary, IngestResult, LibraryStats
from retrieval.recent import LatestArticles


class AnswerService(Protocol):
    def validate_question(self, question: str) -> str: ...

    def ask(self, library: str, question: str, *, history: Sequence[tuple[str, str]] = ()) -> AsyncIterator[object]: ...

    async def add_url(
        self,
        library: str,
        url: str,
        *,
        title: str | None = None,
        publisher: str | None = None,
        published: date | str | None = None,
    ) -> IngestResult: ...

    async def add_text(
        self,
        library: str,
        text: str,
        *,
        title: str | None = None,
        publisher: str | None = None,
        published: date | str | None = None,
        url: str | None = None,
    ) -> IngestResult: ...

    async def add_file(
        self,
        library: str,
        filename: str,
        data: bytes,
        *,
        title: str | None = None,
        publisher: str | None = None,
        published: date | str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[IngestResult]: ...

    async def list_articles(
        self, library: str, *, offset: int = 0, limit: int = 10
    ) -> tuple[list[ArticleSummary], int]: ...

    async def latest(self, library: str, topic: str | None = None, *, days: int | None = None) -> LatestArticles: ...

    async def remove(self, library: str, article_id: str) -> bool: ...

    async def stats(self, library: str) -> LibraryStats: ...

    def warm(self) -> None:
        """Load models now (blocking: call it from a worker thread)."""

    def close(self) -> None: ...
