"""Chroma, and only in this module and the two beside it (chroma_records: records and batched
writes; chroma_reads: reads): chunks in, typed objects out. One collection per library.

ChromaStore opens the client and the collections (checking which embedder built a library), and
writes; every write bumps the library's generation before and after, so derived indexes resync.
An on-disk folder is held by one process at a time (folder_lock); on a server, writers of a
library take turns (write_lease). Chroma's failures leave the store as StoreErrors (chroma_errors).
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from retrieval.errors import EmbedderMismatchError
from retrieval.models import Chunk
from retrieval.store.chroma_errors import Location, chroma_call, translated
from retrieval.store.chroma_reads import ChromaReads
from retrieval.store.chroma_records import no_pause, paced, validate_library, write_chunks
from retrieval.store.folder_lock import FolderLock, lock_folder
from retrieval.store.owners import OnWait, Owner
from retrieval.store.write_lease import WriteLeases

T = TypeVar("T")

# Records Chroma's local HNSW index takes in before it saves itself (Chroma's default: 1,000). Each
# add re-reads Chroma's write-ahead log back to the last save (it is purged then), so adds get slower
# until the save: saving more often keeps the costliest adds cheaper and costs less CPU in total
# (bench/RESULTS.md). Unsaved records are replayed from that log on open; none are lost.
HNSW_SYNC_THRESHOLD = 256
log = logging.getLogger(__name__)
_PREFIX = "newsbot-"
_EMBEDDER_KEY = "newsbot_embedder"
_GENERATION_KEY = "newsbot_generation"


def _tune(col) -> None:
    """Give a library made with Chroma's defaults our sync threshold. Chroma applies it when it next
    loads the index (at once if this process has not touched the library yet, else on restart)."""
    hnsw = (col.configuration_json or {}).get("hnsw")
    if hnsw and hnsw.get("sync_threshold") != HNSW_SYNC_THRESHOLD:
        try:
            col.modify(configuration={"hnsw": {"sync_threshold": HNSW_SYNC_THRESHOLD}})
        except Exception as exc:  # only a speed-up: never a reason to refuse a library
            log.warning("Could not set the HNSW sync threshold of %s (%s)", col.name, type(exc).__name__)


class ChromaStore(ChromaReads):
    """Chunks of every library in one Chroma client (embedded on disk or a ``chroma run`` server)."""

    def __init__(
        self,
        client: chromadb.api.ClientAPI,
        *,
        embedder_name: str,
        identity: str = "local",
        pause: Callable[[float], None] = time.sleep,
        location: Location = Location(),
        folder_lock: FolderLock | None = None,
        leases: WriteLeases | None = None,
    ) -> None:
        self._client = client
        self.embedder_name = embedder_name
        self.identity = identity  # names the Chroma instance, so derived indexes are kept per instance
        self._pause = pause  # between writes (see chroma_records.paced)
        self.location = location  # named in errors
        self._folder_lock = folder_lock  # released by close()
        self._leases = leases  # on a shared server: one writer per library at a time
        self._closed = False
        # Collection handles for reads, one per library: opening one is not free, and a search reads
        # several times. Each search's generation check opens a fresh handle and
        # replaces this one; a read that fails on a cached handle (library dropped or rebuilt
        # elsewhere) retries once with a fresh one.
        self._readers: dict[str, Any] = {}

    @classmethod
    def connect(
        cls, *, path=None, host: str | None = None, port: int = 8000, embedder_name: str,
        owner: Owner = Owner(), on_wait: OnWait | None = None, lease_seconds: float = 30.0,
    ) -> ChromaStore:
        """Embedded on ``path``, held by this process until ``close`` (``on_wait`` hears once whom it
        waits for first), or the server at ``host``:``port``, where writers of a library take turns
        of ``lease_seconds``. The store's ``identity`` names the data for derived indexes: "local"
        embedded, "host_port" for a server."""
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if host:
            where = Location(server=f"{host}:{port}")
            with translated(where, "connecting"):
                client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
            leases = WriteLeases(client, owner, seconds=lease_seconds, on_wait=on_wait)
            return cls(
                client, embedder_name=embedder_name, identity=f"{host}_{port}", pause=no_pause, location=where, leases=leases
            )
        where = Location(folder=Path(path))
        lock = lock_folder(Path(path), owner, on_wait)
        try:
            with translated(where, "opening it"):
                client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except BaseException:
            lock.release()
            raise
        return cls(client, embedder_name=embedder_name, location=where, folder_lock=lock)

    def close(self) -> None:
        """Let go of Chroma; an on-disk folder is free for other processes once no store of this
        process has it open."""
        if self._closed:
            return
        self._closed = True
        self._readers.clear()
        self._client.close()
        if self._folder_lock is not None:
            self._folder_lock.release()

    @contextlib.contextmanager
    def writing(self, library: str) -> Iterator[None]:
        """Hold ``library`` for a write: on a server, its write lease (in a folder, the process
        holds the whole folder already)."""
        with contextlib.ExitStack() as held:
            if self._leases is not None:
                with translated(self.location, f"taking the write lease of library '{library}'"):
                    held.enter_context(self._leases.hold(validate_library(library)))
            yield

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
        with translated(self.location, f"opening library '{library}'"):
            try:
                if create:
                    col = self._client.get_or_create_collection(name, **self._new_collection("0"))
                else:
                    col = self._client.get_collection(name, embedding_function=None)
            except NotFoundError:
                return None  # a library nothing was added to yet: empty
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

    @chroma_call("listing the libraries")
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
    @chroma_call("adding chunks")
    def add(self, library: str, chunks: Sequence[Chunk], embeddings: np.ndarray) -> None:
        """Add chunks; the generation is bumped before and after so readers of derived indexes resync."""
        if not chunks:
            return
        col = self._collection(library)
        self._bump(col)
        write_chunks(col, chunks, embeddings, self._pause)
        self._bump(col)

    @chroma_call("deleting chunks")
    def delete(self, library: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        col = self._collection(library)
        self._bump(col)
        paced(len(ids), lambda start, end: col.delete(ids=list(ids[start:end])), self._pause)
        self._bump(col)

    @chroma_call("deleting a library")
    def drop(self, library: str) -> None:
        self._readers.pop(library, None)
        with contextlib.suppress(NotFoundError):  # nothing to delete
            self._client.delete_collection(_PREFIX + validate_library(library))

    @chroma_call("rebuilding a library")
    def rebuild(self, library: str, batches: Iterator[tuple[list[Chunk], np.ndarray]]) -> int:
        """Write a fresh collection with the configured embedder, then swap it in for the old one.

        The old collection stays intact until the new one is complete, so an interrupted rebuild
        loses nothing (its leftover is removed by the next rebuild).
        """
        name = _PREFIX + validate_library(library)
        tmp_name = name + "--rebuild"
        with contextlib.suppress(NotFoundError):  # no leftover of an interrupted rebuild
            self._client.delete_collection(tmp_name)
        tmp = self._client.create_collection(tmp_name, **self._new_collection(uuid.uuid4().hex))
        written = 0
        for chunks, vectors in batches:
            write_chunks(tmp, chunks, vectors, self._pause)
            written += len(chunks)
        self.drop(library)
        tmp.modify(name=name)
        self._readers.pop(library, None)
        return written
