"""Chroma, and only here: chunks in, typed objects out. One collection per library."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from retrieval.errors import EmbedderMismatchError, InputError, StoreError
from retrieval.models import ArticleSummary, Chunk, Source

T = TypeVar("T")

# Records per Chroma add/delete. Embedded Chroma holds Python's GIL for a whole write (its reads
# release it), so a bot ingesting in a worker thread stalls its event loop for as long as one write
# takes: ~0.75 s for 512 chunks, ~30 ms for 32 and ~25 ms for 16 on an idle machine, two to four
# times that while the model embeds (bench/responsiveness.py). Chroma's own cap is 5,461.
WRITE_BATCH = 16
# Records Chroma's local HNSW index takes in before it saves itself (Chroma's default: 1,000). Each
# add re-reads Chroma's write-ahead log back to the last save (it is purged then), so adds get slower
# until the save: at 9k/100k chunks the costliest 32-chunk add fell from ~140/~270 to ~90/~175 ms of
# CPU, with less CPU in total. Unsaved records are replayed from that log on open; none are lost.
HNSW_SYNC_THRESHOLD = 256
log = logging.getLogger(__name__)
_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$")
_PREFIX = "newsbot-"
_EMBEDDER_KEY = "newsbot_embedder"
_GENERATION_KEY = "newsbot_generation"


def validate_library(name: str) -> str:
    if not _LIBRARY_NAME.match(name or ""):
        raise InputError(
            f"'{name}' is not a valid library name.",
            hint="Use 1-63 letters, digits, '-' or '_', starting and ending with a letter or digit.",
        )
    return name


@dataclass(frozen=True)
class VectorHit:
    chunk: Chunk
    distance: float


def _metadata(chunk: Chunk) -> dict[str, str | int]:
    src = chunk.source
    meta: dict[str, str | int] = {
        "article_id": src.article_id,
        "title": src.title,
        "position": chunk.position,
        "content_hash": chunk.content_hash,
    }
    if src.publisher:
        meta["publisher"] = src.publisher
    if src.url:
        meta["url"] = src.url
    if src.published:
        meta["published"] = src.published.isoformat()
        meta["published_int"] = int(src.published.strftime("%Y%m%d"))
    return meta


def _source(meta: dict) -> Source:
    published = meta.get("published")
    return Source(
        article_id=str(meta["article_id"]),
        title=str(meta.get("title", "")),
        publisher=meta.get("publisher"),
        url=meta.get("url"),
        published=date.fromisoformat(published) if published else None,
    )


def _chunk(chunk_id: str, document: str | None, meta: dict) -> Chunk:
    return Chunk(
        id=chunk_id,
        source=_source(meta),
        position=int(meta.get("position", 0)),
        text=document or "",
        content_hash=str(meta.get("content_hash", "")),
    )


def _paced(count: int, write: Callable[[int, int], None], pause: Callable[[float], None]) -> None:
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


def _no_pause(_: float) -> None:
    pass


def _write(col, chunks: Sequence[Chunk], embeddings: np.ndarray, pause: Callable[[float], None]) -> None:
    """Add chunks with their vectors, WRITE_BATCH at a time."""

    def write(start: int, end: int) -> None:
        batch = chunks[start:end]
        col.add(
            ids=[c.id for c in batch],
            embeddings=np.asarray(embeddings[start:end], dtype=np.float32),
            documents=[c.text for c in batch],
            metadatas=[_metadata(c) for c in batch],
        )

    _paced(len(chunks), write, pause)


def _tune(col) -> None:
    """Give a library made with Chroma's defaults our sync threshold. Chroma applies it when it next
    loads the index (at once if this process has not touched the library yet, else on restart)."""
    hnsw = (col.configuration_json or {}).get("hnsw")
    if hnsw and hnsw.get("sync_threshold") != HNSW_SYNC_THRESHOLD:
        try:
            col.modify(configuration={"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}})
        except Exception as exc:  # only a speed-up: never a reason to refuse a library
            log.warning("Could not set the HNSW sync threshold of %s (%s)", col.name, type(exc).__name__)


class ChromaStore:
    """Chunks of every library in one Chroma client (embedded on disk or a ``chroma run`` server)."""

    def __init__(
        self,
        client: chromadb.api.ClientAPI,
        *,
        embedder_name: str,
        identity: str = "local",
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self.embedder_name = embedder_name
        self.identity = identity  # names the Chroma instance, so derived indexes are kept per instance
        self._pause = pause  # between writes (see _paced)
        # Collection handles for reads, one per library: opening one costs ~0.6 ms at 100k chunks
        # and a search reads 3-4 times. Each search's generation check opens a fresh handle and
        # replaces this one; a read that fails on a cached handle (library dropped or rebuilt
        # elsewhere) retries once with a fresh one.
        self._readers: dict[str, Any] = {}

    @classmethod
    def connect(
        cls, *, path=None, host: str | None = None, port: int = 8000, embedder_name: str, identity: str | None = None
    ) -> ChromaStore:
        """Embedded on ``path``, or the server at ``host``:``port``. ``identity`` names the data for
        derived indexes (default: "local" embedded, "host_port" for a server); a child server of
        the embedded folder keeps "local"."""
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if host:
                client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
                # Over HTTP the GIL is free while Chroma writes: no need to pause between writes.
                return cls(client, embedder_name=embedder_name, identity=identity or f"{host}_{port}", pause=_no_pause)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:
            where = f"the Chroma server at {host}:{port}" if host else f"the Chroma folder {path}"
            raise StoreError(f"Could not open {where} ({type(exc).__name__}).", hint="Check CHROMA_HOST/CHROMA_PORT or NEWSBOT_CHROMA_PATH.") from None
        return cls(client, embedder_name=embedder_name, identity=identity or "local")

    # -- collections -------------------------------------------------------------------------
    def _new_collection(self, generation: str) -> dict:
        """How a library's collection is made: vectors we supply, cosine space, our embedder's name."""
        return {
            "embedding_function": None,
            "metadata": {"hnsw:space": "cosine", _EMBEDDER_KEY: self.embedder_name, _GENERATION_KEY: generation},
            "configuration": {"hnsw": {"space": "cosine", "sync_threshold": HNSW_SYNC_THRESHOLD}},
        }

    def _collection(self, library: str, *, create: bool = True, check: bool = True):
        name = _PREFIX + validate_library(library)
        try:
            if create:
                col = self._client.get_or_create_collection(name, **self._new_collection("0"))
            else:
                col = self._client.get_collection(name, embedding_function=None)
        except Exception as exc:
            if not create:
                return None
            raise StoreError(f"Chroma refused to open library '{library}' ({type(exc).__name__}: {exc}).") from None
        _tune(col)
        if check and not self._ours(col):
            built_with = (col.metadata or {}).get(_EMBEDDER_KEY)
            raise EmbedderMismatchError(
                f"Library '{library}' was built with the '{built_with}' embedder, but '{self.embedder_name}' is configured.",
                hint=f"Run `newsbot reindex --library {library}` to rebuild it, or set NEWSBOT_EMBEDDER back.",
            )
        return col

    def _ours(self, col) -> bool:
        """Whether the configured embedder may read ``col``'s vectors (it built them, or none is recorded)."""
        return (col.metadata or {}).get(_EMBEDDER_KEY) in (None, "", self.embedder_name)

    def libraries(self) -> list[str]:
        names = [c if isinstance(c, str) else c.name for c in self._client.list_collections()]
        return sorted(n[len(_PREFIX) :] for n in names if n.startswith(_PREFIX) and "--" not in n)

    def built_with(self, library: str) -> str | None:
        col = self._collection(library, create=False, check=False)
        return None if col is None else (col.metadata or {}).get(_EMBEDDER_KEY)

    def generation(self, library: str) -> str:
        col = self._collection(library, create=False, check=False)
        if col is None:
            self._readers.pop(library, None)
            return "missing"
        if self._ours(col):
            self._readers[library] = col  # fresh: the handle the reads of this search use
        else:
            self._readers.pop(library, None)  # reads open their own and raise the mismatch
        return str((col.metadata or {}).get(_GENERATION_KEY, "0"))

    def _read(self, library: str, read: Callable[[Any], T], default: T, *, check: bool = True) -> T:
        """``read(collection)``, on the cached handle when there is one (only handles the configured
        embedder may read are cached); ``default`` when the library does not exist. ``check``: fail
        on a library built by another embedder (reads of text alone need not)."""
        cached = self._readers.get(library)
        if cached is not None:
            try:
                return read(cached)
            except NotFoundError:  # stale handle (dropped or rebuilt elsewhere): open a fresh one
                self._readers.pop(library, None)
        col = self._collection(library, create=False, check=check)
        if col is None:
            return default
        if self._ours(col):
            self._readers[library] = col
        return read(col)

    def _bump(self, col) -> None:
        meta = {k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw:")}
        meta[_GENERATION_KEY] = uuid.uuid4().hex
        col.modify(metadata=meta)

    # -- writes ------------------------------------------------------------------------------
    def add(self, library: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        """Add chunks; the generation is bumped before and after so readers of derived indexes resync."""
        if not chunks:
            return
        col = self._collection(library)
        self._bump(col)
        _write(col, chunks, embeddings, self._pause)
        self._bump(col)

    def delete(self, library: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        col = self._collection(library)
        self._bump(col)
        _paced(len(ids), lambda start, end: col.delete(ids=list(ids[start:end])), self._pause)
        self._bump(col)

    def drop(self, library: str) -> None:
        self._readers.pop(library, None)
        try:
            self._client.delete_collection(_PREFIX + validate_library(library))
        except Exception:
            pass

    # -- reads -------------------------------------------------------------------------------
    def versions(self, library: str, article_id: str) -> dict[str, list[str]]:
        """Chunk ids of an article grouped by content hash (more than one hash = an update was interrupted)."""
        col = self._collection(library)
        got = col.get(where={"article_id": article_id}, include=["metadatas"])
        out: dict[str, list[str]] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"] or []):
            out.setdefault(str(meta.get("content_hash", "")), []).append(chunk_id)
        return out

    def versions_many(self, library: str, article_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``versions`` of several articles in one Chroma call: {article id: {content hash: chunk ids}}."""
        if not article_ids:
            return {}
        col = self._collection(library)
        where = {"article_id": article_ids[0]} if len(article_ids) == 1 else {"article_id": {"$in": list(article_ids)}}
        got = col.get(where=where, include=["metadatas"])
        out: dict[str, dict[str, list[str]]] = {}
        for chunk_id, meta in zip(got["ids"], got["metadatas"] or []):
            by_hash = out.setdefault(str(meta.get("article_id")), {})
            by_hash.setdefault(str(meta.get("content_hash", "")), []).append(chunk_id)
        return out

    def count(self, library: str) -> int:
        col = self._collection(library, create=False, check=False)
        return 0 if col is None else col.count()

    def query(self, library: str, embedding: np.ndarray, n: int, where: dict | None = None) -> list[VectorHit]:
        col = self._collection(library)
        total = col.count()
        if total == 0:
            return []
        res = col.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=min(n, total),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            VectorHit(_chunk(i, d, m), float(dist))
            for i, d, m, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0])
        ]

    def nearest(self, library: str, embedding: np.ndarray, n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) of the ``n`` nearest chunks, without fetching their text:
        much cheaper than ``query`` when most candidates are dropped later."""
        vector = [np.asarray(embedding, dtype=np.float32)]

        def read(col) -> list[tuple[str, float]]:
            res = col.query(query_embeddings=vector, n_results=max(1, n), include=["distances"])
            return list(zip(res["ids"][0], (float(d) for d in res["distances"][0])))

        return self._read(library, read, [])

    def get(self, library: str, ids: Sequence[str], *, with_embeddings: bool = False) -> tuple[list[Chunk], np.ndarray | None]:
        none: tuple[list[Chunk], np.ndarray | None] = ([], np.zeros((0, 0), dtype=np.float32) if with_embeddings else None)
        if not ids:
            return none
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])

        def read(col) -> tuple[list[Chunk], np.ndarray | None]:
            got = col.get(ids=list(ids), include=include)
            chunks = [_chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
            return chunks, (np.asarray(got["embeddings"], dtype=np.float32) if with_embeddings else None)

        # the text is readable whatever built the vectors: the embedder is checked only for them
        return self._read(library, read, none, check=with_embeddings)

    def vectors(self, library: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of ``ids`` that exist (no text: a third of the cost of ``get``)."""
        if not ids:
            return {}

        def read(col) -> dict[str, np.ndarray]:
            got = col.get(ids=list(ids), include=["embeddings"])
            return {cid: np.asarray(v, dtype=np.float32) for cid, v in zip(got["ids"], got["embeddings"])}

        return self._read(library, read, {})

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
                yield _chunk(i, d, m), (np.asarray(vectors[k], dtype=np.float32) if vectors is not None else None)
            if len(got["ids"]) < batch:
                return
            offset += batch

    def articles(self, library: str) -> list[ArticleSummary]:
        counts: dict[str, int] = {}
        sources: dict[str, Source] = {}
        col = self._collection(library, create=False, check=False)
        if col is None:
            return []
        offset, page = 0, 5000
        while True:
            got = col.get(include=["metadatas"], limit=page, offset=offset)
            for meta in got["metadatas"] or []:
                aid = str(meta["article_id"])
                counts[aid] = counts.get(aid, 0) + 1
                sources.setdefault(aid, _source(meta))
            if len(got["ids"]) < page:
                break
            offset += page
        rows = [ArticleSummary(source=sources[a], chunks=n) for a, n in counts.items()]
        return sorted(rows, key=lambda r: (r.source.published or date.min, r.source.title), reverse=True)

    def rebuild(self, library: str, batches: Iterator[tuple[list[Chunk], np.ndarray]]) -> int:
        """Write a fresh collection with the configured embedder, then swap it in for the old one.

        The old collection stays intact until the new one is complete, so an interrupted rebuild
        loses nothing (its leftover is removed by the next rebuild).
        """
        name = _PREFIX + validate_library(library)
        tmp_name = name + "--rebuild"
        try:
            self._client.delete_collection(tmp_name)
        except Exception:
            pass
        tmp = self._client.create_collection(tmp_name, **self._new_collection(uuid.uuid4().hex))
        written = 0
        for chunks, vectors in batches:
            _write(tmp, chunks, vectors, self._pause)
            written += len(chunks)
        self.drop(library)
        tmp.modify(name=name)
        self._readers.pop(library, None)
        return written
