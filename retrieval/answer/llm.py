"""Chat models: one abstract streaming method, the errors they raise, and retries.

Errors raised here carry messages built by us (never the provider's text, which can echo
request details), and are raised ``from None`` so a logged traceback cannot leak them either.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypedDict

from retrieval.errors import LLMError

log = logging.getLogger(__name__)


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


# --------------------------------------------------------------------------- errors


class LLMTimeout(LLMError):
    retryable: ClassVar[bool] = True
    reason = "timed out"


class LLMRateLimited(LLMError):
    retryable: ClassVar[bool] = True
    reason = "rate limited"

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class LLMServerError(LLMError):
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = f"server error {status}" if status else "unreachable"


class LLMBadResponse(LLMError):
    retryable: ClassVar[bool] = True
    reason = "broken reply"


class LLMAuthError(LLMError):
    retryable: ClassVar[bool] = False
    reason = "API key refused"


class LLMRequestRejected(LLMError):
    """Another 4xx (unknown model, bad parameter): retrying would not help."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = f"request rejected ({status})"


# --------------------------------------------------------------------------- models


class ChatModel(ABC):
    """A chat model. Implement ``stream``; ``complete`` is built on it."""

    name: str = "chat"

    @abstractmethod
    def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        """Yield the text deltas of ONE attempt; raise an ``LLMError`` subclass on failure."""

    async def complete(self, messages: Sequence[Message]) -> str:
        return "".join([delta async for delta in self.stream(messages)])


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

