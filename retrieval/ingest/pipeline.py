"""Articles -> chunks -> vectors -> Chroma, with content-hash dedupe and crash-safe updates."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import tiktoken

from retrieval.embed.base import Embedder
from retrieval.models import Article, Chunk, IngestResult, IngestStatus
from retrieval.store.chroma import ChromaStore
from retrieval.text.chunking import chunk_article

Progress = Callable[[int, int], None]  # (articles done, articles total)


class _Writer:
    """Chroma writes in one background thread, in submission order; at most two batches queued.

    Each batch adds its new chunks, then deletes the ones they replace. Leaving the ``with``
    block waits for every write; the first failure is raised (later batches are not written).
    """

    def __init__(self, store: ChromaStore, library: str) -> None:
        self._store, self._library = store, library
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-writer")
        self._queued: deque[Future] = deque()
        self._failed = False

    def submit(self, chunks: list[Chunk], vectors: np.ndarray | None, stale: list[str]) -> None:
        while len(self._queued) >= 2 or (self._queued and self._queued[0].done()):
            self._queued.popleft().result()  # raises the writer's error here, stopping the ingest
        if chunks or stale:
            self._queued.append(self._pool.submit(self._write, chunks, vectors, stale))

    def _write(self, chunks: list[Chunk], vectors: np.ndarray | None, stale: list[str]) -> None:
        if self._failed:
            return  # an earlier batch failed: write nothing after it
        try:
            if chunks:
                self._store.add(self._library, chunks, vectors)
            self._store.delete(self._library, stale)
        except BaseException:
            self._failed = True
            raise

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self._queued:
                future = self._queued.popleft()
                if exc[0] is None:
                    future.result()
                else:
                    future.cancel() or future.exception()  # finish what started, then re-raise the first error
        finally:
            self._pool.shutdown(wait=True)


class Ingestor:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        encoding: tiktoken.Encoding,
        *,
        chunk_tokens: int = 200,
        chunk_overlap: int = 40,
        batch_chunks: int = 512,
        lookahead: int = 64,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._encoding = encoding
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap
        self._batch_chunks = batch_chunks
        self._lookahead = lookahead

    def fits(self, text: str) -> bool:
        """True when the embedder sees all of ``text`` (no silent truncation)."""
        window = self._embedder.max_tokens
        n = self._embedder.count_tokens(text)
        return window is None or n is None or n <= window

    def chunk(self, article: Article) -> list[Chunk]:
        return chunk_article(
            article,
            encoding=self._encoding,
            max_tokens=self._chunk_tokens,
            overlap_tokens=self._chunk_overlap,
            fits=self.fits,
        )

    def ingest(self, library: str, articles: Iterable[Article], progress: Progress | None = None) -> list[IngestResult]:
        """Add articles; an unchanged article is skipped, a changed one replaces its old chunks.

        New chunks are written before old ones are deleted, so an interruption never loses an
        article; a leftover older version is cleaned up the next time the article is added, and a
        version cut short (not shown until complete) gets the chunks it lacks.
        Chroma writes run in one background thread, in order, while the next batch is embedded.
        """
        items = list(articles)
        results: list[IngestResult] = []
        pending: list[tuple[Chunk, ...]] = []
        stale: list[str] = []
        pending_count = 0
        seen: set[str] = set()
        known: dict[str, dict[str, list[str]]] = {}
        with _Writer(self._store, library) as writer:
            for done, article in enumerate(items, start=1):
                if article.id not in known:  # look up stored versions for the next articles at once
                    ahead = list(dict.fromkeys(a.id for a in items[done - 1 : done - 1 + self._lookahead]))
                    known = {aid: {} for aid in ahead} | self._store.versions_many(library, ahead)
                if article.id in seen:
                    results.append(IngestResult(article.id, article.title, IngestStatus.UNCHANGED, 0))
                else:
                    seen.add(article.id)
                    versions = known.get(article.id, {})
                    current = versions[article.content_hash].ids if article.content_hash in versions else []
                    older = [cid for h, v in versions.items() if h != article.content_hash for cid in v.ids]
                    chunks = self.chunk(article)
                    if current and len(current) == len(chunks) and not older:
                        results.append(IngestResult(article.id, article.title, IngestStatus.UNCHANGED, len(current)))
                    else:
                        # A version cut short by a crash was never shown: completing it adds the article.
                        shown = any(v.complete for v in versions.values())
                        status = IngestStatus.UPDATED if shown else IngestStatus.ADDED
                        keep = set(c.id for c in chunks)
                        stale.extend(cid for v in versions.values() for cid in v.ids if cid not in keep)
                        stored = set(current)
                        fresh = tuple(c for c in chunks if c.id not in stored)
                        pending.append(fresh)
                        pending_count += len(fresh)
                        results.append(IngestResult(article.id, article.title, status, len(chunks)))
                if pending_count >= self._batch_chunks:
                    self._flush(writer, pending, stale)
                    pending, stale, pending_count = [], [], 0
                if progress:
                    progress(done, len(items))
            self._flush(writer, pending, stale)
        return results

    def _flush(self, writer: _Writer, pending: list[tuple[Chunk, ...]], stale: list[str]) -> None:
        chunks = [c for group in pending for c in group]
        vectors = self._embedder.embed_batch([c.embed_text for c in chunks]) if chunks else None
        writer.submit(chunks, vectors, list(stale))

    def reindex(self, library: str, progress: Progress | None = None) -> int:
        """Re-embed every chunk of a library with the configured embedder (``newsbot reindex``)."""
        total = self._store.count(library)

        def batches() -> Iterator[tuple[list[Chunk], np.ndarray]]:
            done = 0
            batch: list[Chunk] = []
            for chunk, _ in self._store.iter_chunks(library):
                batch.append(chunk)
                if len(batch) >= self._batch_chunks:
                    yield batch, self._embedder.embed_batch([c.embed_text for c in batch])
                    done += len(batch)
                    batch = []
                    if progress:
                        progress(done, total)
            if batch:
                yield batch, self._embedder.embed_batch([c.embed_text for c in batch])
                if progress:
                    progress(total, total)

        # rebuild() consumes every batch before it drops the old collection, so streaming is safe.
        return self._store.rebuild(library, batches())
