"""Articles -> chunks -> vectors -> Chroma, with content-hash dedupe and crash-safe updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import tiktoken

from retrieval.chunking import chunk_article
from retrieval.embeddings import Embedder
from retrieval.models import Article, Chunk, IngestResult, IngestStatus
from retrieval.store import ChromaStore

Progress = Callable[[int, int], None]  # (articles done, articles total)


class Ingestor:
    def __init__(
        self,
        store: ChromaStore,
        embedder: Embedder,
        encoding: tiktoken.Encoding,
        *,
        chunk_tokens: int = 200,
        chunk_overlap: int = 40,
        batch_chunks: int = 256,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._encoding = encoding
        self._chunk_tokens = chunk_tokens
        self._chunk_overlap = chunk_overlap
        self._batch_chunks = batch_chunks

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
        article; a leftover older version is cleaned up the next time the article is added.
        """
        items = list(articles)
        results: list[IngestResult] = []
        pending: list[tuple[Chunk, ...]] = []
        stale: list[str] = []
        pending_count = 0
        seen: set[str] = set()
        for done, article in enumerate(items, start=1):
            if article.id in seen:
                results.append(IngestResult(article.id, article.title, IngestStatus.UNCHANGED, 0))
            else:
                seen.add(article.id)
                versions = self._store.versions(library, article.id)
                current = versions.get(article.content_hash, [])
                older = [cid for h, ids in versions.items() if h != article.content_hash for cid in ids]
                chunks = self.chunk(article)
                if current and len(current) == len(chunks) and not older:
                    results.append(IngestResult(article.id, article.title, IngestStatus.UNCHANGED, len(current)))
                else:
                    status = IngestStatus.UPDATED if versions else IngestStatus.ADDED
                    keep = set(c.id for c in chunks)
                    stale.extend(cid for ids in versions.values() for cid in ids if cid not in keep)
                    fresh = tuple(c for c in chunks if c.id not in set(current))
                    pending.append(fresh)
                    pending_count += len(fresh)
                    results.append(IngestResult(article.id, article.title, status, len(chunks)))
            if pending_count >= self._batch_chunks:
                self._flush(library, pending, stale)
                pending, stale, pending_count = [], [], 0
            if progress:
                progress(done, len(items))
        self._flush(library, pending, stale)
        return results

    def _flush(self, library: str, pending: list[tuple[Chunk, ...]], stale: list[str]) -> None:
        chunks = [c for group in pending for c in group]
        if chunks:
            vectors = self._embedder.embed_batch([c.embed_text for c in chunks])
            self._store.add(library, chunks, vectors)
        self._store.delete(library, stale)

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

        # Materialise first: the source collection is dropped when the rebuilt one is swapped in.
        return self._store.rebuild(library, iter(list(batches())))
