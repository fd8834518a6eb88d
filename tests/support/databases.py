"""Which database the suite runs on, and fresh PostgreSQL databases for tests.

The suite runs on SQLite files by default. With

    UNDERSIGNED_TEST_DATABASE=postgresql
    UNDERSIGNED_TEST_PG_URL=postgresql+psycopg://user:password@127.0.0.1:5432/postgres

every test that takes the `database_url` fixture gets a database of its own on that
server instead, created for the test and dropped after it. The URL names a role
that may create databases (CREATEDB); the database it names is only used to issue
CREATE and DROP DATABASE. Migrations run once per session, into a template that
each test's database is copied from, so a fresh database costs a file copy.

Tests about one backend only say so: `sqlite_only(reason)` skips a test on
PostgreSQL (file bytes, PRAGMAs, file permissions, SQLite's backup API), and
`needs_postgres` skips one unless a PostgreSQL server is configured.
"""

from __future__ import annotations

import glob
import itertools
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from storage.migrate import upgrade

DATABASE_ENV = "UNDERSIGNED_TEST_DATABASE"
PG_URL_ENV = "UNDERSIGNED_TEST_PG_URL"

TEST_DATABASE = os.environ.get(DATABASE_ENV, "sqlite").strip().lower() or "sqlite"
if TEST_DATABASE in ("postgres", "pg"):
    TEST_DATABASE = "postgresql"
if TEST_DATABASE not in ("sqlite", "postgresql"):
    raise pytest.UsageError(f"{DATABASE_ENV} must be sqlite or postgresql, not {TEST_DATABASE!r}")
ON_POSTGRES = TEST_DATABASE == "postgresql"
PG_URL = os.environ.get(PG_URL_ENV, "").strip() or None
if ON_POSTGRES and PG_URL is None:
    raise pytest.UsageError(
        f"{DATABASE_ENV}=postgresql needs {PG_URL_ENV}=postgresql+psycopg://user:password@host/"
        "postgres, a role that may create databases (.ci/postgres start DIR starts one)"
    )

# The server's data directory, when this process can read it (.ci/run sets it):
# lets a test look at the bytes of a table's files, as a stolen disk would.
PG_DATA_ENV = "UNDERSIGNED_TEST_PG_DATA"
PG_DATA = os.environ.get(PG_DATA_ENV, "").strip() or None

needs_postgres = pytest.mark.skipif(
    PG_URL is None, reason=f"needs a PostgreSQL server: set {PG_URL_ENV}"
)


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip on PostgreSQL, saying why the test is about SQLite alone."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {reason}")


class PostgresServer:
    """Creates and drops databases on one server, for one test session.

    Names carry a per-session random part, so two sessions on one server (two
    checkouts, a developer and CI) never touch each other's databases.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url: URL = make_url(admin_url)
        if self.admin_url.get_backend_name() != "postgresql":
            raise pytest.UsageError(f"{PG_URL_ENV} must be a postgresql+psycopg:// URL")
        self.prefix = f"undersigned_test_{secrets.token_hex(4)}"
        self._admin: Engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self._numbers = itertools.count(1)
        self._template: str | None = None
        with self._admin.connect() as conn:
            version = conn.execute(text("SHOW server_version_num")).scalar_one()
        # STRATEGY FILE_COPY (PostgreSQL 15+) copies a small template faster than
        # the default WAL_LOG; older servers only copy files anyway.
        self._strategy = " STRATEGY FILE_COPY" if int(version) >= 150000 else ""

    def url_of(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, migrated: bool = True) -> str:
        """A new database, migrated to head (from the template) or empty."""
        name = f"{self.prefix}_{next(self._numbers)}"
        template = self._migrated_template() if migrated else "template0"
        strategy = self._strategy if migrated else ""
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        if name is None or not name.startswith(self.prefix):
            raise ValueError(f"not a database of this session: {name}")
        self._drop(name)

    def _drop(self, name: str) -> None:
        # FORCE: a server subprocess or a leaked pool may still be connected.
        try:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError as error:
            if "pg_signal_backend" not in str(error.orig):
                raise
        else:
            return
        # An autovacuum worker is in it, which FORCE may only end for a role in
        # pg_signal_backend (.ci/postgres grants it); a plain DROP makes autovacuum
        # stand aside, once nobody else is connected.
        for attempt in range(20):
            try:
                self._execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except DBAPIError:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def close(self) -> None:
        if self._template is not None:
            self._drop(self._template)
        self._admin.dispose()

    def _migrated_template(self) -> str:
        if self._template is None:
            name = f"{self.prefix}_template"
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            engine = create_engine(self.url_of(name))
            try:
                upgrade(engine)
            finally:
                # A template cannot be copied while anyone is connected to it.
                engine.dispose()
            self._template = name
        return self._template

    def _execute(self, statement: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(statement))


def _pg_dump() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), key=_version_key)
    return found[-1] if found else (shutil.which("pg_dump") or "pg_dump")


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in path.split("/")[4].split(".") if part.isdigit())


def pg_dump_command(url: str) -> tuple[list[str], dict[str, str]]:
    """The documented backup of a PostgreSQL database: a plain pg_dump, and its
    environment (the password is passed as libpq reads it, not on the command line)."""
    parsed = make_url(url)
    libpq = parsed.set(drivername="postgresql", password=None)
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    return [_pg_dump(), "--no-owner", "--dbname", libpq.render_as_string(hide_password=False)], env


def database_bytes(url: str) -> bytes:
    """Everything a leaked copy of the database would hold, to scan for secrets.

    SQLite: the file itself, with its -wal and -shm. PostgreSQL: a plain pg_dump
    of the database, which is what a backup of it is.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    command, env = pg_dump_command(url)
    done = subprocess.run(command, capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"COPY public.signatures" in done.stdout, "pg_dump held no signatures table"
    return done.stdout
