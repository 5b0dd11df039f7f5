"""Errors whose message tells the user what happened and what to do next."""

from __future__ import annotations

from typing import ClassVar


class NewsbotError(Exception):
    """Base error: ``str(err)`` is safe to show a user (no secrets, no traceback)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(NewsbotError):
    """A setting is missing or invalid."""


class InputError(NewsbotError):
    """Input was refused (empty, binary, too large, wrong type); nothing was stored."""


class FetchError(InputError):
    """A URL could not be fetched or is not allowed."""


class EmbedderMismatchError(NewsbotError):
    """The library was built with another embedder than the one configured."""


class StoreError(NewsbotError):
    """The vector store is unreachable or refused an operation."""


class LLMError(NewsbotError):
    """A language model (or embedding endpoint) failed. Subclasses say whether a retry may help
    (``retryable``) and give a short ``reason``; their messages are built by newsbot, never copied
    from the provider (whose text can echo request details)."""


class LLMTimeout(LLMError):
    retryable: ClassVar[bool] = True
    reason = "timed out"


class LLMDeadlineExceeded(LLMError):
    """The whole answer (every attempt, the waits between them, the streaming) took longer than
    the overall deadline; a retry would take longer still."""

    retryable: ClassVar[bool] = False
    reason = "took too long"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The language model did not finish its answer within {seconds:g} s.",
                         hint="Raise NEWSBOT_LLM_DEADLINE if it is usually this slow.")
        self.seconds = seconds


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


class LLMModelNotFound(LLMRequestRejected):
    """The endpoint does not serve the configured model (HTTP 404 naming the model)."""

    def __init__(self, message: str, *, status: int | None = 404, hint: str | None = None) -> None:
        super().__init__(message, status=status, hint=hint)
        self.reason = "model not found"
