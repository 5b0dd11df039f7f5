"""Turn a question and ranked passages into a cited answer, streamed as events.

No passages, or passages that lack the names the question asks about (``grounding``) -> NOT_FOUND
without calling the model, with a note naming what is missing. No model -> extractive answer.
Model -> stream with retries; the answer is checked sentence by sentence (``checking``): invented
or unsupported citations are dropped, and so are sentences left without one. A model that says it
found nothing -> NOT_FOUND; one that answered but whose answer keeps no cited sentence, or that
keeps failing -> extractive answer with a note. Never raises for LLM failures.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum

import tiktoken

from retrieval.answer.checking import check_answer
from retrieval.answer.citations import NOT_FOUND, number_sources, strip_citations
from retrieval.answer.extractive import extractive_answer
from retrieval.answer.grounding import check_grounding
from retrieval.answer.llm import ChatModel, Delta, Message, Restart, RetryPolicy, stream_with_retries, within_deadline
from retrieval.answer.prompts import PromptSet
from retrieval.embed.base import Embedder
from retrieval.errors import LLMDeadlineExceeded, LLMError, NewsbotError
from retrieval.models import Answer, AnswerMode, Passage, Source

log = logging.getLogger(__name__)

NO_LLM_NOTE = "No LLM is configured, so this answer quotes the articles directly."
UNCHECKED_NOTE = (
    "The language model's answer could not be checked against the sources, so this answer quotes the articles directly."
)
TOO_LONG_NOTE = "The question is too long for the language model's context, so this answer quotes the articles directly."
_MIN_TRUNCATED_TOKENS = 24


def unavailable_note(reason: str) -> str:
    return f"The language model is unavailable right now ({reason}), so this answer quotes the articles directly."


def failure_note(error: LLMError) -> str:
    """What the user reads when the model failed: a passing failure in a few words; one that needs
    the operator (a refused key, an unknown model) in full, with the setting to fix."""
    if isinstance(error, LLMDeadlineExceeded):
        return f"The language model took too long (over {error.seconds:g} s), so this answer quotes the articles directly."
    if getattr(error, "retryable", False):
        return unavailable_note(getattr(error, "reason", "error"))
    return f"{error} Until then, answers quote the articles directly."


class Stage(Enum):
    """What the answer is waiting for; front ends put it into words."""

    SEARCHING = "searching"  # the library is being searched
    WRITING = "writing"  # the language model is writing
    QUOTING = "quoting"  # sentences are being picked from the articles (no model, or it failed)
    RETRYING = "retrying"  # the model's attempt failed and it is asked again


@dataclass(frozen=True)
class AnswerStatus:
    """A change of stage. RETRYING says why the attempt failed (an ``LLMError`` reason such as
    "rate limited" or "timed out"), which retry this is and how many there may be."""

    stage: Stage
    reason: str | None = None
    attempt: int = 0
    max_attempts: int = 0


@dataclass(frozen=True)
class AnswerDelta:
    """Raw model text; may include citations that will be dropped from the final answer."""

    text: str


@dataclass(frozen=True)
class AnswerReset:
    """Discard the deltas shown so far (the model is retrying, or the answer falls back)."""


@dataclass(frozen=True)
class AnswerDone:
    answer: Answer


AnswerEvent = AnswerStatus | AnswerDelta | AnswerReset | AnswerDone


@dataclass(frozen=True)
class Prompt:
    messages: tuple[Message, ...]
    sources: dict[int, Source]
    passages: tuple[Passage, ...]
    tokens: int


def not_found(*, raw: str = "", note: str | None = None, passages: Sequence[Passage] = ()) -> Answer:
    return Answer(text=NOT_FOUND, citations=(), mode=AnswerMode.NOT_FOUND, raw=raw, note=note, passages=tuple(passages))


class Answerer:
    def __init__(
        self,
        *,
        chat: ChatModel | None,
        prompts: PromptSet,
        encoding: tiktoken.Encoding,
        context_tokens: int,
        retry: RetryPolicy,
        deadline: float | None = None,
        embedder: Embedder | None = None,
        today: Callable[[], date] = date.today,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._chat = chat
        self._prompts = prompts
        self._encoding = encoding
        self._context_tokens = context_tokens
        self._retry = retry
        self._deadline = deadline  # seconds for the model's whole answer, retries included (None: no limit)
        self._embedder = embedder
        self._today = today
        self._sleep = sleep

    # ------------------------------------------------------------------ prompt
    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Chat-format estimate: content tokens + 4 per message + 3 for the reply primer."""
        return 3 + sum(4 + len(self._encoding.encode(m["content"], disallowed_special=())) for m in messages)

    def _render(self, question: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]]) -> Prompt:
        groups = number_sources(passages)
        blocks = [
            self._prompts.render_source(n, source, [p.text for p in sorted(group, key=lambda p: p.position)])
            for n, source, group in groups
        ]
        user = self._prompts.render_user(sources=blocks, question=question, today=self._today(), history=history)
        messages = (Message(role="system", content=self._prompts.system), Message(role="user", content=user))
        return Prompt(messages, {n: s for n, s, _ in groups}, tuple(passages), self.count_tokens(messages))

    def build_prompt(
        self, question: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]] = ()
    ) -> Prompt | None:
        """Add passages in rank order while the whole prompt fits ``context_tokens``; None if nothing fits."""
        budget = self._context_tokens
        if self._render(question, (), history).tokens > budget:
            history = ()
        base = self._render(question, (), history)
        if base.tokens > budget:
            return None
        included: list[Passage] = []
        best: Prompt | None = None
        for passage in passages:
            trial = self._render(question, [*included, passage], history)
            if trial.tokens <= budget:
                included.append(passage)
                best = trial
        if best is not None:
            return best
        return self._truncated(question, passages[0], history, budget - base.tokens)

    def _truncated(self, question: str, top: Passage, history: Sequence[tuple[str, str]], room: int) -> Prompt | None:
        """The top passage cut to fit, when even it alone is too long."""
        tokens = self._encoding.encode(top.text, disallowed_special=())
        keep = room - 48  # the block's own header and delimiters
        while keep >= _MIN_TRUNCATED_TOKENS:
            short = replace(top, text=self._encoding.decode(tokens[:keep]).rstrip() + " …")
            prompt = self._render(question, [short], history)
            if prompt.tokens <= self._context_tokens:
                return prompt
            keep -= max(8, prompt.tokens - self._context_tokens)
        return None

    # ------------------------------------------------------------------ answering
    async def _extractive(self, question: str, passages: Sequence[Passage], note: str) -> Answer:
        try:
            text, citations = await asyncio.to_thread(extractive_answer, question, passages, embedder=self._embedder)
        except NewsbotError as exc:
            log.warning("embedder failed during extractive answer (%s: %s); using word overlap only", type(exc).__name__, exc)
            text, citations = await asyncio.to_thread(extractive_answer, question, passages)
        if not text:
            return not_found(note=note, passages=passages)
        return Answer(text=text, citations=citations, mode=AnswerMode.EXTRACTIVE, note=note, passages=tuple(passages))

    async def _finish(self, question: str, raw: str, prompt: Prompt) -> Answer:
        if strip_citations(raw).strip() in ("", NOT_FOUND):
            return not_found(raw=raw, passages=prompt.passages)
        checked = check_answer(raw, prompt.sources, prompt.passages)
        if checked.fired:
            log.info(
                "model answer checked: %d uncited, %d unsupported citations, %d planted sentences dropped",
                checked.uncited, checked.unsupported, checked.planted,
            )
        if not checked.citations or strip_citations(checked.text) == NOT_FOUND:
            answer = await self._extractive(question, prompt.passages, UNCHECKED_NOTE)
            return replace(answer, raw=raw)
        return Answer(text=checked.text, citations=checked.citations, mode=AnswerMode.LLM, raw=raw, passages=prompt.passages)

    async def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[tuple[str, str]] = (),
        *,
        publishers: Sequence[str] = (),
    ) -> AsyncIterator[AnswerEvent]:
        """``publishers``: the library's, so a question naming one it lacks is refused."""
        if not passages:
            yield AnswerDone(not_found())
            return
        refusal = check_grounding(question, passages, publishers)
        if refusal is not None:
            yield AnswerDone(not_found(note=refusal.note, passages=passages))
            return
        if self._chat is None:
            yield AnswerStatus(Stage.QUOTING)
            yield AnswerDone(await self._extractive(question, passages, NO_LLM_NOTE))
            return
        prompt = self.build_prompt(question, passages, history)
        if prompt is None:
            yield AnswerDone(await self._extractive(question, passages, TOO_LONG_NOTE))
            return
        yield AnswerStatus(Stage.WRITING)
        parts: list[str] = []
        try:
            attempts = stream_with_retries(self._chat, prompt.messages, self._retry, sleep=self._sleep)
            async for event in within_deadline(attempts, self._deadline):
                if isinstance(event, Delta):
                    parts.append(event.text)
                    yield AnswerDelta(event.text)
                elif isinstance(event, Restart):
                    if parts:
                        parts.clear()
                        yield AnswerReset()
                    yield AnswerStatus(Stage.RETRYING, event.reason, event.attempt, self._retry.max_retries)
        except LLMError as exc:
            if isinstance(exc, LLMDeadlineExceeded):
                log.warning("language model answer stopped at the deadline: %s", exc)
            elif getattr(exc, "retryable", False):
                log.warning("language model failed after %d attempts: %s", self._retry.max_retries + 1, exc)
            else:
                log.warning("language model refused the request (not retried): %s", exc)
            if parts:
                yield AnswerReset()
            yield AnswerStatus(Stage.QUOTING)
            yield AnswerDone(await self._extractive(question, passages, failure_note(exc)))
            return
        done = await self._finish(question, "".join(parts), prompt)
        if done.mode is AnswerMode.EXTRACTIVE and parts:
            yield AnswerReset()
        yield AnswerDone(done)
