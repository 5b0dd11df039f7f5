"""Bulk embedding at low CPU priority, so questions and the bot's event loop come first.

Ingesting a corpus keeps every core busy with the embedding model for minutes. Run at normal
priority, that work competes with what people are waiting for: a question's own embedding and
search, and the Chroma writes during which the bot's event loop cannot run (embedded Chroma holds
the GIL for a whole write). ``LowPriorityEmbedder`` runs another embedder in one dedicated thread
whose Linux "nice" value is raised; threads started from it (onnxruntime's worker threads, which
MiniLM's session starts when the model loads there) inherit that priority. On an idle machine it
runs as fast as at normal priority; under contention the scheduler serves normal-priority threads first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from retrieval.embed.base import Embedder
from retrieval.embed.priority import lower_thread_priority


class LowPriorityEmbedder(Embedder):
    """Runs ``inner``'s model loading and embedding in one thread with a raised nice value.

    Give it an instance of its own whose model is not loaded yet (MiniLM loads on first use), so
    the model's worker threads start inside the low-priority thread. ``count_tokens`` runs in the
    caller's thread: it is a quick tokeniser call that must not queue behind a batch.
    """

    def __init__(self, inner: Embedder, *, nice: int = 10) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.nice = nice
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="newsbot-embed-bg",
            initializer=lower_thread_priority,
            initargs=(nice,),
        )
        self._warm_lock = threading.Lock()
        self._warmed = False

    def warm(self) -> None:
        """Load ``inner``'s model in the low-priority thread (once)."""
        with self._warm_lock:
            if not self._warmed:
                self._pool.submit(self.inner.warm).result()
                self._warmed = True

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.warm()
        return self._pool.submit(self.inner.embed_batch, texts).result()

    def count_tokens(self, text: str) -> int | None:
        self.warm()  # so a first call here cannot load the model in the caller's thread
        return self.inner.count_tokens(text)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
