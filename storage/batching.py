"""Group commit on SQLite: one thread runs the busiest writes, many to a transaction.

SQLite has one writer at a time. With a request thread per signer taking its
turn, a burst of signers queues on the write lock, and every statement the
holder runs lets the interpreter lock go to another thread, which the holder
then waits for: measured at 16 concurrent signers, the turn-taking cost twice
the CPU of the signing itself. Here request threads hand their write to one
writer thread and wait; the writer runs whatever has queued up meanwhile in
one transaction, and answers each after the commit. An acknowledged signature
is still a committed one.

A write that raises a domain error (a closed campaign, say) rolls its batch
back; the others are then run again one by one, so that one person's refusal
never costs another their signature. A failure of the database itself (a lock
held elsewhere beyond the busy timeout, a full disk) fails the whole batch, as
it would have failed each write on its own.

A write whose caller need not wait for it (an event's receipt, whose outcome is
known beforehand) can be queued instead: it goes into the next transaction, and a
callback hears how it went.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from storage.direct import Direct, DirectCursor

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Failures of the database itself, not of one write: the whole batch fails with them.
DATABASE_FAILURES = (sqlite3.Error, SQLAlchemyError, TimeoutError, OSError)
# Failures that say nothing of the writer's connection: the write turn not given
# in time (DatabaseBusy, before the connection is used), a constraint refused.
CONNECTION_FINE = (TimeoutError, sqlite3.IntegrityError)

# Most writes in one transaction: enough to absorb a burst, few enough that the
# first in a batch does not wait long for the last.
MAX_BATCH = 64


# Queued writes nobody waits for, most at once: past this the caller waits for its
# write, so that a burst the writer cannot keep up with slows its callers down
# instead of growing the queue.
MAX_QUEUED = MAX_BATCH


def suspect(error: BaseException) -> bool:
    """Whether a connection that met `error` may be broken, and is better dropped."""
    return isinstance(error, DATABASE_FAILURES) and not isinstance(error, CONNECTION_FINE)


def drop(connection: Any, whose: str) -> None:
    """Invalidate a kept pooled connection (the pool opens a fresh one next), logging
    rather than raising if that fails too: the caller's own error is what counts."""
    try:
        connection.invalidate()
    except Exception as error:
        logger.warning("could not drop %s connection: %s", whose, type(error).__name__)


Finished = Callable[[Any, BaseException | None], None]
# How one write went: its result, or the error it failed with.
Outcome = tuple[Any, BaseException | None]


class Job(Generic[T]):
    __slots__ = ("error", "finished", "result", "settled", "taken", "waited", "work")

    def __init__(self, work: Callable[[DirectCursor], T], finished: Finished | None = None) -> None:
        self.work = work
        self.finished = finished
        # Only a caller of run() waits: a queued write's caller hears of it through
        # `finished`, and needs no Event made and set for each (one per signature).
        self.waited = threading.Event() if finished is None else None
        self.settled = False
        self.taken = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def settle(self) -> None:
        """Its result or error is in: wake whoever waits."""
        self.settled = True
        if self.waited is not None:
            self.waited.set()


def _unheard(result: Any, error: BaseException | None) -> None:
    """run_here()'s jobs: their outcomes are returned, not called back."""


class WriteBatcher:
    def __init__(self, direct: Direct, busy: Callable[[], Exception]) -> None:
        self._direct = direct
        self._busy = busy
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: deque[Job[Any]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False
        # The writer thread's connection, kept from one batch to the next: checking
        # one out of the pool and back (which rolls back) for every batch cost more
        # than a signature's statements (py-spy, bench/RESULTS.md).
        self._connection: Any = None

    def run(self, work: Callable[[DirectCursor], T], timeout: float) -> T:
        """Run `work` in a write transaction of the writer thread; its result once
        committed. A write not begun within `timeout` seconds is withdrawn and
        never runs (the caller is told the database is busy)."""
        job: Job[T] = Job(work)
        with self._wake:
            if self._stopping:
                raise self._busy()
            self._pending.append(job)
            self._start()
            self._wake.notify()
        assert job.waited is not None  # made for run()'s callers
        if not job.waited.wait(timeout):
            with self._lock:
                if not job.taken:
                    self._pending.remove(job)
                    raise self._busy()
            job.waited.wait()  # begun: it finishes within the database's busy timeout
        if job.error is not None:
            raise job.error
        # Set by the writer before it settles the job; Optional only as a job starts so.
        return job.result  # type: ignore[return-value]

    def queue(self, work: Callable[[DirectCursor], Any], finished: Finished) -> bool:
        """Hand `work` to the writer thread without waiting for it. Once its
        transaction is committed (or has failed), `finished(result, error)` runs on
        the writer thread. False, with nothing queued, when the writer is stopping
        or already has MAX_QUEUED writes waiting: the caller then uses run()."""
        job: Job[Any] = Job(work, finished)
        with self._wake:
            if self._stopping or len(self._pending) >= MAX_QUEUED:
                return False
            self._pending.append(job)
            self._start()
            self._wake.notify()
        return True

    def run_here(self, works: list[Callable[[DirectCursor], Any]]) -> list[Outcome]:
        """Run `works` as the writer thread runs a batch, on this thread and its
        kept connection, and say how each went: for a caller that is itself the
        one writer (storage/writerprocess.py's process)."""
        batch: list[Job[Any]] = [Job(work, _unheard) for work in works]
        self._run(batch)
        return [(job.result, job.error) for job in batch]

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        else:  # only run_here() wrote: the connection is this thread's to give back
            self._give_back()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="sqlite-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._pending and not self._stopping:
                        self._wake.wait()
                    if not self._pending:
                        return  # stopping, and nothing left to write
                    batch = [
                        self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))
                    ]
                    for job in batch:
                        job.taken = True
                self._run(batch)
        finally:
            self._give_back()

    def _run(self, batch: list[Job[Any]]) -> None:
        try:
            self._run_batch(batch)
        finally:
            # Nobody may wait for ever on a write the writer gave up on.
            for job in batch:
                if not job.settled:
                    job.error = self._busy()
                    job.settle()
            for job in batch:
                if job.finished is not None:
                    try:
                        job.finished(job.result, job.error)
                    except Exception as error:  # the writer thread must go on
                        logger.error("a queued write's callback failed: %s", type(error).__name__)

    def _run_batch(self, batch: list[Job[Any]]) -> None:
        try:
            if self._connection is None:
                self._connection = self._direct.checkout()
            with self._direct.write(kept=self._connection) as cursor:
                results = [job.work(cursor) for job in batch]
        except DATABASE_FAILURES as error:
            logger.warning("a batch of %d writes failed: %s", len(batch), type(error).__name__)
            if suspect(error):
                self._drop_connection()
            self._finish(batch, error=error)
            return
        except Exception as error:  # a refusal (a closed campaign), or a bug, in one write
            if len(batch) == 1:
                self._finish(batch, error=error)
                return
            for job in batch:  # whose it was is found by running each alone
                self._run_batch([job])
            return
        for job, result in zip(batch, results, strict=True):
            job.result = result
            job.settle()

    def _give_back(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.close()

    def _drop_connection(self) -> None:
        """After a failure of the database: the next batch starts on a fresh
        connection rather than on one that may be broken."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            drop(connection, "the writer's")

    @staticmethod
    def _finish(batch: list[Job[Any]], error: BaseException) -> None:
        for job in batch:
            job.error = error
            job.settle()
