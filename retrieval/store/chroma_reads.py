"""ChromaStore's reads: what a library holds, as typed objects (mixed into ``ChromaStore``).

An article version is shown (listed, counted) only once all its chunks are stored: each chunk
records how many its version has (``parts``), and a write cut short leaves fewer."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from retrieval.models import ArticleSummary, Chunk, Source, StoredVersion
from retrieval.store.chroma_errors import Location, chroma_call
from retrieval.store.chroma_records import chunk_of, source_of

T = TypeVar("T")


class ChromaReads:
    """Reads of one library's collection. ``ChromaStore`` provides the collections: ``_collection``
    opens one (None when the library does not exist), ``_read`` runs a read on a cached handle."""

    if TYPE_CHECKING:
        location: Location

        def _collection(self, library: str, *, create: bool = True, check: bool = True) -> Any: ...

        def _read(self, library: str, read: Callable[[Any], T], default: T, *, check: bool = True) -> T: ...

    # -- reads -------------------------------------------------------------------------------
    @chroma_call("reading an article's chunks")
    def versions(self, library: str, article_id: str) -> dict[str, StoredVersion]:
        """What is stored of an article, by content hash (more than one: an update was interrupted)."""
        return self.versions_many(library, [article_id]).get(article_id, {})

    @chroma_call("reading articles' chunks")
    def versions_many(self, library: str, article_ids: Sequence[str]) -> dict[str, dict[str, StoredVersion]]:
        """``versions`` of several articles in one Chroma call: {article id: {content hash: version}}."""
        if not article_ids:
            return {}
        col = self._collection(library)
        where = {"article_id": article_ids[0]} if len(article_ids) == 1 else {"article_id": {"$in": list(article_ids)}}
        got = col.get(where=where, include=["metadatas"])
        out: dict[str, dict[str, StoredVersion]] = {}
        for (article_id, digest), version in by_version(zip(got["ids"], got["metadatas"] or [])).items():
            out.setdefault(article_id, {})[digest] = version
        return out

    @chroma_call("counting chunks")
    def count(self, library: str) -> int:
        col = self._collection(library, create=False, check=False)
        return 0 if col is None else col.count()

    @chroma_call("searching")
    def nearest(self, library: str, embedding: np.ndarray, n: int, *, since: date | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) of the ``n`` nearest chunks (of articles published on or after
        ``since``, when given), without fetching their text (most candidates are dropped later; the
        text of the few kept is read with ``get``)."""
        vector = [np.asarray(embedding, dtype=np.float32)]
        # Every dated chunk has carried its day as an integer since the first library was written.
        where = None if since is None else {"published_int": {"$gte": int(since.strftime("%Y%m%d"))}}

        def read(col) -> list[tuple[str, float]]:
            res = col.query(query_embeddings=vector, n_results=max(1, n), where=where, include=["distances"])
            return list(zip(res["ids"][0], (float(d) for d in res["distances"][0])))

        return self._read(library, read, [])

    @chroma_call("reading chunks")
    def get(self, library: str, ids: Sequence[str], *, with_embeddings: bool = False) -> tuple[list[Chunk], np.ndarray | None]:
        none: tuple[list[Chunk], np.ndarray | None] = ([], np.zeros((0, 0), dtype=np.float32) if with_embeddings else None)
        if not ids:
            return none
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])

        def read(col) -> tuple[list[Chunk], np.ndarray | None]:
            got = col.get(ids=list(ids), include=include)
            chunks = [chunk_of(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
            return chunks, (np.asarray(got["embeddings"], dtype=np.float32) if with_embeddings else None)

        # the text is readable whatever built the vectors: the embedder is checked only for them
        return self._read(library, read, none, check=with_embeddings)

    @chroma_call("reading vectors")
    def vectors(self, library: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of ``ids`` that exist (no text: a third of the cost of ``get``)."""
        if not ids:
            return {}

        def read(col) -> dict[str, np.ndarray]:
            got = col.get(ids=list(ids), include=["embeddings"])
            return {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(got["ids"], got["embeddings"])}

        return self._read(library, read, {})

    @chroma_call("listing chunks")
    def ids(self, library: str) -> list[str]:
        col = self._collection(library, create=False, check=False)
        if col is None:
            return []
        out: list[str] = []
        offset, page = 0, 20000
        while True:
            got = col.get(include=[], limit=page, offset=offset)
            out.extend(got["ids"])
            if len(got["ids"]) < page:
                return out
            offset += page

    @chroma_call("reading chunks")
    def iter_chunks(self, library: str, *, batch: int = 2000, with_embeddings: bool = False) -> Iterator[tuple[Chunk, np.ndarray | None]]:
        col = self._collection(library, create=False, check=False)
        if col is None:
            return
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        offset = 0
        while True:
            got = col.get(include=include, limit=batch, offset=offset)
            vectors = got.get("embeddings") if with_embeddings else None
            for k, (i, d, m) in enumerate(zip(got["ids"], got["documents"], got["metadatas"])):
                yield chunk_of(i, d, m), (np.asarray(vectors[k], dtype=np.float32) if vectors is not None else None)
            if len(got["ids"]) < batch:
                return
            offset += batch

    @chroma_call("listing articles")
    def articles(self, library: str) -> list[ArticleSummary]:
        """The articles with a complete version, newest first."""
        records: list[tuple[str, dict]] = []
        col = self._collection(library, create=False, check=False)
        if col is None:
            return []
        offset, page = 0, 5000
        while True:
            got = col.get(include=["metadatas"], limit=page, offset=offset)
            records.extend(zip(got["ids"], got["metadatas"] or []))
            if len(got["ids"]) < page:
                break
            offset += page
        metas = dict(records)
        counts: dict[str, int] = {}
        sources: dict[str, Source] = {}
        for (article_id, _), version in by_version(records).items():
            if version.complete:
                counts[article_id] = counts.get(article_id, 0) + len(version.ids)
                sources.setdefault(article_id, source_of(metas[version.ids[0]]))
        rows = [ArticleSummary(source=sources[a], chunks=n) for a, n in counts.items()]
        return sorted(rows, key=lambda r: (r.source.published or date.min, r.source.title), reverse=True)


def by_version(records: Iterable[tuple[str, dict]]) -> dict[tuple[str, str], StoredVersion]:
    """Chunk records (id, metadata) grouped by article version: {(article id, content hash): version}."""
    ids: dict[tuple[str, str], list[str]] = {}
    parts: dict[tuple[str, str], int] = {}
    for chunk_id, meta in records:
        key = (str(meta.get("article_id")), str(meta.get("content_hash", "")))
        ids.setdefault(key, []).append(chunk_id)
        parts[key] = max(parts.get(key, 0), int(meta.get("parts", 0)))
    return {key: StoredVersion(chunk_ids, parts[key]) for key, chunk_ids in ids.items()}
