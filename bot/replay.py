"""Signed requests are good once.

Slack signs each request over its timestamp and body, and a signature stays valid
for five minutes: anyone who captured a signed request (a proxy's log, a shared
network) could send it again within that time, and a replayed "withdraw" would
undo a signature made since. Each signature is remembered until it expires, and a
second request carrying it is not acted on. Slack's own redeliveries are signed
anew, with their own timestamp, so they are never mistaken for replays.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

# slack_sdk's SignatureVerifier accepts a timestamp up to this far from now.
SIGNATURE_LIFETIME_SECONDS = 5 * 60


class SeenSignatures:
    """The signatures of requests accepted, until they expire: in this process's
    memory, and, where several replicas share a database, claimed there too
    (`shared`, petition/deliveries.Receipts.claim), so that a request replayed to
    another replica is refused as well."""

    def __init__(
        self,
        lifetime: float = SIGNATURE_LIFETIME_SECONDS,
        shared: Callable[[str], bool] | None = None,
    ) -> None:
        self._lifetime = lifetime
        self._shared = shared
        self._expiry: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()
        self._lock = threading.Lock()

    def first_time(self, signature: str, timestamp: str, now: float | None = None) -> bool:
        """Record this signature; False if it was seen before and has not expired."""
        now = time.time() if now is None else now
        try:
            expires = float(timestamp) + self._lifetime
        except ValueError:
            expires = now + self._lifetime
        with self._lock:
            while self._order and self._order[0][0] < now:
                _, old = self._order.popleft()
                if self._expiry.get(old, now) < now:
                    del self._expiry[old]
            if signature in self._expiry:
                return False
            self._expiry[signature] = expires
            self._order.append((expires, signature))
        if self._shared is None:
            return True
        # Known by a digest: the receipt says nothing of the request.
        return self._shared("sig:" + hashlib.sha256(signature.encode()).hexdigest()[:56])
