"""A per-person limit on actions, so nobody can script thousands of sign and
withdraw cycles (which would also let them watch the count for others' moves)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Generous for a person (a burst of 20 clicks and commands, then one every 3 s),
# far too slow for a script that wants to correlate the count with others.
BURST = 20
REFILL_SECONDS = 3.0
MAX_TRACKED = 100_000  # bounded memory, whatever the traffic


class RateLimiter:
    """Token buckets keyed by an opaque string (the signer's keyed hash)."""

    def __init__(
        self,
        burst: int = BURST,
        refill_seconds: float = REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.burst = burst
        self.max_tracked = max_tracked
        self.refill_seconds = refill_seconds
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) / self.refill_seconds)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            # Moved to the end: the dict stays ordered from least to most recent.
            self._buckets.pop(key, None)
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_tracked:
                self._forget_full(now)
            return allowed

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled completely carries no information: drop it.
        # Oldest first, stopping at the first that has not refilled: the rest are
        # more recent. (Scanning them all, on every request once more than
        # MAX_TRACKED people had acted within a minute, cost ~24 ms a request
        # under this lock: a viral campaign in a workplace of a million.)
        full_after = self.burst * self.refill_seconds
        refilled = []
        for key, (_, last) in self._buckets.items():
            if now - last < full_after:
                break
            refilled.append(key)
        for key in refilled:
            del self._buckets[key]
