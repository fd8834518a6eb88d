"""Opening the database the settings name, for every command: one clear line when
it cannot be opened (a wrong URL, a driver that is not installed, a server that does
not answer, a file that cannot be made), never a traceback, and never the URL's
password."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from petition.keyring import Rekeyer
from storage.db import DEFAULT_POOL_SIZE, Database
from storage.migrate import upgrade


class DatabaseUnavailable(Exception):
    """The database named by DATABASE_URL cannot be opened; the message says why."""


def shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return "(not a URL)"


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def open_database(
    url: str, pool_size: int = DEFAULT_POOL_SIZE, rekeyer: Rekeyer | None = None
) -> Database:
    """The database at `url`, migrated to the current schema."""
    where = shown_url(url)
    try:
        db = Database.from_url(url, pool_size)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        # ImportError: a dialect whose driver is not installed (mysql:// ...).
        raise DatabaseUnavailable(
            f"DATABASE_URL ({where}) is not a database this bot can use: {_first_line(exc)}. "
            "Use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB."
        ) from None
    try:
        upgrade(db.engine, rekeyer=rekeyer)
    except (DBAPIError, OSError) as exc:
        db.dispose()
        reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        raise DatabaseUnavailable(
            f"cannot open the database at {where} (DATABASE_URL): {_first_line(reason)}"
        ) from None
    except BaseException:
        db.dispose()
        raise
    return db
