"""Alembic environment: run against the engine handed in by storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from storage.db import WRITE_OPTION
from storage.models import Base

config = context.config
# Any number, the same in every process: "undersigned" as an int64 of its letters.
MIGRATION_LOCK = int.from_bytes(b"undrsgnd", "big") >> 1
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        # Developers running `alembic` by hand: take the same setting the app uses.
        from bot.settings import load_settings

        engine = create_engine(load_settings().database_url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Take the write lock as the transaction begins (BEGIN IMMEDIATE, see
            # storage/db.py). A deferred one reads the version, then fails at once
            # with "database is locked" at its first DDL if another process (the
            # scheduler, `announce`, a replica being replaced) wrote meanwhile: the
            # new release would not start.
            connection.execution_options(**{WRITE_OPTION: True})
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting at once each upgrade at start-up: one migrates
                # while the others wait here, then find the database at head.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()
        connection.commit()


run_migrations_online()
