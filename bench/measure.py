"""What the bench scripts share: where the benchmark data is, percentiles, peak memory, and how late
the event loop wakes."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from pathlib import Path

MULTIHOP = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "multihop"  # ../shared beside the repo
CORPUS, QUERIES = MULTIHOP / "corpus.json", MULTIHOP / "queries_dev.json"


def percentile_ms(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of durations in seconds, in milliseconds to 0.1."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000, 1) if ordered else 0.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class LoopLag:
    """A ticker in the running event loop that sleeps ``interval`` s and records how late it wakes.

        async with LoopLag(0.010) as lag:
            ...  # the work under test
        lag.max_ms
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _tick(self) -> None:
        while True:
            due = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            self.lags.append(max(0.0, time.perf_counter() - due))

    @property
    def max_ms(self) -> float:
        return round(max(self.lags, default=0.0) * 1000, 1)
