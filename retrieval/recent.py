"""The newest articles: what ``/latest`` lists, and the passages a question about recent news
("what's new about Biosyngen this week?") is answered from.

Recent means published on or after a day (``since``); an article without a date is never known to
be recent. The search itself keeps to the period (``Question.since``), so a recent article is found
however many older ones match the question better. ``/latest`` without a topic lists the undated
articles after the dated ones all the same (they may be new, and the team can see they need a
date); with a topic it only counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from retrieval.errors import InputError
from retrieval.models import Answer, AnswerMode, ArticleSummary, Passage
from retrieval.search.params import SearchParams
from retrieval.search.recency import recency_window, topic_terms
from retrieval.store.chroma import ChromaStore
from retrieval.store.chroma_records import validate_library

# The service's search: (library, query, params (None: as configured), only articles published on
# or after this day (None: all)).
Search = Callable[[str, str, SearchParams | None, date | None], list[Passage]]
TOPIC_ARTICLES = 100  # how many articles a topic may match


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
    """Reads the newest articles of a library. ``search`` is the service's; ``latest_days``: the
    period that words like "latest" and ``/latest`` without a number of days mean."""

    def __init__(self, store: ChromaStore, search: Search, params: Callable[[], SearchParams],
                 today: Callable[[], date], latest_days: int) -> None:
        self._store = store
        self._search = search
        self._params = params  # the configured search parameters
        self._today = today
        self._latest_days = latest_days

    def window(self, question: str) -> tuple[date | None, str]:
        """The first day of the period ``question`` asks about (None: it names none), and the
        question without the words that said so."""
        return recency_window(question, self._today(), self._latest_days)

    def latest(self, library: str, topic: str | None, days: int | None = None) -> LatestArticles:
        """Articles published in the last ``days`` days (None: the configured number), about
        ``topic`` (None: all). Blocking."""
        days = self._latest_days if days is None else days
        if days < 1:
            raise InputError(f"{days} is not a number of days.", hint="Give 1 or more days.")
        since = self._today() - timedelta(days=days)
        rows = self._store.articles(validate_library(library))
        undated = [r for r in rows if r.source.published is None]
        if topic is None:
            return LatestArticles(since, days, None, published_since(rows, since), undated)
        wide = replace(self._params(), k=TOPIC_ARTICLES, per_article=1, candidates=max(TOPIC_ARTICLES, 50))
        by_id = {r.source.article_id: r for r in rows}
        matches = [by_id[p.source.article_id] for p in self._search(library, topic, wide, since)
                   if p.source.article_id in by_id]
        skipped = 0
        if undated:  # the period's search leaves undated articles out: count the ones about the topic
            skipped = sum(by_id[p.source.article_id].source.published is None
                          for p in self._search(library, topic, wide, None) if p.source.article_id in by_id)
        return LatestArticles(since, days, topic, published_since(matches, since), [], skipped)

    def passages(self, library: str, query: str, since: date | None) -> tuple[list[Passage], Answer | None]:
        """Passages for ``query`` from the articles published since ``since`` (None: all), or the
        answer saying the period holds nothing about it. A question that names no topic ("what's
        new this week?") gets the opening passage of each of the period's newest. Blocking."""
        if since is None:
            return self._search(library, query, None, None), None
        recent = published_since(self._store.articles(validate_library(library)), since)
        if recent and not topic_terms(query):
            found = self._openings(library, recent[: self._params().k])
        else:
            found = self._search(library, query, None, since) if recent else []
        return found, None if found else nothing_recent(since, len(recent))

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
