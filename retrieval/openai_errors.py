"""The ``openai`` client's exceptions as newsbot's user-safe LLM errors (``retrieval.errors``),
for the chat model and the embedder that talk to OpenAI-compatible endpoints."""

from __future__ import annotations

import email.utils
import time

import openai

from retrieval.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMModelNotFound,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
)


def retry_after_seconds(headers: object) -> float | None:
    """Read ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date); None when absent."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    try:
        ms = get("retry-after-ms")
        if ms is not None:
            return max(float(ms) / 1000.0, 0.0)
        value = get("retry-after")
        if value is None:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(when.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, OverflowError):
        return None


def _names_a_model(exc: openai.APIStatusError) -> bool:
    """Whether a 404 is about the model (OpenAI: code model_not_found; vLLM, Ollama: the message says
    so) rather than the address (a base URL without /v1)."""
    return exc.code == "model_not_found" or "model" in str(exc.message).lower()


def llm_error_from_openai(
    exc: BaseException, *, service: str = "language model", timeout: float | None = None, received: bool = False,
    model: str | None = None, model_setting: str = "NEWSBOT_LLM_MODEL",
) -> LLMError:
    """Translate an ``openai`` (or parsing) exception into one of our user-safe errors; ``model`` and
    ``model_setting`` name what was asked for, and where it is set, when the server does not have it."""
    if isinstance(exc, openai.APITimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return LLMTimeout(f"The {service} did not answer{within}.")
    if isinstance(exc, openai.APIConnectionError):
        if received:
            return LLMBadResponse(f"The {service}'s reply was cut off.")
        return LLMServerError(f"Could not reach the {service}.", hint="Check OPENAI_BASE_URL.")
    if isinstance(exc, openai.RateLimitError):
        after = retry_after_seconds(exc.response.headers)
        return LLMRateLimited(f"The {service} is rate limiting requests (HTTP 429).", retry_after=after)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            return LLMAuthError(f"The {service} refused the API key (HTTP {status}).", hint="Check OPENAI_API_KEY.")
        if status >= 500:
            return LLMServerError(f"The {service} had a server error (HTTP {status}).", status=status)
        if status == 404 and model and _names_a_model(exc):
            return LLMModelNotFound(
                f"The {service} server has no model “{model}” (HTTP 404).",
                hint=f"Set {model_setting} to a model it serves.",
            )
        if status in (408, 409):
            return LLMServerError(f"The {service} could not handle the request now (HTTP {status}).", status=status)
        return LLMRequestRejected(
            f"The {service} rejected the request (HTTP {status}).",
            status=status,
            hint="Check the model name and OPENAI_BASE_URL.",
        )
    if isinstance(exc, (openai.APIError, openai.OpenAIError, ValueError, KeyError, TypeError, AttributeError)):
        return LLMBadResponse(f"The {service} sent a reply that could not be read.")
    return LLMBadResponse(f"The {service} failed unexpectedly ({type(exc).__name__}).")
