"""`python -m bot db copy FROM TO`: every row of every table, into an empty
database (SQLite to PostgreSQL, or back), with the ids carrying on after it."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from petition.signatures import signer_hash
from storage.copy import CopyRefused, copy_database, tables_in_dependency_order
from storage.db import Database, engine_url
from storage.migrate import upgrade
from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    AuditEntry,
    Campaign,
    CampaignOrganizer,
    CampaignStatus,
    DeliveryState,
    Demand,
    JobRun,
    Milestone,
    Signature,
    Subscriber,
    Update,
    UpdateDelivery,
    UpdateKind,
)
from tests.support.cli import REPO, base_env
from tests.support.databases import PostgresServer
from tests.support.running import SIGNER_KEY

KEY = SIGNER_KEY.encode()
WHEN = dt.datetime(2026, 11, 28, 9, 30, 15, 123456, tzinfo=dt.UTC)


def _hash(user: str) -> str:
    return signer_hash(KEY, "T0UNDRSGN", user)


def fill(db: Database) -> None:
    """A row in every table the models had when this was written."""
    with db.write() as session:
        campaign = Campaign(
            slug="wewontbuildit",
            title="We won't build it",
            statement="We, the undersigned, ask our employer to stop.",
            status=CampaignStatus.CLOSED,
            channel_id="C0ANNOUNCE",
            closes_at=WHEN,
            created_at=WHEN,
            signature_count=3,
            delivered_on=dt.date(2026, 11, 27),
            employer_answer="No.",
        )
        campaign.demands = [Demand(position=1, text="Cancel"), Demand(position=2, text="Publish")]
        campaign.milestones = [Milestone(threshold=5), Milestone(threshold=10)]
        campaign.organizers = [CampaignOrganizer(user_id="U0DANA0001")]
        session.add(campaign)
        session.add(Campaign(slug="fair-pay", title="Fair pay", statement="s", created_at=WHEN))
        session.flush()
        day = dt.date(2026, 11, 20)
        session.add_all(
            [
                Signature(
                    campaign_id=campaign.id, signer_hash=_hash("U1"), signed_on=day, named=True
                ),
                Signature(campaign_id=campaign.id, signer_hash=_hash("U2"), signed_on=day),
                Signature(
                    campaign_id=campaign.id,
                    signer_hash=_hash("U3"),
                    signed_on=day,
                    name_threshold=10,
                    sealed_name="sealed:abc",
                ),
                Subscriber(
                    campaign_id=campaign.id, signer_hash=_hash("U2"), sealed_address="sealed:x"
                ),
                AuditEntry(at=WHEN, actor="cli", campaign_slug=campaign.slug, action="import"),
                Announcement(
                    campaign_id=campaign.id,
                    kind=AnnouncementKind.MILESTONE,
                    threshold=5,
                    channel_id="C0ANNOUNCE",
                    state=AnnouncementState.POSTED,
                    posted_at=WHEN,
                    message_ts="1700000000.000100",
                ),
                JobRun(job_id="announce", last_run_at=WHEN),
            ]
        )
        news = Update(
            campaign_id=campaign.id,
            kind=UpdateKind.NEWS,
            text="We delivered it.",
            created_at=WHEN,
            created_by="U0DANA0001",
            recipients=1,
        )
        session.add(news)
        session.flush()
        session.add(
            UpdateDelivery(update_id=news.id, signer_hash=_hash("U2"), state=DeliveryState.PENDING)
        )


def every_row(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    rows = {}
    with db.read() as session:
        for table in tables_in_dependency_order():
            query = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in session.execute(query)]
    return rows


@pytest.fixture
def source(db: Database) -> Database:
    fill(db)
    return db


@pytest.fixture
def sqlite_target(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'copy' / 'target.db'}"


def test_tables_are_copied_parents_first():
    order = [t.name for t in tables_in_dependency_order()]
    for child, parent in [
        ("demands", "campaigns"),
        ("signatures", "campaigns"),
        ("update_deliveries", "updates"),
        ("updates", "campaigns"),
    ]:
        assert order.index(parent) < order.index(child)


def test_every_row_of_every_table_is_copied(source, database_url, sqlite_target):
    before = every_row(source)
    for name in ("campaigns", "demands", "signatures", "subscribers", "update_deliveries"):
        assert before[name], f"{name} is empty: the comparison would prove nothing"
    report = copy_database(database_url, sqlite_target)
    target = Database.from_url(sqlite_target)
    try:
        assert every_row(target) == before
        assert report.rows == {name: len(rows) for name, rows in before.items()}
    finally:
        target.dispose()


def test_a_target_that_holds_rows_is_refused_and_left_alone(source, database_url, sqlite_target):
    copy_database(database_url, sqlite_target)
    target = Database.from_url(sqlite_target)
    try:
        with target.write() as session:
            session.add(JobRun(job_id="extra", last_run_at=WHEN))
        before = every_row(target)
        with pytest.raises(CopyRefused, match="already holds rows"):
            copy_database(database_url, sqlite_target)
        assert every_row(target) == before
    finally:
        target.dispose()


def test_a_database_is_not_copied_onto_itself(source, database_url):
    with pytest.raises(CopyRefused, match="same database"):
        copy_database(database_url, database_url)


@pytest.fixture
def postgres_target(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create(migrated=False)
    yield url
    postgres_server.drop(url)


def test_sqlite_to_postgresql_and_the_ids_carry_on(tmp_path, postgres_target):
    sqlite_url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database.from_url(sqlite_url)
    upgrade(old.engine)
    fill(old)
    before = every_row(old)
    old.dispose()

    report = copy_database(sqlite_url, postgres_target)
    assert {"campaigns", "demands", "audit_entries", "updates"} <= set(report.sequences_reset)
    new = Database.from_url(postgres_target)
    try:
        assert every_row(new) == before
        # The sequences were moved past the copied ids: new rows do not collide.
        with new.write() as session:
            campaign = Campaign(slug="next-one", title="Next", statement="s")
            entry = AuditEntry(actor="cli", action="import")
            session.add_all([campaign, entry])
            session.flush()
            assert campaign.id > max(row[0] for row in before["campaigns"])
            assert entry.id > max(row[0] for row in before["audit_entries"])
        # And back again, PostgreSQL to SQLite, all the same.
        back = f"sqlite:///{tmp_path / 'back.db'}"
        copy_database(postgres_target, back)
        again = Database.from_url(back)
        try:
            assert every_row(again) == every_row(new)
        finally:
            again.dispose()
    finally:
        new.dispose()


def _db_copy(source: str, target: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = base_env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot", "db", "copy", source, target],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_copies_says_so_and_refuses_a_second_time(
    source, database_url, sqlite_target, tmp_path
):
    done = _db_copy(database_url, sqlite_target, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "row counts match" in done.stdout
    assert "signatures: 3" in done.stderr
    password = make_url(database_url).password
    if password:
        assert f":{password}@" not in done.stdout + done.stderr

    again = _db_copy(database_url, sqlite_target, tmp_path)
    assert again.returncode == 2
    assert "already holds rows" in again.stderr
    assert "nothing was copied" in again.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db.internal:5432/undersigned",
        "postgres://u:p@db.internal/undersigned",
        "postgresql+psycopg://u:p@db.internal/undersigned",
    ],
)
def test_every_postgresql_url_runs_on_psycopg(url):
    # Hosting providers hand out postgres:// URLs; SQLAlchemy alone would want psycopg2.
    assert engine_url(url).drivername == "postgresql+psycopg"
    assert engine_url(url).database == "undersigned"


def test_a_server_that_cannot_be_reached_is_one_line_not_a_traceback(tmp_path, sqlite_target):
    done = _db_copy("postgresql://nobody:secret@127.0.0.1:1/none", sqlite_target, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "cannot use the database" in done.stderr
    assert "secret" not in done.stderr
