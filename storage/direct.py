"""Core statements compiled once and run straight on the driver's connection.

For the few statements on the busiest request paths (a signature, a signer's
status). SQLAlchemy's Session and Connection cost 100 to 250 us per statement
here, against 5 to 20 us for SQLite to run it; with the write lock held for all
of that, a burst of signers queues behind SQLAlchemy, not behind the database.

Nothing is written by hand: the SQL is SQLAlchemy's own compilation of the same
Core statement for the engine's dialect, and every value goes through its
column type's bind and result processors for that dialect, so what is read and
written is exactly what a Session would read and write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Select

from storage.batching import DATABASE_FAILURES, Finished, WriteBatcher, drop, suspect

if TYPE_CHECKING:
    from storage.db import Database
    from storage.writerprocess import Forked, Task, WriterProcess

T = TypeVar("T")

Processor = Callable[[Any], Any] | None


class _Bind(NamedTuple):
    key: str
    name: str
    escaped: str
    required: bool
    callable: BindParameter[Any] | None
    value: Any
    process: Processor


class Compiled:
    """One statement, compiled for one dialect, with its value processors."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        # Every statement run here is a ClauseElement, which compiles to an
        # SQLCompiler; Executable, the type callers hold, says neither.
        compiled = cast(SQLCompiler, cast(ClauseElement, statement).compile(dialect=dialect))
        self.sql = compiled.string
        self._compiled = compiled
        self._positions: Sequence[str] | None = (
            list(compiled.positiontup or []) if compiled.positional else None
        )
        types = {name: bind.type for bind, name in compiled.bind_names.items()}
        self._binds: dict[str, Processor] = {
            name: type_.dialect_impl(dialect).bind_processor(dialect)
            for name, type_ in types.items()
        }
        # What construct_params() works out for every call, worked out once: it cost
        # more than the statement itself for the delivery receipts' executemany
        # (py-spy, bench/RESULTS.md). Statements it would treat otherwise (post-
        # compiled or collecting parameters) keep going through it.
        escaped: dict[str, str] = compiled.escaped_bind_names or {}
        self._plan: list[_Bind] | None = (
            None
            if compiled._render_postcompile or getattr(compiled, "_collected_params", None)
            else [
                _Bind(
                    bind.key,
                    name,
                    escaped.get(name, name),
                    bind.required,
                    bind if bind.callable else None,
                    bind.value,
                    self._binds.get(name),
                )
                for bind, name in compiled.bind_names.items()
            ]
        )
        self._results: list[Processor] = (
            [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ]
            if isinstance(statement, Select)
            else []
        )

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | MutableMapping[str, Any]:
        """The values given, with the statement's own literals (a status compared
        against, say), under the names the SQL uses, through their bind processors:
        what construct_params() and the processors give."""
        if self._plan is None:
            named = self._compiled.construct_params(dict(values))
            for name, value in named.items():
                process = self._binds.get(name)
                if process is not None and value is not None:
                    named[name] = process(value)
        else:
            named = {}
            for bind in self._plan:
                if bind.key in values:
                    value = values[bind.key]
                elif bind.name in values:
                    value = values[bind.name]
                elif bind.required:
                    raise InvalidRequestError(
                        f"A value is required for bind parameter {bind.key!r}", code="cd3x"
                    )
                elif bind.callable is not None:
                    value = bind.callable.effective_value
                else:
                    value = bind.value
                if bind.process is not None and value is not None:
                    value = bind.process(value)
                named[bind.escaped] = value
        if self._positions is None:
            return named
        return [named[name] for name in self._positions]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        processors = self._results
        if not any(processors):
            return [tuple(row) for row in raw]
        return [
            tuple(
                value if p is None or value is None else p(value)
                for p, value in zip(processors, row, strict=True)
            )
            for row in raw
        ]


_cache: dict[tuple[int, int], tuple[Executable, Dialect, Compiled]] = {}
_cache_lock = threading.Lock()


def compiled(statement: Executable, dialect: Dialect) -> Compiled:
    """The statement compiled for this dialect, once per process."""
    key = (id(statement), id(dialect))
    found = _cache.get(key)
    if found is not None and found[0] is statement and found[1] is dialect:
        return found[2]
    result = Compiled(statement, dialect)
    with _cache_lock:
        # Kept with their compilation, so that their ids stay their own.
        _cache[key] = (statement, dialect, result)
    return result


# A statement with its values, as a unit of work keeps what it asked or put off.
_Key = tuple[int, tuple[tuple[str, Any], ...]]


def _key(statement: Executable, values: Mapping[str, Any]) -> _Key:
    return (id(statement), tuple(sorted(values.items())))


class DirectCursor:
    """What a direct unit of work hands out: run statements, read rows."""

    def __init__(self, cursor: Any, dialect: Dialect, *, defers: bool = False) -> None:
        self._cursor = cursor
        self._dialect = dialect
        self.dialect_name: str = dialect.name
        self.wrote = False
        self._kept: dict[_Key, tuple[Any, ...] | None] = {}
        # tally()'s counts, run by finish(); None where nothing calls finish() (a
        # Session's statements, through of()), so that tally() runs at once.
        self._tallies: dict[_Key, _Tally] | None = {} if defers else None

    def _compile(self, statement: Executable) -> Compiled:
        return compiled(statement, self._dialect)

    def rows(self, statement: Executable, **values: Any) -> list[tuple[Any, ...]]:
        compiled = self._compile(statement)
        self._cursor.execute(compiled.sql, compiled.parameters(values))
        return compiled.rows(self._cursor.fetchall())

    def first(self, statement: Executable, **values: Any) -> tuple[Any, ...] | None:
        found = self.rows(statement, **values)
        return found[0] if found else None

    def first_kept(self, statement: Executable, **values: Any) -> tuple[Any, ...] | None:
        """first(), asked of the database once per unit of work: only for rows that
        no statement in it changes (a campaign's openness, during a batch of
        signatures: closing one is a write of its own, which waits its turn)."""
        key = _key(statement, values)
        if key not in self._kept:
            self._kept[key] = self.first(statement, **values)
        return self._kept[key]

    def run_many(self, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> int:
        """One statement that changes rows, run for each of `rows` (the driver's
        executemany); how many rows it changed in all."""
        compiled = self._compile(statement)
        self._cursor.executemany(compiled.sql, [compiled.parameters(row) for row in rows])
        changed = self._cursor.rowcount or 0
        if changed > 0:
            self.wrote = True
        return max(changed, 0)

    def run(self, statement: Executable, **values: Any) -> int:
        """A statement that changes rows; how many it changed."""
        compiled = self._compile(statement)
        self._cursor.execute(compiled.sql, compiled.parameters(values))
        changed = self._cursor.rowcount or 0
        if changed > 0:
            self.wrote = True
        return max(changed, 0)

    def tally(self, statement: Executable, **values: Any) -> None:
        """Run `statement`, which adds its bind value `n` to a count, once for the
        unit of work, with `n` the number of calls with these values: just before
        the commit (finish()), not once per call. A batch of signatures updates
        its campaign's count once: every statement the SQLite writer thread runs
        lets the interpreter lock go, and under load getting it back is what a
        batch mostly waits for (bench/RESULTS.md). Nothing in the unit may read
        the count after a tally. Where no finish() follows (a Session's unit of
        work, through of()), it runs now."""
        if self._tallies is None:
            self.run(statement, n=1, **values)
            return
        key = _key(statement, values)
        found = self._tallies.get(key)
        if found is None:
            self._tallies[key] = _Tally(statement, values)
        else:
            found.n += 1

    def finish(self) -> None:
        """Run what tally() put off; the unit of work commits next."""
        if not self._tallies:
            return
        tallies, self._tallies = self._tallies, {}
        for tally in tallies.values():
            self.run(tally.statement, n=tally.n, **tally.values)


class _Tally:
    __slots__ = ("n", "statement", "values")

    def __init__(self, statement: Executable, values: dict[str, Any]) -> None:
        self.statement = statement
        self.values = values
        self.n = 1


def of(unit: Session | DirectCursor) -> DirectCursor:
    """The statements of a Session's transaction, run directly on its connection
    (after flushing what the ORM has pending), or a direct unit of work as is:
    so that one domain function serves both."""
    if isinstance(unit, DirectCursor):
        return unit
    if unit.autoflush:
        unit.flush()
    connection = unit.connection()
    # The driver's own connection (sqlite3's, psycopg's): typed Optional, it is set
    # while a pooled connection is checked out.
    driver: Any = connection.connection.driver_connection
    return DirectCursor(driver.cursor(), connection.dialect)


class Direct:
    """Read and write units of work on the driver's connection, from the pool."""

    def __init__(self, db: Database) -> None:
        from storage.db import SQLITE_BUSY_TIMEOUT_MS, DatabaseBusy  # it imports this module

        self._db = db
        self._batcher = WriteBatcher(self, DatabaseBusy) if db.is_sqlite else None
        self._elsewhere: WriterProcess | None = None
        # Each thread's reading connection (read()), and all of them, to give back.
        self._local = threading.local()
        self._readers: list[Any] = []
        self._readers_lock = threading.Lock()
        self._stopping = False
        self._timeout = SQLITE_BUSY_TIMEOUT_MS / 1000

    def write_batched(self, work: Callable[[DirectCursor], T]) -> T:
        """`work` in a write transaction, committed when this returns. On SQLite it
        runs in this process's writer thread, in one transaction with the writes
        that queued up with it (storage/batching.py); elsewhere in one of its own."""
        if self._batcher is None:
            with self.write() as cursor:
                return work(cursor)
        return self._batcher.run(work, timeout=self._timeout)

    @property
    def writes_soon(self) -> bool:
        """Whether write_soon() can queue at all (SQLite's writer thread)."""
        return self._batcher is not None

    def write_soon(self, work: Callable[[DirectCursor], Any], finished: Finished) -> bool:
        """Queue `work` for the SQLite writer thread without waiting for it;
        `finished(result, error)` runs once it is committed or failed. False, with
        nothing queued, where there is no writer thread (PostgreSQL) or it is
        stopping or behind: then use write_batched()."""
        if self._batcher is None:
            return False
        return self._batcher.queue(work, finished)

    def start_writer_process(self, setup: Callable[[], Any], forked: Forked | None = None) -> bool:
        """On SQLite, start a process of its own for write_elsewhere()'s tasks
        (storage/writerprocess.py), with `setup()` run there once to make the
        tasks' context: the one `forked` before if given, else a fresh one. False
        where there is no such thing (PostgreSQL); then `forked` is closed."""
        from storage.db import DatabaseBusy, sqlite_path  # it imports this module
        from storage.writerprocess import WriterProcess

        url = self._db.engine.url.render_as_string(hide_password=False)
        # A SQLite file: PostgreSQL takes writers in parallel already, and nobody
        # else can reach a database in this process's memory.
        if self._batcher is None or self._elsewhere is not None or sqlite_path(url) is None:
            if forked is not None:
                forked.close()
            return False
        self._elsewhere = WriterProcess(self, self._db, DatabaseBusy, url, setup, forked)
        self._elsewhere.start()
        return True

    def write_elsewhere(self, task: Task, finished: Finished) -> bool:
        """Queue `task` for the writer process; `finished(result, error)` runs once
        it is committed or failed. False, with nothing queued, where there is no
        such process, or it is not running or behind: then write here."""
        if self._elsewhere is None:
            return False
        return self._elsewhere.queue_task(task, finished)

    def stop(self) -> None:
        if self._elsewhere is not None:
            self._elsewhere.stop()
        if self._batcher is not None:
            self._batcher.stop()
        self._give_back_readers()

    def checkout(self) -> Any:
        """A pooled connection for a caller to keep across units of work (the SQLite
        writer thread's own): it goes back with its close(), or is dropped with
        invalidate() after a failure of the database."""
        return self._db.engine.raw_connection()

    @contextmanager
    def _transaction(self, begin: str | None, kept: Any = None) -> Iterator[DirectCursor]:
        pooled = self._db.engine.raw_connection() if kept is None else kept
        try:
            connection: Any = pooled.driver_connection  # set while checked out (as above)
            cursor = connection.cursor()
            if begin is not None:
                cursor.execute(begin)
            work = DirectCursor(cursor, self._db.engine.dialect, defers=True)
            try:
                yield work
                work.finish()
            except BaseException:
                # Both drivers end a transaction they see open, ours (BEGIN on
                # SQLite) as well as their own (psycopg's implicit one).
                connection.rollback()
                raise
            connection.commit()
            cursor.close()
        finally:
            if kept is None:
                pooled.close()  # back to the pool, which rolls back anything left open
        if work.wrote:
            self._db.changed()

    @contextmanager
    def write(self, kept: Any = None) -> Iterator[DirectCursor]:
        """One write transaction: committed on success, rolled back on any error.
        On SQLite it takes the write lock up front and this process's writers take
        turns, as Database.write does. On `kept` (from checkout()) if given, else on
        a connection from the pool."""
        if not self._db.is_sqlite:
            with self._transaction(None, kept) as work:
                yield work
            return
        with self._db.write_turn(), self._transaction("BEGIN IMMEDIATE", kept) as work:
            yield work

    @contextmanager
    def read(self) -> Iterator[DirectCursor]:
        """One read transaction (a consistent snapshot of several statements). On
        SQLite, on this thread's own connection, kept from one read to the next."""
        if not self._db.is_sqlite:
            with self._transaction(None) as work:
                yield work
            return
        kept = self._reader()
        try:
            with self._transaction("BEGIN", kept) as work:
                yield work
        except DATABASE_FAILURES as error:
            if kept is not None and suspect(error):
                self._drop_reader(kept)
            raise

    def _reader(self) -> Any:
        """This thread's reading connection, checked out of the pool once: taking
        one from SQLAlchemy's pool and giving it back for every read cost a DM's
        `status` about 2% of its CPU (bench/RESULTS.md, "Seventh pass"). None once
        half the pool is kept so (or while stopping): then reads take one from the
        pool, as before, so that the pool never runs dry for everything else."""
        kept = getattr(self._local, "reader", None)
        if kept is not None:
            return kept
        with self._readers_lock:
            pool = self._db.engine.pool
            size = pool.size() if isinstance(pool, QueuePool) else 0
            if self._stopping or len(self._readers) >= size // 2:
                return None
            kept = self._db.engine.raw_connection()
            self._readers.append(kept)
        self._local.reader = kept
        return kept

    def _drop_reader(self, kept: Any) -> None:
        """After a failure of the database: this thread reads on a fresh connection next."""
        self._local.reader = None
        with self._readers_lock:
            if kept in self._readers:
                self._readers.remove(kept)
        drop(kept, "a reading")

    def _give_back_readers(self) -> None:
        with self._readers_lock:
            self._stopping = True
            readers, self._readers = self._readers, []
        for kept in readers:
            kept.close()
