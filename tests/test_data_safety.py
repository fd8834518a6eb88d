"""The database file on disk: owner-only permissions and consistent live backups."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from petition import campaign_spec, campaigns
from petition.keyring import Keyring, KeyStore
from petition.signatures import add_signature, signer_hash
from storage.db import Database, sqlite_path
from storage.migrate import upgrade
from storage.models import Campaign, Signature
from tests.support.databases import sqlite_only
from tests.support.running import SIGNER_KEY

# On PostgreSQL the server owns the files and their permissions, and backups are
# pg_dump's (DEPLOY.md); `backup` refuses there (tests/test_postgres.py).
pytestmark = sqlite_only("file permissions and the online backup API of a SQLite file")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_are_readable_by_the_owner_only(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'u.db'}"
    db = Database.from_url(url)
    upgrade(db.engine)
    with db.write() as session:
        session.add(Campaign(slug="x", title="x", statement="x", signature_count=0))
    path = sqlite_path(url)
    assert path is not None
    for file in (path, path.with_name("u.db-wal"), path.with_name("u.db-shm")):
        assert file.exists(), file
        assert _mode(file) == 0o600, (file, oct(_mode(file)))
    db.dispose()


def test_an_existing_database_is_made_owner_only(tmp_path):
    path = tmp_path / "old.db"
    path.write_bytes(b"")
    path.chmod(0o644)
    Database.from_url(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def _campaign(db: Database) -> None:
    from zoneinfo import ZoneInfo

    spec = campaign_spec.parse_campaign(
        {"slug": "cc", "title": "C", "statement": "S", "demands": ["D"]}, ZoneInfo("UTC")
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


def test_a_backup_taken_under_load_is_consistent(tmp_path):
    import base64

    key = base64.urlsafe_b64decode(SIGNER_KEY + "=" * (-len(SIGNER_KEY) % 4))
    keyring = Keyring(key, KeyStore(tmp_path / "keys", key))
    db = Database.from_url(f"sqlite:///{tmp_path / 'live.db'}")
    upgrade(db.engine)
    _campaign(db)
    stop = threading.Event()
    signed = [0]

    def sign_continuously() -> None:
        n = 0
        while not stop.is_set() and n < 5000:
            with db.write() as session:
                add_signature(session, "cc", signer_hash(key, "T1", f"U{n:09d}"), keyring=keyring)
            n += 1
        signed[0] = n

    writer = threading.Thread(target=sign_continuously)
    writer.start()
    try:
        while signed[0] == 0 and writer.is_alive():
            with db.read() as session:
                if session.scalar(select(Campaign.signature_count)) >= 50:
                    break
        backups = []
        for i in range(3):
            target = tmp_path / f"backup-{i}.db"
            db.backup(target)
            backups.append(target)
    finally:
        stop.set()
        writer.join(timeout=60)
    for target in backups:
        assert _mode(target) == 0o600
        copy = Database.from_url(f"sqlite:///{target}")
        with copy.read() as session:
            rows = session.scalar(select(func.count()).select_from(Signature))
            count = session.scalar(select(Campaign.signature_count))
        copy.dispose()
        # A consistent snapshot: the kept count matches the rows, whatever moment it caught.
        assert count == rows
        assert rows > 0
    with pytest.raises(FileExistsError):
        db.backup(backups[0])
    db.dispose()
