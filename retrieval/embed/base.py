"""The Embedder interface: one abstract method, conveniences built on it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence

import numpy as np


class Embedder(ABC):
    """Turns texts into L2-normalised vectors.

    ``name`` identifies the model (recorded in each collection so a library is never queried
    with vectors from another model); ``max_tokens`` is the model's window in its own tokens,
    or None when unknown.
    """

    name: str = "embedder"
    max_tokens: int | None = None

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim)."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_multi(self, texts: Iterable[str], batch_size: int = 64) -> Iterator[np.ndarray]:
        batch: list[str] = []
        for text in texts:
            batch.append(text)
            if len(batch) == batch_size:
                yield from self.embed_batch(batch)
                batch = []
        if batch:
            yield from self.embed_batch(batch)

    @property
    def description(self) -> str:
        """What embeds, for reports (the name, unless an implementation knows more)."""
        return self.name

    def warm(self) -> None:
        """Load the model now rather than on first use (nothing to load by default)."""

    def count_tokens(self, text: str) -> int | None:
        """Tokens the model would see for ``text`` (special tokens included), or None if unknown."""
        return None
