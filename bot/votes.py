"""SQLite record of answered questions and 👍/👎 votes on them.

One row per answer (question, answer text, sources, mode), the Discord message ids that show
it (so a reply to any of them can be turned back into a conversation turn), and one vote per
user per answer (voting again replaces the earlier vote, ordered by the click's Discord id: the
bot handles clicks concurrently, so a quick 👍 then 👎 may reach the file in either order). Calls
are short and blocking; the bot runs them in a worker thread.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from retrieval.models import Answer
from retrieval.sqlite_files import open_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id  TEXT PRIMARY KEY,
    library    TEXT NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL,
    sources    TEXT NOT NULL,
    mode       TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_by_library ON answers(library);
CREATE TABLE IF NOT EXISTS answer_messages (
    message_id INTEGER PRIMARY KEY,
    answer_id  TEXT NOT NULL REFERENCES answers(answer_id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS votes (
    answer_id TEXT NOT NULL REFERENCES answers(answer_id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    value     INTEGER NOT NULL CHECK (value IN (-1, 1)),
    voted_at  REAL NOT NULL,
    click_id  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (answer_id, user_id)
);
"""


class Vote(IntEnum):
    UP = 1
    DOWN = -1


@dataclass(frozen=True)
class Turn:
    """One earlier exchange, as passed to the core as history."""

    question: str
    answer: str


@dataclass(frozen=True)
class FeedbackTotals:
    questions: int
    up: int
    down: int


class VoteStore:
    """Answers and votes in one SQLite file (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(votes)")}
        if "click_id" not in columns:  # a votes file without click ordering: add the column
            self._db.execute("ALTER TABLE votes ADD COLUMN click_id INTEGER NOT NULL DEFAULT 0")

    def record_answer(self, library: str, question: str, answer: Answer) -> str:
        """Store an answer; returns its id (what vote buttons carry)."""
        answer_id = uuid.uuid4().hex[:16]
        sources = [
            {
                "number": c.number,
                "article_id": c.source.article_id,
                "title": c.source.title,
                "publisher": c.source.publisher,
                "url": c.source.url,
                "published": c.source.published.isoformat() if c.source.published else None,
            }
            for c in answer.citations
        ]
        with self._lock:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (answer_id, library, question, answer.text, json.dumps(sources), answer.mode.value, time.time()),
            )
        return answer_id

    def link_messages(self, answer_id: str, message_ids: Iterable[int]) -> None:
        """Remember which Discord messages show an answer."""
        with self._lock:
            self._db.executemany(
                "INSERT OR REPLACE INTO answer_messages VALUES (?, ?)", [(int(m), answer_id) for m in message_ids]
            )

    def turn_for_message(self, message_id: int) -> Turn | None:
        with self._lock:
            row = self._db.execute(
                "SELECT a.question, a.answer FROM answer_messages m JOIN answers a USING (answer_id)"
                " WHERE m.message_id = ?",
                (int(message_id),),
            ).fetchone()
        return Turn(row[0], row[1]) if row else None

    def vote(self, answer_id: str, user_id: int, value: Vote, click_id: int = 0) -> bool:
        """Record (or replace) ``user_id``'s vote; False when the answer is not on record.

        ``click_id`` orders a user's votes (the interaction's snowflake, which grows with time): a
        vote replaces the stored one unless the stored one came from a later click.
        """
        with self._lock:
            if not self._db.execute("SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)).fetchone():
                return False
            self._db.execute(
                "INSERT INTO votes (answer_id, user_id, value, voted_at, click_id) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE SET value = excluded.value,"
                " voted_at = excluded.voted_at, click_id = excluded.click_id"
                " WHERE excluded.click_id >= votes.click_id",
                (answer_id, int(user_id), int(Vote(value)), time.time(), int(click_id)),
            )
        return True

    def totals(self, library: str) -> FeedbackTotals:
        """Questions answered and 👍/👎 counts for one library."""
        with self._lock:
            questions = self._db.execute("SELECT COUNT(*) FROM answers WHERE library = ?", (library,)).fetchone()[0]
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(v.value = 1), 0), COALESCE(SUM(v.value = -1), 0)"
                " FROM votes v JOIN answers a USING (answer_id) WHERE a.library = ?",
                (library,),
            ).fetchone()
        return FeedbackTotals(int(questions), int(up), int(down))

    def close(self) -> None:
        with self._lock:
            self._db.close()
