"""The edit-throttled streaming loop, and a chain of messages kept in step with rendered chunks.

Nothing here knows about Discord: ``MessageChain`` subclasses (``bot.delivery``) say how to send,
edit and delete one message; ``stream_answer`` turns the core's answer events into at most one
update per ``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from bot.render import render_progress, status_text
from retrieval.answer.answerer import AnswerDelta, AnswerDone, AnswerReset, AnswerStatus, Stage
from retrieval.models import Answer

M = TypeVar("M")


class Sink(Protocol):
    async def publish(self, chunks: Sequence[str], *, final: bool = False, view: Any = None) -> None: ...


class MessageChain(ABC, Generic[M]):
    """Messages that show one answer: edits those whose content changed, sends new ones when the
    answer grows past a message (llmcord's approach), deletes the surplus when it shrinks.
    The ``view`` (vote buttons) goes on the last message of the final publish."""

    def __init__(self) -> None:
        self.messages: list[M] = []
        self.contents: list[str] = []
        self.publishes = 0

    @abstractmethod
    async def send(self, index: int, content: str, *, view: Any = None) -> M: ...

    @abstractmethod
    async def edit(self, index: int, message: M, content: str, *, view: Any = None) -> M: ...

    @abstractmethod
    async def delete(self, message: M) -> None: ...

    async def publish(self, chunks: Sequence[str], *, final: bool = False, view: Any = None) -> None:
        self.publishes += 1
        last = len(chunks) - 1
        for i, chunk in enumerate(chunks):
            item_view = view if final and i == last else None
            if i < len(self.messages):
                if chunk != self.contents[i] or item_view is not None:
                    self.messages[i] = await self.edit(i, self.messages[i], chunk, view=item_view)
                    self.contents[i] = chunk
            else:
                self.messages.append(await self.send(i, chunk, view=item_view))
                self.contents.append(chunk)
        while len(self.messages) > max(len(chunks), 1):
            await self.delete(self.messages.pop())
            self.contents.pop()


async def stream_answer(
    events: AsyncIterable[object],
    sink: Sink,
    *,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> Answer:
    """Show the answer as it streams; return the final Answer (the caller publishes it).

    At most one update per ``interval`` seconds, counting the caller's final publish: the first
    comes ``interval`` after the start (until then the acknowledgement is what people see, and an
    answer ready sooner needs no update at all), and after an update the answer is returned no
    sooner than ``interval`` after it. Updates with unchanged content are skipped.
    """
    status = AnswerStatus(Stage.SEARCHING)
    text = ""
    last_push = clock()  # the start counts as an update: the acknowledgement is on screen
    pushed = False
    shown: list[str] | None = None

    async def push() -> None:
        nonlocal last_push, shown, pushed
        if clock() - last_push < interval:
            return
        chunks = render_progress(text, status_text(status))
        if chunks == shown:
            return
        await sink.publish(chunks, final=False)
        shown, last_push, pushed = chunks, clock(), True

    async for event in events:
        if isinstance(event, AnswerDone):
            if pushed:
                await sleep(max(0.0, interval - (clock() - last_push)))
            return event.answer
        if isinstance(event, AnswerStatus):
            status = event
            await push()
        elif isinstance(event, AnswerDelta):
            if status.stage is Stage.SEARCHING:
                status = AnswerStatus(Stage.WRITING)
            text += event.text
            await push()
        elif isinstance(event, AnswerReset):
            text = ""
            await push()
    raise RuntimeError("The answer stream ended without a final answer.")
