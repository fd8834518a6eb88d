"""The privacy promises that SQLite keeps with its file format, kept on PostgreSQL
by other means: what a pg_dump holds, what the table files hold after forgetting,
and a signatures table with no sequence and no time finer than the day.

Run in PostgreSQL mode only (UNDERSIGNED_TEST_DATABASE=postgresql); the file
scans also need the server's data directory (UNDERSIGNED_TEST_PG_DATA).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import zoneinfo
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from petition import campaign_spec, campaigns
from petition.keyring import KeyMissing, Keyring
from petition.organizing import CLI_ACTOR, Organizers, StatusChange, change_status, forget_campaign
from petition.signatures import SignOutcome, add_signature, remove_signature, signer_hash
from petition.subscriptions import Address, subscribe
from storage.db import Database
from storage.models import Campaign, Signature
from tests.support.databases import ON_POSTGRES, PG_DATA, PG_DATA_ENV, database_bytes
from tests.support.running import SIGNER_KEY

pytestmark = pytest.mark.skipif(
    not ON_POSTGRES, reason="PostgreSQL mode only (UNDERSIGNED_TEST_DATABASE=postgresql)"
)

SLUG = "wewontbuildit"
KEY = SIGNER_KEY.encode()
OPERATOR = Organizers(frozenset())
PEOPLE = 60


def _campaign(db: Database) -> None:
    spec = campaign_spec.parse_campaign(
        {
            "slug": SLUG,
            "title": "We won't build it",
            "statement": "We, the undersigned, ask our employer to stop.",
            "demands": ["Cancel the contract"],
            "milestones": [10],
        },
        zoneinfo.ZoneInfo("Europe/London"),
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


def _hash(n: int) -> str:
    return signer_hash(KEY, "T0UNDRSGN", f"U0PERSON{n:04d}")


def _table_files(db: Database, *relations: str) -> bytes:
    """The bytes of these tables' and indexes' files, flushed to disk first."""
    assert PG_DATA is not None
    raw = b""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.execute(text("CHECKPOINT"))
        except ProgrammingError:
            pytest.skip("the role may not CHECKPOINT (GRANT pg_checkpoint, PostgreSQL 15+)")
        for relation in relations:
            path = conn.execute(
                text("SELECT pg_relation_filepath(:r)"), {"r": relation}
            ).scalar_one()
            base = Path(PG_DATA) / path
            for segment in sorted(base.parent.glob(base.name + "*")):
                if segment.name == base.name or segment.name.startswith(base.name + "."):
                    raw += segment.read_bytes()
    return raw


def _physical_order(db: Database) -> list[str]:
    query = text("SELECT signer_hash FROM signatures ORDER BY ctid")
    with db.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def test_signatures_have_no_sequence_and_no_time(db):
    with db.engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT column_name, data_type, column_default, is_identity "
                "FROM information_schema.columns WHERE table_name = 'signatures'"
            )
        ).all()
    assert columns
    for name, data_type, default, identity in columns:
        assert default is None, name  # no nextval(), no now()
        assert identity == "NO", name
        assert "time" not in data_type, name
    assert {c.column_name: c.data_type for c in columns}["signed_on"] == "date"


def _sign_twice_at_once(db: Database, keyring: Keyring, signer: str) -> list[SignOutcome]:
    """Two requests for one person, each in its own transaction, both past the
    "already signed?" read before either inserts."""
    barrier = threading.Barrier(2)
    outcomes: list[SignOutcome] = []

    def sign() -> None:
        with db.write() as session:
            barrier.wait(timeout=10)
            outcomes.append(add_signature(session, SLUG, signer, keyring=keyring))

    threads = [threading.Thread(target=sign) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_sessions_signing_the_same_person_at_once_count_once(db, keyring):
    # The insert's conflict decides, and only the one that inserted counts.
    _campaign(db)
    for n in range(20):
        outcomes = _sign_twice_at_once(db, keyring, _hash(n))
        assert sorted(outcomes) == [SignOutcome.ALREADY_SIGNED, SignOutcome.SIGNED], n
    with db.read() as session:
        rows = session.scalars(select(Signature.signer_hash)).all()
        count = campaigns.campaign_summary(campaigns.all_campaigns(session)[0])["signatures"]
    assert len(rows) == count == 20


def _sign_everyone(db: Database, keyring: Keyring) -> list[str]:
    """Everyone signs; every third asks for news. Returns the values stored."""
    people = [_hash(n) for n in range(PEOPLE)]
    for n, person in enumerate(people):
        with db.write() as session:
            add_signature(session, SLUG, person, today=dt.date(2026, 11, 20), keyring=keyring)
            if n % 3 == 0:
                subscribe(session, SLUG, person, keyring, Address("T0UNDRSGN", f"U0PERSON{n:04d}"))
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id))
    assert key_id is not None
    keys = keyring.campaign(key_id)
    return [keys.signer(person) for person in people]


def _forget(db: Database, keyring: Keyring) -> None:
    with db.write() as session:
        change_status(session, OPERATOR, CLI_ACTOR, SLUG, StatusChange.CLOSE)
    forget_campaign(db, keyring, OPERATOR, CLI_ACTOR, SLUG)


def test_a_pg_dump_holds_no_person_digest_and_after_forgetting_no_signer(db, database_url, keyring):
    _campaign(db)
    values = _sign_everyone(db, keyring)
    dump = database_bytes(database_url)
    assert values[0].encode() in dump, "the scan would prove nothing"
    # What SIGNER_KEY and a member list give is never stored, before or after.
    assert [n for n in range(PEOPLE) if _hash(n).encode() in dump] == []
    _forget(db, keyring)
    dump = database_bytes(database_url)
    assert [v for v in values if v.encode() in dump] == []
    assert b"COPY public.subscribers" in dump


@pytest.mark.skipif(PG_DATA is None, reason=f"needs the server's data directory: {PG_DATA_ENV}")
def test_after_forgetting_nothing_in_the_table_files_can_be_linked(db, keyring):
    _campaign(db)
    values = _sign_everyone(db, keyring)
    with db.write() as session:
        assert remove_signature(session, SLUG, _hash(PEOPLE - 1), keyring)
    files = ("signatures", "pk_signatures", "subscribers", "pk_subscribers")
    # PostgreSQL keeps deleted rows in its files: the scan sees every value.
    before = _table_files(db, *files)
    assert all(v.encode() in before for v in values)
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id))
    _forget(db, keyring)
    after = _table_files(db, *files)
    # Dead row versions may stay in the files until their space is reused; what
    # matters is that nothing links them to anyone any more: the key that made
    # them is gone, for this process and for any other reading the key store.
    with pytest.raises(KeyMissing):
        Keyring(KEY, keyring.store).campaign(key_id)
    assert [n for n in range(PEOPLE) if _hash(n).encode() in after] == []


def test_backup_points_to_pg_dump(database_url, tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["backup", str(tmp_path / "copy.db")]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert not (tmp_path / "copy.db").exists()


def test_replicas_starting_at_once_migrate_once(postgres_server):
    # Each replica upgrades at start-up; on an empty database they all try at once.
    url = postgres_server.create(migrated=False)
    start_up = (
        "import sys; from storage.db import Database; from storage.migrate import upgrade; "
        "upgrade(Database.from_url(sys.argv[1]).engine)"
    )
    repo = str(Path(__file__).resolve().parent.parent)
    try:
        replicas = [
            subprocess.Popen(
                [sys.executable, "-c", start_up, url],
                cwd=repo,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for replica in replicas:
            _, err = replica.communicate(timeout=120)
            assert replica.returncode == 0, err
        database = Database.from_url(url)
        try:
            with database.engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        finally:
            database.dispose()
        assert len(versions) == 1
    finally:
        postgres_server.drop(url)


def test_forget_while_a_pg_dump_runs_really_forgets(db, keyring):
    """A pg_dump holds a snapshot and ACCESS SHARE locks on every table for as long
    as it runs. Forgetting used to wait for a lock to rewrite the tables, settle for
    a VACUUM that removed nothing, and report success. Now it needs no rewrite: the
    rows go (a DELETE does not conflict with the dump's locks) and the key is
    destroyed, which is what forgetting is."""
    _campaign(db)
    values = _sign_everyone(db, keyring)
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id))
    dump = db.engine.connect()
    try:
        dump.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        dump.exec_driver_sql("LOCK TABLE signatures, subscribers IN ACCESS SHARE MODE")
        assert dump.exec_driver_sql("SELECT count(*) FROM signatures").scalar_one() == PEOPLE
        finished = threading.Event()

        def forget() -> None:
            _forget(db, keyring)
            finished.set()

        worker = threading.Thread(target=forget)
        worker.start()
        assert finished.wait(timeout=30), "forget waited on the dump"
        worker.join()
        # The dump still sees what it saw: its copy of the rows is of no use to
        # anyone, since the key that made them is gone.
        assert dump.exec_driver_sql("SELECT count(*) FROM signatures").scalar_one() == PEOPLE
    finally:
        dump.rollback()
        dump.close()
    with pytest.raises(KeyMissing):
        Keyring(KEY, keyring.store).campaign(key_id)
    with db.read() as session:
        assert session.scalars(select(Signature.signer_hash)).all() == []
    assert values
