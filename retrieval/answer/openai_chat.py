"""The OpenAI-compatible chat model (OpenAI, vLLM, Ollama, llama.cpp server) and the mapping of the
``openai`` client's exceptions to newsbot's LLM errors. Imported only when an LLM is configured.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import openai

from retrieval.answer.llm import (
    ChatModel,
    LLMAuthError,
    LLMBadResponse,
    LLMError,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    Message,
)

if TYPE_CHECKING:
    from retrieval.settings import Settings

log = logging.getLogger(__name__)

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


def llm_error_from_openai(
    exc: BaseException, *, service: str = "language model", timeout: float | None = None, received: bool = False
) -> LLMError:
    """Translate an ``openai`` (or parsing) exception into one of our user-safe errors."""
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


class OpenAIChatModel(ChatModel):
    """Any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, llama.cpp...)."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout: float,
        max_tokens: int,
        temperature: float = 0.1,
        client: openai.AsyncOpenAI | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._client = client or openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=0
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel | None:
        if not settings.llm_configured:
            return None
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            base_url=settings.llm_base_url,
            api_key=key,
            model=settings.llm_model,
            timeout=settings.llm_timeout,
            max_tokens=settings.llm_max_tokens,
        )

    def _params(self, messages: Sequence[Message]) -> dict[str, object]:
        return {
            "model": self.model,
            "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def _error(self, exc: BaseException, received: bool = False) -> LLMError:
        log.debug("chat request failed: %s", type(exc).__name__)
        return llm_error_from_openai(exc, timeout=self.timeout, received=received)

    async def stream(self, messages: Sequence[Message]) -> AsyncIterator[str]:
        received = False
        error: LLMError | None = None
        try:
            response = await self._client.chat.completions.create(**self._params(messages), stream=True)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a user-safe LLMError
            error = self._error(exc)
        if error is not None:
            raise error from None
        try:
            async for chunk in response:
                if not chunk.choices:
                    continue
                content = chunk.choices[0].delta.content if chunk.choices[0].delta else None
                if content:
                    received = True
                    yield content
        except Exception as exc:  # noqa: BLE001
            error = self._error(exc, received)
        finally:
            await response.close()
        if error is not None:
            raise error from None
        if not received:
            raise LLMBadResponse("The language model sent an empty reply.")

    async def complete(self, messages: Sequence[Message]) -> str:
        """One non-streaming request."""
        error: LLMError | None = None
        text: str | None = None
        try:
            completion = await self._client.chat.completions.create(**self._params(messages))
            text = completion.choices[0].message.content if completion.choices else None
        except Exception as exc:  # noqa: BLE001
            error = self._error(exc)
        if error is not None:
            raise error from None
        if not text:
            raise LLMBadResponse("The language model sent an empty reply.")
        return text
