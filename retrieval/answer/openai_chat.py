"""The OpenAI-compatible chat model (OpenAI, vLLM, Ollama, llama.cpp server). Imported only when
an LLM is configured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

import openai

from retrieval.answer.llm import ChatModel, Message
from retrieval.errors import LLMBadResponse, LLMError
from retrieval.openai_errors import llm_error_from_openai

if TYPE_CHECKING:
    from retrieval.settings import Settings

log = logging.getLogger(__name__)

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
        return llm_error_from_openai(exc, timeout=self.timeout, received=received, model=self.model)

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
