"""What a question says about *when*: "this week", "in the last 10 days", "latest", "what's new".

``recency_window`` turns those words into the earliest publication date that counts and returns
the question without them (so "this week" is not searched for as words). A named period counts
back from today: "today" is today, "yesterday" one day, "this/past/last week" 7 days, "month" 30,
"year" 365, "last N days/weeks/months/years" N of them. Words that only ask for recent news
("what's new", "the latest on X", "recent news", "... lately?") mean the default window.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from retrieval.text.terms import query_terms

UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "couple of": 2, "three": 3, "few": 3, "four": 4, "five": 5,
            "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_COUNT = r"(?P<count>\d{1,4}|" + "|".join(_NUMBERS) + ")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_LEAD = r"(?:(?:in|over|during|within|from|for)\s+)?(?:the\s+)?"
# Periods the question names, most specific first.
_PERIODS = [
    re.compile(rf"\b{_LEAD}(?:last|past|previous)\s+{_COUNT}\s+{_UNIT}\b", re.IGNORECASE),
    re.compile(rf"\b{_LEAD}(?:last|past|this)\s+(?P<unit>day|week|month|year)\b(?!'s)", re.IGNORECASE),
    # "today" in lower case, or opening the question: in "Business Today" it names a publisher.
    re.compile(r"\b(?:so\s+far\s+)?(?P<word>today|yesterday)(?:'s)?\b"),
    re.compile(r"^\s*(?:so\s+far\s+)?(?P<word>today|yesterday)(?:'s)?\b", re.IGNORECASE),
]
# Words that ask for recent news without naming a period: "what's new", "anything new", "the latest"
# (on X, or alone), "latest/recent news or updates", and "recently"/"lately" closing the question.
# Used to describe something ("its latest product", "recently discussed in ...") they ask for nothing.
_VAGUE = re.compile(
    r"\b(?:what(?:'s|’s|\s+is)\s+new|(?:anything|something)\s+new"
    r"|(?:the\s+)?(?:very\s+)?(?:latest|newest|most\s+recent|recent)"
    r"(?=\s+(?:news|updates?|developments?|announcements?|headlines)\b|\s+(?:on|about)\b|\s*[?.!]*\s*$)"
    r"|(?:recently|lately)(?=\s*[?.!]*\s*$))",
    re.IGNORECASE,
)


# Words that ask what happened rather than about what: "What happened this week?" names no topic.
_GENERIC = frozenset("anything something everything happen happened happening going on update updates announce "
                     "announced announcement announcements story stories new".split())


def _days(match: re.Match[str]) -> int:
    groups = match.groupdict()
    if groups.get("word"):
        return 0 if groups["word"].lower() == "today" else 1
    count = groups.get("count")
    n = 1 if count is None else int(count) if count.isdigit() else _NUMBERS[" ".join(count.lower().split())]
    return n * UNIT_DAYS[groups["unit"].lower()]


def _without(question: str, match: re.Match[str]) -> str:
    """``question`` with the matched words taken out, its spacing and punctuation tidied."""
    text = question[: match.start()] + " " + question[match.end() :]
    text = re.sub(r"\s+([?.!,;:])", r"\1", " ".join(text.split()))
    return re.sub(r"^[,;:\s]+", "", text)


def recency_window(question: str, today: date, default_days: int = 7) -> tuple[date | None, str]:
    """(earliest publication date the question asks about, the question without the words that
    said so); (None, question) when it does not ask for recent news. A named period wins over
    vague words; both are taken out of the question."""
    since: date | None = None
    for pattern in _PERIODS:
        if match := pattern.search(question):
            since = today - timedelta(days=_days(match))
            question = _without(question, match)
            break
    if match := _VAGUE.search(question):
        since = since or today - timedelta(days=default_days)
        question = _without(question, match)
    return since, question


def topic_terms(question: str) -> list[str]:
    """The question's content words that name a topic (none in "What happened this week?")."""
    return [t for t in query_terms(question) if t not in _GENERIC]
