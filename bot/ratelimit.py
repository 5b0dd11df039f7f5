"""Per-user sliding-window rate limit on questions."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable

from retrieval.errors import NewsbotError


class RateLimiter:
    """At most ``limit`` hits per ``per`` seconds for each key."""

    def __init__(self, limit: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or per <= 0:
            raise ValueError("limit must be >= 1 and per > 0")
        self.limit = limit
        self.per = per
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}

    def check(self, key: Hashable) -> None:
        """Count a hit, or raise TooManyQuestions (with the wait) when over the limit."""
        wait = self.hit(key)
        if wait:
            raise TooManyQuestions(wait)

    def hit(self, key: Hashable) -> float:
        """Count a hit for ``key`` and return 0.0, or, when over the limit, return the seconds
        until the next hit is allowed (and count nothing)."""
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.per:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(hits[0] + self.per - now, 0.001)
        hits.append(now)
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.per]:
            del self._hits[key]


class TooManyQuestions(NewsbotError):
    """A user asked more questions than the rate limit allows."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"You're asking questions too quickly; try again in {max(1, math.ceil(wait))} s.")
