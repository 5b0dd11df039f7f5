"""Stage 1, candidates: the ranked lists fusion joins, each best first.

- the keyword list: BM25 over the library for the question's stems;
- one keyword sub-search per source the question names (``Question.sources``), restricted to that
  publisher and/or day and weighted towards the part of the question about it, so each article a
  multi-source question asks about gets its own chance to rank;
- the vector list: the chunks nearest the question's vector in Chroma. The searcher starts that
  search in its question worker, so it runs while the keyword lists are made here.

A question about a period (``Question.since``) restricts every list to chunks of articles published
in it: the search then ranks within the period as it would within a library of only its articles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from retrieval.search.params import SearchParams
from retrieval.search.question import Question
from retrieval.store.keyword_index import KeywordIndex

SOURCE_CANDIDATES = 20  # hits of each named source's sub-search

Nearest = list[tuple[str, float]]  # (chunk id, cosine distance), nearest first


@dataclass(frozen=True)
class Candidates:
    keyword: list[str]  # empty when the keyword weight is 0
    by_source: list[list[str]]  # one list per ``Question.sources`` (none when the keyword weight is 0)
    nearest: Nearest  # empty when the vector weight is 0


def read_question(index: KeywordIndex, text: str, params: SearchParams, since: date | None = None) -> Question:
    """``text`` parsed, with the sources it names among the library's publishers and days (when
    ``params`` asks for per-source searches), about articles published since ``since`` (None: all).
    Brings ``index`` in step with Chroma first."""
    index.sync()
    question = Question.parse(text, since)
    if params.source_hints and params.hint_weight:
        question = question.with_sources(*index.facets(sync=False))
    return question


def gather(index: KeywordIndex, question: Question, params: SearchParams, nearest: Callable[[], Nearest]) -> Candidates:
    """The keyword lists first, as they need no vector, then ``nearest()``: the vector search,
    which may still be on its way. ``index`` must be in step already (``read_question``)."""
    keyword: list[str] = []
    by_source: list[list[str]] = []
    if params.keyword_weight:
        keyword = [h.chunk_id for h in index.search(question.stems, params.candidates, since=question.since, sync=False,
                                                    **params.keyword_scoring)]
        for source in question.sources:
            hits = index.search(source.stems, SOURCE_CANDIDATES, publishers=source.publishers, days=source.days,
                                since=question.since, sync=False, **params.keyword_scoring)
            by_source.append([h.chunk_id for h in hits])
    return Candidates(keyword, by_source, list(nearest()) if params.vector_weight else [])
