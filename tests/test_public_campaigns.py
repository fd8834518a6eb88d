"""The shared copy of the public campaigns that /demands reads: it shows a write
made through this process at once, one made by another process within
SNAPSHOT_SECONDS, and is read from the database only when one of those happened;
and the database's generation, which tells it so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text, update

from petition import campaign_spec, campaigns
from petition.errors import CampaignNotFound
from petition.signatures import add_signature
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Campaign
from tests.support.counts import next_hour


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'shared.db'}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = Database.from_url(url)
    upgrade(database.engine)
    _import(database, "first")
    yield database
    database.dispose()


def _import(db: Database, slug: str, **fields: object) -> None:
    data = {"slug": slug, "title": slug.title(), "statement": "We ask.", "demands": ["One"]}
    data.update(fields)
    with db.write() as session:
        campaigns.upsert_campaign(session, campaign_spec.parse_campaign(data, ZoneInfo("UTC")))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _queries(db: Database) -> list[str]:
    seen: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.startswith("SELECT"):
            seen.append(statement)

    return seen


def _rolled_back_write(db: Database) -> None:
    with db.write() as session:
        session.execute(update(Campaign).values(title="Rolled back"))
        raise RuntimeError("changed my mind")


def test_the_generation_moves_when_a_change_is_committed(db):
    before = db.generation
    with db.read() as session:
        session.execute(text("SELECT count(*) FROM campaigns"))
    assert db.generation == before
    with pytest.raises(RuntimeError):
        _rolled_back_write(db)
    assert db.generation == before
    with db.engine.begin() as conn:  # a write that does not go through write()
        conn.execute(update(Campaign).values(title="Changed"))
    after_raw = db.generation
    assert after_raw > before
    with db.write() as session:
        session.execute(update(Campaign).values(title="Again"))
    assert db.generation > after_raw


def test_reads_are_shared_until_something_changes(db):
    shared = campaigns.PublicCampaigns(db, clock=Clock())
    queries = _queries(db)
    first = shared.views()
    assert [v.slug for v in first] == ["first"]
    read_once = len(queries)
    assert read_once > 0
    for _ in range(20):
        assert shared.views() is first
        assert shared.find(" FIRST ").slug == "first"
    assert len(queries) == read_once


def test_a_write_through_this_process_shows_at_once(db, keyring):
    shared = campaigns.PublicCampaigns(db, clock=Clock())
    assert shared.find("first").signatures == 0
    with db.write() as session:
        add_signature(session, "first", "a" * 64, keyring=keyring)
    # Counts shown move on the hour: the refresh is a write like any other.
    assert shared.find("first").signatures == 0
    next_hour(db)
    assert shared.find("first").signatures == 1
    _import(db, "second")
    assert [v.slug for v in shared.views()] == ["first", "second"]


def test_another_process_is_seen_within_the_snapshot_time(db, url):
    clock = Clock()
    shared = campaigns.PublicCampaigns(db, clock=clock)
    assert shared.find("first").title == "First"
    other = Database.from_url(url)  # the CLI, or another replica
    try:
        _import(other, "first", title="Renamed")
    finally:
        other.dispose()
    assert shared.find("first").title == "First"
    clock.now += campaigns.SNAPSHOT_SECONDS
    assert shared.find("first").title == "Renamed"


def test_an_unknown_slug_names_the_known_ones(db):
    _import(db, "second", status="draft")
    with pytest.raises(CampaignNotFound) as missing:
        campaigns.public_snapshot(db).find("nope")
    assert missing.value.known == ["first"]
    with pytest.raises(CampaignNotFound):
        campaigns.public_snapshot(db).find("second")  # drafts are for organizers


def test_one_shared_copy_per_database_which_it_does_not_keep_alive(url):
    import gc
    import weakref

    database = Database.from_url(url)
    upgrade(database.engine)
    assert campaigns.public_snapshot(database) is campaigns.public_snapshot(database)
    gone = weakref.ref(database)
    database.dispose()
    del database
    gc.collect()
    assert gone() is None


def test_a_kept_answer_lasts_as_long_as_its_copy(db, keyring):
    shared = campaigns.PublicCampaigns(db, clock=Clock())
    made: list[int] = []

    def answer() -> str:
        views = shared.views()
        return shared.kept(views, "count", lambda: made.append(1) or f"{views[0].signatures}")

    assert answer() == "0"
    assert answer() == "0"
    assert made == [1]  # made once for this copy
    with db.direct.write() as work:  # a signature, the way the app records one
        add_signature(work, "first", "b" * 64, keyring=keyring)
    next_hour(db)  # and the count shown, refreshed on the hour
    assert answer() == "1"  # a new copy, a new answer
    assert made == [1, 1]
    # An answer made from a copy that has since been replaced is not kept.
    stale = shared.views()
    _import(db, "second")
    assert len(shared.views()) == 2  # read again: the copy is replaced
    assert shared.kept(stale, "count", lambda: "from the old copy") == "from the old copy"
    assert answer() == "1"
