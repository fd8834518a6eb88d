"""The SQLite settings that privacy and concurrency rest on, read back from each
connection, and what they are for, checked on the raw bytes: a withdrawn name and a
changed choice are gone from the database file, its -wal and -shm, and a backup,
once the WAL has been scrubbed.

Catches planted bugs 4a (`PRAGMA secure_delete=OFF`) and 4b (the scrub without
its WAL checkpoint) of issue 23, which once passed every test because the file
scans looked only for values the app never stores.
"""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from petition.keyring import Keyring
from petition.signatures import Choice, change_choice, remove_signature
from storage.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    Database,
    FailedIntegrityCheck,
    NotScrubbed,
    check_integrity,
)
from storage.models import Signature
from tests.support.databases import database_bytes, sqlite_only
from tests.support.world import make_campaign, person, sign_as

pytestmark = sqlite_only("these are SQLite's own settings and files")

SLUG = "pragmas"
# The names are sealed before they are stored; they must never be in the files.
WITHDRAWN = "Wilhelmina Withdrawnovska"
CHANGED = "Quentin Changedmind"
BYSTANDER = "Beatrix Bystanderson"


def _pragmas(conn: sqlite3.Connection) -> dict[str, object]:
    names = (
        "journal_mode",
        "busy_timeout",
        "foreign_keys",
        "synchronous",
        "secure_delete",
        "journal_size_limit",
        "temp_store",
    )
    return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}


EXPECTED = {
    "journal_mode": "wal",
    "busy_timeout": 2500,
    "foreign_keys": 1,
    "synchronous": 1,  # NORMAL
    "secure_delete": 1,
    "journal_size_limit": 0,
    "temp_store": 2,  # MEMORY
}


def test_every_connection_gets_the_pragmas(db: Database):
    """Planted bug 4a (secure_delete=OFF) fails here by name; so does any other
    setting left at SQLite's default on any connection of the pool."""
    assert SQLITE_BUSY_TIMEOUT_MS == 2500
    held = [db.engine.raw_connection() for _ in range(3)]
    try:
        for connection in held:
            raw = connection.driver_connection
            assert _pragmas(raw) == EXPECTED
            # Transactions are ours to begin (see _on_sqlite_begin), not pysqlite's.
            assert raw.isolation_level is None
    finally:
        for connection in held:
            connection.close()


def _other_writer(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, timeout=0, isolation_level=None)


def test_a_write_takes_the_write_lock_as_it_begins_and_a_read_does_not(db: Database):
    """A write that read first and wrote later would otherwise fail with
    "database is locked" under concurrent signers instead of waiting its turn."""
    assert db.sqlite_file is not None
    other = _other_writer(db.sqlite_file)
    try:
        with db.read() as session:
            session.execute(select(Signature.signer_hash)).all()
            other.execute("BEGIN IMMEDIATE")  # a reader leaves the write lock free
            other.execute("ROLLBACK")
        with db.write() as session:
            session.execute(select(Signature.signer_hash)).all()  # has read, not yet written
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


def _stored(db: Database) -> dict[str, tuple[str | None, str]]:
    with db.read() as session:
        return {
            row.signer_hash: (row.sealed_name, row.signer_hash)
            for row in session.scalars(select(Signature))
        }


def _files(db: Database, tmp_path: Path) -> bytes:
    """The database as stored (file, -wal, -shm) and a backup taken now."""
    backup = tmp_path / f"backup-{len(list(tmp_path.glob('backup-*')))}.db"
    db.backup(backup)
    return database_bytes(str(db.engine.url)) + backup.read_bytes()


def test_a_withdrawn_name_and_a_changed_choice_leave_the_files(
    db: Database, keyring: Keyring, tmp_path: Path
):
    """One signs with a name and withdraws; one signs with a name and changes to
    anonymous; a bystander stays. After the scrub, nothing of the two old rows (the
    sealed name, the signer value) is in any file, and the bystander's row is.
    Catches planted bugs 4a (secure_delete=OFF: the deleted row stays in a free
    page) and 4b (no WAL checkpoint: the old pages stay in the -wal)."""
    make_campaign(db, SLUG)
    sign_as(db, keyring, SLUG, "U0WITHDRAW", Choice(name=WITHDRAWN))
    sign_as(db, keyring, SLUG, "U0CHANGES1", Choice(name=CHANGED))
    sign_as(db, keyring, SLUG, "U0BYSTAND1", Choice(name=BYSTANDER))
    rows = _stored(db)
    assert len(rows) == 3
    raw = _files(db, tmp_path)
    for sealed, value in rows.values():
        assert sealed is not None
        assert sealed.encode() in raw, "the scan would prove nothing"
        assert value.encode() in raw, "the scan would prove nothing"
    with db.write() as session:
        assert remove_signature(session, SLUG, person(keyring, "U0WITHDRAW"), keyring)
        assert change_choice(session, SLUG, person(keyring, "U0CHANGES1"), Choice(), keyring)
    after = _stored(db)
    [gone_value] = rows.keys() - after.keys()
    [changed_value] = [v for v in after if after[v][0] is None]
    withdrawn = rows[gone_value][0]
    changed_from = rows[changed_value][0]
    [(bystander_sealed, bystander_value)] = [r for r in after.values() if r[0] is not None]
    assert rows[bystander_value][0] == bystander_sealed

    db.scrub_until_done()
    raw = _files(db, tmp_path)
    assert bystander_sealed.encode() in raw
    assert bystander_value.encode() in raw
    assert changed_value.encode() in raw  # still signed, anonymously
    for gone in (gone_value, withdrawn, changed_from):
        assert gone is not None
        assert gone.encode() not in raw, gone
    for name in (WITHDRAWN, CHANGED, BYSTANDER):
        assert name.encode() not in raw, name
    wal = Path(str(db.sqlite_file) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_scrub_waits_for_readers_and_says_so_when_they_stay(db: Database, keyring: Keyring):
    """A checkpoint cannot empty the WAL under a reader of an older state: scrub()
    says so (False), scrub_until_done() tries until its deadline, then raises. Each
    try itself waits out the busy timeout (2.5 s) for the reader, so the deadline is
    set past one try: it must try again, not give up after the first."""
    make_campaign(db, SLUG)
    sign_as(db, keyring, SLUG, "U0READER1")
    wal = Path(str(db.sqlite_file) + "-wal")
    assert wal.stat().st_size > 0
    reader = sqlite3.connect(db.sqlite_file, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM signatures").fetchone()
        sign_as(db, keyring, SLUG, "U0READER2")  # a frame the reader does not see
        assert db.scrub() is False
        started = time.monotonic()
        with pytest.raises(NotScrubbed, match="could not be emptied"):
            db.scrub_until_done(timeout=3.0)
        assert 3.0 <= time.monotonic() - started < 15
        assert wal.stat().st_size > 0
        reader.execute("COMMIT")
    finally:
        reader.close()
    assert db.scrub() is True
    assert wal.stat().st_size == 0
    db.scrub_until_done(timeout=0)  # done at once: no wait, no error


def test_a_backup_is_owner_only_whole_and_never_over_another_file(db: Database, tmp_path: Path):
    make_campaign(db, SLUG)
    target = tmp_path / "copies" / "backup.db"
    db.backup(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("SELECT slug FROM campaigns").fetchall() == [(SLUG,)]
    finally:
        copy.close()
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="exists; choose a new file"):
        db.backup(target)
    assert target.read_bytes() == before


def _damaged_index(path: Path) -> None:
    """A database whose index lost one entry: one changed key, found by hand."""
    made = sqlite3.connect(path)
    made.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    made.execute("CREATE INDEX i ON t (b)")
    made.executemany("INSERT INTO t VALUES (?, ?)", [(n, f"v{n:05d}") for n in range(50)])
    made.commit()
    (root,) = made.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'i'").fetchone()
    (page_size,) = made.execute("PRAGMA page_size").fetchone()
    made.close()
    data = bytearray(path.read_bytes())
    page = (root - 1) * page_size
    at = data.index(b"v00007", page, page + page_size)
    data[at : at + 6] = b"v99999"
    path.write_bytes(bytes(data))


def test_a_damaged_copy_fails_the_integrity_check_and_says_only_how_much(tmp_path: Path):
    """What Database.backup runs on its copy before saying it is good (issue 23: the
    failing check was out of every test's reach while it sat inside backup)."""
    whole = sqlite3.connect(tmp_path / "whole.db")
    whole.execute("CREATE TABLE t (a)")
    check_integrity(whole)
    whole.close()

    _damaged_index(tmp_path / "damaged.db")
    damaged = sqlite3.connect(tmp_path / "damaged.db")
    try:
        with pytest.raises(FailedIntegrityCheck) as failed:
            check_integrity(damaged)
    finally:
        damaged.close()
    assert str(failed.value) == (
        "failed SQLite's integrity check (problems found: 1); do not use this copy"
    )

    (tmp_path / "noise.db").write_bytes(b"not a database at all, " * 200)
    noise = sqlite3.connect(tmp_path / "noise.db")
    try:
        with pytest.raises(FailedIntegrityCheck) as unreadable:
            check_integrity(noise)
    finally:
        noise.close()
    assert str(unreadable.value) == "not a readable SQLite database; do not use this copy"
    assert isinstance(unreadable.value.__cause__, sqlite3.DatabaseError)


def test_the_database_and_its_wal_and_shm_are_made_owner_only_in_a_new_directory(
    tmp_path: Path,
):
    path = tmp_path / "new" / "dir" / "undersigned.db"
    Database.from_url(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"old.db{suffix}").write_bytes(b"")
        (tmp_path / f"old.db{suffix}").chmod(0o644)
    Database.from_url(f"sqlite:///{tmp_path / 'old.db'}").dispose()
    for suffix in ("", "-wal", "-shm"):
        assert stat.S_IMODE((tmp_path / f"old.db{suffix}").stat().st_mode) == 0o600, suffix


def test_on_postgresql_the_scrub_has_nothing_to_do_and_backup_points_to_pg_dump(tmp_path):
    """Neither touches the server: an engine that was never connected is enough."""
    elsewhere = Database.from_url("postgresql+psycopg://nobody@127.0.0.1:9/undersigned")
    try:
        assert elsewhere.scrub() is True
        with pytest.raises(NotImplementedError) as refused:
            elsewhere.backup(tmp_path / "copy.db")
        assert str(refused.value) == (
            "backup copies SQLite databases; for PostgreSQL use pg_dump, as in DEPLOY.md (Backups)"
        )
        assert not (tmp_path / "copy.db").exists()
    finally:
        elsewhere.dispose()
