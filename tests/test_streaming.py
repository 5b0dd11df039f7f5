"""bot.streaming: throttled updates from answer events, and message chains kept in step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from bot.render import MAX_CONTENT, render_answer
from bot.streaming import MessageChain, stream_answer
from retrieval.answer.answerer import AnswerDelta, AnswerDone, AnswerReset, AnswerStatus, Stage
from retrieval.models import Answer, AnswerMode

FINAL = Answer(text="Final answer [1].", citations=(), mode=AnswerMode.LLM)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingSink:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.published: list[tuple[float, list[str], bool]] = []

    async def publish(self, chunks: Sequence[str], *, final: bool = False, view: Any = None) -> None:
        self.published.append((self.clock(), list(chunks), final))


async def timed(events: list[tuple[float, object]], clock: Clock) -> AsyncIterator[object]:
    for delay, event in events:
        clock.now += delay
        yield event


def deltas(n: int, step: float, word: str = "word ") -> list[tuple[float, object]]:
    return [(step, AnswerDelta(word)) for _ in range(n)]


def waiting(clock: Clock, waits: list[float]):
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    return sleep


async def test_updates_come_at_most_once_per_interval_the_final_one_included() -> None:
    clock, waits = Clock(), []
    sink = RecordingSink(clock)
    events = [(0.0, AnswerStatus(Stage.SEARCHING)), (0.3, AnswerStatus(Stage.WRITING))]
    events += deltas(50, 0.1) + [(0.1, AnswerDone(FINAL))]
    answer = await stream_answer(timed(events, clock), sink, interval=1.0, clock=clock, sleep=waiting(clock, waits))
    assert answer is FINAL
    times = [t for t, _, _ in sink.published]
    assert times[0] >= 1.0  # until then the acknowledgement is on screen
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(times, times[1:]))
    assert len(times) == 5  # 5.4 s of streaming at one update per second
    assert len(waits) == 1 and clock.now - times[-1] >= 1.0 - 1e-9  # the caller's final publish keeps the pace
    assert not any(final for _, _, final in sink.published)  # the caller publishes the final answer
    last = sink.published[-1][1][-1]
    assert last.startswith("word word") and last.endswith("-# Writing the answer…")


async def test_an_answer_ready_within_the_interval_needs_no_update_and_no_wait() -> None:
    clock, waits = Clock(), []
    sink = RecordingSink(clock)
    events = [(0.0, AnswerStatus(Stage.SEARCHING)), (0.3, AnswerStatus(Stage.QUOTING)), (0.2, AnswerDone(FINAL))]
    answer = await stream_answer(timed(events, clock), sink, interval=1.0, clock=clock, sleep=waiting(clock, waits))
    assert answer is FINAL and sink.published == [] and waits == []


async def test_interval_zero_pushes_every_change_but_skips_repeats() -> None:
    clock = Clock()
    sink = RecordingSink(clock)
    events = [
        (0, AnswerStatus(Stage.SEARCHING)),
        (0, AnswerStatus(Stage.SEARCHING)),
        (0, AnswerStatus(Stage.WRITING)),
        (0, AnswerDelta("One ")),
        (0, AnswerDelta("")),
        (0, AnswerDelta("two.")),
        (0, AnswerDone(FINAL)),
    ]
    await stream_answer(timed(events, clock), sink, interval=0, clock=clock)
    shown = [chunks[0] for _, chunks, _ in sink.published]
    assert shown == [
        "-# Searching the articles…",
        "-# Writing the answer…",
        "One\n\n-# Writing the answer…",
        "One two.\n\n-# Writing the answer…",
    ]


async def test_reset_discards_streamed_text() -> None:
    clock = Clock()
    sink = RecordingSink(clock)
    events = [
        (0, AnswerStatus(Stage.WRITING)),
        (0, AnswerDelta("A wrong start")),
        (0, AnswerReset()),
        (0, AnswerStatus(Stage.QUOTING)),
        (0, AnswerDone(FINAL)),
    ]
    await stream_answer(timed(events, clock), sink, interval=0, clock=clock)
    assert sink.published[-1][1] == ["-# Quoting the articles…"]


async def test_stream_without_result_is_an_error() -> None:
    clock = Clock()
    with pytest.raises(RuntimeError):
        await stream_answer(timed([(0, AnswerDelta("x"))], clock), RecordingSink(clock), interval=0, clock=clock)


class MemoryChain(MessageChain[int]):
    """Messages as ids in a dict, with a log of every operation."""

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[int, tuple[str, Any]] = {}
        self.ops: list[tuple[str, int]] = []
        self._next = 100

    async def send(self, index: int, content: str, *, view: Any = None) -> int:
        assert len(content) <= MAX_CONTENT
        self._next += 1
        self.store[self._next] = (content, view)
        self.ops.append(("send", self._next))
        return self._next

    async def edit(self, index: int, message: int, content: str, *, view: Any = None) -> int:
        assert len(content) <= MAX_CONTENT
        self.store[message] = (content, view)
        self.ops.append(("edit", message))
        return message

    async def delete(self, message: int) -> None:
        del self.store[message]
        self.ops.append(("delete", message))


async def test_chain_grows_edits_changed_and_shrinks() -> None:
    chain = MemoryChain()
    await chain.publish(["a"])
    await chain.publish(["a", "b"])
    assert chain.ops == [("send", 101), ("send", 102)]  # unchanged "a" not edited
    await chain.publish(["a2", "b", "c"])
    assert chain.ops[2:] == [("edit", 101), ("send", 103)]
    await chain.publish(["short"], final=True, view="VIEW")
    assert chain.ops[4:] == [("edit", 101), ("delete", 103), ("delete", 102)]
    assert chain.store == {101: ("short", "VIEW")}
    assert [m for m in chain.messages] == [101]


async def test_long_streamed_answer_moves_into_new_messages() -> None:
    clock = Clock()
    chain = MemoryChain()
    events = [(0, AnswerStatus(Stage.WRITING))] + deltas(900, 0, "lorem [1] ipsum. ")
    text = "lorem [1] ipsum. " * 900
    final = Answer(text=text.strip(), citations=(), mode=AnswerMode.LLM)
    answer = await stream_answer(timed(events + [(0, AnswerDone(final))], clock), chain, interval=0, clock=clock)
    chunks = render_answer(answer, final=True)
    await chain.publish(chunks, final=True, view="VIEW")
    assert len(chunks) == 8
    assert [chain.store[m][0] for m in chain.messages] == chunks
    assert [chain.store[m][1] for m in chain.messages] == [None] * 7 + ["VIEW"]
    assert sum(op == "send" for op, _ in chain.ops) == 8
