"""An answer without a language model: the 2–3 passage sentences that best match the question.

Scoring combines IDF-weighted overlap of content words (names and acronyms weigh more, and
consecutive question words found together earn a bonus) with, when an ``Embedder`` is given,
the cosine similarity of question and sentence. Blocking: call it from a worker thread.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from retrieval.answer.asked import (
    ASKS_NAME,
    DATE,
    FULL_NAME,
    NUMBER,
    PERSON,
    Candidate,
    add_asked_detail,
    add_full_name,
    recurring_name,
    spelled_out,
)
from retrieval.answer.citations import number_sources, resolve_citations, strip_citations
from retrieval.answer.injection import looks_like_instruction
from retrieval.embed.base import Embedder
from retrieval.models import Citation, Passage, Source
from retrieval.text.chunking import split_sentences
from retrieval.text.terms import content_words, prefix_stem, sentence_words

MIN_WORDS = 5


_PRONOUN_START = re.compile(r"^(?:he|she|it|they|this|that|these|those|his|her|its|their)\b", re.I)


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in sentence_words(text))


def _usable(sentence: str, source: Source) -> bool:
    """Skip short bits, headline or caption fragments, sentences cut at a chunk's start, and
    instructions planted for assistants (they are data, never an answer)."""
    count = len(sentence_words(sentence))
    if count < MIN_WORDS or looks_like_instruction(sentence):
        return False
    norm = _norm(sentence)
    if norm and norm in _norm(source.title):
        return False
    if sentence[0].islower():
        return False
    ends = sentence.rstrip("\"”’)").endswith((".", "!", "?"))
    return ends or count > 12


def _candidates(passages: Sequence[Passage]) -> list[Candidate]:
    seen: set[str] = set()
    out = []
    for rank, passage in enumerate(passages):
        lines = strip_citations(passage.text).splitlines()  # a line of its own is a headline or caption
        for sentence in (s for line in lines for s in split_sentences(line)):
            key = _norm(sentence)
            if key in seen or not _usable(sentence, passage.source):
                continue
            seen.add(key)
            out.append(Candidate(sentence, passage.source, rank, tuple(content_words(sentence))))
    return out


def _lexical(question: str, candidates: Sequence[Candidate]) -> list[float]:
    question = spelled_out(question)
    q_words = list(dict.fromkeys(content_words(question)))
    if not q_words or not candidates:
        return [0.0] * len(candidates)
    emphasised = {re.sub(r"['’]s$", "", w.lower()) for w in sentence_words(question) if w[:1].isupper() or any(c.isdigit() for c in w)}
    n = len(candidates)
    weight = {}
    for w in q_words:
        df = sum(1 for c in candidates if w in c.words)
        weight[w] = (math.log((n + 1) / (df + 1)) + 1.0) * (1.5 if w in emphasised else 1.0)
    total = sum(weight.values())
    pairs = list(zip(q_words, q_words[1:]))
    asks_when = re.search(r"\b(when|what (?:date|day|year|month|time))\b", question, re.I) is not None
    asks_amount = re.search(r"\bhow (?:many|much|large|big|long)\b", question, re.I) is not None
    asks_who = re.search(r"\b(who|whom|whose)\b", question, re.I) is not None
    bridge = recurring_name(question, candidates) if ASKS_NAME.search(question) else None
    scores = []
    for c in candidates:
        present = set(c.words)
        stems = {prefix_stem(w) for w in c.words}
        score = sum(weight[w] if w in present else 0.5 * weight[w] if prefix_stem(w) in stems else 0.0 for w in q_words)
        score /= total
        adjacent = set(zip(c.words, c.words[1:]))
        score += min(0.3, 0.1 * sum(1 for p in pairs if p in adjacent))
        if asks_when and DATE.search(c.text):
            score += 0.3
        elif asks_amount and NUMBER.search(c.text):
            score += 0.2
        if asks_who:
            # A "who" question is answered by a sentence that names somebody, best in full and
            # somebody the question itself does not name.
            new_names = [n for n in FULL_NAME.findall(c.text) if n.lower() not in question.lower()]
            if new_names:
                score += 0.15
            elif not PERSON.search(c.text):
                score *= 0.5
        if bridge and re.search(rf"\b{re.escape(bridge)}\b", c.text):
            score += 0.2
            if any(bridge in n and n != bridge for n in FULL_NAME.findall(c.text)):
                score += 0.1  # named in full ("Sam Bankman-Fried", not "Bankman-Fried")
        if _PRONOUN_START.match(c.text):
            score *= 0.8  # "He said …" reads badly without the sentence before it
        if len(c.words) > 45:
            score *= 0.85
        scores.append(score)
    return scores


def _similarities(question: str, candidates: Sequence[Candidate], embedder: Embedder) -> list[float]:
    vectors = np.asarray(embedder.embed_batch([question, *[c.text for c in candidates]]), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    norms[norms == 0] = 1.0
    vectors = vectors / norms[:, None]
    return [float(x) for x in vectors[1:] @ vectors[0]]


def pick_sentences(
    question: str,
    passages: Sequence[Passage],
    *,
    embedder: Embedder | None = None,
    max_sentences: int = 3,
    max_embedded: int = 16,
) -> list[tuple[str, Source]]:
    """The best non-redundant sentences, best first; empty when none relates to the question."""
    candidates = _candidates(passages)
    scores = [s - 0.005 * c.rank for s, c in zip(_lexical(question, candidates), candidates)]
    if embedder is not None and candidates:
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])[:max_embedded]
        sims = _similarities(question, [candidates[i] for i in order], embedder)
        for i, sim in zip(order, sims):
            scores[i] = 0.5 * scores[i] + 0.5 * max(sim, 0.0)
        chosen = set(order)
        scores = [s if i in chosen else 0.5 * s for i, s in enumerate(scores)]
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i])
    if not ranked or scores[ranked[0]] <= 0:
        return []
    best = scores[ranked[0]]
    picked: list[int] = []
    for i in ranked:
        if len(picked) == max_sentences or scores[i] < 0.5 * best:
            break
        mine = set(candidates[i].words)
        if any(len(mine & set(candidates[j].words)) / max(1, len(mine | set(candidates[j].words))) > 0.5 for j in picked):
            continue
        picked.append(i)
    add_full_name(question, candidates, scores, picked, max_sentences)
    add_asked_detail(question, candidates, picked, max_sentences)
    return [(candidates[i].text, candidates[i].source) for i in picked]


def _with_marker(sentence: str, number: int) -> str:
    if sentence.endswith((".", "!", "?")) and not sentence.endswith("..."):
        return f"{sentence[:-1]} [{number}]{sentence[-1]}"
    return f"{sentence} [{number}]"


def extractive_answer(
    question: str, passages: Sequence[Passage], *, embedder: Embedder | None = None
) -> tuple[str, tuple[Citation, ...]]:
    """Quoted sentences each followed by its citation, numbered 1..n by first use; ("", ()) if none."""
    groups = number_sources(passages)
    numbers = {source.article_id: n for n, source, _ in groups}
    sources = {n: source for n, source, _ in groups}
    picked = pick_sentences(question, passages, embedder=embedder)
    if not picked:
        return "", ()
    raw = " ".join(_with_marker(text, numbers[source.article_id]) for text, source in picked)
    return resolve_citations(raw, sources)
