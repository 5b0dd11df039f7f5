"""What a question asks for, and the sentences that give it: a date for "when", a number for
"how many", a name for "who" or "which company" (best the name the retrieved articles share,
written in full). Used by the extractive answer to choose its sentences."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.models import Source
from retrieval.text.terms import ANSWER_STOPWORDS, MONTHS


@dataclass(frozen=True)
class Candidate:
    text: str
    source: Source
    rank: int
    words: tuple[str, ...]


def _month_pattern(month: str) -> str:
    """``jan(?:uary)?`` and so on; "may" only beside a day number (it is a common word), and
    September also as "sept"."""
    if month == "may":
        return r"\d{1,2}\s+may|may\s+\d{1,2}"
    if month == "september":
        return r"sep(?:t(?:ember)?)?"
    return f"{month[:3]}(?:{month[3:]})?"


MONTH_WORDS = "|".join(_month_pattern(m) for m in MONTHS)
DATE = re.compile(rf"\b(?:(?:19|20)\d\d|{MONTH_WORDS}|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)
NUMBER = re.compile(r"\d")
# A sentence that names a person: an honorific or a role ("Mr. Loh", "Consul General", "chief executive").
PERSON = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sir|Dame)\.?\s+[A-Z]|\b(?:chief executive|CEO|founder|minister|president|consul general|"
    r"chairman|chairwoman|director|ambassador|governor|mayor|analyst|spokesperson|spokesman|spokeswoman)\b",
    re.I,
)
# A full name: two or more capitalised words in a row, not at the sentence's start ("Sam Altman").
FULL_NAME = re.compile(r"(?<=\S\s)[A-Z][a-z]+(?:[-\s][A-Z][a-z]+)+")
NAME_WORD = re.compile(r"(?<=\S\s)[A-Z][\w’'-]*[\w]")
# Questions whose answer is a name: "who …", "which company …", "what organisation …".
ASKS_NAME = re.compile(
    r"\b(?:who|whom|whose)\b|\b(?:which|what)\s+(?:[a-z-]+\s+){0,3}?(?:company|individual|person|organi[sz]ation|entity|"
    r"firm|team|player|celebrity|star|figure|executive|athlete|club|brand|platform|country|city|group)\b",
    re.I,
)
# Titles as questions abbreviate them and articles spell them out.
_TITLES = {"ceo": "chief executive", "cfo": "chief financial officer", "cto": "chief technology officer",
           "coo": "chief operating officer"}


def spelled_out(question: str) -> str:
    return re.sub(r"\b(CEO|CFO|CTO|COO)\b", lambda m: f"{m.group(1)} {_TITLES[m.group(1).lower()]}", question)


def recurring_name(question: str, candidates: Sequence[Candidate]) -> str | None:
    """The name, not in the question, that the most articles among the passages mention (at least
    two): a question that describes someone through several articles is answered by the name they share."""
    asked = question.lower()
    articles: dict[str, set[str]] = {}
    mentions: Counter[str] = Counter()
    for c in candidates:
        for name in NAME_WORD.findall(c.text):
            name = re.sub(r"['’]s$", "", name)
            if name.lower() not in asked and name.lower() not in ANSWER_STOPWORDS and len(name) > 2:
                articles.setdefault(name, set()).add(c.source.article_id)
                mentions[name] += 1
    best = max(articles, key=lambda k: (len(articles[k]), mentions[k]), default=None)
    return best if best is not None and len(articles[best]) >= 2 else None


def add_asked_detail(question: str, candidates: Sequence[Candidate], picked: list[int], limit: int) -> None:
    """A "when" question whose best sentence has no date gets the sentence after it when that one
    has the date ("… appointed Claire Ng." + "Ng will take over on 1 May."); likewise a number
    for "how many / how much"."""
    if re.search(r"\b(when|what (?:date|day|year|month|time))\b", question, re.I):
        detail = DATE
    elif re.search(r"\bhow (?:many|much)\b", question, re.I):
        detail = NUMBER
    else:
        return
    if not picked or detail.search(candidates[picked[0]].text):
        return
    best = picked[0]
    after = best + 1
    if after < len(candidates) and candidates[after].source == candidates[best].source and detail.search(candidates[after].text):
        if after in picked:
            return
        del picked[limit - 1 :]
        picked.insert(1, after)


def _in_full(text: str, name: str) -> bool:
    """``name`` written with another capitalised word of its name beside it ("Sam Bankman-Fried"
    for "Bankman-Fried", "Alameda Research" for "Alameda")."""
    escaped = re.escape(name)
    beside = re.findall(rf"\b([A-Z][a-z]+)[ -]{escaped}\b", text) + re.findall(rf"\b{escaped}\s([A-Z][a-z]+)\b", text)
    return any(word.lower() not in ANSWER_STOPWORDS for word in beside)


def add_full_name(question: str, candidates: Sequence[Candidate], scores: Sequence[float], picked: list[int],
                  limit: int) -> None:
    """A question asking for a name, whose chosen sentences give the name the articles share only
    in part, gets the best related sentence that writes it in full (in place of the last one)."""
    if not picked or not ASKS_NAME.search(question):
        return
    name = recurring_name(question, candidates)
    if name is None or any(_in_full(candidates[i].text, name) for i in picked):
        return
    floor = 0.2 * scores[picked[0]]
    options = [i for i, c in enumerate(candidates) if i not in picked and scores[i] >= floor and _in_full(c.text, name)]
    if options:
        del picked[limit - 1 :]
        picked.append(max(options, key=lambda i: scores[i]))
