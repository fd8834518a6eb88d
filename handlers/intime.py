"""Answering Slack in time, whatever its Web API does.

Slack waits three seconds for a request's acknowledgement; a Web API call can
take longer (our client gives up after five). Listeners hand their work to
`InTime`, which runs it on a pool and waits for it only until ANSWER_WITHIN
after the request arrived:

- done by then (the usual case): the listener answers with what it found, as it
  would have without the pool: a signature's confirmation is still the
  acknowledgement of the form that made it, sent once the signature is
  committed;
- not done: the listener answers now with what it can say already (nothing, for
  an event or a click; "one moment" for a form) and the work carries on. What it
  finds is then shown the way Slack allows after an acknowledgement: the modal
  is updated (views.update), a form opened with a click's trigger_id.

A person is told an outcome only once the work that decides it is done.

An event served by `python -m bot serve` is acknowledged before its listener runs
(bot/server.SlackWSGI: its acknowledgement is an empty 200 whatever happens), and
says so in its context (ACKNOWLEDGED): there is then no deadline to keep, and the
work runs in place, on the request's own thread, without the hand-over to the
pool and back.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient

import blocks
from handlers.kept import ack_json
from handlers.payload import input_blocks
from handlers.slackapi import SlackUnavailable, call_quietly, open_form

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Slack's three seconds, less the time the answer needs to reach Slack and for a
# busy machine to schedule the thread that sends it.
ANSWER_WITHIN = 1.5
# Work that outlasts its request is followed up only once the acknowledgement
# has gone: the listener returns just after the deadline, and Bolt sends at once.
_AFTER_THE_ANSWER = 0.2
ARRIVED = "undersigned_arrived"
# Set in a request's context when Slack was answered before the listener ran.
ACKNOWLEDGED = "undersigned_acknowledged"
# Threads for work that may outlast its request (one pool per process).
IN_TIME_WORKERS = 16
# How often settle() looks again at the work running.
_SETTLE_LOOK = 0.05


def arrived(context: BoltContext) -> float:
    """When the request arrived (monotonic seconds), as the Gate noted it."""
    value = context.get(ARRIVED)
    return value if isinstance(value, float) else time.monotonic()


class _Queued(Generic[R]):
    """What came back from work queued on another thread, and whether the request
    had to say "one moment" before it did. `ready` is a bare lock, held until the
    outcome is in: releasing it wakes the waiting request thread for less than an
    Event's condition variable costs, on the path every signature takes."""

    __slots__ = ("answered_at", "done", "error", "lock", "ready", "result")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = threading.Lock()
        self.ready.acquire()
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None
        self.answered_at: float | None = None


class InTime:
    """The pool that work outlasting a request's acknowledgement runs on; one per
    process, built by the app factory."""

    def __init__(self, workers: int = IN_TIME_WORKERS, within: float = ANSWER_WITHIN) -> None:
        self.within = within
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="in-time")
        # Work running or waiting, one entry each. A deque's append and pop are
        # atomic, so counting needs no lock: a lock taken twice per signature by
        # every request thread was contended under load, and each wait on it
        # handed the interpreter lock around (py-spy, bench/RESULTS.md).
        self._running: deque[None] = deque()
        self._idle = threading.Condition()

    def run(
        self,
        context: BoltContext,
        work: Callable[[], T],
        *,
        late: Callable[[], None] | None = None,
        then: Callable[[T], None] | None = None,
        failed: Callable[[str], None] | None = None,
    ) -> tuple[bool, T | None]:
        """Run `work`; (True, its result) if it finished in time, else (False, None).

        An error it raises in time is raised here, for the app's error handler.
        Late, `late()` runs here (say "one moment"), and once the work is done
        `then(result)` runs on the pool, or `failed(reference)` if it raised
        (logged with that reference, never with what the request held).
        """
        if context.get(ACKNOWLEDGED):
            return True, work()  # answered already: nothing to be in time for
        future = self._submit(work)
        left = arrived(context) + self.within - time.monotonic()
        try:
            return True, future.result(timeout=max(left, 0.0))
        except FutureTimeout:
            pass
        if late is not None:
            late()
        answered_at = time.monotonic()
        self._submit(lambda: self._follow_up(future, answered_at, then, failed))
        return False, None

    def run_queued(
        self,
        context: BoltContext,
        queue: Callable[[Callable[[R | None, BaseException | None], None]], bool],
        answer: Callable[[R | None, BaseException | None], T],
        *,
        late: Callable[[], None],
        then: Callable[[T], None],
        failed: Callable[[str], None],
    ) -> tuple[bool, T | None] | None:
        """run(), for work that another thread does and reports back on: a write
        `queue`d for the SQLite writer thread (storage/batching.py), which calls back
        with (result, error). This thread waits for it itself, with no hand-over to
        the pool and back: for a signature those cost more than its write
        (bench/RESULTS.md, "Fourth pass"). `answer(result, error)` makes the answer,
        here in time, or on the pool once late (never on the writer thread). None,
        with nothing queued, when `queue` declines it (no writer thread, or one
        that is behind) or Slack was answered already: then use run()."""
        if context.get(ACKNOWLEDGED):
            return None
        waited: _Queued[R] = _Queued()
        self._running.append(None)  # counted until the answer is given, here or late

        def finished(result: R | None, error: BaseException | None) -> None:
            with waited.lock:
                waited.result, waited.error = result, error
                waited.done = True
                answered_at = waited.answered_at
            waited.ready.release()
            if answered_at is not None:  # the request has said "one moment" already
                self._pool.submit(self._follow_queued, waited, answered_at, answer, then, failed)

        try:
            queued = queue(finished)
        except BaseException:
            self._finished_one()
            raise
        if not queued:
            self._finished_one()
            return None
        left = arrived(context) + self.within - time.monotonic()
        if not waited.ready.acquire(timeout=max(left, 0.0)):
            with waited.lock:
                if not waited.done:
                    waited.answered_at = time.monotonic()
            if waited.answered_at is not None:
                late()
                return False, None
        try:
            return True, answer(waited.result, waited.error)
        finally:
            self._finished_one()

    def _follow_queued(
        self,
        waited: _Queued[R],
        answered_at: float,
        answer: Callable[[R | None, BaseException | None], T],
        then: Callable[[T], None],
        failed: Callable[[str], None],
    ) -> None:
        try:
            try:
                value = answer(waited.result, waited.error)
            except Exception as error:
                failed(_log_failure(error))
                return
            wait = answered_at + _AFTER_THE_ANSWER - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            then(value)
        finally:
            self._finished_one()

    def _finished_one(self) -> None:
        self._running.pop()
        if not self._running:
            with self._idle:
                self._idle.notify_all()

    def _follow_up(
        self,
        future: Future[T],
        answered_at: float,
        then: Callable[[T], None] | None,
        failed: Callable[[str], None] | None,
    ) -> None:
        try:
            result = future.result()
        except Exception as error:
            reference = _log_failure(error)
            if failed is not None:
                failed(reference)
            return
        wait = answered_at + _AFTER_THE_ANSWER - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if then is not None:
            then(result)

    def start(self, work: Callable[[], object]) -> None:
        """Run `work` on the pool without waiting for it (failures are logged)."""

        def logged() -> None:
            try:
                work()
            except Exception as error:
                _log_failure(error)

        self._submit(logged)

    def _submit(self, work: Callable[[], T]) -> Future[T]:
        self._running.append(None)

        def tracked() -> T:
            try:
                return work()
            finally:
                self._finished_one()

        return self._pool.submit(tracked)

    def settle(self, timeout: float = 30) -> bool:
        """Wait until no work is running or waiting (tests, the console)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Told when the count falls to nothing; it is read without the lock,
                # so a notice just before this wait is caught by the next look.
                self._idle.wait(min(left, _SETTLE_LOOK))
        return True

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _log_failure(error: Exception) -> str:
    reference = secrets.token_hex(4)
    logger.error(
        "work after an acknowledgement failed (ref %s): %s",
        reference,
        type(error).__name__,
        exc_info=error,
    )
    return reference


class FormOpener:
    """Opens the modal a click asked for, in time for its trigger_id.

    The trigger_id of a click expires three seconds after it. If the form is not
    ready by the deadline, `hold()` opens a "one moment" modal with it, and the
    form replaces that modal once ready (views.update needs no trigger)."""

    def __init__(self, client: WebClient, trigger_id: Any) -> None:
        self.client = client
        self.trigger_id = trigger_id
        self._lock = threading.Lock()
        self._held: str | None = None
        self._shown = False

    def hold(self) -> None:
        """Open the "one moment" modal, unless the form was shown meanwhile. Runs on
        the pool: the click's acknowledgement does not wait for views.open."""
        with self._lock:
            if self._shown or not self.trigger_id:
                return
            try:
                opened = self.client.views_open(
                    trigger_id=self.trigger_id, view=blocks.checking_modal()
                )
                view = opened.get("view") or {}
                self._held = view.get("id") if isinstance(view.get("id"), str) else None
            except Exception as error:  # the form itself is tried later all the same
                logger.warning("views.open failed (%s)", type(error).__name__)

    def show(self, view: dict[str, Any]) -> SlackUnavailable | None:
        """Open `view` (or put it in place of the "one moment" modal); None once it
        is shown, else why Slack did not show it (logged)."""
        with self._lock:
            self._shown = True
            if self._held is not None:
                shown = call_quietly(
                    "views.update", self.client.views_update, view_id=self._held, view=view
                )
                return None if shown else SlackUnavailable("views.update")
            return open_form(self.client, self.trigger_id, view)


def field_errors(view: dict[str, Any], errors: dict[str, str], title: str) -> FormAnswer:
    """`errors` beside the submitted form's fields (titled `title` if they can only
    be shown in its place); for a forged form without one of those fields, a
    notice in its place: Slack refuses errors that name a block the view does not
    have (found by tests/test_hostile.py)."""
    if input_blocks(view).issuperset(errors):
        return FormAnswer(errors=errors, errors_title=title)
    return FormAnswer(view=blocks.notice_modal(title, blocks.damaged_form_text()))


def update_view(client: WebClient, view_id: Any, view: dict[str, Any]) -> bool:
    """Replace a modal that was answered with "one moment"."""
    if not isinstance(view_id, str) or not view_id:
        logger.warning("a late answer had no modal to go to")
        return False
    return call_quietly("views.update", client.views_update, view_id=view_id, view=view)


@dataclass(frozen=True)
class FormAnswer:
    """What a submitted form turns into: field `errors`, a `view` in its place, or
    an acknowledgement serialized beforehand (`json`)."""

    errors: dict[str, str] | None = None
    view: dict[str, Any] | None = None
    json: str | None = None
    # The title errors get when they can only be shown in place of the form.
    errors_title: str = "Not recorded"

    def acknowledge(self, ack: Ack) -> None:
        if self.json is not None:
            ack_json(ack, self.json)
        elif self.errors is not None:
            ack(response_action="errors", errors=self.errors)
        else:
            ack(response_action="update", view=self.view)

    def as_view(self) -> dict[str, Any]:
        """The same answer shown by views.update, once the form was answered with
        "one moment" (a form's field errors can only go in its acknowledgement)."""
        if self.json is not None:
            return json.loads(self.json)["view"]
        if self.errors is not None:
            return blocks.notice_modal(self.errors_title, " ".join(self.errors.values()))
        return self.view or blocks.notice_modal("Done", "Done.")


class _FormFollowUp:
    """How a submitted form's answer reaches the person: in its acknowledgement,
    or, after "one moment", by views.update; then `after`."""

    def __init__(
        self,
        ack: Ack,
        body: dict[str, Any],
        client: WebClient,
        checking: dict[str, Any] | None,
        after: Callable[[], None] | None,
    ) -> None:
        self.ack = ack
        self.client = client
        self.checking = checking or blocks.recording_modal()
        self.view_id = (body.get("view") or {}).get("id")
        self.after = after

    def late(self) -> None:
        self.ack(response_action="update", view=self.checking)

    def then(self, answer: FormAnswer) -> None:
        update_view(self.client, self.view_id, answer.as_view())
        if self.after is not None:
            self.after()

    def failed(self, reference: str) -> None:
        view = blocks.notice_modal("Something went wrong", blocks.error_message(reference))
        update_view(self.client, self.view_id, view)

    def answered(
        self, context: BoltContext, in_time: InTime, done: bool, answer: FormAnswer | None
    ) -> None:
        if done and answer is not None:
            answer.acknowledge(self.ack)
            if self.after is not None:
                in_time.run(context, self.after)


def answer_in_time(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    in_time: InTime,
    work: Callable[[], FormAnswer],
    after: Callable[[], None] | None = None,
    checking: dict[str, Any] | None = None,
) -> None:
    """Answer a submitted form with what `work` decides, in time: if it is not done
    by the deadline, the form says "one moment" (`checking`) and is updated with
    the outcome (which `work` has committed by then). `after` runs once the
    outcome is shown."""
    follow = _FormFollowUp(ack, body, client, checking, after)
    ran = in_time.run(context, work, late=follow.late, then=follow.then, failed=follow.failed)
    follow.answered(context, in_time, *ran)


def answer_queued(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    in_time: InTime,
    queue: Callable[[Callable[[R | None, BaseException | None], None]], bool],
    answer: Callable[[R | None, BaseException | None], FormAnswer],
    after: Callable[[], None] | None = None,
) -> bool:
    """answer_in_time() for work queued on the SQLite writer thread
    (InTime.run_queued). False, with nothing done, when it could not be queued."""
    follow = _FormFollowUp(ack, body, client, None, after)
    ran = in_time.run_queued(
        context, queue, answer, late=follow.late, then=follow.then, failed=follow.failed
    )
    if ran is None:
        return False
    follow.answered(context, in_time, *ran)
    return True
