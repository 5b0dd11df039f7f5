"""Answers scored on MultiHop-RAG, through the product's normal answer path (``NewsService.ask``).

- Negative rejection: the share of ``null_query`` questions (the articles cannot answer them)
  refused, i.e. given the fixed not-found answer; beside it the share of answerable ones refused.
- Accuracy: the share of answers containing the gold answer (lower case, punctuation normalised,
  whole words), per question type, as MultiHop-RAG scores generation. A Yes/No gold answer is
  counted apart: an extractive answer quotes sentences and cannot say yes or no.
- How often the citation check (``retrieval.answer.checking``) removes something.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.answer.answerer import AnswerDone
from retrieval.answer.checking import check_answer
from retrieval.answer.citations import number_sources
from retrieval.errors import InputError
from retrieval.models import Answer, AnswerMode

YES_NO = frozenset({"yes", "no"})


@dataclass(frozen=True)
class AnswerQuery:
    qid: int
    query: str
    question_type: str
    answer: str


@dataclass(frozen=True)
class AnswerScore:
    question_type: str
    gold: str
    mode: str  # the answer's AnswerMode value
    refused: bool
    correct: bool
    checked: bool  # the citation check removed a sentence or citation


def normalise(text: str) -> str:
    """Lower case, punctuation turned into spaces, whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s]|_", " ", text.lower()).split())


def contains_answer(answer: str, gold: str) -> bool:
    """The gold answer occurs in the answer as whole words (``no`` is not found in ``not``)."""
    g = normalise(gold)
    return bool(g) and f" {g} " in f" {normalise(answer)} "


def load_answer_queries(path: Path, *, limit: int | None = None) -> list[AnswerQuery]:
    """Every query with its gold answer, null queries included (the first ``limit`` records)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Could not read the queries file {path} ({type(exc).__name__}).") from None
    if not isinstance(data, list):
        raise InputError(f"{path} should hold a list of queries.")
    out = []
    for index, item in enumerate(data[:limit] if limit is not None else data):
        if isinstance(item, dict) and isinstance(item.get("query"), str):
            out.append(AnswerQuery(int(item.get("qid", index)), item["query"], str(item.get("question_type")),
                                   str(item.get("answer") or "")))
    return out


def refused(answer: Answer) -> bool:
    return answer.mode is AnswerMode.NOT_FOUND and not answer.citations


def check_fired(answer: Answer) -> bool:
    """Whether the citation check removes anything from this answer: a model's raw text is checked
    as the answerer did (also when quotes replaced it); a quoted answer against its own citations."""
    if answer.raw:  # the model's answer, shown or replaced by quotes because nothing in it held up
        sources = {n: s for n, s, _ in number_sources(answer.passages)}
        return check_answer(answer.raw, sources, answer.passages).fired
    if answer.mode is AnswerMode.EXTRACTIVE:
        # Each quote ends with its marker; a quote may hold several sentences ("… said. “…”").
        sources = {c.number: c.source for c in answer.citations}
        quotes = re.findall(r".+?\[\d+\][.!?\"”’)]*(?=\s|$)", answer.text)
        return any(check_answer(q.strip(), sources, answer.passages).fired for q in quotes)
    return False


def score_answer(query: AnswerQuery, answer: Answer) -> AnswerScore:
    return AnswerScore(query.question_type, query.answer, answer.mode.value, refused(answer),
                       contains_answer(answer.text, query.answer), check_fired(answer))


async def answer_all(service, library: str, queries: Sequence[AnswerQuery]) -> list[AnswerScore]:
    """Each query through ``service.ask`` (one at a time, as a user would ask)."""
    scores = []
    for q in queries:
        final = None
        async for event in service.ask(library, q.query):
            if isinstance(event, AnswerDone):
                final = event.answer
        assert final is not None  # ask always ends with AnswerDone
        scores.append(score_answer(q, final))
    return scores


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def answer_report(scores: Sequence[AnswerScore], paper: dict | None) -> dict:
    """The answer figures as data; ``paper``: published anchors (``answer_anchors``) or None."""
    null = [s for s in scores if s.question_type == "null_query"]
    answerable = [s for s in scores if s.question_type != "null_query"]
    llm = any(s.mode == AnswerMode.LLM.value for s in scores)
    accuracy = {}
    for kind in sorted({s.question_type for s in answerable}):
        rows = [s for s in answerable if s.question_type == kind]
        named = [s for s in rows if normalise(s.gold) not in YES_NO]
        yes_no = [s for s in rows if normalise(s.gold) in YES_NO]
        accuracy[kind] = {
            "queries": len(rows),
            "named": len(named),
            "accuracy": _share([s.correct for s in named]),
            "yes_no": len(yes_no),
            # Only a model can say yes or no; a quoted answer is not scored on these.
            "yes_no_accuracy": _share([s.correct for s in yes_no]) if llm else None,
        }
    return {
        "answered_by": "llm" if llm else "extractive",
        "negative_rejection": {"null_queries": len(null), "refused": _share([s.refused for s in null])},
        "false_refusal": {"queries": len(answerable), "refused": _share([s.refused for s in answerable])},
        "accuracy": accuracy,
        "check_fired": _share([s.checked for s in scores if not s.refused]),
        "modes": {m: sum(1 for s in scores if s.mode == m) for m in sorted({s.mode for s in scores})},
        "published": paper,
    }


def answer_anchors(path: Path | None) -> dict | None:
    """MultiHop-RAG's GPT-4 generation accuracy (Table 6) and RGB's ChatGPT negative rejection."""
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        gpt4 = data["multihop_rag"]["table6_generation_accuracy"]["GPT-4"]
        rgb = data["rgb"]["negative_rejection_en_Rej_RejStar"]["ChatGPT"]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return {
        "multihop_gpt4_retrieved": float(gpt4[0]),
        "multihop_gpt4_gold_evidence": float(gpt4[1]),
        "rgb_chatgpt_rejection": round(float(rgb[0]) / 100, 4),
    }
