"""bot.ratelimit: a sliding window per user with a fake clock."""

from __future__ import annotations

import pytest

from bot.ratelimit import RateLimiter, TooManyQuestions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_per_user() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.hit("alice") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("alice") == pytest.approx(60.0)
    assert limiter.hit("bob") == 0.0  # other users are not affected
    clock.now += 20
    assert limiter.hit("alice") == pytest.approx(40.0)  # refused hits are not counted
    clock.now += 40
    assert limiter.hit("alice") == 0.0  # the oldest hit left the window
    assert limiter.hit("alice") == 0.0
    assert limiter.hit("alice") == 0.0
    assert limiter.hit("alice") > 0


def test_sliding_not_fixed_window() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock)
    limiter.hit(1)
    clock.now += 6
    limiter.hit(1)
    clock.now += 5  # first hit expired, second still in the window
    assert limiter.hit(1) == 0.0
    assert limiter.hit(1) == pytest.approx(5.0)  # until the second hit (t=6) leaves the window


def test_check_raises_with_rounded_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 30, clock=clock)
    limiter.check(7)
    clock.now += 0.5
    with pytest.raises(TooManyQuestions) as info:
        limiter.check(7)
    assert info.value.wait == pytest.approx(29.5)
    assert str(info.value) == "You're asking questions too quickly; try again in 30 s."


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 1, clock=clock)
    for user in range(10_001):
        limiter.hit(user)
    clock.now += 2
    limiter.hit("late")
    assert len(limiter._hits) < 10


def test_bad_configuration() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)
