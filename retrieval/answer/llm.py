"""Chat models: one abstract streaming method, and retries of the errors they raise
(``retrieval.errors``: LLMTimeout, LLMRateLimited, ... each says whether a retry may help)."""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict, TypeVar

from retrieval.errors import LLMDeadlineExceeded, LLMError

T = TypeVar("T")

log = logging.getLogger(__name__)


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatModel(ABC):
    """A chat model: implement ``stream``."""

    name: str = "chat"

    @abstractmethod
    def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        """Yield the text deltas of ONE attempt; raise an ``LLMError`` subclass on failure."""


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, retry: int, error: LLMError, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): Retry-After, else backoff + jitter."""
        after = getattr(error, "retry_after", None)
        if after is not None:
            return min(max(after, 0.0), self.max_delay)
        backoff = min(self.base_delay * 2 ** (retry - 1), self.max_delay)
        return backoff / 2 + rand() * backoff / 2


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Restart:
    """The attempt failed; retry number ``attempt`` starts after ``delay`` seconds. Discard shown text."""

    attempt: int
    reason: str
    delay: float


StreamEvent = Delta | Restart


async def stream_with_retries(
    model: ChatModel,
    messages: Sequence[Message],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> AsyncIterator[StreamEvent]:
    """Stream deltas, retrying retryable errors; after the last attempt the last error is raised."""
    retry = 0
    while True:
        failure: LLMError | None = None
        try:
            async for text in model.stream(messages):
                yield Delta(text)
            return
        except LLMError as exc:
            if not getattr(exc, "retryable", False) or retry >= policy.max_retries:
                raise
            failure = exc
        retry += 1
        delay = policy.delay(retry, failure)
        yield Restart(attempt=retry, reason=getattr(failure, "reason", "error"), delay=delay)
        await sleep(delay)


async def within_deadline(events: AsyncIterator[T], seconds: float | None) -> AsyncIterator[T]:
    """``events`` as they come, until ``seconds`` have passed in all (None: no limit); then
    ``LLMDeadlineExceeded``. Each step runs in its own task, so whatever ``events`` awaits (a
    request, a stream, a backoff) is cancelled, and the consumer is never interrupted."""
    if seconds is None:
        async for event in events:
            yield event
        return
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    try:
        while True:
            try:
                event = await asyncio.wait_for(anext(events), max(end - loop.time(), 0.0))
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LLMDeadlineExceeded(seconds) from None
            yield event
    finally:
        await events.aclose()  # type: ignore[attr-defined]
