"""PostgreSQL server settings that break the privacy promises are named at start-up."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database
from storage.pgsettings import _risk, privacy_risks
from tests.support.databases import ON_POSTGRES


@pytest.mark.parametrize(
    ("name", "value", "risky"),
    [
        ("track_commit_timestamp", "on", True),
        ("track_commit_timestamp", "off", False),
        ("log_statement", "mod", True),
        ("log_statement", "all", True),
        ("log_statement", "ddl", False),
        ("log_statement", "none", False),
        ("log_min_duration_statement", "0", True),
        ("log_min_duration_statement", "250ms", True),
        ("log_min_duration_statement", "-1", False),
        ("archive_mode", "on", True),
        ("archive_mode", "always", True),
        ("archive_mode", "off", False),
        ("wal_keep_size", "0", False),
        ("wal_keep_size", "1024MB", False),
        ("wal_keep_size", "2048MB", True),
    ],
)
def test_which_settings_are_risky(name: str, value: str, risky: bool):
    assert (_risk(name, value) is not None) is risky


def test_sqlite_has_no_server_settings(db: Database):
    if ON_POSTGRES:
        pytest.skip("SQLite only")
    assert privacy_risks(db.engine) == []


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL mode only")
def test_a_database_that_logs_statements_is_named(db: Database, database_url: str):
    assert privacy_risks(db.engine) == []  # the CI server's stock settings
    name = db.engine.url.database
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET log_statement = 'mod'"))
    except DBAPIError:
        pytest.skip("the test role may not change log_statement")
    fresh = Database.from_url(database_url)
    try:
        [risk] = privacy_risks(fresh.engine)
    finally:
        fresh.dispose()
    assert "log_statement=mod" in risk
