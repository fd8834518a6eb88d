"""Migrations walk up and down cleanly and match the models; SQLite connections get
WAL, foreign keys and a busy timeout; a write transaction takes the lock up front."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.migrate import alembic_config, downgrade, upgrade
from storage.models import Base, Campaign
from tests.support.databases import ON_POSTGRES, PostgresServer, sqlite_only

# Every table the models declare must come from the migrations, and nothing more.
TABLES = set(Base.metadata.tables)


@pytest.fixture
def fresh(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """An empty database: a new SQLite file, or a new PostgreSQL database."""
    if not ON_POSTGRES:
        database = Database.from_url(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield database
        database.dispose()
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create(migrated=False)
    database = Database.from_url(url)
    yield database
    database.dispose()
    server.drop(url)


def _tables(database: Database) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def _current(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def test_there_is_a_single_head():
    assert len(_script().get_heads()) == 1


def test_upgrade_downgrade_upgrade(fresh):
    head = _script().get_current_head()
    upgrade(fresh.engine)
    assert _tables(fresh) == TABLES
    assert _current(fresh) == head
    downgrade(fresh.engine, "base")
    assert _tables(fresh) == set()
    assert _current(fresh) is None
    upgrade(fresh.engine)
    assert _tables(fresh) == TABLES
    assert _current(fresh) == head


def test_upgrading_twice_changes_nothing(fresh):
    upgrade(fresh.engine)
    upgrade(fresh.engine)
    assert _tables(fresh) == TABLES


def test_every_revision_steps_down_and_back_up(fresh):
    # The stairway: each revision applied, undone and applied again on its own.
    revisions = list(reversed(list(_script().walk_revisions())))
    assert revisions, "no migrations found"
    for revision in revisions:
        upgrade(fresh.engine, revision.revision)
        assert _current(fresh) == revision.revision
        downgrade(fresh.engine, revision.down_revision or "base")
        assert _current(fresh) == revision.down_revision
        upgrade(fresh.engine, revision.revision)
        assert _current(fresh) == revision.revision


def test_every_revision_has_a_downgrade():
    for revision in _script().walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), revision.revision
        assert callable(getattr(revision.module, "upgrade", None)), revision.revision


def test_migrations_match_the_models(fresh):
    upgrade(fresh.engine)
    with fresh.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        assert compare_metadata(context, Base.metadata) == []


# -- SQLite connections --------------------------------------------------------


def _pragmas(execute) -> tuple[str, int, int]:  # type: ignore[no-untyped-def]
    return (
        execute(text("PRAGMA journal_mode")).scalar(),
        execute(text("PRAGMA foreign_keys")).scalar(),
        execute(text("PRAGMA busy_timeout")).scalar(),
    )


def _assert_pragmas(values: tuple[str, int, int]) -> None:
    journal_mode, foreign_keys, busy_timeout = values
    assert journal_mode.lower() == "wal"
    assert foreign_keys == 1
    assert busy_timeout > 0


@sqlite_only("PRAGMAs are SQLite's; PostgreSQL needs none of them")
def test_every_connection_gets_the_pragmas(db):
    with db.engine.connect() as first, db.engine.connect() as second:
        _assert_pragmas(_pragmas(first.execute))
        _assert_pragmas(_pragmas(second.execute))
    with db.read() as session:
        _assert_pragmas(_pragmas(session.execute))
    with db.write() as session:
        _assert_pragmas(_pragmas(session.execute))


def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(
            text(
                "INSERT INTO signatures (campaign_id, signer_hash, signed_on) "
                "VALUES (999, 'x', '2026-01-01')"
            )
        )


def _campaign(slug: str) -> Campaign:
    return Campaign(slug=slug, title=slug, statement="s", signature_count=0)


def _count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(Campaign))


def _write_lock_is_free(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False
    finally:
        probe.close()
    return True


@sqlite_only("one write lock per file is SQLite's; PostgreSQL locks rows")
def test_a_read_does_not_take_the_write_lock(db):
    path = db.engine.url.database
    with db.read() as session:
        _count(session)
        assert _write_lock_is_free(path)


@sqlite_only("BEGIN IMMEDIATE is SQLite's; PostgreSQL locks rows")
def test_a_write_takes_the_lock_up_front_and_the_next_write_waits_for_it(db):
    path = db.engine.url.database
    statements: dict[str, list[str]] = {}

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        name = threading.current_thread().name
        statements.setdefault(name, []).append(statement)

    first_holds = threading.Event()
    release_first = threading.Event()
    outcome: dict[str, object] = {}

    def first_writer() -> None:
        with db.write() as session:
            # Only a read so far: the lock must already be ours.
            outcome["first_saw"] = _count(session)
            session.add(_campaign("first"))
            session.flush()
            first_holds.set()
            release_first.wait(timeout=30)

    def reader() -> None:
        with db.read() as session:
            outcome["reader_saw"] = _count(session)

    def second_writer() -> None:
        try:
            with db.write() as session:
                # Read then write: with a deferred BEGIN the read would pin an old
                # snapshot and the write would fail with "database is locked".
                outcome["second_saw"] = _count(session)
                session.add(_campaign("second"))
        except Exception as exc:
            outcome["second_error"] = exc

    first = threading.Thread(target=first_writer, name="first-writer")
    first.start()
    try:
        assert first_holds.wait(timeout=30)
        assert not _write_lock_is_free(path)

        # WAL: a reader is not blocked by the open write, and sees the last commit.
        read = threading.Thread(target=reader, name="reader")
        read.start()
        read.join(timeout=30)
        assert not read.is_alive()
        assert outcome["reader_saw"] == 0

        second = threading.Thread(target=second_writer, name="second-writer")
        second.start()
        # It waits for its turn, and has read nothing yet.
        second.join(timeout=0.5)
        assert second.is_alive()
        assert "second_saw" not in outcome
    finally:
        release_first.set()
        first.join(timeout=30)
    second.join(timeout=30)
    assert not second.is_alive()
    assert "second_error" not in outcome, outcome.get("second_error")

    assert statements["first-writer"][0] == "BEGIN IMMEDIATE"
    assert statements["second-writer"][0] == "BEGIN IMMEDIATE"
    assert statements["reader"][0] == "BEGIN"
    assert outcome["first_saw"] == 0
    # The second writer's transaction began only after the first committed.
    assert outcome["second_saw"] == 1
    with db.read() as session:
        assert set(session.scalars(select(Campaign.slug))) == {"first", "second"}
