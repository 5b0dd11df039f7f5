"""The small SQLite files newsbot keeps beside its articles (votes, feeds): opened one way."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(path: Path | str, schema: str) -> sqlite3.Connection:
    """A connection any thread may use (callers serialise with their own lock), in autocommit mode,
    with foreign keys on, a 5 s wait for other processes' writes, WAL on disk, and ``schema`` applied.
    The file's folder is created when missing; ``":memory:"`` gives an in-memory database."""
    on_disk = str(path) != ":memory:"
    if on_disk:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    if on_disk:
        db.execute("PRAGMA journal_mode = WAL")
    db.executescript(schema)
    return db
