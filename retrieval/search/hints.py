"""What a question says about where to look: the publishers and publication days it names.

"Did TechCrunch's report on October 31 agree with The Verge?" names two publishers, and a day
that belongs to the first. Search runs one sub-search per named source, restricted to it, so each
article a multi-source question asks about gets its own chance to rank.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from retrieval.text.terms import MONTHS

_MONTH = r"(?P<month>" + "|".join(m.title() for m in MONTHS) + "|" + "|".join(m[:3].title() for m in MONTHS) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+{_DAY}(?:,?\s+(?P<year>\d{{4}}))?|{_DAY.replace('day', 'day2')}\s+{_MONTH.replace('month', 'month2')}"
    rf"(?:,?\s+(?P<year2>\d{{4}}))?|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}}))\b"
)
_SEPARATORS = (" | ", " - ", " – ", ": ")
# Where one part of a question ends and the next begins ("..., while the Verge says ...").
_BREAK = re.compile(
    r"[;?!]|,\s*(?:and|but|while|whereas|or)\b|\b(?:while|whereas|compared (?:to|with)|as well as|than)\b",
    re.IGNORECASE,
)
# After a name, this means the name closes its part ("..., according to Fortune, and ...").
_CLOSES = re.compile(r"^[\s'\"’”)]*(?:$|[,.;?!:]|(?:and|or|but|while|whereas)\b)", re.IGNORECASE)
MIN_NAME_CHARS = 3


@dataclass(frozen=True)
class SourceHint:
    """One place a question points at: some publishers (one name can fit several) and/or days."""

    publishers: tuple[str, ...] = ()
    days: tuple[int, ...] = ()  # yyyymmdd
    focus: str = ""  # the part of the question about this source


def name_variants(publisher: str) -> set[str]:
    """``"Cnbc | World Business News Leader"`` is also called ``"Cnbc"`` in a question."""
    names = {publisher.strip()}
    for sep in _SEPARATORS:
        head = publisher.split(sep, 1)[0].strip()
        if len(head) >= MIN_NAME_CHARS:
            names.add(head)
    return {n for n in names if len(n) >= MIN_NAME_CHARS}


def find_publishers(question: str, publishers: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
    """(start, end, publishers) for each publisher name in the question, longest names first.

    Names are matched without regard to case, but must start with a capital letter or digit in
    the question (``The Age`` is a publisher, "the age of 16" is not).
    """
    by_name: dict[str, set[str]] = {}
    for publisher in publishers:
        for name in name_variants(publisher):
            by_name.setdefault(name.lower(), set()).add(publisher)
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    for name in sorted(by_name, key=len, reverse=True):
        for m in re.finditer(r"(?<![\w])" + re.escape(name) + r"(?![\w])", question, flags=re.IGNORECASE):
            if not (m.group(0)[0].isupper() or m.group(0)[0].isdigit()):
                continue
            if any(m.start() < end and start < m.end() for start, end, _ in spans):
                continue  # inside a longer name already found
            spans.append((m.start(), m.end(), tuple(sorted(by_name[name]))))
    return sorted(spans)


def find_days(question: str, known_days: Sequence[int]) -> list[tuple[int, tuple[int, ...]]]:
    """(position, days) for each date in the question; a date without a year matches that month
    and day in any year the library has articles from."""
    out: list[tuple[int, tuple[int, ...]]] = []
    for m in _DATE.finditer(question):
        if m["iso"]:
            try:
                d = date.fromisoformat(m["iso"])
            except ValueError:
                continue
            out.append((m.start(), (int(d.strftime("%Y%m%d")),)))
            continue
        month_name = (m["month"] or m["month2"]).lower()
        month = next(i for i, name in enumerate(MONTHS, start=1) if name.startswith(month_name[:3]))
        day, year = int(m["day"] or m["day2"]), m["year"] or m["year2"]
        if not 1 <= day <= 31:
            continue
        if year:
            days = (int(year) * 10000 + month * 100 + day,)
        else:
            days = tuple(sorted(d for d in known_days if d % 10000 == month * 100 + day))
        if days:
            out.append((m.start(), days))
    return out


def focus(question: str, start: int, end: int, others: Sequence[tuple[int, int]]) -> str:
    """The part of ``question`` that a name at [start, end) refers to.

    "..., as reported by The Age?" closes its part: the words before it, back to the previous
    break or name. "the Fortune article suggests ..." opens one: the words after it, up to the next.
    """
    breaks = [(m.start(), m.end()) for m in _BREAK.finditer(question)] + list(others)
    if _CLOSES.match(question[end:]):
        left = max((e for s, e in breaks if e <= start), default=0)
        return question[left:start]
    right = min((s for s, e in breaks if s >= end), default=len(question))
    return question[end:right]


def source_hints(question: str, publishers: Sequence[str], days: Sequence[int]) -> list[SourceHint]:
    """One hint per publisher named (with the first date after it, before the next publisher),
    then one per date no publisher claimed. Duplicates are merged."""
    named = find_publishers(question, publishers)
    dated = find_days(question, days)
    spans = [(s, e) for s, e, _ in named]
    claimed: set[int] = set()
    hints: list[SourceHint] = []
    for i, (start, end, pubs) in enumerate(named):
        stop = named[i + 1][0] if i + 1 < len(named) else len(question)
        own = next(((p, d) for p, d in dated if start < p < stop and p not in claimed), None)
        if own is not None:
            claimed.add(own[0])
        part = focus(question, start, end, [sp for sp in spans if sp != (start, end)])
        hints.append(SourceHint(pubs, own[1] if own else (), " ".join(part.split())))
    hints.extend(SourceHint((), d) for p, d in dated if p not in claimed)
    return list(dict.fromkeys(hints))

