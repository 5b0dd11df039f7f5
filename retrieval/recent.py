"""The newest articles: what ``/latest`` lists, and the passages a question about recent news
("what's new about Biosyngen this week?") is answered from.

Recent means published on or after a day (``since``); an article without a date is never known to
be recent. ``/latest`` without a topic lists the undated articles after the dated ones all the same
(they may be new, and the team can see they need a date); with a topic it only counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from retrieval.models import Answer, AnswerMode, ArticleSummary, Passage
from retrieval.search.params import SearchParams
from retrieval.search.recency import topic_terms
from retrieval.store.chroma import ChromaStore
from retrieval.store.chroma_records import validate_library

Search = Callable[[str, str, SearchParams], list[Passage]]
# How many articles a topic may match, and how many passages a recent question's search looks
# through before keeping those from recent articles.
TOPIC_ARTICLES = 100
RECENT_POOL = 60


@dataclass(frozen=True)
class LatestArticles:
    """``/latest``'s answer: ``articles`` published since ``since`` (newest first), then the
    ``undated`` ones listed with them; ``undated_skipped``: undated topic matches not listed."""

    since: date
    days: int
    topic: str | None
    articles: list[ArticleSummary]
    undated: list[ArticleSummary]
    undated_skipped: int = 0

    @property
    def rows(self) -> list[ArticleSummary]:
        return self.articles + self.undated

    def period(self) -> str:
        """``published since 2026-11-29 (the last 7 days) about “Biosyngen”``."""
        about = f" about “{' '.join(self.topic.split())}”" if self.topic else ""
        return f"published since {self.since.isoformat()} (the last {self.days} day{'s' if self.days != 1 else ''}){about}"


def published_since(rows: Sequence[ArticleSummary], since: date) -> list[ArticleSummary]:
    """Those of ``rows`` published on or after ``since``, newest first."""
    dated = [r for r in rows if r.source.published is not None and r.source.published >= since]
    return sorted(dated, key=lambda r: (r.source.published, r.source.title), reverse=True)


def nothing_recent(since: date, recent: int) -> Answer:
    """The answer when the period a question asks about holds nothing to answer from (``recent``:
    how many articles it holds): said plainly rather than answered from older articles."""
    if recent == 0:
        text = f"No article in this library was published since {since.isoformat()}, so I have no news that recent."
    else:
        many = f"{recent} articles" if recent != 1 else "1 article"
        text = f"I found nothing about that in the {many} published since {since.isoformat()}."
    return Answer(text=text, citations=(), mode=AnswerMode.NOT_FOUND,
                  note="Ask without a time (such as “this week”) to search older articles too.")


class RecentArticles:
    """Reads the newest articles of a library; ``search`` is the service's (library, query, params)."""

    def __init__(self, store: ChromaStore, search: Search, params: Callable[[], SearchParams],
                 today: Callable[[], date]) -> None:
        self._store = store
        self._search = search
        self._params = params  # the configured search parameters
        self._today = today

    def latest(self, library: str, topic: str | None, days: int) -> LatestArticles:
        """Articles published in the last ``days`` days, about ``topic`` (None: all). Blocking."""
        since = self._today() - timedelta(days=days)
        rows = self._store.articles(validate_library(library))
        if topic is None:
            undated = [r for r in rows if r.source.published is None]
            return LatestArticles(since, days, None, published_since(rows, since), undated)
        wide = replace(self._params(), k=TOPIC_ARTICLES, per_article=1, candidates=max(TOPIC_ARTICLES, 50))
        by_id = {r.source.article_id: r for r in rows}
        matches = [by_id[p.source.article_id] for p in self._search(library, topic, wide) if p.source.article_id in by_id]
        skipped = sum(r.source.published is None for r in matches)
        return LatestArticles(since, days, topic, published_since(matches, since), [], skipped)

    def passages(self, library: str, query: str, since: date) -> tuple[list[Passage], int]:
        """Passages for ``query`` from the articles published since ``since``, and how many such
        articles there are. A question that names no topic ("what's new this week?") gets the
        opening passage of each of the newest. Blocking."""
        recent = published_since(self._store.articles(validate_library(library)), since)
        if not recent:
            return [], 0
        params = self._params()
        if not topic_terms(query):
            return self._openings(library, recent[: params.k]), len(recent)
        ids = {r.source.article_id for r in recent}
        wide = replace(params, k=RECENT_POOL, candidates=max(params.candidates, 2 * RECENT_POOL))
        found = [p for p in self._search(library, query, wide) if p.source.article_id in ids]
        return found[: params.k], len(recent)

    def _openings(self, library: str, rows: Sequence[ArticleSummary]) -> list[Passage]:
        """The first passage of each of ``rows``, in their order."""
        versions = self._store.versions_many(library, [r.source.article_id for r in rows])
        first: dict[str, str] = {}
        for article_id, stored in versions.items():
            complete = [v for v in stored.values() if v.complete]
            if complete:
                first[article_id] = min(complete[0].ids)  # chunk ids end in their zero-padded position
        chunks, _ = self._store.get(library, list(first.values()))
        by_id = {c.id: c for c in chunks}
        out = []
        for rank, row in enumerate(rows):
            chunk = by_id.get(first.get(row.source.article_id, ""))
            if chunk is not None:
                out.append(Passage(chunk.id, chunk.source, chunk.position, chunk.text, score=1.0 / (rank + 1)))
        return out
