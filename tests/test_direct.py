"""storage/direct.py: statements run on the driver read and write exactly what a
Session would, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, event, select, text

from petition import campaign_spec, campaigns
from petition.errors import CampaignNotFound
from petition.keyring import Keyring
from petition.signatures import (
    CampaignClosed,
    Choice,
    SignOutcome,
    current_name,
    sign,
    signer_overview,
    signer_status,
)
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Campaign, CampaignStatus, Signature
from tests.support.databases import sqlite_only

SLUG = "direct"
CLOSES = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)


def _campaign(db: Database, status: str = "open", closes: dt.datetime = CLOSES) -> None:
    spec = campaign_spec.parse_campaign(
        {
            "slug": SLUG,
            "title": "Direct & <fast>",
            "statement": "We ask.",
            "demands": ["One."],
            "milestones": [10],
            "status": status,
            "closes": closes,
        },
        ZoneInfo("UTC"),
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


_BY_SLUG = select(
    Campaign.__table__.c.id,
    Campaign.__table__.c.status,
    Campaign.__table__.c.closes_at,
    Campaign.__table__.c.title,
).where(Campaign.__table__.c.slug == bindparam("slug"))


def test_reads_the_values_a_session_reads(db: Database, keyring: Keyring) -> None:
    _campaign(db)
    with db.read() as session:
        expected = session.execute(_BY_SLUG, {"slug": SLUG}).one()
    with db.direct.read() as work:
        found = work.first(_BY_SLUG, slug=SLUG)
    assert found == tuple(expected)
    _, status, closes_at, title = found
    assert status is CampaignStatus.OPEN  # the enum, not its stored text
    assert closes_at == CLOSES
    assert closes_at.tzinfo is not None  # aware UTC, as the ORM's
    assert title == "Direct & <fast>"
    with db.direct.read() as work:
        assert work.first(_BY_SLUG, slug="nothing-here") is None


def test_a_signature_written_directly_reads_back_through_the_orm(
    db: Database, keyring: Keyring
) -> None:
    _campaign(db)
    today = dt.date(2030, 1, 2)
    with db.direct.write() as work:
        first = sign(work, SLUG, "a" * 64, Choice(name="Ada <Lovelace>"), keyring, today=today)
        again = sign(work, SLUG, "a" * 64, Choice(), keyring, today=today)
        other = sign(work, SLUG, "b" * 64, Choice(), keyring, today=today)
    assert (first.outcome, again.outcome, other.outcome) == (
        SignOutcome.SIGNED,
        SignOutcome.ALREADY_SIGNED,
        SignOutcome.SIGNED,
    )
    assert first.title == "Direct & <fast>"
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == SLUG))
        keys = keyring.campaign(key_id)
        rows = {s.signer_hash: s for s in session.scalars(select(Signature))}
        count = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
        assert signer_status(session, SLUG, "a" * 64, keyring).named
        assert current_name(session, SLUG, "a" * 64, keyring) == "Ada <Lovelace>"
    assert count == 2
    ada, other = rows[keys.signer("a" * 64)], rows[keys.signer("b" * 64)]
    assert ada.named
    assert ada.signed_on == today  # a date, stored as the ORM stores dates
    assert not other.named
    assert other.sealed_name is None


def test_a_failed_write_leaves_nothing(db: Database, keyring: Keyring) -> None:
    _campaign(db)

    class Boom(Exception):
        pass

    def sign_then_fail() -> None:
        with db.direct.write() as work:
            assert sign(work, SLUG, "c" * 64, Choice(), keyring).outcome is SignOutcome.SIGNED
            raise Boom()

    with pytest.raises(Boom):
        sign_then_fail()
    with db.read() as session:
        assert session.scalar(select(Signature.signer_hash)) is None
        assert session.scalar(select(Campaign.signature_count)) == 0


_COUNT = select(Campaign.__table__.c.signature_count).where(
    Campaign.__table__.c.slug == bindparam("slug")
)


def test_a_unit_of_work_counts_its_signatures_once_at_its_end(
    db: Database, keyring: Keyring
) -> None:
    # Direct's own units put the count off to one statement before the commit
    # (DirectCursor.tally); a Session's statements, which nothing finishes, count
    # at once.
    _campaign(db)
    with db.direct.write() as work:
        for person in ("1", "2", "3"):
            assert sign(work, SLUG, person * 64, Choice(), keyring).outcome is SignOutcome.SIGNED
        assert sign(work, SLUG, "1" * 64, Choice(), keyring).outcome is SignOutcome.ALREADY_SIGNED
        assert work.first(_COUNT, slug=SLUG) == (0,)  # put off until the end
    with db.direct.read() as work:
        assert work.first(_COUNT, slug=SLUG) == (3,)
    with db.write() as session:
        sign(session, SLUG, "4" * 64, Choice(), keyring)
        assert session.scalar(select(Campaign.signature_count)) == 4  # at once

    def sign_then_fail() -> None:
        with db.direct.write() as work:
            sign(work, SLUG, "5" * 64, Choice(), keyring)
            raise RuntimeError("after the signature, before the commit")

    with pytest.raises(RuntimeError):
        sign_then_fail()
    with db.direct.read() as work:
        assert work.first(_COUNT, slug=SLUG) == (4,)  # neither the row nor its count


def test_closed_and_unknown_campaigns_refuse_before_writing(db: Database, keyring: Keyring) -> None:
    _campaign(db, status="closed")
    generation = db.generation
    with pytest.raises(CampaignClosed), db.direct.write() as work:
        sign(work, SLUG, "d" * 64, Choice(), keyring)
    with pytest.raises(CampaignNotFound), db.direct.write() as work:
        sign(work, "no-such-campaign", "d" * 64, Choice(), keyring)
    assert db.generation == generation  # nothing written, nothing to refresh
    with db.read() as session:
        assert session.scalar(select(Signature.signer_hash)) is None


def test_a_direct_write_makes_cached_campaigns_stale(db: Database, keyring: Keyring) -> None:
    # The shared copy /demands reads (with the count) is read again after a write.
    _campaign(db)
    before = db.generation
    with db.direct.write() as work:
        sign(work, SLUG, "e" * 64, Choice(), keyring)
    assert db.generation != before


def test_session_and_direct_work_in_one_transaction(db: Database, keyring: Keyring) -> None:
    # Domain functions take either; inside a Session they run on its connection.
    _campaign(db)
    with db.write() as session:
        sign(session, SLUG, "f" * 64, Choice(), keyring)
        assert signer_status(session, SLUG, "f" * 64, keyring).signed
        session.rollback()
    with db.direct.read() as work:
        assert not signer_status(work, SLUG, "f" * 64, keyring).signed
        views = [campaigns.public_snapshot(db).views()[0]]
        assert signer_overview(work, "f" * 64, keyring, views=views)[0][1].signed is False


def test_concurrent_direct_signers_are_counted_exactly(db: Database, keyring: Keyring) -> None:
    _campaign(db)
    errors: list[BaseException] = []

    def signer(n: int) -> None:
        try:
            for i in range(20):
                with db.direct.write() as work:
                    sign(work, SLUG, f"{n:02d}{i:062d}", Choice(), keyring)
                    sign(work, SLUG, f"{n:02d}{i:062d}", Choice(), keyring)  # a double click
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=signer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.read() as session:
        stored = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
        rows = len(session.scalars(select(Signature.signer_hash)).all())
    assert stored == rows == 160


_CAMPAIGN_IDS = select(Campaign.__table__.c.id)  # built once: direct statements are kept


def test_a_pool_as_large_as_the_threads_opens_each_connection_once(database_url: str) -> None:
    # Past the pool's size, a connection is closed when given back and opened again
    # on the next busy moment: on SQLite its PRAGMAs and page cache, on PostgreSQL
    # a login. `serve` sizes the pool to its threads.
    pool_size = 16
    db = Database.from_url(database_url, pool_size=pool_size)
    upgrade(db.engine)
    db.dispose()  # the migration's connection does not count
    opened: list[int] = []
    event.listen(db.engine, "connect", lambda *_: opened.append(1))
    together = threading.Barrier(pool_size)
    failures: list[BaseException] = []

    def read_while_everyone_does() -> None:
        try:
            for _ in range(3):
                with db.direct.read() as work:
                    work.first(_CAMPAIGN_IDS)
                    together.wait(timeout=10)  # all threads hold a connection at once
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=read_while_everyone_does) for _ in range(pool_size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    db.dispose()
    assert not failures
    assert len(opened) == pool_size


def _sample(bind: object) -> object:
    """A value of the bind's Python type, for comparing how values are bound."""
    type_ = getattr(bind, "type", None)
    try:
        python_type = type_.python_type if type_ is not None else str
    except NotImplementedError:
        return "x"
    enum_class = getattr(type_, "enum_class", None)
    if enum_class is not None:
        return next(iter(enum_class))
    samples: dict[type, object] = {
        int: 7,
        str: "x&<y>",
        bool: True,
        float: 1.5,
        bytes: b"\x00\xff",
        dt.datetime: dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.date: dt.date(2030, 1, 2),
    }
    return samples.get(python_type, "x")


def _statements(dialect_name: str) -> list[object]:
    """Every Core statement the domain keeps at module level (the ones it runs
    directly are among them)."""
    import importlib
    import pkgutil

    from sqlalchemy.sql import ClauseElement, Executable

    import petition

    found: list[object] = []
    for info in pkgutil.iter_modules(petition.__path__, "petition."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            # Some are kept per dialect, in a dict: this dialect's.
            candidates = (value.get(dialect_name),) if isinstance(value, dict) else (value,)
            for candidate in candidates:
                if isinstance(candidate, ClauseElement) and isinstance(candidate, Executable):
                    found.append(candidate)
    return found


def _construct_params(compiled: object, reference: object, given: dict[str, object]) -> object:
    """What Compiled.parameters() gave before it worked the binds out once: SQLAlchemy's
    construct_params() on every call, then each value's bind processor."""
    named = reference.construct_params(dict(given))  # type: ignore[attr-defined]
    for name, value in named.items():
        process = compiled._binds.get(name)  # type: ignore[attr-defined]
        if process is not None and value is not None:
            named[name] = process(value)
    positions = compiled._positions  # type: ignore[attr-defined]
    return named if positions is None else [named[n] for n in positions]


def test_bound_values_are_what_construct_params_gives(db: Database) -> None:
    """Compiled.parameters() works out once what SQLAlchemy's construct_params()
    works out per call: for every statement the domain keeps, with every value given,
    with none, and with the literal ones left to the statement, both bind alike."""
    from sqlalchemy.exc import InvalidRequestError

    from storage.direct import Compiled

    dialect = db.engine.dialect
    statements = _statements(dialect.name)
    assert len(statements) > 15  # the domain's statements were found
    for statement in statements:
        compiled = Compiled(statement, dialect)  # type: ignore[arg-type]
        assert compiled._plan is not None  # worked out once, not by construct_params
        reference = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        binds = reference.bind_names
        values = {bind.key: _sample(bind) for bind in binds if bind.required}

        assert compiled.parameters(values) == _construct_params(compiled, reference, values), (
            reference.string
        )
        every = {bind.key: _sample(bind) for bind in binds}
        assert compiled.parameters(every) == _construct_params(compiled, reference, every), (
            reference.string
        )
        if values:
            with pytest.raises(InvalidRequestError):
                compiled.parameters({})
            with pytest.raises(InvalidRequestError):
                _construct_params(compiled, reference, {})


def _checkouts(db: Database) -> list[object]:
    """Every checkout of a connection from the engine's pool, from now on."""
    taken: list[object] = []
    event.listen(db.engine, "checkout", lambda dbapi, record, proxy: taken.append(dbapi))
    return taken


def _read_driver_connection(db: Database) -> object:
    with db.direct.read() as work:
        work.first(select(Campaign.id).where(Campaign.slug == bindparam("slug")), slug="x")
        return work._cursor.connection


@sqlite_only("reads keep a connection per thread on SQLite only")
def test_a_thread_reads_on_one_connection_taken_from_the_pool_once(db: Database) -> None:
    taken = _checkouts(db)
    first = _read_driver_connection(db)
    assert all(_read_driver_connection(db) is first for _ in range(5))
    assert len(taken) == 1
    # Another thread reads on a connection of its own.
    theirs: list[object] = []
    reader = threading.Thread(target=lambda: theirs.append(_read_driver_connection(db)))
    reader.start()
    reader.join()
    assert theirs[0] is not first
    assert len(taken) == 2
    # Given back when the database is disposed of.
    db.direct.stop()
    assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@sqlite_only("reads keep a connection per thread on SQLite only")
def test_a_read_that_meets_a_failure_of_the_database_drops_its_connection(
    db: Database,
) -> None:
    first = _read_driver_connection(db)
    with pytest.raises(sqlite3.OperationalError), db.direct.read() as work:
        work.first(text("SELECT * FROM no_such_table"))  # type: ignore[arg-type]
    second = _read_driver_connection(db)
    assert second is not first
    assert _read_driver_connection(db) is second


@sqlite_only("reads keep a connection per thread on SQLite only")
def test_at_most_half_the_pool_is_kept_by_reading_threads(database_url: str) -> None:
    db = Database.from_url(database_url, pool_size=4)
    upgrade(db.engine)
    try:
        start = threading.Barrier(6)
        seen: list[object] = []

        def read() -> None:
            start.wait()
            seen.append(_read_driver_connection(db))

        readers = [threading.Thread(target=read) for _ in range(6)]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        assert len(seen) == 6
        assert db.engine.pool.checkedout() == 2  # type: ignore[attr-defined]
    finally:
        db.dispose()
