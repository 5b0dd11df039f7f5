"""What the bench scripts share: where the benchmark data is, percentiles, peak memory, and how late
the event loop wakes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType

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


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every thread of this process, by native id, with its name."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (task / "stat").read_text()
            name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return out


class StallWatch:
    """Explains event-loop stalls: a thread outside the loop notes when the loop last ran; when it has
    not run for ``threshold`` s, it records every Python thread's stack, and when the loop runs again,
    which threads used the CPU meanwhile. Linux only (/proc); a diagnostic for bench scripts.

        with StallWatch(asyncio.get_running_loop(), 0.15) as watch:
            ...
        watch.stalls  # [{"ms": ..., "cpu_ms": {thread: ms}, "stacks": {thread: [frames]}}, ...]
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float, *, poll: float = 0.05) -> None:
        self.loop, self.threshold, self.poll = loop, threshold, poll
        self.stalls: list[dict] = []
        self._beat = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="stall-watch", daemon=True)
        self._handle: asyncio.TimerHandle | None = None
        self.collections: list[dict] = []  # garbage collections that took over a tenth of the threshold
        self._gc_start = 0.0

    def __enter__(self) -> StallWatch:
        self._tick()
        gc.callbacks.append(self._gc)
        self._thread.start()
        return self

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_start
        if took > self.threshold / 10:
            name = threading.current_thread().name
            self.collections.append({"ms": round(took * 1000, 1), "generation": info["generation"], "thread": name})

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._gc)
        self._stop.set()
        self._thread.join()
        if self._handle:
            self._handle.cancel()

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._handle = self.loop.call_later(0.005, self._tick)

    def _stacks(self) -> dict[str, list[str]]:
        names = {t.ident: f"{t.name} ({t.native_id})" for t in threading.enumerate()}
        def where(frame: FrameType) -> list[str]:
            return [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_stack(frame)[-8:]]

        mine = threading.get_ident()
        return {names.get(i, str(i)): where(frame) for i, frame in sys._current_frames().items() if i != mine}

    def _watch(self) -> None:
        healthy = (time.monotonic(), _thread_cpu())
        stall: dict | None = None
        while not self._stop.wait(self.poll):
            now, beat = time.monotonic(), self._beat
            if now - beat > self.threshold:
                if stall is None:
                    stall = {"from": beat, "cpu_before": healthy[1], "stacks": []}
                if len(stall["stacks"]) < 3:
                    stall["stacks"].append(self._stacks())
                continue
            if stall is not None:  # the loop ran again
                cpu = _thread_cpu()
                used = {
                    f"{name} ({tid})": round((t - stall["cpu_before"].get(tid, (name, 0.0))[1]) * 1000)
                    for tid, (name, t) in cpu.items()
                }
                self.stalls.append({
                    "ms": round((beat - stall["from"]) * 1000, 1),
                    "cpu_ms": dict(sorted(((k, v) for k, v in used.items() if v > 0), key=lambda kv: -kv[1])[:8]),
                    "stacks": stall["stacks"],
                })
                stall = None
            healthy = (now, _thread_cpu())
