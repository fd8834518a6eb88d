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

import logging
import pickle
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from storage.batching import Finished, WriteBatcher, _Job

if TYPE_CHECKING:
    from storage.direct import Direct

logger = logging.getLogger(__name__)

# How long the process may take to start (imports, its database) before writes
# stay in the serving process; and to stop once asked.
START_SECONDS = 30.0
STOP_SECONDS = 10.0

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
    state = (type(error), error.args, dict(getattr(error, "__dict__", {})))
    try:
        pickle.dumps(state)
    except Exception:
        return (RuntimeError, (f"{type(error).__name__} in the writer process",), {})
    return state


def _restored(sent: _Error | None) -> BaseException | None:
    if sent is None:
        return None
    kind, args, state = sent
    error = kind.__new__(kind)
    error.args = args
    if state:
        error.__dict__.update(state)
    return error


def serve_writes(connection: Connection) -> None:
    """The writer process: told its database and setup, run each batch of tasks
    received and answer with their outcomes, until the pipe closes."""
    from storage.db import Database

    url, setup = connection.recv()

    # Ctrl-C reaches the whole process group: the serving process stops this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING)
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
                connection.send([(result, _portable(error)) for result, error in outcomes])
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


class WriterProcess(WriteBatcher):
    """The serving process's side: callers queue tasks as they queue writes for
    the writer thread; this side's thread sends each batch and hands out the
    outcomes (WriteBatcher's loop, with the batch run elsewhere)."""

    def __init__(
        self,
        direct: Direct,
        busy: Callable[[], Exception],
        url: str,
        setup: Callable[[], Any],
        changed: Callable[[], None],
    ) -> None:
        super().__init__(direct, busy)
        self._url = url
        self._setup = setup
        self._changed = changed
        self._ready = threading.Event()
        self._broken = False
        self._pipe: Connection | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def usable(self) -> bool:
        return self._ready.is_set() and not self._broken

    def start(self) -> None:
        """Start the process; until it says it is ready, queue() declines. A fresh
        interpreter (`python -m storage.writerprocess`), not a fork: this process
        has threads, and nothing of its __main__ is run again there."""
        ours, theirs = socket.socketpair()
        with theirs:
            self._process = subprocess.Popen(  # noqa: S603 - our interpreter, our module
                [sys.executable, "-m", "storage.writerprocess", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
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
        except (EOFError, OSError, pickle.PicklingError):
            pass
        self._broken = True
        logger.error("the writer process did not start: writes stay in this process")

    def queue_task(self, task: Task, finished: Finished) -> bool:
        """Queue `task` for the writer process; False, with nothing queued, when it
        is not running or is behind (then write in this process)."""
        if not self.usable:
            return False
        return self.queue(task, finished)  # type: ignore[arg-type]  # run elsewhere

    def _run_batch(self, batch: list[_Job[Any]]) -> None:
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
            self._pipe.send_bytes(message)
            outcomes: list[tuple[Any, _Error | None]] = self._pipe.recv()
        except Exception as error:
            self._lost(batch, error)
            return
        wrote = False
        for job, (result, sent) in zip(batch, outcomes, strict=True):
            job.result, job.error = result, _restored(sent)
            wrote = wrote or job.error is None
            job.settle()
        if wrote:
            self._changed()

    def _lost(self, batch: list[_Job[Any]], error: BaseException) -> None:
        """The process died, or the pipe broke: what was sent is answered as busy,
        and from now on writes stay in this process."""
        self._broken = True
        if self._process is not None:
            self._process.poll()  # reaped, if it has died
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
        if self._process is not None:
            try:
                self._process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _give_back(self) -> None:
        """Nothing to give back: this side holds no connection."""


if __name__ == "__main__":
    # Started by WriterProcess.start() with its end of the pipe; run by the module's
    # own name, so that what crosses the pipe names one Task class.
    from storage.writerprocess import serve_writes as _serve

    _serve(Connection(int(sys.argv[1])))
