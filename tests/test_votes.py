"""bot.votes: answers, one vote per user per answer, totals per library, survives reopening."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from pathlib import Path

from bot.votes import FeedbackTotals, Turn, Vote, VoteStore
from retrieval.models import Answer, AnswerMode, Citation, Source

ANSWER = Answer(
    text="ASEAN consuls visited Biosyngen [1].",
    citations=(Citation(1, Source("u1", "Consuls visit", "GeneOnline", "https://e.com/a", date(2022, 5, 27))),),
    mode=AnswerMode.LLM,
)


def test_votes_replace_and_count_per_library(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "sub" / "votes.sqlite3")
    a = store.record_answer("guild-1", "Who visited?", ANSWER)
    b = store.record_answer("guild-1", "When?", ANSWER)
    other = store.record_answer("guild-2", "Elsewhere?", ANSWER)
    assert len({a, b, other}) == 3
    assert store.vote(a, 10, Vote.UP) and store.vote(a, 11, Vote.UP)
    assert store.vote(a, 10, Vote.DOWN)  # changing a vote replaces it
    assert store.totals("guild-1") == FeedbackTotals(questions=2, up=1, down=1)  # a's votes: 👍 1, 👎 1
    assert store.vote(b, 10, Vote.DOWN)
    assert store.vote(other, 10, Vote.UP)
    assert store.totals("guild-1") == FeedbackTotals(questions=2, up=1, down=2)
    assert store.totals("guild-2") == FeedbackTotals(questions=1, up=1, down=0)
    assert store.totals("guild-3") == FeedbackTotals(0, 0, 0)
    assert not store.vote("0123456789abcdef", 10, Vote.UP)  # unknown answer: nothing stored
    store.close()


def test_answer_row_keeps_question_answer_and_sources(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.sqlite3")
    answer_id = store.record_answer("guild-1", "Who visited?", ANSWER)
    store.link_messages(answer_id, [111, 112])
    assert store.turn_for_message(112) == Turn("Who visited?", ANSWER.text)
    assert store.turn_for_message(999) is None
    with sqlite3.connect(tmp_path / "votes.sqlite3") as db:  # the sources as stored, JSON
        (stored,) = db.execute("SELECT sources FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
    (src,) = json.loads(stored)
    assert src == {
        "number": 1,
        "article_id": "u1",
        "title": "Consuls visit",
        "publisher": "GeneOnline",
        "url": "https://e.com/a",
        "published": "2022-05-27",
    }
    store.vote(answer_id, 5, Vote.UP)
    store.close()
    reopened = VoteStore(tmp_path / "votes.sqlite3")  # persisted across restarts
    assert reopened.turn_for_message(111) == Turn("Who visited?", ANSWER.text)
    assert reopened.totals("guild-1") == FeedbackTotals(1, 1, 0)
    reopened.close()


def test_concurrent_votes_from_threads(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.sqlite3")
    answer_id = store.record_answer("guild-1", "q", ANSWER)

    def voter(user: int) -> None:
        for i in range(20):
            store.vote(answer_id, user, Vote.UP if (i + user) % 2 else Vote.DOWN)

    threads = [threading.Thread(target=voter, args=(u,)) for u in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals = store.totals("guild-1")  # the only answer of its library
    up, down = totals.up, totals.down
    assert up + down == 8  # one vote per user survives
    assert (up, down) == (4, 4)  # user u's last vote (i=19) is UP iff u is even
    store.close()


def test_a_later_click_wins_whichever_order_the_votes_arrive_in(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "votes.sqlite3")
    answer_id = store.record_answer("guild-1", "q", ANSWER)
    assert store.vote(answer_id, 10, Vote.DOWN, click_id=2002)  # the user's second click lands first
    assert store.vote(answer_id, 10, Vote.UP, click_id=2001)  # their first click: known, but older
    assert store.totals("guild-1") == FeedbackTotals(1, 0, 1)  # the only answer of its library
    assert store.vote(answer_id, 10, Vote.UP, click_id=2003)
    assert store.totals("guild-1") == FeedbackTotals(1, 1, 0)
    store.close()


def test_a_votes_file_from_before_click_ordering_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "votes.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE answers (answer_id TEXT PRIMARY KEY, library TEXT NOT NULL, question TEXT NOT NULL,"
        " answer TEXT NOT NULL, sources TEXT NOT NULL, mode TEXT NOT NULL, created_at REAL NOT NULL);"
        "CREATE TABLE votes (answer_id TEXT NOT NULL REFERENCES answers(answer_id) ON DELETE CASCADE,"
        " user_id INTEGER NOT NULL, value INTEGER NOT NULL CHECK (value IN (-1, 1)), voted_at REAL NOT NULL,"
        " PRIMARY KEY (answer_id, user_id));"
        "INSERT INTO answers VALUES ('00112233aabbccdd', 'guild-1', 'q', 'a', '[]', 'llm', 0);"
        "INSERT INTO votes VALUES ('00112233aabbccdd', 7, 1, 0);"
    )
    old.commit()
    old.close()
    store = VoteStore(path)
    assert store.totals("guild-1") == FeedbackTotals(1, 1, 0)
    assert store.vote("00112233aabbccdd", 7, Vote.DOWN, click_id=5)
    assert store.totals("guild-1") == FeedbackTotals(1, 0, 1)
    store.close()
