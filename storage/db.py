"""The database: engine, SQLite pragmas, and read and write units of work."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from storage.direct import Direct
from storage.turns import Turn, patience

logger = logging.getLogger(__name__)

# Long enough to ride out a burst of concurrent signers on one SQLite file,
# short enough that Slack's 3-second deadline is not blown by a stuck writer.
SQLITE_BUSY_TIMEOUT_MS = 2500
# How long emptying the WAL waits for readers of an older snapshot (Database.scrub).
CHECKPOINT_WAIT_MS = 250
_WRITE = "undersigned_write"
# For code outside this module that opens its own write transaction (migrations).
WRITE_OPTION = _WRITE


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Take transaction control away from pysqlite so that BEGIN is ours (below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # `# pragma: no mutate` on a statement here and below: SQL keywords and pragma
    # names are case-insensitive, so mutmut's upper- and lower-case mutants of them
    # are equivalent (tests/MUTATION.md, db). Each setting is read back by
    # tests/test_sqlite_pragmas.py.
    cursor.execute("PRAGMA journal_mode=WAL")  # pragma: no mutate
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # pragma: no mutate
    cursor.execute("PRAGMA foreign_keys=ON")  # pragma: no mutate
    cursor.execute("PRAGMA synchronous=NORMAL")  # pragma: no mutate
    # Deleted rows (a withdrawn signature, a forgotten hash) are overwritten with
    # zeros instead of lingering in free pages of the file. PostgreSQL has no such
    # setting: an old row version stays in the table's files until its space is
    # reused, or the table is rewritten (Database.compact; DEPLOY.md, "Forgetting").
    cursor.execute("PRAGMA secure_delete=ON")  # pragma: no mutate
    # When the WAL starts over after a checkpoint, cut it to nothing rather than
    # writing over its start and leaving older frames (deleted rows, the order
    # of commits) in the rest of the file until the next full scrub.
    cursor.execute("PRAGMA journal_size_limit=0")  # pragma: no mutate
    # Temporary tables and indexes (the nightly rewrite's copy of signer rows, a
    # sort's spill) stay in memory, never in a file under /tmp.
    cursor.execute("PRAGMA temp_store=MEMORY")  # pragma: no mutate
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front: a deferred one that reads
    # and then writes cannot wait on the busy timeout in WAL mode and would fail
    # with "database is locked" under concurrent signers. Reads stay deferred so
    # that they never queue behind writers.
    if conn.get_execution_options().get(_WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # pragma: no mutate
    else:
        conn.exec_driver_sql("BEGIN")  # pragma: no mutate


# Statements that cannot change a row: a transaction that ran only these changed
# nothing, whatever its commit says.
_READ_ONLY = ("SELECT", "BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")
_WROTE = "undersigned_wrote"


def _note_change(
    conn: Connection,
    cursor: object,
    statement: str,
    parameters: object,
    context: object,
    executemany: bool,
) -> None:
    if not statement.lstrip()[:9].upper().startswith(_READ_ONLY):
        conn.info[_WROTE] = True


def _forget_change(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE run by Session.execute changed: what it
    returns for one is a CursorResult, but it is typed as any Result."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of a data-changing statement: {type(result).__name__}")
    return result.rowcount


def _owner_only(path: Path) -> None:
    """Make the database file readable and writable by its owner only.

    SQLite gives the -wal and -shm files the database file's permissions. An
    existing file is never opened here, only chmod-ed by its path: SQLite's locks
    are POSIX advisory locks, which belong to the process, and closing any
    descriptor of the file drops every lock the process holds on it (SQLite's
    "How To Corrupt An SQLite Database File", 2.2). A server that had lost its
    locks would let another process (a `campaign list`) checkpoint and delete the
    WAL it is still writing into. A file that does not exist yet is created here,
    which no connection of this process can hold a lock on.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for existing in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if existing.stat().st_mode & 0o077:
                existing.chmod(0o600)
        except FileNotFoundError:
            pass


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL. None for any other database, for one in
    memory, and for a URL that does not parse (opening it says why, in one line)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


# The one PostgreSQL driver we install (the `postgres` extra). A bare
# postgresql:// or postgres:// URL, as hosting providers hand them out, means it
# too, where SQLAlchemy would look for psycopg2.
_POSTGRES_DRIVER = "postgresql+psycopg"


def engine_url(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername=_POSTGRES_DRIVER)
    return parsed


# Connections kept open. SQLAlchemy's default of 5 is fewer than the server's
# threads: under load, connections past the fifth were opened and closed again
# (312 of them for 3,000 status requests on 16 threads), each one on SQLite five
# PRAGMAs and a cold page cache, on PostgreSQL a login. `serve` asks for one per
# thread and a few for the rest.
# Where the database is when DATABASE_URL is not set (bot/settings.py reads it).
DEFAULT_DATABASE_URL = "sqlite:///undersigned.db"
DEFAULT_POOL_SIZE = 5


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """An engine whose errors never carry a statement's parameters (hide_parameters):
    a failed insert would otherwise put a signer's name or identity value in an
    exception's text, and from there in a log line with a timestamp."""
    parsed = engine_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            _owner_only(path)
        engine = create_engine(
            url,
            pool_size=pool_size,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    # PostgreSQL needs none of the above: row locks and READ COMMITTED make a
    # write that reads and then updates wait for, then re-check, a concurrent one
    # (the conditional UPDATEs of claims rely on it), and many processes can write.
    return create_engine(parsed, pool_size=pool_size, pool_pre_ping=True, hide_parameters=True)


# Where Linux shows a process's open files, and how it marks one whose name is gone.
_OPEN_FILES = "/proc/self/fd"
_DELETED = " (deleted)"


# How long forgetting keeps trying to empty the WAL while readers hold it, and how
# often; the scheduled scrub (bot/scheduler.py) tries again every minute anyway.
SCRUB_TIMEOUT_SECONDS = 10.0
SCRUB_RETRY_SECONDS = 0.2


class NotScrubbed(RuntimeError):
    """Readers kept the WAL busy: what was deleted may still be in the -wal file."""

    def __init__(self) -> None:
        super().__init__(
            "other connections kept reading, so the database's WAL could not be emptied: "
            "what was just deleted may still be in the -wal file. Try again in a minute"
        )


class FailedIntegrityCheck(RuntimeError):
    """A copy of the database is damaged: it must not be used."""


def check_integrity(connection: sqlite3.Connection) -> None:
    """FailedIntegrityCheck unless SQLite finds the open database whole.

    Only counts are reported: SQLite's own lines name tables and rows, which an
    operator's terminal or a log need not carry.
    """
    try:
        problems = connection.execute(
            "PRAGMA integrity_check"  # pragma: no mutate
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise FailedIntegrityCheck("not a readable SQLite database; do not use this copy") from exc
    if problems != [("ok",)]:
        raise FailedIntegrityCheck(
            f"failed SQLite's integrity check (problems found: {len(problems)}); "
            "do not use this copy"
        )


class DatabaseBusy(TimeoutError):
    """Another write held the database for longer than the busy timeout."""

    def __init__(self) -> None:
        super().__init__("the database is busy with other writes; try again")


class Database:
    """Owns the engine; hands out sessions as one read or one write transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(
            engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        # SQLite has one writer per file. Writers of this process take turns here
        # first, in the order they came (storage/turns.py): a thread blocked on a
        # lock is woken as soon as it is free, where SQLite's busy handler sleeps
        # and retries, and under a burst of signers lets one starve until the busy
        # timeout and fail. Other processes (the CLI, a backup) still meet the busy
        # timeout. Re-entrant, so that a write nested in a write behaves as before.
        self._write_turn = Turn() if self.is_sqlite else None
        # Bumped by every commit of this engine that changed something, so that a
        # cache of what is stored (petition/campaigns.py) can tell that it is stale: as
        # the commit starts and, for write(), again once it is done, so that a
        # reader that refreshed in between does not keep what it read.
        self._generation = 0
        self._generation_lock = threading.Lock()
        event.listen(engine, "after_cursor_execute", _note_change)
        event.listen(engine, "commit", self._committed)
        event.listen(engine, "rollback", _forget_change)
        # The busiest statements, straight on the driver (storage/direct.py).
        self.direct = Direct(self)
        path = sqlite_path(engine.url.render_as_string(hide_password=False))
        self.sqlite_file: Path | None = path.resolve() if path is not None else None

    @property
    def generation(self) -> int:
        """Changes whenever a transaction that changed something commits through
        this engine. Writes by other processes do not change it."""
        return self._generation

    def _committed(self, conn: Connection) -> None:
        if conn.info.pop(_WROTE, False):
            self._bump()

    def _bump(self) -> None:
        with self._generation_lock:
            self._generation += 1

    @classmethod
    def from_url(cls, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Database:
        return cls(make_engine(url, pool_size))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Commit on success, roll back on any error."""
        with self.write_turn(), self._writes.begin() as session:
            yield session
        self.changed()

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite; PostgreSQL needs none)."""
        turn = self._write_turn
        if turn is None:
            yield
            return
        if not turn.acquire(timeout=patience(SQLITE_BUSY_TIMEOUT_MS / 1000)):
            raise DatabaseBusy()
        try:
            yield
        finally:
            turn.release()

    def changed(self) -> None:
        """Say that a write committed (for writes that bypass the engine's events)."""
        self._bump()

    def replaced_files(self) -> list[str]:
        """The database files this process holds open that have since been deleted
        or replaced by another file at the same path (SQLite; Linux's /proc).

        A process writing into a WAL that no longer has a name loses every write
        at its next restart. It should stop, loudly, and be restarted: /healthz
        fails and Socket Mode exits when this is not empty. Nothing is opened
        here: see _owner_only for why a database file must never be.
        """
        if self.sqlite_file is None:
            return []
        names = {str(self.sqlite_file) + suffix for suffix in ("", "-wal", "-shm")}
        replaced: set[str] = set()
        try:
            descriptors = os.listdir(_OPEN_FILES)
        except OSError:
            return []  # no /proc here: nothing to compare with
        for fd in descriptors:
            link = os.path.join(_OPEN_FILES, fd)
            try:
                target = os.readlink(link)
            except OSError:
                continue  # closed meanwhile
            gone = target.endswith(_DELETED)
            name = target[: -len(_DELETED)] if gone else target
            if name not in names:
                continue
            try:
                held = os.stat(link)
                current = os.stat(name)
            except FileNotFoundError:
                gone = True
            except OSError:
                continue
            else:
                gone = gone or (held.st_dev, held.st_ino) != (current.st_dev, current.st_ino)
            if gone:
                replaced.add(os.path.basename(name))
        return sorted(replaced)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def scrub(self) -> bool:
        """SQLite: copy the WAL into the database file and empty it. True when done.

        The WAL keeps every page a transaction wrote, deleted rows and the order
        of commits included, until a checkpoint has copied them into the file
        (where secure_delete zeroes deleted rows) and the WAL is truncated. A
        checkpoint cannot finish while another connection reads an older state;
        it says so (busy) and the caller tries again later. PostgreSQL: nothing to
        do here (its WAL is the server's; see DEPLOY.md).
        """
        if not self.is_sqlite:
            return True
        with self.write_turn(), self.engine.connect() as conn:
            # The checkpoint waits in the busy handler for readers of an older
            # snapshot, holding this process's write turn: signers queued behind it
            # wait too. Short, then: a busy WAL is emptied at the next try.
            conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")  # pragma: no mutate
            try:
                busy, _, _ = conn.exec_driver_sql(
                    "PRAGMA wal_checkpoint(TRUNCATE)"  # pragma: no mutate
                ).one()
            finally:
                conn.exec_driver_sql(  # pragma: no mutate
                    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"
                )
        return bool(busy == 0)

    def scrub_until_done(self, timeout: float = SCRUB_TIMEOUT_SECONDS) -> None:
        """scrub(), retried while readers hold the WAL; NotScrubbed after `timeout`."""
        deadline = time.monotonic() + timeout
        while not self.scrub():
            if time.monotonic() >= deadline:
                raise NotScrubbed()
            time.sleep(SCRUB_RETRY_SECONDS)

    def backup(self, target: Path) -> None:
        """A consistent copy of the live database, taken while it is in use.

        SQLite's online backup API copies page by page under the database's own
        locking, so writers can go on; the copy is made owner-only like the
        original, and carries exactly the same (privacy-preserving) data.
        """
        if not self.is_sqlite:
            raise NotImplementedError(
                "backup copies SQLite databases; for PostgreSQL use pg_dump, as in "
                "DEPLOY.md (Backups)"
            )
        target = target.expanduser()
        if target.exists():
            raise FileExistsError(f"{target} exists; choose a new file")
        _owner_only(target)
        source = self.engine.raw_connection()
        try:
            destination = sqlite3.connect(target)
            try:
                driver: Any = source.driver_connection  # set while checked out
                driver.backup(destination)
                check_integrity(destination)
            finally:
                destination.close()
        finally:
            source.close()

    def dispose(self) -> None:
        self.direct.stop()
        self.engine.dispose()
