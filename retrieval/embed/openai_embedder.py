"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import openai

from retrieval.embed.base import Embedder
from retrieval.errors import LLMError
from retrieval.openai_errors import llm_error_from_openai

if TYPE_CHECKING:
    import tiktoken

    from retrieval.settings import Settings

log = logging.getLogger(__name__)

MAX_BATCH = 512
_KNOWN_WINDOWS = {"text-embedding-3-small": 8191, "text-embedding-3-large": 8191, "text-embedding-ada-002": 8191}


class OpenAIEmbedder(Embedder):
    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        batch_size: int = MAX_BATCH,
        max_retries: int = 2,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.max_tokens = _KNOWN_WINDOWS.get(model)
        self.timeout = timeout
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self._client = client or openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=max_retries
        )
        self._encoding: tiktoken.Encoding | None | bool = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEmbedder:
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            model=settings.openai_embedding_model,
            base_url=settings.llm_base_url,
            api_key=key,
            timeout=settings.llm_timeout,
        )

    def _request(self, texts: list[str]) -> np.ndarray:
        error: LLMError | None = None
        try:
            response = self._client.embeddings.create(model=self.model, input=texts)
            rows = sorted(response.data, key=lambda item: item.index)
            vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a user-safe error
            log.debug("embedding request failed: %s", type(exc).__name__)
            error = llm_error_from_openai(exc, service="embedding service", timeout=self.timeout, model=self.model,
                                          model_setting="NEWSBOT_OPENAI_EMBEDDING_MODEL")
        if error is not None:
            raise error from None
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise LLMError(f"The embedding service returned {vectors.shape[0]} vectors for {len(texts)} texts.")
        return vectors

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # the API refuses empty strings
        cleaned = [text if text.strip() else " " for text in texts]
        parts = [self._request(cleaned[i : i + self.batch_size]) for i in range(0, len(cleaned), self.batch_size)]
        vectors = np.concatenate(parts, axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (vectors / norms).astype(np.float32)

    def count_tokens(self, text: str) -> int | None:
        """cl100k_base count for OpenAI's models (None if tiktoken's file is unavailable)."""
        if self._encoding is None:
            try:
                import tiktoken

                self._encoding = tiktoken.get_encoding("cl100k_base")
            except Exception:  # noqa: BLE001 - offline without the cache: unknown
                self._encoding = False
        if self._encoding is False or self.max_tokens is None:
            return None
        return len(self._encoding.encode(text, disallowed_special=()))  # type: ignore[union-attr]
