"""Chunks as Chroma records: library names, metadata to and from Chunk/Source, batched writes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from retrieval.errors import InputError
from retrieval.models import Chunk, Source

# Records per Chroma add/delete. Embedded Chroma holds Python's GIL for a whole write (its reads
# release it), so a bot ingesting in a worker thread stalls its event loop for as long as one write
# takes, and a write takes longer the more records it carries (more so while the model embeds):
# small batches keep every stall short (bench/responsiveness.py measures them). Chroma's own cap
# is 5,461.
WRITE_BATCH = 16
_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")


def validate_library(name: str) -> str:
    if not _LIBRARY_NAME.match(name or ""):
        raise InputError(
            f"'{name}' is not a valid library name.",
            hint="Use 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit.",
        )
    return name


def metadata_of(chunk: Chunk) -> dict[str, str | int]:
    src = chunk.source
    meta: dict[str, str | int] = {
        "article_id": src.article_id,
        "title": src.title,
        "position": chunk.position,
        "content_hash": chunk.content_hash,
    }
    if chunk.parts:
        meta["parts"] = chunk.parts
    if src.publisher:
        meta["publisher"] = src.publisher
    if src.url:
        meta["url"] = src.url
    if src.published:
        meta["published"] = src.published.isoformat()
        meta["published_int"] = int(src.published.strftime("%Y%m%d"))
    return meta


def source_of(meta: dict) -> Source:
    published = meta.get("published")
    return Source(
        article_id=str(meta["article_id"]),
        title=str(meta.get("title", "")),
        publisher=meta.get("publisher"),
        url=meta.get("url"),
        published=date.fromisoformat(published) if published else None,
    )


def chunk_of(chunk_id: str, document: str | None, meta: dict) -> Chunk:
    return Chunk(
        id=chunk_id,
        source=source_of(meta),
        position=int(meta.get("position", 0)),
        text=document or "",
        content_hash=str(meta.get("content_hash", "")),
        parts=int(meta.get("parts", 0)),
    )


def paced(count: int, write: Callable[[int, int], None], pause: Callable[[float], None]) -> None:
    """``write(start, end)`` over ``range(count)`` in WRITE_BATCH slices, pausing after each one but
    the last for as long as it took: between writes, the event loop and questions get the GIL for at
    least as long as they waited. In an ingest the pauses overlap the embedding of the next batch."""
    took = 0.0
    for start in range(0, count, WRITE_BATCH):
        if start:
            pause(took)
        began = time.perf_counter()
        write(start, min(start + WRITE_BATCH, count))
        took = time.perf_counter() - began


def no_pause(_: float) -> None:
    """For a Chroma server: over HTTP the GIL is free while Chroma writes, so nothing waits."""


def write_chunks(col: Any, chunks: Sequence[Chunk], embeddings: np.ndarray, pause: Callable[[float], None]) -> None:
    """Add chunks with their vectors, WRITE_BATCH at a time."""

    def write(start: int, end: int) -> None:
        batch = chunks[start:end]
        col.add(
            ids=[c.id for c in batch],
            embeddings=np.asarray(embeddings[start:end], dtype=np.float32),
            documents=[c.text for c in batch],
            metadatas=[metadata_of(c) for c in batch],
        )

    paced(len(chunks), write, pause)
