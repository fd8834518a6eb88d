"""Fair turns at Slack's rate limits.

Slack limits each Web API method per workspace (blocks/limits.py). When it
refuses a call with 429 and Retry-After, whoever asks next, at the right moment,
would get through: so without care a person refused at the first minute can be
refused again at the second while colleagues who arrived later sign. Two ways of
keeping arrival order, one per kind of call:

- `Later`: calls that can wait (an answer in the DM, the Home tab after signing)
  are queued once Slack refuses one, and sent in arrival order as soon as Slack
  allows, by one thread per method. While a method's queue is not empty, new
  calls join its end instead of trying first: the bot finishes for the person, and
  their answer says so.
- `Turns`: calls that cannot wait, because what they answer expires (a form needs
  a trigger_id that lasts three seconds; a click's eligibility check is asked while
  the person looks on). Once Slack refuses, each person is given a turn: a moment,
  spaced at the method's documented rate, after everyone who asked before them.
  They are told to try again then; until then nobody who asked after them is let
  through, and whoever comes back at their turn goes first.

Both are in this process's memory only and keyed by opaque values (a request's
keyed hash, never a Slack id in clear); with several replicas each keeps its own
order. Log lines carry counts only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackClientError

from blocks import limits
from blocks.limits import retry_after_seconds

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

# A turn nobody came back for is given up this long after it came.
TURN_KEPT_SECONDS = 30.0
# Seconds between turns when a method has no documented tier here.
_DEFAULT_SPACING = 0.6


def spacing_of(method: str) -> float:
    """Seconds between two calls at the method's documented rate."""
    limit = limits.METHOD_TIERS.get(method)
    return 60.0 / limit.tier.per_minute if limit is not None else _DEFAULT_SPACING


class Turns:
    """The order in which people may call one rate-limited method once Slack has
    refused it (see the module's docstring)."""

    def __init__(self, method: str, clock: Clock = time.monotonic) -> None:
        self.method = method
        self._spacing = spacing_of(method)
        self._clock = clock
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        # Who holds a turn, in order, and when it comes.
        self._turns: OrderedDict[str, float] = OrderedDict()
        self._last = 0.0

    def ask(self, who: str) -> int:
        """0 if `who` may call the method now, else whole seconds until their turn."""
        with self._lock:
            now = self._clock()
            self._forget_missed(now)
            turn = self._turns.get(who)
            if turn is None:
                if now >= self._blocked_until and not self._turns:
                    return 0
                turn = self._new_turn(now)
                self._turns[who] = turn
                return _seconds(turn - now)
            if now < turn or now < self._blocked_until or self._someone_before(who, now):
                return _seconds(max(turn, self._blocked_until, now + self._spacing) - now)
            del self._turns[who]
            return 0

    def refused(self, who: str, retry_after: int | None) -> int:
        """Slack refused `who`'s call: nobody goes before Retry-After has passed,
        and `who` goes first then. Whole seconds until their turn."""
        with self._lock:
            now = self._clock()
            wait = float(retry_after or 1)
            self._blocked_until = max(self._blocked_until, now + wait)
            turn = self._blocked_until
            if self._turns:
                turn = min(turn, next(iter(self._turns.values())))
            self._turns[who] = turn
            self._turns.move_to_end(who, last=False)
            self._last = max(self._last, turn)
            return _seconds(max(turn, self._blocked_until) - now)

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._turns)

    def _new_turn(self, now: float) -> float:
        turn = max(now, self._blocked_until, self._last + self._spacing)
        self._last = turn
        return turn

    def _someone_before(self, who: str, now: float) -> bool:
        for other, turn in self._turns.items():
            if other == who:
                return False
            if turn + TURN_KEPT_SECONDS > now:
                return True  # they may still come back for their turn
            # (a turn given up: _forget_missed removes it at the next ask)
        return False

    def _forget_missed(self, now: float) -> None:
        missed = [w for w, turn in self._turns.items() if turn + TURN_KEPT_SECONDS <= now]
        for who in missed:
            del self._turns[who]
        if missed:
            logger.info("%s: %d turns not taken were given up", self.method, len(missed))


def _seconds(delta: float) -> int:
    return max(1, math.ceil(delta))


@dataclass
class _Queued:
    send: Callable[[], object]
    since: float


# A call queued longer than this is dropped (logged): the person has long since
# asked again, or gone.
LATER_GIVE_UP_SECONDS = 20 * 60
# Calls waiting at once, per method; past this a call is dropped (logged) rather
# than held. Far above a workspace's worth of people waiting on one surface.
LATER_MOST_WAITING = 20_000


class Later:
    """Calls Slack refused for now, made in arrival order as soon as it allows (see
    the module's docstring). One per process."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Condition()
        self._queues: dict[str, OrderedDict[object, _Queued]] = {}
        self._blocked_until: dict[str, float] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._serial = 0

    def call(
        self,
        method: str,
        send: Callable[[], object],
        key: object = None,
        late: Callable[[], object] | None = None,
    ) -> bool:
        """Send now, or queue if Slack is holding this method back. True if sent
        now, False if queued (the person will get it later) or dropped (logged).
        `key` names a call that replaces an earlier one still queued under the same
        key (someone's Home tab, published again), keeping its place in line.
        `late`, if given, is what is sent instead once the call had to wait (the
        same answer, saying that it was held back)."""
        held = late or send
        with self._lock:
            queued = bool(self._queues.get(method)) or self._clock() < self._blocked_until.get(
                method, 0.0
            )
            if queued:
                self._enqueue(method, held, key)
                return False
        try:
            send()
            return True
        except SlackApiError as error:
            wait = self._retry_after(error)
            if wait is None:
                _log_failure(method, error)
                return False
            with self._lock:
                self._hold(method, wait)
                self._enqueue(method, held, key)
            return False
        except (SlackClientError, OSError) as error:
            _log_failure(method, error)
            return False

    def waiting(self, method: str) -> int:
        with self._lock:
            return len(self._queues.get(method) or ())

    def settle(self, timeout: float) -> bool:
        """Wait until nothing is queued (tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while any(self._queues.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.1))
        return True

    @staticmethod
    def _retry_after(error: SlackApiError) -> int | None:
        if getattr(error.response, "status_code", None) != 429:
            return None
        return retry_after_seconds(getattr(error.response, "headers", None)) or 1

    def _hold(self, method: str, wait: float) -> None:
        until = self._clock() + wait
        self._blocked_until[method] = max(self._blocked_until.get(method, 0.0), until)

    def _enqueue(self, method: str, send: Callable[[], object], key: object) -> None:
        queue = self._queues.setdefault(method, OrderedDict())
        if key is None:
            self._serial += 1
            key = ("call", self._serial)
        if key in queue:
            queue[key].send = send  # the newer call, in the older one's place
        elif len(queue) >= LATER_MOST_WAITING:
            logger.warning("%s: too many calls waiting for Slack; dropped one", method)
            return
        else:
            queue[key] = _Queued(send, self._clock())
            if len(queue) == 1 or len(queue) % 100 == 0:
                logger.info("%s: Slack is holding calls back; %d waiting", method, len(queue))
        thread = self._threads.get(method)
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=self._drain, args=(method,), name=f"later-{method}", daemon=True
            )
            self._threads[method] = thread
            thread.start()
        self._lock.notify_all()

    def _drain(self, method: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(method)
                if not queue:
                    self._threads.pop(method, None)
                    self._lock.notify_all()
                    return
                wait = self._blocked_until.get(method, 0.0) - self._clock()
                if wait > 0:
                    self._lock.wait(min(wait, 1.0))
                    continue
                key, queued = next(iter(queue.items()))
                if self._clock() - queued.since > LATER_GIVE_UP_SECONDS:
                    del queue[key]
                    logger.warning("%s: a call waited too long for Slack; dropped", method)
                    continue
                send = queued.send
            try:
                send()
            except SlackApiError as error:
                wait_for = self._retry_after(error)
                if wait_for is not None:
                    with self._lock:
                        self._hold(method, wait_for)
                    continue  # it stays first in line
                _log_failure(method, error)
            except Exception as error:  # one call's failure must not stop the others
                _log_failure(method, error)
            with self._lock:
                current = self._queues.get(method)
                # Sent (or failed for good); unless a newer call took its place meanwhile.
                if current is not None and current.get(key) is queued and queued.send is send:
                    del current[key]
                self._lock.notify_all()


def _log_failure(method: str, error: Exception) -> None:
    if isinstance(error, SlackApiError):
        code = error.response.get("error") if error.response is not None else None
        logger.warning("%s failed (error %s)", method, code)
    elif isinstance(error, SlackClientError | OSError):
        logger.warning("%s failed: %s", method, type(error).__name__)
    else:
        # Not Slack: the call could not be made (a Grid identity Slack would not
        # give, say). Logged with its type only: the error may name the person.
        logger.warning("%s not made: %s", method, type(error).__name__)


class Pacing:
    """The process's Turns (per method) and its Later queue, made by the app
    factory and handed to listeners."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.later = Later(clock)
        self._turns: dict[str, Turns] = {}
        self._lock = threading.Lock()

    def turns(self, method: str) -> Turns:
        with self._lock:
            turns = self._turns.get(method)
            if turns is None:
                turns = self._turns[method] = Turns(method, self._clock)
            return turns
