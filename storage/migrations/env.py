"""Alembic environment: run against the engine handed in by storage.migrate."""

from __future__ import annotations

import os
from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine

from storage.db import DEFAULT_DATABASE_URL, WRITE_OPTION
from storage.models import Base

config = context.config
# Any number, the same in every process: "undersigned" as an int64 of its letters.
MIGRATION_LOCK = int.from_bytes(b"undrsgnd", "big") >> 1
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        # Developers running `alembic` by hand: the same setting the app uses, read
        # here rather than through bot/settings.py, so that storage/ imports nothing
        # of the layers above it.
        url = os.environ.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        engine = create_engine(url)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # Take the write lock as the transaction begins (BEGIN IMMEDIATE, see
            # storage/db.py). A deferred one reads the version, then fails at once
            # with "database is locked" at its first DDL if another process (the
            # scheduler, `announce`, a replica being replaced) wrote meanwhile: the
            # new release would not start.
            connection.execution_options(**{WRITE_OPTION: True})
            # Batch mode rebuilds a table by copying it, dropping it and renaming
            # the copy; with foreign keys on, dropping `campaigns` would first
            # delete every row that refers to it (ON DELETE CASCADE): signatures,
            # demands, announcements. Off for the migration (the pragma only takes
            # effect outside a transaction, hence on the driver's connection before
            # ours begins), checked after it, and on again.
            _foreign_keys(connection, on=False)
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
            if connection.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"a migration broke {len(broken)} foreign keys")
        connection.commit()
        if connection.dialect.name == "sqlite":
            _foreign_keys(connection, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    driver: Any = connection.connection.driver_connection  # sqlite3's, while checked out
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


run_migrations_online()
