"""storage/turns.py: this process's SQLite writers take turns in the order they came,
and a scheduled job waits for its turn where a person's request would give up.

CI of 2026-12-03 failed on test_load: its announcement job, queued behind the
writer thread's batches of signatures, got DatabaseBusy after the 2.5 s a request
may wait. The first two tests failed on the RLock and the request's patience
that were there before."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from jobs.upkeep import refresh_counts_job
from storage.db import SQLITE_BUSY_TIMEOUT_MS, Database, DatabaseBusy
from storage.turns import Turn, patience, unhurried
from tests.support.databases import sqlite_only

REQUEST_SECONDS = SQLITE_BUSY_TIMEOUT_MS / 1000
TRIALS = 20


def _holding(db: Database, seconds: float) -> tuple[threading.Thread, threading.Event]:
    """Another thread of this process holding the write turn for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        with db.write_turn():
            taken.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(5)
    return thread, taken


@sqlite_only("one writer per file, and this process's turns, are SQLite's")
def test_a_writer_that_lets_go_queues_behind_those_already_waiting(db: Database) -> None:
    # Like storage/batching.py's writer: one batch, then straight on to the next.
    # Against the threading.RLock that was the Database's turn before, the holder
    # took it straight back in most trials (165 of 200 on an idle machine; on a busy
    # one, where the waiter is not scheduled at once, nearly always).
    turn = db._write_turn
    assert turn is not None
    for _ in range(TRIALS):
        job_waiting = threading.Event()
        order: list[str] = []

        def job(job_waiting: threading.Event = job_waiting, order: list[str] = order) -> None:
            job_waiting.set()
            assert turn.acquire(timeout=5)
            order.append("job")
            turn.release()

        assert turn.acquire(timeout=0)
        thread = threading.Thread(target=job)
        thread.start()
        assert job_waiting.wait(5)
        time.sleep(0.02)  # the job is blocked on the turn by now
        turn.release()
        if turn.acquire(timeout=0):  # straight back: it went ahead of the job
            order.append("next batch")
            turn.release()
        thread.join(5)
        assert order == ["job"]


@sqlite_only("one writer per file, and this process's turns, are SQLite's")
def test_a_job_waits_out_a_long_write_where_a_request_gives_up(db: Database) -> None:
    holder, _ = _holding(db, REQUEST_SECONDS + 1.0)
    outcomes: dict[str, object] = {}

    def request() -> None:
        try:
            with db.write():
                outcomes["request"] = "wrote"
        except DatabaseBusy as busy:
            outcomes["request"] = busy

    def job() -> None:
        outcomes["job"] = refresh_counts_job(db)  # the scheduler's entry point, as it runs

    threads = [threading.Thread(target=request), threading.Thread(target=job)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(REQUEST_SECONDS + 10)
    holder.join(5)
    assert isinstance(outcomes["request"], DatabaseBusy)  # Slack's 3 s still hold
    assert outcomes["job"] == 0  # no campaigns: it ran, after the long write


def test_a_turn_is_reentrant_and_only_its_holder_lets_go() -> None:
    turn = Turn()
    assert turn.acquire(timeout=0)
    assert turn.acquire(timeout=0)
    turn.release()
    other: list[bool] = []
    thread = threading.Thread(target=lambda: other.append(turn.acquire(timeout=0.05)))
    thread.start()
    thread.join(5)
    assert other == [False]  # still held once
    failure: list[BaseException] = []

    def stranger() -> None:
        try:
            turn.release()
        except RuntimeError as error:
            failure.append(error)

    thread = threading.Thread(target=stranger)
    thread.start()
    thread.join(5)
    assert len(failure) == 1
    turn.release()
    assert turn.acquire(timeout=0)
    turn.release()


def test_a_waiter_that_gave_up_is_not_handed_the_turn() -> None:
    turn = Turn()
    assert turn.acquire(timeout=0)
    gave_up: list[bool] = []
    thread = threading.Thread(target=lambda: gave_up.append(turn.acquire(timeout=0.05)))
    thread.start()
    thread.join(5)
    assert gave_up == [False]
    turn.release()
    # Free, not held for a thread that has left: anyone takes it at once.
    taken: list[bool] = []
    thread = threading.Thread(target=lambda: taken.append(turn.acquire(timeout=0)))
    thread.start()
    thread.join(5)
    assert taken == [True]


def test_unhurried_is_this_threads_and_ends_with_its_block() -> None:
    assert patience(2.5) == 2.5
    seen: list[float] = []
    with unhurried():
        assert patience(2.5) > 30
        thread = threading.Thread(target=lambda: seen.append(patience(2.5)))
        thread.start()
        thread.join(5)
    assert seen == [2.5]
    assert patience(2.5) == 2.5


@pytest.mark.parametrize("seconds", [0.0, 0.05])
def test_an_uncontended_turn_is_taken_at_once(seconds: float) -> None:
    turn = Turn()
    assert turn.acquire(timeout=seconds)
    turn.release()


@sqlite_only("SQLite's WAL checkpoint")
def test_emptying_the_wal_behind_an_old_reader_holds_the_turn_briefly(db: Database) -> None:
    # The checkpoint waits for readers of an older snapshot while it holds the
    # write turn; with the busy timeout's 2.5 s, the signers queued behind a
    # scheduled scrub (which now reliably gets its turn) waited 2.4 s too.
    with db.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    assert db.sqlite_file is not None
    reader = sqlite3.connect(db.sqlite_file, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchall()  # a snapshot, held
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
        scrubbed: list[bool] = []
        scrub = threading.Thread(target=lambda: scrubbed.append(db.scrub()))
        scrub.start()
        time.sleep(0.1)  # the scrub holds the turn by now
        started = time.monotonic()
        with db.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
        waited = time.monotonic() - started
        scrub.join(5)
    finally:
        reader.close()
    assert scrubbed == [False]  # busy: emptied at the next try
    assert waited < 1.0, f"a write waited {waited:.2f} s behind the checkpoint"
    assert db.scrub()  # the reader gone, the WAL empties
