"""SQLite's busiest writes in a process of their own.

The serving process runs on one core at a time (the interpreter lock), and under a
burst of signatures its writer thread (storage/batching.py) took a third of that
core: the domain's code for each signature, and getting the lock back after every
statement, each of which lets it go. Measured, a signature cost the serving
process 0.67 to 0.84 ms of CPU with the writer thread, 0.53 to 0.58 with the
write done elsewhere (bench/RESULTS.md, "Seventh pass"). Here a second process,
on the other core, is that writer: the serving process sends it a batch of
writes in one message and gets their outcomes back in one.

A write sent here is a task: a module-level function (pickled by name) and its
arguments, called there as `function(cursor, context, *args)`, where `context`
is what `setup()` made once in that process (the keyring). Tasks sent together
run in one transaction, as the writer thread runs a batch (WriteBatcher.run_here):
a refusal in one never costs another its write, and each caller hears
`finished(result, error)` only once the transaction is committed, so an
acknowledged signature is still a committed one. What the tasks carry (a
person's digest, a name to seal) crosses a pipe between our own processes, in
memory only.

When the process is not running (still starting, stopped, or dead) or is
behind, `queue()` says False and the caller writes in this process, as before;
a batch the process died with is answered as busy (it may or may not have been
committed: asking again finds out, since signing twice changes nothing). The
process ends when the serving process closes the pipe, or dies.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, Protocol

from storage.batching import Finished, Job, WriteBatcher

if TYPE_CHECKING:
    from storage.db import Database
    from storage.direct import Direct

logger = logging.getLogger(__name__)

# How long the process may take to start (imports, its database) before writes
# stay in the serving process; and to stop once asked.
START_SECONDS = 60.0
STOP_SECONDS = 10.0
# Longest a batch may take there before the process is given up for stuck: far
# past SQLite's busy timeout, which bounds how long a transaction waits to begin.
STUCK_SECONDS = 15.0
# What of this process's environment the writer process gets: what Python needs
# to start, and no secret (SIGNER_KEY, Slack's tokens, DATABASE_URL, organizers).
_ENVIRONMENT = ("PATH", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "HOME", "TMPDIR", "TZ", "LANG")

_READY = "ready"


@dataclass(frozen=True, slots=True)
class Task:
    """A write to run in the writer process: `function(cursor, context, *args)`."""

    function: Callable[..., Any]
    args: tuple[Any, ...]


# An error as it crosses the pipe: its class (pickled by name), args and attributes.
# Sent so rather than pickled whole: many exceptions, ours among them, take other
# arguments to __init__ than they keep in `args`, and would not unpickle.
_Error = tuple[type[BaseException], tuple[Any, ...], dict[str, Any]]


def _portable(error: BaseException | None) -> _Error | None:
    if error is None:
        return None
    return (type(error), error.args, dict(getattr(error, "__dict__", {})))


def _restored(sent: _Error | None) -> BaseException | None:
    if sent is None:
        return None
    kind, args, state = sent
    try:
        error = kind.__new__(kind)
        error.args = args
        if state:
            error.__dict__.update(state)
    except Exception:  # a class that cannot be made so (an ExceptionGroup)
        return RuntimeError(f"{kind.__name__} in the writer process")
    return error


def _read(outcome: bytes) -> tuple[Any, BaseException | None]:
    try:
        result, sent = pickle.loads(outcome)  # noqa: S301 - from our own writer process
    except Exception as error:
        return None, RuntimeError(f"an outcome that could not be read: {type(error).__name__}")
    return result, _restored(sent)


def _outcome(result: Any, error: BaseException | None) -> bytes:
    """One write's outcome as it crosses the pipe, pickled on its own: one that
    cannot cross fails alone (its write is committed or not as the error says,
    the others' are as theirs say)."""
    try:
        return pickle.dumps((result, _portable(error)))
    except Exception:
        what = type(error if error is not None else result).__name__
        stand_in = RuntimeError(f"the outcome of a write ({what}) could not cross")
        return pickle.dumps((None, _portable(stand_in)))


def serve_writes(connection: Connection) -> None:
    """The writer process: told its database and setup, run each batch of tasks
    received and answer with their outcomes, until the pipe closes."""
    from storage.db import Database

    try:
        url, setup = connection.recv()
    except (EOFError, OSError):
        return  # the server ended, or did not need it, before it was set up

    logging.basicConfig(level=logging.WARNING)  # until setup() says otherwise
    db = Database.from_url(url, pool_size=1)
    batcher = WriteBatcher(db.direct, _busy)
    try:
        context = setup()
        connection.send(_READY)
        while True:
            try:
                tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]] | None = connection.recv()
            except (EOFError, OSError):
                return  # the serving process is gone
            if tasks is None:
                return
            works = [_bound(function, args, context) for function, args in tasks]
            outcomes = batcher.run_here(works)
            try:
                connection.send([_outcome(result, error) for result, error in outcomes])
            except OSError:
                return  # the serving process died waiting: what was committed stays
    finally:
        batcher.stop()
        db.engine.dispose()


def _bound(
    function: Callable[..., Any], args: tuple[Any, ...], context: Any
) -> Callable[[Any], Any]:
    return lambda cursor: function(cursor, context, *args)


def _busy() -> Exception:
    from storage.db import DatabaseBusy  # it imports this module's importer

    return DatabaseBusy()


class _Running(Protocol):
    def kill(self) -> None: ...

    def ended_within(self, seconds: float | None) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Interpreter:
    """A writer process started as a fresh interpreter."""

    popen: subprocess.Popen[bytes]

    def kill(self) -> None:
        self.popen.kill()

    def ended_within(self, seconds: float | None) -> bool:
        try:
            self.popen.wait(seconds)
        except subprocess.TimeoutExpired:
            return False
        return True


class Forked:
    """A writer process forked by fork_writer(), waiting for WriterProcess to send it
    its database and setup; close() ends it if nothing will."""

    def __init__(self, process: BaseProcess, pipe: Connection) -> None:
        self.process = process
        self.pipe = pipe

    def kill(self) -> None:
        self.process.kill()

    def ended_within(self, seconds: float | None) -> bool:
        self.process.join(seconds)
        return self.process.exitcode is not None

    def close(self) -> None:
        self.pipe.close()  # it reads the end of the pipe, and ends
        if not self.ended_within(STOP_SECONDS):
            self.kill()
            self.ended_within(None)


def fork_writer(url: str) -> Forked | None:
    """Fork the writer process now, for WriterProcess to adopt once this process has
    its database: call it before this process opens one or starts a thread, with
    the modules it will use imported. None where that is not so (another thread
    runs), where the database is not a SQLite file, or where there is no fork:
    then WriterProcess.start() starts a fresh interpreter.

    Why fork, when a fresh interpreter is cleaner: memory. A fresh one imports
    SQLAlchemy and the domain again, ~40 MB of its own; a fork shares this
    process's pages of them until either writes to one (bench/RESULTS.md, "Eighth
    pass"). The objects made so far are frozen out of the garbage collector's
    passes first, which would otherwise touch, and so copy, every one of them."""
    from sqlalchemy.orm import configure_mappers

    from storage.db import sqlite_path  # it imports this module's importer

    if sqlite_path(url) is None or threading.active_count() > 1:
        return None
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform
        return None
    # What both would otherwise each make on first use, made once here to share.
    configure_mappers()
    ours, theirs = socket.socketpair()
    pipe, its_pipe = Connection(ours.detach()), Connection(theirs.detach())
    gc.freeze()
    process = context.Process(
        target=_forked, args=(its_pipe, pipe), name="undersigned-writer", daemon=True
    )
    try:
        process.start()
    except OSError as error:  # no memory for a copy, too many processes
        logger.error("the writer process could not be forked: %s", type(error).__name__)
        pipe.close()
        return None
    finally:
        its_pipe.close()
    return Forked(process, pipe)


def _forked(connection: Connection, servers_end: Connection) -> None:
    """The forked writer process's start."""
    # Its end of the pipe only: with the server's end open here too, the server's
    # death would not close the pipe, and this process would outlive it.
    servers_end.close()
    # Its own session, as a fresh one gets: Ctrl-C at a terminal reaches the
    # server, which stops this process once what it was sent is written.
    os.setsid()
    # What it has of the environment is what a fresh one gets: no secret.
    for name in [name for name in os.environ if name not in _ENVIRONMENT]:
        del os.environ[name]
    serve_writes(connection)


class WriterProcess(WriteBatcher):
    """The serving process's side: callers queue tasks as they queue writes for
    the writer thread; this side's thread sends each batch and hands out the
    outcomes (WriteBatcher's loop, with the batch run elsewhere)."""

    def __init__(
        self,
        direct: Direct,
        db: Database,
        busy: Callable[[], Exception],
        url: str,
        setup: Callable[[], Any],
        forked: Forked | None = None,
    ) -> None:
        super().__init__(direct, busy)
        self._forked = forked
        self._db = db
        self._url = url
        self._setup = setup
        self._ready = threading.Event()
        self._broken = False
        self._pipe: Connection | None = None
        self._process: _Running | None = None

    @property
    def usable(self) -> bool:
        return self._ready.is_set() and not self._broken

    def start(self) -> None:
        """Start the process; until it says it is ready, queue() declines. The one
        forked before (fork_writer()), else a fresh interpreter (`python -m
        storage.writerprocess`): this process may have threads by now, and
        nothing of its __main__ is run again there."""
        if self._forked is not None:
            self._pipe, self._process = self._forked.pipe, self._forked
            threading.Thread(target=self._await_ready, name="writer-start", daemon=True).start()
            return
        ours, theirs = socket.socketpair()
        try:
            with theirs:
                popen = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                    [sys.executable, "-m", "storage.writerprocess", str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    env={k: v for k, v in os.environ.items() if k in _ENVIRONMENT},
                    # Its own session: Ctrl-C at a terminal reaches the server, which
                    # stops this process once what it was sent is written.
                    start_new_session=True,
                )
        except OSError as error:  # no memory, too many processes
            ours.close()
            self._broken = True
            logger.error(
                "the writer process could not be started (%s): writes stay in this process",
                type(error).__name__,
            )
            return
        self._process = _Interpreter(popen)
        self._pipe = Connection(ours.detach())
        threading.Thread(target=self._await_ready, name="writer-start", daemon=True).start()

    def _await_ready(self) -> None:
        assert self._pipe is not None
        try:
            self._pipe.send((self._url, self._setup))
            if self._pipe.poll(START_SECONDS) and self._pipe.recv() == _READY:
                self._ready.set()
                logger.info("the writer process is ready")
                return
        except Exception as error:  # a setup that cannot cross, a pipe closed
            logger.error("the writer process could not be set up: %s", type(error).__name__)
        self._broken = True
        logger.error("the writer process did not start: writes stay in this process")

    def run(self, work: Any, timeout: float) -> Any:
        raise TypeError("the writer process takes tasks, queued: use queue_task()")

    def queue_task(self, task: Task, finished: Finished) -> bool:
        """Queue `task` for the writer process; False, with nothing queued, when it
        is not running or is behind (then write in this process)."""
        if not self.usable:
            return False
        return self.queue(task, finished)  # type: ignore[arg-type]  # run elsewhere

    def _run_batch(self, batch: list[Job[Any]]) -> None:
        assert self._pipe is not None
        tasks: list[Task] = [job.work for job in batch]  # type: ignore[misc]  # queue_task's
        try:
            # As plain tuples: pickling a dataclass per task costs this side more.
            message = pickle.dumps([(task.function, task.args) for task in tasks])
        except Exception as error:  # a task that cannot cross: it fails, the others too
            logger.error(
                "a batch of %d writes could not be sent: %s", len(batch), type(error).__name__
            )
            self._finish(batch, error=error)
            return
        try:
            # This process's other writers (a withdrawal, the jobs) take turns with
            # the batch sent there, as with the writer thread, rather than meeting
            # it in SQLite's busy handler, which is not fair (storage/turns.py).
            with self._db.write_turn():
                self._pipe.send_bytes(message)
                if not self._pipe.poll(STUCK_SECONDS):
                    raise TimeoutError("no answer from the writer process")
                outcomes: list[bytes] = self._pipe.recv()
        except Exception as error:
            self._lost(batch, error)
            return
        finally:
            # Whatever came back: it may have committed some or all of them.
            self._db.changed()
        for job, outcome in zip(batch, outcomes, strict=True):
            job.result, job.error = _read(outcome)
            job.settle()

    def _lost(self, batch: list[Job[Any]], error: BaseException) -> None:
        """The process died, or the pipe broke: what was sent is answered as busy,
        and from now on writes stay in this process."""
        self._broken = True
        if self._process is not None:
            self._process.kill()  # if stuck rather than dead: it must not write on
            self._process.ended_within(1.0)
        logger.error(
            "the writer process was lost (%s) with %d writes: they are answered as busy,"
            " and writes stay in this process from now on",
            type(error).__name__,
            len(batch),
        )
        self._finish(batch, error=self._busy())

    def stop(self) -> None:
        super().stop()
        if self._pipe is not None:
            with suppress(OSError, ValueError):  # gone already
                self._pipe.send(None)
            self._pipe.close()
        if self._process is not None and not self._process.ended_within(STOP_SECONDS):
            self._process.kill()
            self._process.ended_within(None)

    def _give_back(self) -> None:
        """Nothing to give back: this side holds no connection."""


if __name__ == "__main__":
    # Started by WriterProcess.start() with its end of the pipe; run by the module's
    # own name, so that what crosses the pipe names one Task class.
    from storage.writerprocess import serve_writes as _serve

    _serve(Connection(int(sys.argv[1])))
