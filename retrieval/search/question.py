"""A question, read once: its content words and their stems, its clauses, the sources it names.

Every stage of a search (candidates, fusion, re-ranking, the gate) reads the words it needs from
one ``Question`` rather than cutting the text again. ``Question.parse`` reads the text alone;
``with_sources`` adds what depends on the library: the publishers and days it names
(``retrieval.search.hints``), matched against the ones the library has. A question about a period
("this week") carries its first day (``since``), its time words already taken out of the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from retrieval.search.hints import source_hints
from retrieval.text.terms import query_terms, tokens

# Where a question's clauses part: "Which company, covered by TechCrunch, is accused of X and plans Y?"
_CLAUSE = re.compile(r"[,;?]|\b(?:and|while|whereas|but|or)\b", re.IGNORECASE)
MIN_CLAUSE_TERMS = 2  # a clause with fewer content words says too little to be scored on its own
# The part of a question about a named source weighs in that source's sub-search only when it has
# at least this many content words (fewer are mostly the words around the name).
MIN_FOCUS_TERMS = 3


@dataclass(frozen=True)
class Words:
    """Some text's content words (``query_terms``) and the stems of each, in order."""

    text: str
    terms: tuple[str, ...]
    term_stems: tuple[tuple[str, ...], ...]  # the stems of each term (``tokens``)
    stems: tuple[str, ...]  # all of them, in order: a stem two terms share appears twice

    @classmethod
    def of(cls, text: str) -> Words:
        terms = tuple(query_terms(text))
        term_stems = tuple(tuple(tokens(term)) for term in terms)
        return cls(text, terms, term_stems, tuple(s for stems in term_stems for s in stems))


@dataclass(frozen=True)
class NamedSource:
    """A publisher and/or day the question names, and the part of the question about it."""

    publishers: tuple[str, ...]  # one name can fit several of the library's publishers
    days: tuple[int, ...]  # yyyymmdd
    focus: Words
    stems: tuple[str, ...]  # what its sub-search looks for: the question's stems, then the focus's


@dataclass(frozen=True)
class Question:
    """What a search knows about the question: built once per search, read by every stage."""

    words: Words
    clauses: tuple[Words, ...]  # each tends to paraphrase one fact in one article
    sources: tuple[NamedSource, ...] = ()  # filled in by ``with_sources``
    # Only articles published on or after this day count (None: all); every candidate list keeps to
    # them. Read from the question's time words by ``retrieval.search.recency.recency_window``.
    since: date | None = None

    @classmethod
    def parse(cls, text: str, since: date | None = None) -> Question:
        words = Words.of(text)
        parts = (Words.of(part.strip()) for part in _CLAUSE.split(text))
        clauses = tuple(p for p in parts if len(p.terms) >= MIN_CLAUSE_TERMS) or (words,)
        return cls(words, clauses, since=since)

    @property
    def text(self) -> str:
        return self.words.text

    @property
    def terms(self) -> tuple[str, ...]:
        return self.words.terms

    @property
    def stems(self) -> tuple[str, ...]:
        return self.words.stems

    def with_sources(self, publishers: Sequence[str], days: Sequence[int]) -> Question:
        """This question with the sources it names among a library's ``publishers`` and ``days``."""
        sources = []
        for hint in source_hints(self.text, publishers, days):
            focus = Words.of(hint.focus)
            extra = focus.stems if len(focus.terms) >= MIN_FOCUS_TERMS else ()
            sources.append(NamedSource(hint.publishers, hint.days, focus, (*self.stems, *extra)))
        return replace(self, sources=tuple(sources))
