"""The keyword index of each library, opened on first use and closed together."""

from __future__ import annotations

import threading
from pathlib import Path

from retrieval.store.chroma import ChromaStore
from retrieval.store.chroma_records import validate_library
from retrieval.store.keyword_index import KeywordIndex


class KeywordIndexes:
    """``indexes(library)``: that library's KeywordIndex, its file in ``folder`` (one folder per
    Chroma instance: the index is derived from it)."""

    def __init__(self, folder: Path, store: ChromaStore) -> None:
        self.folder = folder
        self.store = store
        self._open: dict[str, KeywordIndex] = {}
        self._lock = threading.Lock()  # questions arrive in several worker threads at once

    def __call__(self, library: str) -> KeywordIndex:
        with self._lock:
            index = self._open.get(library)
            if index is None:
                path = self.folder / f"{validate_library(library)}.sqlite3"
                index = self._open[library] = KeywordIndex(path, self.store, library)
            return index

    def close(self) -> None:
        with self._lock:
            for index in self._open.values():
                index.close()
            self._open.clear()
