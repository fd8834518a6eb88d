"""Apply Alembic migrations programmatically, at start-up and from tests."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # env.py picks the live engine up from here instead of building another.
        config.attributes["engine"] = engine
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class _OnlyWhatRuns(logging.Filter):
    """Alembic says which database back end it found on every run, at INFO: every
    CLI command (and a cron job mails what it prints) would say it too. Only the
    lines of migrations that run are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Context impl", "Will assume"))


logging.getLogger("alembic.runtime.migration").addFilter(_OnlyWhatRuns())


def upgrade(engine: Engine, revision: str = "head", rekeyer: object | None = None) -> None:
    """Migrate to `revision`. `rekeyer` makes and applies campaign keys for the
    migration that moves signatures to them (0008); the keys live outside the
    database, so storage takes the means to make them from its caller.

    A database already at head is left alone, quietly; one that is not says, at
    INFO, which migrations ran."""
    config = alembic_config(engine)
    if rekeyer is not None:
        config.attributes["rekeyer"] = rekeyer
    target = ScriptDirectory.from_config(config).get_current_head()
    before = current_revision(engine)
    if revision == "head" and before == target:
        return
    command.upgrade(config, revision)
    if engine.dialect.name == "sqlite":
        # A migration that rewrote rows (0008 sealed names, re-derived values)
        # leaves the old pages in the WAL: move it into the file, where
        # secure_delete has zeroed them, and empty it. Busy readers of another
        # process leave it to the minute's scrub (jobs/upkeep.py).
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
