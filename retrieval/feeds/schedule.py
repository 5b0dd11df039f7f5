"""When a feed is polled next: the interval with jitter, longer after failures, never before the
server's Retry-After."""

from __future__ import annotations

import random

JITTER = 0.1  # each wait is up to 10% shorter or longer, so feeds added together drift apart
MAX_BACKOFF = 24 * 3600.0  # a feed that keeps failing is still tried once a day
MAX_RETRY_AFTER = 7 * 24 * 3600.0  # a server asking for more than a week gets a week


def _jitter(seconds: float, rng: random.Random | None) -> float:
    return seconds * (rng or random).uniform(1 - JITTER, 1 + JITTER)


def after_success(now: float, interval: float, *, rng: random.Random | None = None) -> float:
    """``interval`` seconds from ``now``, give or take the jitter."""
    return now + _jitter(interval, rng)


def after_failure(now: float, interval: float, failures: int, *, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """The wait doubles with each failure in a row (``failures`` counts this one), up to a day; a
    server's Retry-After is honoured when it asks for longer."""
    wait = min(interval * 2 ** max(failures, 1), MAX_BACKOFF)
    wait = _jitter(wait, rng)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait
