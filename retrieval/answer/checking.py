"""A model's answer checked against its sources, sentence by sentence (precision by construction).

A sentence is shown only with a citation that exists and whose source supports it: most of the
sentence's content words occur in that source's passages. A citation that fails is dropped; a
sentence left without one is dropped, as is one that repeats an instruction planted in a source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrieval.answer.citations import parse_citations, renumber, strip_citations
from retrieval.answer.injection import planted_words, repeats_planted
from retrieval.models import Citation, Passage, Source
from retrieval.text.chunking import split_sentences
from retrieval.text.terms import content_words, prefix_stem

# Share of a sentence's content words its cited source must contain (names count twice).
SUPPORT_SHARE = 0.5
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[[^\]\n]{1,40}\])+)")


@dataclass(frozen=True)
class CheckedAnswer:
    """The shown text (citations renumbered 1..n), its citations, and what the check removed."""

    text: str
    citations: tuple[Citation, ...]
    uncited: int = 0  # sentences dropped for want of a valid citation
    unsupported: int = 0  # citations dropped because their source does not hold the sentence
    planted: int = 0  # sentences dropped for repeating an instruction planted in a source

    @property
    def fired(self) -> bool:
        return bool(self.uncited or self.unsupported or self.planted)


def _sentences(raw: str) -> list[str]:
    """Sentences with their citations attached ("Fact. [1] Next." -> "Fact [1].", "Next.")."""
    moved = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", raw)
    out: list[str] = []
    for piece in (s for line in moved.splitlines() for s in split_sentences(line) if s.strip()):
        if out and not re.search(r"\w", strip_citations(piece)):  # markers split off after a quote: '…." [1].'
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def _words_of(texts: Sequence[str]) -> tuple[set[str], set[str]]:
    words = {w for t in texts for w in content_words(t)}
    return words, {prefix_stem(w) for w in words}


def supported(sentence: str, source_words: tuple[set[str], set[str]]) -> bool:
    """Most of the sentence's content words (names twice over) occur in the source."""
    words, stems = source_words
    names = {w.lower() for w in re.findall(r"\b[A-Z][\w'’-]+", sentence[1:])}
    total = found = 0.0
    for w in set(content_words(sentence)):
        weight = 2.0 if w in names else 1.0
        total += weight
        found += weight if w in words else 0.5 * weight if prefix_stem(w) in stems else 0.0
    return total == 0 or found >= SUPPORT_SHARE * total


def check_answer(raw: str, sources: Mapping[int, Source], passages: Sequence[Passage]) -> CheckedAnswer:
    """Keep the sentences of ``raw`` that cite a source supporting them; renumber what is left."""
    by_article: dict[str, list[str]] = {}
    for p in passages:
        by_article.setdefault(p.source.article_id, [p.source.title]).append(p.text)
    support = {n: _words_of(by_article.get(s.article_id, [s.title])) for n, s in sources.items()}
    planted = planted_words(s for p in passages for s in split_sentences(p.text))
    kept: list[str] = []
    cited_all: list[int] = []
    uncited = unsupported = dropped_planted = 0
    for sentence in _sentences(raw):
        text, cited = parse_citations(sentence, set(sources))
        bare = strip_citations(text)
        if not re.search(r"\w", bare):
            continue
        if repeats_planted(bare, planted):
            dropped_planted += 1
            continue
        good = [n for n in cited if supported(bare, support[n])]
        unsupported += len(cited) - len(good)
        if not good:
            uncited += 1 if not cited else 0
            continue
        for n in cited:
            if n not in good:
                text = re.sub(rf"\s*\[{n}\]", "", text)
        kept.append(text)
        cited_all.extend(n for n in good if n not in cited_all)
    shown = renumber(" ".join(kept), cited_all)
    citations = tuple(Citation(number=i, source=sources[old]) for i, old in enumerate(cited_all, start=1))
    return CheckedAnswer(shown, citations, uncited, unsupported, dropped_planted)
