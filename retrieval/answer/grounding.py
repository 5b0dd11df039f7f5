"""Whether the passages can answer a question at all: the names the question asks about must occur in them.

"What was Apple's revenue in Q3 2024?" over passages about Greenhollow's revenue names Apple, and
no passage does: the answer is a refusal that says so, whatever the passages' scores. Names are
the question's capitalised words and runs of them ("Sam Bankman-Fried", "Times of India"); a name
counts as present when all its words occur in one passage (its text, title or publisher), or in
the name of a publisher the library holds ("according to TechCrunch" needs no TechCrunch passage
among the few retrieved, only TechCrunch articles in the library).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.models import Passage
from retrieval.text.terms import ANSWER_STOPWORDS, MONTHS

# Capitalised words that open or link questions, titles and roles: they do not name something.
_NOT_NAMES = frozenset(
    """according after again also although among based before between both considering could did do does
    during following from given has have how if in is it might not of on once please should since so than
    that the then these this those though to was were what when where whether which while who whom whose why
    will with would yes no mr mrs ms dr prof sir q1 q2 q3 q4 i ceo cfo cto coo""".split()
) | ANSWER_STOPWORDS | frozenset(MONTHS) | frozenset(m[:3] for m in MONTHS) | frozenset(
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# A run of capitalised words, linked by "of", "&", "de", "von" … ("Bank of America").
_LINKS = frozenset({"of", "&", "de", "la", "le", "van", "von", "der", "du", "da", "del", "for"})
# "European", "Australian", "British" alone: they describe, they do not name (the articles say "Europe").
_DEMONYM = re.compile(r"^[A-Z][a-z]{3,}(?:ean|ian|ish|ese)$")
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|&")


@dataclass(frozen=True)
class Name:
    """A name the question uses, as written, and its words as compared (lower case)."""

    text: str
    words: tuple[str, ...]


def _words(text: str) -> list[str]:
    return [re.sub(r"['’]s$", "", w.lower()) for w in _WORD.findall(text)]


def _is_capitalised(token: str) -> bool:
    return token[:1].isupper()


def question_names(question: str) -> list[Name]:
    """The names in ``question``: runs of capitalised words, not counting question words, months
    and other capitalised function words."""
    names: list[Name] = []
    for sentence in re.split(r"[.?!;:\"“”'‘’()\[\],]+\s+|[\"“”()\[\]]", question):
        run: list[str] = []
        tokens = _TOKEN.findall(sentence) + [""]
        for token in tokens:
            low = re.sub(r"['’]s$", "", token.lower())
            if token and _is_capitalised(token) and low not in _NOT_NAMES:
                run.append(token)
                continue
            if run and low in _LINKS and token:
                run.append(token)
                continue
            while run and run[-1].lower() in _LINKS:
                run.pop()
            if run:
                words = tuple(w for w in _words(" ".join(run)) if w not in _LINKS and w not in _NOT_NAMES)
                alone_demonym = len(run) == 1 and _DEMONYM.match(run[0])
                if words and not alone_demonym and not any(n.words == words for n in names):
                    names.append(Name(" ".join(run).removesuffix("'s").removesuffix("’s"), words))
            run = []
    return names


# Where a question names a publication: "an article from The Verge", "according to TechCrunch",
# "a Bloomberg report". Such a name must be one of the library's publishers.
_CAP_RUN = r"['‘\"“]?((?:[A-Z][\w.&'’-]*)(?:\s+(?:of|&|the|[A-Z][\w.&'’-]*))*)"
_PUBLISHER_SPOTS = (
    re.compile(
        rf"\b(?:article|report|piece|review|story|coverage|post|editorial|column)s?\s+(?:from|by|in|published by)\s+"
        rf"(?:the\s+)?{_CAP_RUN}"
    ),
    re.compile(rf"\b(?:according to|reported by|published by|published in)\s+(?:the\s+)?{_CAP_RUN}"),
    re.compile(rf"\b(?:by|from|in|an?)\s+(?:the\s+)?{_CAP_RUN}['’\"”]?\s+(?:article|report|piece|review|story)s?\b"),
)


def named_publications(question: str) -> list[Name]:
    """Names that stand where a publication's name goes ("a report by X", "X's article")."""
    found: list[Name] = []
    for pattern in _PUBLISHER_SPOTS:
        for match in pattern.finditer(question):
            words = tuple(w for w in _words(match.group(1)) if w not in _LINKS and w not in _NOT_NAMES and w != "and")
            if words and not any(n.words == words for n in found):
                found.append(Name(match.group(1).strip(), words))
    return found


@dataclass(frozen=True)
class Refusal:
    """Why the passages cannot answer: the names they lack."""

    missing: tuple[str, ...]

    @property
    def note(self) -> str:
        if len(self.missing) == 1:
            return f"The articles I have don't mention {self.missing[0]}."
        return f"The articles I have don't mention {', '.join(self.missing[:-1])} or {self.missing[-1]}."


# Share of the question's names (other than publishers) the passages must lack to refuse: a
# multi-part question may name a thing or two its best passages leave out and still be answerable,
# while a question about something else altogether lacks most of its names (or its only one).
MISSING_SHARE = 0.67


def check_grounding(question: str, passages: Sequence[Passage], publishers: Iterable[str] = ()) -> Refusal | None:
    """A refusal when the passages lack the names the question asks about; None when they may answer."""
    library = [set(_words(p)) for p in publishers]
    haystacks = [set(_words(f"{p.source.title}\n{p.source.publisher or ''}\n{p.text}")) for p in passages]

    def in_library(name: Name) -> bool:
        return any(all(w in h for w in name.words) for h in library)

    if library:
        absent = [n.text for n in named_publications(question) if not in_library(n)]
        if absent:
            return Refusal(tuple(absent))
    names = [n for n in question_names(question) if not in_library(n)]
    missing = [n.text for n in names if not any(all(w in h for w in n.words) for h in haystacks)]
    if missing and len(missing) >= MISSING_SHARE * len(names):
        return Refusal(tuple(missing))
    return None
