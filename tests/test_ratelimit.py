"""The per-person limiter forgets people whose bucket has refilled, oldest first,
and keeps everyone still being limited, however many people act at once."""

from __future__ import annotations

import pytest

from petition import ratelimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> ratelimit.RateLimiter:
    return ratelimit.RateLimiter(burst=2, refill_seconds=5.0, clock=clock, max_tracked=4)


def test_past_the_limit_the_refilled_are_forgotten_oldest_first(limiter, clock):
    for key in "abcd":
        limiter.allow(key)
    clock.now = 6.0
    limiter.allow("a")  # a is active again: now the most recent
    clock.now = 11.0  # b, c and d have refilled (10 s); a has not
    limiter.allow("e")
    assert list(limiter._buckets) == ["a", "e"]


def test_people_still_being_limited_are_never_forgotten(limiter, clock):
    assert [limiter.allow("spammer") for _ in range(3)] == [True, True, False]
    for key in "wxyz":  # more people than max_tracked, all within the window
        limiter.allow(key)
    assert "spammer" in limiter._buckets
    assert not limiter.allow("spammer")
    clock.now = 100.0
    limiter.allow("late")
    assert list(limiter._buckets) == ["late"]
