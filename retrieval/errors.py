"""Errors whose message tells the user what happened and what to do next."""

from __future__ import annotations


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
    """The language model failed after its retries."""
