"""storage/writerprocess.py: signatures committed by a second process, answered in
this one only once committed; when that process is gone, writes stay here."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console.server import FakeSlack
from petition.errors import CampaignNotFound
from petition.keyring import Keyring
from petition.signatures import CampaignClosed, Choice, SignOutcome
from petition.worker_actions import ANONYMOUSLY, Signed, WorkerActions
from storage import writerprocess
from storage.db import Database, DatabaseBusy
from storage.migrate import upgrade
from storage.models import Signature
from storage.writerprocess import Task
from tests.support.crowds import sign_through, signers
from tests.support.databases import sqlite_only
from tests.support.processes import ServeProcess, bot_env
from tests.support.running import SlackDriver, make_settings
from tests.support.signers import expected_value
from tests.support.signing import SLUG
from tests.support.writers import (
    counted,
    never_starts,
    open_campaign,
    pid_of_writer,
    sleep_in_writer,
    unpicklable_result,
    writer_setup,
)

pytestmark = sqlite_only("the writer process is SQLite's; PostgreSQL takes writers in parallel")

READY_SECONDS = 30.0


def _started(db: Database, setup: Callable[[], Any]) -> None:
    assert db.direct.start_writer_process(setup)
    deadline = time.monotonic() + READY_SECONDS
    probe = Task(pid_of_writer, ())
    while not db.direct.write_elsewhere(probe, lambda result, error: None):
        assert time.monotonic() < deadline, "the writer process did not become ready"
        time.sleep(0.05)


class _Heard:
    """Outcomes as `finished` callbacks report them, waited for by count."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[Any, BaseException | None]] = []
        self._lock = threading.Condition()

    def __call__(self, result: Any, error: BaseException | None) -> None:
        with self._lock:
            self.outcomes.append((result, error))
            self._lock.notify_all()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[tuple[Any, BaseException | None]]:
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.outcomes) >= count, timeout), self.outcomes
            return list(self.outcomes)


@pytest.fixture
def worker(db: Database, keyring: Keyring, database_url: str) -> WorkerActions:
    open_campaign(db, "open-one")
    open_campaign(db, "shut", status="closed")
    _started(db, writer_setup(database_url))
    return WorkerActions(db, keyring)


def test_signatures_are_committed_by_the_writer_process_and_answered_here(
    worker: WorkerActions, db: Database
) -> None:
    heard = _Heard()
    generation = db.generation
    start = threading.Barrier(20)

    def signer(n: int) -> None:
        start.wait()
        assert worker.sign_soon("open-one", f"person-{n}", ANONYMOUSLY, None, heard)

    threads = [threading.Thread(target=signer, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = heard.wait_for(20)
    assert all(error is None for _, error in outcomes)
    assert {signed.outcome for signed, _ in outcomes} == {SignOutcome.SIGNED}
    assert all(isinstance(signed, Signed) and signed.status for signed, _ in outcomes)
    # Committed when answered: the count and the rows, read by this process.
    assert counted(db, "open-one") == (20, 20)
    # This process's copy of the campaigns hears of the commits made elsewhere.
    assert db.generation > generation
    # And they were made elsewhere: the in-process writer thread never wrote.
    pids = _Heard()
    assert db.direct.write_elsewhere(Task(pid_of_writer, ()), pids)
    assert pids.wait_for(1)[0][0] != os.getpid()


def test_a_second_signature_and_a_refusal_come_back_as_they_would_here(
    worker: WorkerActions, db: Database
) -> None:
    heard = _Heard()
    named = Choice(name="Ada Lovelace")
    assert worker.sign_soon("open-one", "person-a", named, None, heard)
    heard.wait_for(1)
    assert worker.sign_soon("open-one", "person-a", named, None, heard)
    assert worker.sign_soon("shut", "person-b", ANONYMOUSLY, None, heard)
    assert worker.sign_soon("nowhere", "person-c", ANONYMOUSLY, None, heard)
    assert worker.sign_soon("open-one", "person-d", ANONYMOUSLY, None, heard)
    first, again, shut, nowhere, other = heard.wait_for(5)
    assert first[0].outcome is SignOutcome.SIGNED
    assert first[0].status.named
    assert again[0].outcome is SignOutcome.ALREADY_SIGNED
    assert isinstance(shut[1], CampaignClosed)
    assert str(shut[1]) == str(CampaignClosed())
    assert isinstance(nowhere[1], CampaignNotFound)
    assert nowhere[1].slug == "nowhere"
    # One person's refusal costs nobody else their signature.
    assert other == (other[0], None)
    assert other[0].outcome is SignOutcome.SIGNED
    assert counted(db, "open-one") == (2, 2)
    assert counted(db, "shut") == (0, 0)


def test_when_the_writer_process_dies_its_writes_are_answered_busy_and_the_rest_stay_here(
    worker: WorkerActions, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    pids = _Heard()
    assert db.direct.write_elsewhere(Task(pid_of_writer, ()), pids)
    writer_pid = pids.wait_for(1)[0][0]
    stuck = _Heard()
    assert db.direct.write_elsewhere(Task(sleep_in_writer, (30.0,)), stuck)
    time.sleep(0.5)  # sent, and sleeping there
    with caplog.at_level(logging.ERROR, logger="storage.writerprocess"):
        os.kill(writer_pid, signal.SIGKILL)
        [(result, error)] = stuck.wait_for(1)
    assert result is None
    assert isinstance(error, DatabaseBusy)
    assert "the writer process was lost" in caplog.text
    # From now on signatures are written in this process, and still committed.
    assert not db.direct.write_elsewhere(Task(pid_of_writer, ()), pids)
    heard = _Heard()
    assert worker.sign_soon("open-one", "person-after", ANONYMOUSLY, None, heard)
    [(signed, error)] = heard.wait_for(1)
    assert error is None
    assert signed.outcome is SignOutcome.SIGNED
    assert counted(db, "open-one") == (1, 1)


def test_a_writer_process_that_cannot_start_leaves_the_writes_here(
    db: Database, keyring: Keyring, caplog: pytest.LogCaptureFixture
) -> None:
    open_campaign(db, "open-one")
    with caplog.at_level(logging.ERROR, logger="storage.writerprocess"):
        assert db.direct.start_writer_process(never_starts)
        deadline = time.monotonic() + READY_SECONDS
        while "did not start" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not db.direct.write_elsewhere(Task(pid_of_writer, ()), lambda r, e: None)
    heard = _Heard()
    worker = WorkerActions(db, keyring)
    assert worker.sign_soon("open-one", "person-here", ANONYMOUSLY, None, heard)
    [(signed, error)] = heard.wait_for(1)
    assert error is None
    assert signed.outcome is SignOutcome.SIGNED


def _server_script(database_url: str, fork: bool, then: str) -> str:
    """A server as `serve` starts one (the writer process forked before it opens
    its database, or a fresh interpreter), that prints its writer's pid and the
    names of the writer's environment, then does `then`."""
    return textwrap.dedent(
        f"""
        import os, sys, time
        from storage.db import Database
        from storage.writerprocess import Task, fork_writer
        from tests.support.writers import environment_of_writer, pid_of_writer, writer_setup
        forked = fork_writer({database_url!r}) if {fork!r} else None
        assert (forked is not None) == {fork!r}
        db = Database.from_url({database_url!r})
        db.direct.start_writer_process(writer_setup({database_url!r}), forked)
        heard = []
        for task in (Task(pid_of_writer, ()), Task(environment_of_writer, ())):
            while not db.direct.write_elsewhere(task, lambda r, e: heard.append(r)):
                time.sleep(0.05)
        while len(heard) < 2:
            time.sleep(0.05)
        print(heard[0], " ".join(heard[1]), flush=True)
        {then}
        """
    )


def _run(script: str) -> subprocess.CompletedProcess[str]:
    """Run `script` as a server's process of its own (no thread of pytest's in it)."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=os.getcwd(),
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "fresh"])
def test_the_writer_process_ends_with_the_process_that_started_it(
    db: Database, database_url: str, fork: bool
) -> None:
    """kill -9 of the server leaves no writer behind holding the database."""
    script = _server_script(database_url, fork, then="time.sleep(60)")
    secrets = {"SIGNER_KEY": "secret-1", "SLACK_BOT_TOKEN": "secret-2", "DATABASE_URL": "x"}
    server = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
        env={**os.environ, **secrets},
    )
    try:
        assert server.stdout is not None
        pid, *environment = server.stdout.readline().split()
        writer_pid = int(pid)
        assert _alive(writer_pid)
        # Forked, it is the server's copy (its command line); else a fresh one.
        command = Path(f"/proc/{writer_pid}/cmdline").read_bytes()
        assert (b"-m\x00storage.writerprocess\x00" not in command) == fork
        # Neither has a secret of the server's environment to hand on or read.
        assert "PATH" in environment
        assert not set(secrets) & set(environment), environment
        server.kill()
        server.wait()
        assert _ends(writer_pid), "the writer process outlived the server"
    finally:
        server.kill()
        server.wait()


def test_a_forked_writer_process_ends_when_the_server_ends_normally(
    db: Database, database_url: str
) -> None:
    script = _server_script(database_url, fork=True, then="db.direct.stop()")
    done = _run(script)
    assert done.returncode == 0, done.stderr
    assert _ends(int(done.stdout.split()[0]))


def test_a_forked_writer_process_killed_mid_batch_is_answered_busy_and_reaped(
    db: Database, database_url: str
) -> None:
    """The forked writer's way of being given up (multiprocessing's kill and join,
    not Popen's): its batch is answered busy, writes stay in the server from then
    on, and nothing is left behind, not even a zombie."""
    then = textwrap.dedent(
        """
        import signal
        from storage.db import DatabaseBusy
        from tests.support.writers import sleep_in_writer
        stuck = []
        sleeping = Task(sleep_in_writer, (30.0,))
        assert db.direct.write_elsewhere(sleeping, lambda r, e: stuck.append(e))
        time.sleep(0.5)
        os.kill(heard[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while not stuck and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stuck and isinstance(stuck[0], DatabaseBusy), stuck
        assert not db.direct.write_elsewhere(Task(pid_of_writer, ()), lambda r, e: None)
        state = open(f"/proc/{heard[0]}/stat").read() if os.path.exists(f"/proc/{heard[0]}") else ""
        assert not state, state
        db.direct.stop()
        print("given up", flush=True)
        """
    ).replace("\n", "\n        ")
    done = _run(_server_script(database_url, fork=True, then=then))
    assert done.returncode == 0, done.stderr
    assert "given up" in done.stdout
    assert "the writer process was lost" in done.stderr


def test_a_forked_writer_process_not_adopted_ends(tmp_path: Path) -> None:
    """Forked for a database that then cannot take one (here, one in memory):
    start_writer_process() says so and the forked process ends."""
    url = f"sqlite:///{tmp_path / 'file.db'}"
    script = textwrap.dedent(
        f"""
        from storage.db import Database
        from storage.writerprocess import fork_writer
        from tests.support.writers import writer_setup
        forked = fork_writer({url!r})
        assert forked is not None
        print(forked.process.pid, flush=True)
        db = Database.from_url("sqlite://")
        assert not db.direct.start_writer_process(writer_setup({url!r}), forked)
        print(forked.process.exitcode, flush=True)
        """
    )
    done = _run(script)
    assert done.returncode == 0, done.stderr
    pid, exitcode = done.stdout.split()
    assert _ends(int(pid))
    # It ended as asked, quietly: no traceback in the server's log.
    assert exitcode == "0"
    assert "Traceback" not in done.stderr, done.stderr


def test_a_fork_that_fails_is_declined_and_logged(tmp_path: Path) -> None:
    """No memory for a copy of the server (strict overcommit, a tight cgroup) or no
    process left: fork_writer() says so in the log and declines, and serve goes on
    (with a fresh interpreter, or, if that cannot start either, alone: next test)."""
    url = f"sqlite:///{tmp_path / 'file.db'}"
    script = textwrap.dedent(
        f"""
        import errno, os
        from storage.writerprocess import fork_writer

        def no_fork():
            raise OSError(errno.ENOMEM, "Cannot allocate memory")

        os.fork = no_fork
        assert fork_writer({url!r}) is None
        """
    )
    done = _run(script)
    assert done.returncode == 0, done.stderr
    assert "the writer process could not be forked: OSError" in done.stderr


def test_a_writer_process_that_cannot_be_started_leaves_the_writes_here(
    db: Database, keyring: Keyring, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_campaign(db, "open-one")

    def no_process(*args: Any, **kwargs: Any) -> Any:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(writerprocess.subprocess, "Popen", no_process)
    db.direct.start_writer_process(writer_setup(database_url))
    assert not db.direct.write_elsewhere(Task(pid_of_writer, ()), lambda r, e: None)
    heard = _Heard()
    assert WorkerActions(db, keyring).sign_soon("open-one", "person-here", ANONYMOUSLY, None, heard)
    [(signed, error)] = heard.wait_for(1)
    assert error is None
    assert signed.outcome is SignOutcome.SIGNED


def test_no_fork_beside_another_thread_nor_for_a_database_it_could_not_write(
    database_url: str, tmp_path: Path
) -> None:
    """A fork copies only the thread that forks: whatever another held (a lock, a
    connection half-used) would be held forever there. Nor one for PostgreSQL or a
    database in memory, where there is nothing for it to do."""
    assert writerprocess.fork_writer("sqlite://") is None
    # Nor for one it cannot read (opening it says why, as without a writer process).
    assert writerprocess.fork_writer('"sqlite:///quoted.db"') is None
    assert writerprocess.fork_writer("postgresql://localhost/undersigned") is None
    running = threading.Event()
    other = threading.Thread(target=running.wait, daemon=True)
    other.start()
    try:
        assert writerprocess.fork_writer(database_url) is None
    finally:
        running.set()
        other.join()


def _ends(pid: int, seconds: float = 10.0) -> bool:
    """Whether the process `pid` has ended within `seconds`."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def _writer_pid(db: Database) -> int:
    pids = _Heard()
    assert db.direct.write_elsewhere(Task(pid_of_writer, ()), pids)
    pid: int = pids.wait_for(1)[0][0]
    return pid


def test_this_process_writers_take_turns_with_the_writer_process(
    worker: WorkerActions, db: Database
) -> None:
    """A withdrawal or a job's write, made here while the writer process is busy,
    takes its turn with the batches sent there: it does not meet them in SQLite's
    busy handler, where it could wait out the busy timeout and fail."""
    stop = threading.Event()
    in_flight = threading.Semaphore(8)

    def feed() -> None:
        while not stop.is_set():
            in_flight.acquire()
            task = Task(sleep_in_writer, (0.01,))  # holds the write lock 10 ms a batch
            if not db.direct.write_elsewhere(task, lambda result, error: in_flight.release()):
                in_flight.release()
                time.sleep(0.001)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        time.sleep(0.3)
        waits = []
        for n in range(12):
            started = time.monotonic()
            assert worker.sign("open-one", f"here-{n}").outcome is SignOutcome.SIGNED
            waits.append(time.monotonic() - started)
            time.sleep(0.05)
    finally:
        stop.set()
        feeder.join(timeout=10)
    assert max(waits) < 1.0, waits
    assert counted(db, "open-one") == (12, 12)


def test_the_writer_process_is_given_no_secret_of_the_environment(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SIGNER_KEY", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"):
        monkeypatch.setenv(name, f"secret-{name}")
    _started(db, writer_setup(database_url))
    environment = Path(f"/proc/{_writer_pid(db)}/environ").read_bytes()
    assert b"secret-" not in environment
    assert b"PATH=" in environment


def test_a_stuck_writer_process_is_given_up_and_its_writes_answered_busy(
    worker: WorkerActions, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writerprocess, "STUCK_SECONDS", 1.0)
    writer = _writer_pid(db)
    os.kill(writer, signal.SIGSTOP)
    try:
        heard = _Heard()
        started = time.monotonic()
        assert worker.sign_soon("open-one", "person-stuck", ANONYMOUSLY, None, heard)
        [(_result, error)] = heard.wait_for(1)
        assert isinstance(error, DatabaseBusy)
        assert time.monotonic() - started < 5
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(writer, signal.SIGCONT)
    assert _ends(writer)  # killed, not left to write on later
    assert not db.direct.write_elsewhere(Task(pid_of_writer, ()), heard)
    assert counted(db, "open-one") == (0, 0)


def test_an_outcome_that_cannot_cross_fails_alone(worker: WorkerActions, db: Database) -> None:
    heard = _Heard()
    assert db.direct.write_elsewhere(Task(unpicklable_result, ()), heard)
    assert worker.sign_soon("open-one", "person-beside", ANONYMOUSLY, None, heard)
    outcomes = heard.wait_for(2)
    errors = [error for _, error in outcomes if error is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], RuntimeError)
    assert [r.outcome for r, e in outcomes if e is None] == [SignOutcome.SIGNED]
    assert counted(db, "open-one") == (1, 1)
    # And the writer process goes on taking writes.
    assert _writer_pid(db) != os.getpid()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_serve_commits_signatures_in_its_writer_process_and_takes_it_down_with_it(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """As an operator runs it: `python -m bot serve` starts the writer process, the
    signatures its confirmations acknowledge are in the file, and a kill -9 of the
    server leaves no writer behind."""
    database_url = f"sqlite:///{tmp_path / 'undersigned.db'}"
    settings = make_settings(fake_slack, database_url)
    db = Database.from_url(database_url)
    upgrade(db.engine)
    open_campaign(db, SLUG)
    users = signers(fake_slack, "WRITER", n=24)
    server = ServeProcess(bot_env(fake_slack, database_url, LOG_LEVEL="INFO"), tmp_path, "serve")
    try:
        deadline = time.monotonic() + READY_SECONDS
        while "the writer process is ready" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        [writer_pid] = [pid for pid in _children(server.pid) if _alive(pid)]
        slack = SlackDriver(server.url, fake_slack)
        with ThreadPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(lambda user: sign_through(slack, user), users))
        assert all(outcome.acknowledged for outcome in outcomes), outcomes
        hashes = {expected_value(db, settings, SLUG, user.id) for user in users}
        with db.read() as session:
            stored = set(session.scalars(select(Signature.signer_hash)))
        assert stored == hashes
        assert counted(db, SLUG) == (24, 24)
        assert "writes stay in this process" not in server.log()
        server.kill_9()
        assert _ends(writer_pid), "the writer process outlived the server"
    finally:
        server.stop()
        db.dispose()
