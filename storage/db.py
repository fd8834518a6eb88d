"""The database: engine, SQLite pragmas, and read and write units of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Long enough to ride out a burst of concurrent signers on one SQLite file,
# short enough that Slack's 3-second deadline is not blown by a stuck writer.
SQLITE_BUSY_TIMEOUT_MS = 2500
_WRITE = "undersigned_write"


def _on_sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Take transaction control away from pysqlite so that BEGIN is ours (below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows (a withdrawn signature, a forgotten hash) are overwritten with
    # zeros instead of lingering in free pages of the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _on_sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A write transaction takes the write lock up front: a deferred one that reads
    # and then writes cannot wait on the busy timeout in WAL mode and would fail
    # with "database is locked" under concurrent signers. Reads stay deferred so
    # that they never queue behind writers.
    if conn.get_execution_options().get(_WRITE):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """Owns the engine; hands out sessions as one read or one write transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(
            engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

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
        with self._writes.begin() as session:
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def compact(self) -> None:
        """Flush the WAL into the database and empty it, so that rows just
        overwritten (forgotten signer hashes) leave no copy in the -wal file."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def dispose(self) -> None:
        self.engine.dispose()
