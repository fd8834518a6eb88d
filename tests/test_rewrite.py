"""The nightly rewrite: signer rows stored in the order of their values, so that
the files (SQLite's pages, PostgreSQL's heap and its `xmin`) keep no order of
signing finer than the day."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text

from jobs.upkeep import rewrite_job, scrub_job
from petition.keyring import Keyring
from petition.signatures import add_signature, signer_hash
from storage.db import Database
from storage.models import Signature
from tests.support.databases import ON_POSTGRES
from tests.support.signers import TEAM

SLUG = "wewontbuildit"
PEOPLE = 30


def _campaign(db: Database) -> None:
    from zoneinfo import ZoneInfo

    from petition import campaign_spec, campaigns

    spec = campaign_spec.parse_campaign(
        {"slug": SLUG, "title": "T", "statement": "S", "demands": ["D"]}, ZoneInfo("UTC")
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


def _sign_in_turn(db: Database, keyring: Keyring) -> list[str]:
    """People sign one after another, each in their own transaction; returns the
    stored values in the order of signing."""
    key = keyring._signer_key
    for n in range(PEOPLE):
        with db.write() as session:
            add_signature(session, SLUG, signer_hash(key, TEAM, f"U{n:09d}"), keyring=keyring)
    with db.read() as session:
        stored = set(session.scalars(select(Signature.signer_hash)))
    keys = keyring.campaign(next(iter(_key_ids(db))))
    order = [keys.signer(signer_hash(key, TEAM, f"U{n:09d}")) for n in range(PEOPLE)]
    assert set(order) == stored
    return order


def _key_ids(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(text("SELECT key_id FROM campaigns")).scalars())


def _file_order(db: Database, values: list[str]) -> list[str]:
    """The values in the order their bytes sit in the SQLite file."""
    scrub_job(db)
    raw = Path(str(db.sqlite_file)).read_bytes()
    return sorted(values, key=lambda value: raw.index(value.encode()))


def test_the_order_of_signing_does_not_outlive_the_night(db: Database, keyring: Keyring):
    _campaign(db)
    signed = _sign_in_turn(db, keyring)
    if ON_POSTGRES:
        with db.engine.connect() as conn:
            xmins = conn.execute(text("SELECT xmin::text FROM signatures")).scalars().all()
        assert len(set(xmins)) == PEOPLE, "the scan would prove nothing"
    else:
        on_disk = _file_order(db, signed)
        # Within a page, cells lie in the order they came: the order of signing.
        assert on_disk in (signed, signed[::-1]), "the scan would prove nothing"
    assert rewrite_job(db) == 1
    by_value = sorted(signed)
    if ON_POSTGRES:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT xmin::text, signer_hash FROM signatures ORDER BY ctid")
            ).all()
        # One transaction wrote them all, in the order of their values.
        assert len({xmin for xmin, _ in rows}) == 1
        assert [value for _, value in rows] == by_value
    else:
        on_disk = _file_order(db, signed)
        assert on_disk in (by_value, by_value[::-1])
    with db.read() as session:
        assert sorted(session.scalars(select(Signature.signer_hash))) == by_value
