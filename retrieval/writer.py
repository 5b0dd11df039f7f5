"""Every change to a library, one at a time.

In this process a lock per library makes writers queue (two /add of one article must not both find
it missing and add it twice); across processes the store makes them take turns too (an on-disk
folder is held by one process, and on a Chroma server a library's writers hold its write lease).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

from retrieval.ingest.pipeline import Ingestor, Progress
from retrieval.models import Article, IngestResult
from retrieval.store.chroma import ChromaStore
from retrieval.store.chroma_records import validate_library


class LibraryWriter:
    """Adds, removes, drops and rebuilds libraries, each write holding its library. Blocking."""

    def __init__(self, store: ChromaStore, ingestor: Ingestor) -> None:
        self.store = store
        self.ingestor = ingestor
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()  # over _locks: writers arrive in several worker threads

    @contextlib.contextmanager
    def holding(self, library: str) -> Iterator[None]:
        """Hold ``library`` for one write: against this process's other writers, then others'."""
        with self._guard:
            lock = self._locks.setdefault(validate_library(library), threading.Lock())
        with lock, self.store.writing(library):
            yield

    def ingest(self, library: str, articles: Sequence[Article], progress: Progress | None = None) -> list[IngestResult]:
        """Chunk, embed and store ``articles`` (see Ingestor.ingest)."""
        with self.holding(library):
            return self.ingestor.ingest(library, articles, progress)

    def remove(self, library: str, article_id: str) -> bool:
        """Delete every stored version of an article; False when there was none."""
        with self.holding(library):
            ids = [cid for v in self.store.versions(library, article_id).values() for cid in v.ids]
            self.store.delete(library, ids)
        return bool(ids)

    def drop(self, library: str) -> None:
        with self.holding(library):
            self.store.drop(library)

    def reindex(self, library: str, progress: Progress | None = None) -> int:
        """Re-embed every chunk with the configured embedder; the number written."""
        with self.holding(library):
            return self.ingestor.reindex(library, progress)
