"""Source numbering and citation markers: parse [1], [1, 2], [1][2], [1-3]; drop invented ones."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from retrieval.models import Citation, Passage, Source

NOT_FOUND = "I couldn't find that in the articles I have."

_MAX_RANGE = 20  # "[1-3]" expands; "[1-99999]" is not a citation list
_NUM = r"(?:sources?\s*)?\d+"
_SEP = r"\s*(?:,|;|-|–|—|and)\s*"
_GROUP = re.compile(rf"\[\s*({_NUM}(?:{_SEP}{_NUM})*)\s*\]", re.IGNORECASE)
_MARK = "\x00"
_DROPPED_BEFORE_PUNCT = re.compile(rf"(?:[ \t]*{_MARK})+(?=[.,;:!?)]|\s*$)")
_DROPPED = re.compile(rf"(?:[ \t]*{_MARK})+[ \t]*")
_SINGLE = re.compile(r"\[(\d+)\]")


def number_sources(passages: Sequence[Passage]) -> list[tuple[int, Source, list[Passage]]]:
    """One number per article, in order of first appearance; each with its passages in rank order."""
    groups: dict[str, tuple[int, Source, list[Passage]]] = {}
    for passage in passages:
        key = passage.source.article_id
        if key not in groups:
            groups[key] = (len(groups) + 1, passage.source, [])
        groups[key][2].append(passage)
    return list(groups.values())


def _numbers(group: str) -> list[int]:
    """``"1, 3-5"`` -> [1, 3, 4, 5] (a too-wide range keeps only its ends)."""
    cleaned = re.sub(r"sources?", "", group, flags=re.IGNORECASE)
    tokens = re.findall(r"\d+|-|–|—", cleaned)
    numbers: list[int] = []
    i = 0
    while i < len(tokens):
        if tokens[i].isdigit():
            start = int(tokens[i])
            if i + 2 < len(tokens) and not tokens[i + 1].isdigit() and tokens[i + 2].isdigit():
                end = int(tokens[i + 2])
                if start <= end and end - start <= _MAX_RANGE:
                    numbers.extend(range(start, end + 1))
                else:
                    numbers.extend((start, end))
                i += 3
                continue
            numbers.append(start)
        i += 1
    return numbers


def parse_citations(raw: str, valid: set[int]) -> tuple[str, list[int]]:
    """Keep only citations of ``valid`` numbers, written ``[1][2]``; return text and numbers by first use."""
    cited: list[int] = []

    def replace(match: re.Match[str]) -> str:
        kept: list[int] = []
        for number in _numbers(match.group(1)):
            if number in valid and number not in kept:
                kept.append(number)
        for number in kept:
            if number not in cited:
                cited.append(number)
        return "".join(f"[{n}]" for n in kept) if kept else _MARK

    text = _GROUP.sub(replace, raw.replace(_MARK, ""))
    text = _DROPPED_BEFORE_PUNCT.sub("", text)
    text = _DROPPED.sub(" ", text)
    text = re.sub(r"\[(\d+)\](?:\s*\[\1\])+", r"[\1]", text)  # "[1] [1]" -> "[1]"
    return text.strip(), cited


def renumber(text: str, order: Sequence[int]) -> str:
    """Rewrite ``[old]`` markers so ``order[i]`` becomes ``i + 1`` (text from ``parse_citations``)."""
    mapping = {old: new for new, old in enumerate(order, start=1)}
    return _SINGLE.sub(lambda m: f"[{mapping.get(int(m.group(1)), int(m.group(1)))}]", text)


def resolve_citations(raw: str, sources: Mapping[int, Source]) -> tuple[str, tuple[Citation, ...]]:
    """Drop citations of unknown numbers, renumber the rest 1..n by first use, list their sources."""
    text, cited = parse_citations(raw, set(sources))
    citations = tuple(Citation(number=i, source=sources[old]) for i, old in enumerate(cited, start=1))
    return renumber(text, cited), citations


def strip_citations(text: str) -> str:
    """Remove every citation marker (used for earlier answers quoted back to the model)."""
    text = _GROUP.sub(_MARK, text.replace(_MARK, ""))
    return _DROPPED.sub(" ", _DROPPED_BEFORE_PUNCT.sub("", text)).strip()
