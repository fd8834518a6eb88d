"""Whose turn it is to write to SQLite, and how long a writer waits for it.

SQLite has one writer per file; this process's writers take turns on a lock
first (storage/db.py). `threading.RLock` is not that lock: a thread that
releases it can take it again at once, ahead of threads already waiting. The
SQLite writer thread goes straight from one batch of signatures to the next, so
under a burst an announcement job queued behind it could wait past the busy
timeout and fail (CI, 2026-12-03: test_load's announcement job). `Turn` hands the
lock on release to whoever has waited longest.

How long to wait depends on who is waiting. A person's request has Slack's three
seconds; a scheduled job has nobody waiting on it and would rather queue behind
a burst than fail and run again a minute later: it marks its thread unhurried.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

# What a job waits for its turn at most: far longer than any burst of signers
# keeps the lock, short enough that a stuck writer is still reported.
UNHURRIED_SECONDS = 60.0

_patience = threading.local()


@contextmanager
def unhurried() -> Iterator[None]:
    """Writes of this thread, inside, wait up to UNHURRIED_SECONDS for their turn."""
    before = getattr(_patience, "seconds", None)
    _patience.seconds = UNHURRIED_SECONDS
    try:
        yield
    finally:
        _patience.seconds = before


def patience(default: float) -> float:
    """How long this thread waits for its turn: `default`, unless it is unhurried."""
    seconds: float | None = getattr(_patience, "seconds", None)
    return default if seconds is None else max(seconds, default)


class _Waiter:
    __slots__ = ("granted", "owner")

    def __init__(self, owner: int) -> None:
        self.owner = owner
        self.granted = threading.Event()


class Turn:
    """A re-entrant lock granted in the order it was asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: deque[_Waiter] = deque()

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._lock:
            if self._owner == me:
                self._depth += 1
                return True
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            waiter = _Waiter(me)
            self._waiting.append(waiter)
        if waiter.granted.wait(timeout):
            return True
        with self._lock:
            if waiter.granted.is_set():  # handed over just as the wait ran out
                return True
            self._waiting.remove(waiter)
            return False

    def release(self) -> None:
        with self._lock:
            if self._owner != threading.get_ident():
                raise RuntimeError("released a turn this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            if self._waiting:
                waiter = self._waiting.popleft()
                self._owner, self._depth = waiter.owner, 1
                waiter.granted.set()
            else:
                self._owner = None
