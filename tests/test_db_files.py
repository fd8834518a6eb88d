"""The SQLite files under a running process: nothing of ours drops its locks, and a
process whose files were deleted or replaced under it says so and stops."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot import health
from console.server import FakeSlack
from jobs.upkeep import scrub_job
from petition import campaign_spec, campaigns
from petition.signatures import add_signature
from storage.db import Database
from storage.migrate import upgrade
from tests.support.databases import sqlite_only
from tests.support.processes import ServeProcess, bot_env, run_cli
from tests.support.running import make_settings

pytestmark = sqlite_only("the files of a SQLite database")

# Another process opening the database and closing it again, as `campaign list` does.
_OTHER_PROCESS = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("SELECT count(*) FROM campaigns").fetchone()
conn.close()
"""


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _write(db: Database) -> None:
    with db.write() as session:
        session.execute(
            text(
                "INSERT INTO audit_entries (at, actor, action, detail) "
                "VALUES (CURRENT_TIMESTAMP, 'cli', 'test', '')"
            )
        )


@pytest.fixture
def live(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "undersigned.db"
    db = Database.from_url(f"sqlite:///{path}")
    upgrade(db.engine)
    _write(db)
    yield path, db
    db.dispose()


def test_another_engine_in_the_process_keeps_its_locks(live):
    """What every scheduler job did: make (and drop) an engine of its own while the
    server's connections were open. The server must keep its locks, so that a
    `campaign list` closing its connection does not think it is the last one and
    delete the WAL the server writes into."""
    path, db = live
    assert _wal(path).exists()
    Database.from_url(f"sqlite:///{path}").dispose()
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, str(path)], capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert _wal(path).exists(), "another process deleted the WAL this process writes into"
    assert db.replaced_files() == []
    _write(db)
    assert db.replaced_files() == []


def test_an_existing_file_is_made_owner_only_without_being_opened(tmp_path: Path):
    path = tmp_path / "undersigned.db"
    db = Database.from_url(f"sqlite:///{path}")
    upgrade(db.engine)
    db.dispose()
    path.chmod(0o644)
    again = Database.from_url(f"sqlite:///{path}")
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        again.dispose()


def test_a_deleted_wal_is_noticed(live, caplog):
    path, db = live
    os.unlink(_wal(path))
    assert db.replaced_files() == ["undersigned.db-wal"]
    stop = threading.Event()
    with caplog.at_level(logging.ERROR, logger="bot.health"):
        assert health.watch(db, stop, every=0.01) == 1
    [line] = [r.getMessage() for r in caplog.records]
    assert "undersigned.db-wal" in line
    assert "restart" in line


def test_a_replaced_database_file_is_noticed(live):
    path, db = live
    copy = path.with_name("copy.db")
    copy.write_bytes(path.read_bytes())
    os.replace(copy, path)
    assert db.replaced_files() == ["undersigned.db"]


def test_a_healthy_process_goes_on_until_stopped(live):
    _, db = live
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    assert health.watch(db, stop, every=0.01) == 0
    timer.join()


def test_healthz_fails_on_a_server_whose_wal_was_deleted(fake_slack: FakeSlack, tmp_path: Path):
    path = tmp_path / "undersigned.db"
    env = bot_env(fake_slack, f"sqlite:///{path}")
    server = ServeProcess(env, tmp_path, "serve")
    try:
        assert server.healthy() == 200
        assert _wal(path).exists()
        os.unlink(_wal(path))
        assert server.healthy() == 503
        assert "undersigned.db-wal were deleted or replaced" in server.log()
    finally:
        server.stop()


def test_scrubbing_empties_the_wal(live):
    """Planted bug 4b of issue 23 (the scrub without its WAL checkpoint) fails here."""
    path, db = live
    _write(db)
    assert _wal(path).stat().st_size > 0
    assert scrub_job(db) is True
    assert _wal(path).stat().st_size == 0


def test_forget_fails_loudly_while_readers_keep_the_wal(fake_slack: FakeSlack, tmp_path: Path):
    """`campaign forget` used to ignore the checkpoint's "busy" and print "forgot"
    while the old hashes stayed in the WAL. It must fail, and succeed once run
    again when the readers are gone."""
    path = tmp_path / "undersigned.db"
    url = f"sqlite:///{path}"
    db = Database.from_url(url)
    upgrade(db.engine)
    spec = campaign_spec.parse_campaign(
        {"slug": "old", "title": "Old", "statement": "S", "demands": ["D"], "milestones": [5]},
        ZoneInfo("UTC"),
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)
        keyring = make_settings(fake_slack, url).keyring()
        add_signature(session, "old", "ab" * 32, keyring=keyring)
        add_signature(session, "old", "cd" * 32, keyring=keyring)
    env = bot_env(fake_slack, url)
    assert run_cli(env, tmp_path, "campaign", "close", "old").returncode == 0
    # A reader on an older state of the database: a checkpoint cannot finish.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM signatures").fetchone()
    try:
        with db.write() as session:  # something newer than what the reader sees
            session.execute(text("UPDATE campaigns SET title = 'Old, closed'"))
        refused = run_cli(env, tmp_path, "campaign", "forget", "old", "--yes")
    finally:
        reader.execute("COMMIT")
        reader.close()
        db.dispose()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not forgotten yet" in refused.stderr
    assert "forgot old" not in refused.stdout
    done = run_cli(env, tmp_path, "campaign", "forget", "old", "--yes")
    assert done.returncode == 0, done.stderr
    assert not _wal(path).exists() or _wal(path).stat().st_size == 0
