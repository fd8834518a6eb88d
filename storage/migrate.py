"""Apply Alembic migrations programmatically, at start-up and from tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # env.py picks the live engine up from here instead of building another.
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head", rekeyer: object | None = None) -> None:
    """Migrate to `revision`. `rekeyer` makes and applies campaign keys for the
    migration that moves signatures to them (0008); the keys live outside the
    database, so storage takes the means to make them from its caller."""
    config = alembic_config(engine)
    if rekeyer is not None:
        config.attributes["rekeyer"] = rekeyer
    command.upgrade(config, revision)
    if engine.dialect.name == "sqlite":
        # A migration that rewrote rows (0008 sealed names, re-derived values)
        # leaves the old pages in the WAL: move it into the file, where
        # secure_delete has zeroed them, and empty it. Busy readers of another
        # process leave it to the minute's scrub (bot/jobs.py).
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)
