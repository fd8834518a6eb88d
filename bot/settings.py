"""Settings, read once from the environment into one typed object.

Every problem is reported as one line that names the setting and says how to fix
it, and never echoes a secret's value.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from petition.keyring import Keyring, KeyStore
from storage.db import DEFAULT_DATABASE_URL, sqlite_path

DEFAULT_KEY_STORE = "undersigned-keys"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# A few times on working days: often enough to feel alive, rare enough that an
# announcement cannot be tied to the signature that just landed.
DEFAULT_ANNOUNCE_SCHEDULE = "0 10,13,16 * * mon-fri"
SIGNER_KEY_MIN_BYTES = 32

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# storage/db.py runs every one of these on psycopg (3).
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is safe to print."""


@dataclass(frozen=True)
class Settings:
    # Secrets are kept out of repr() so that a stray log line cannot leak them.
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    signer_key: bytes | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    organizers: frozenset[str] = frozenset()
    port: int = 3000
    announce_schedule: str = DEFAULT_ANNOUNCE_SCHEDULE
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    log_level: str = "INFO"
    # Where campaign keys live (petition/keyring.py): never inside the database.
    key_store: Path = field(default=Path(DEFAULT_KEY_STORE))
    # Whether the app keeps the workspace's member directory in memory
    # (handlers/directory.py) or asks users.info for each person.
    member_directory: bool = True

    @property
    def mode(self) -> str:
        """How `run` starts: socket, http, or none (no Slack tokens)."""
        if self.slack_app_token:
            return "socket"
        if self.slack_bot_token and self.slack_signing_secret:
            return "http"
        return "none"

    def require_http(self) -> None:
        _require(self.slack_bot_token, "SLACK_BOT_TOKEN", "the bot token (xoxb-...)")
        _require(self.slack_signing_secret, "SLACK_SIGNING_SECRET", "the app's signing secret")
        self.require_signer_key()

    def require_socket(self) -> None:
        _require(self.slack_bot_token, "SLACK_BOT_TOKEN", "the bot token (xoxb-...)")
        _require(self.slack_app_token, "SLACK_APP_TOKEN", "an app-level token (xapp-...)")
        self.require_signer_key()

    def keyring(self) -> Keyring:
        """The process's keyring. Build it once (bot/app.py, bot/cli.py) and hand
        it down: it caches the keys it has read."""
        key = self.require_signer_key()
        return Keyring(key, KeyStore(self.key_store, key))

    def require_signer_key(self) -> bytes:
        if self.signer_key is None:
            raise SettingsError(
                "SIGNER_KEY is not set: run `python -m bot keygen` and put the line it "
                "prints in .env (keep it outside the database and its backups)"
            )
        return self.signer_key


def _require(value: str | None, name: str, what: str) -> None:
    if not value:
        raise SettingsError(f"{name} is not set: put {what} in the environment or .env")


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def decode_key(raw: str) -> bytes | None:
    """A key in URL-safe base64 (padding optional); None unless it decodes to at
    least SIGNER_KEY_MIN_BYTES."""
    padded = raw + "=" * (-len(raw) % 4)
    try:
        key = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return key if len(key) >= SIGNER_KEY_MIN_BYTES else None


def _parse_signer_key(raw: str) -> bytes:
    key = decode_key(raw)
    if key is None:
        raise SettingsError(
            f"SIGNER_KEY is malformed: it must be at least {SIGNER_KEY_MIN_BYTES} random "
            "bytes in URL-safe base64; run `python -m bot keygen` for a fresh one"
        )
    return key


def _parse_token(env: Mapping[str, str], name: str, prefix: str) -> str | None:
    value = _get(env, name)
    if value is not None and not value.startswith(prefix):
        raise SettingsError(f"{name} is malformed: it should start with {prefix!r}")
    return value


def _parse_organizers(raw: str | None) -> frozenset[str]:
    if raw is None:
        return frozenset()
    ids = [part for part in re.split(r"[\s,]+", raw) if part]
    bad = [i for i in ids if not _USER_ID.match(i)]
    if bad:
        # A malformed entry is named by position, not value: it may be a person's id.
        positions = ", ".join(str(ids.index(b) + 1) for b in bad)
        raise SettingsError(
            f"ORGANIZERS is malformed (entry {positions}): give Slack user ids such as "
            "U0123ABCD, separated by commas"
        )
    return frozenset(ids)


def _parse_port(raw: str | None) -> int:
    if raw is None:
        return 3000
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:
        raise SettingsError("PORT is malformed: give a number between 1 and 65535")
    return int(raw)


def _parse_timezone(raw: str | None) -> ZoneInfo:
    if raw is None:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"TIMEZONE is malformed: {raw!r} is not an IANA time zone such as Europe/Berlin"
        ) from None


def _parse_schedule(raw: str | None, tz: ZoneInfo) -> str:
    schedule = raw or DEFAULT_ANNOUNCE_SCHEDULE
    try:
        CronTrigger.from_crontab(schedule, timezone=tz)
    except ValueError as exc:
        raise SettingsError(
            f"ANNOUNCE_SCHEDULE is malformed ({exc}): give a five-field cron expression "
            "such as '0 10,16 * * mon-fri'"
        ) from None
    return schedule


def _parse_log_level(raw: str | None) -> str:
    level = (raw or "INFO").upper()
    if level not in _LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL is malformed: use one of {', '.join(_LOG_LEVELS)}")
    return level


def _parse_api_url(raw: str | None) -> str:
    url = raw or DEFAULT_SLACK_API_URL
    if not re.match(r"^https?://[^\s/]+", url):
        raise SettingsError(
            "SLACK_API_URL is malformed: give the Web API base URL, such as https://slack.com/api/"
        )
    return url if url.endswith("/") else url + "/"


def _parse_member_directory(raw: str | None) -> bool:
    value = (raw or "memory").lower()
    if value not in {"memory", "off"}:
        raise SettingsError(
            "MEMBER_DIRECTORY is malformed: use memory (the default: who may sign is known "
            "from a list of the workspace's accounts kept in memory) or off (ask Slack's "
            "users.info for each person)"
        )
    return value == "memory"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every setting once; raise SettingsError naming the first bad one."""
    env = os.environ if env is None else env
    signer_key_raw = _get(env, "SIGNER_KEY")
    tz = _parse_timezone(_get(env, "TIMEZONE"))
    database_url = _get(env, "DATABASE_URL") or DEFAULT_DATABASE_URL
    if "://" not in database_url:
        raise SettingsError(
            "DATABASE_URL is malformed: give a SQLAlchemy URL such as "
            "sqlite:///undersigned.db or postgresql+psycopg://user@host/db"
        )
    if database_url.split("://", 1)[0] in _POSTGRES_SCHEMES and find_spec("psycopg") is None:
        raise SettingsError(
            "DATABASE_URL names PostgreSQL, but its driver is not installed: "
            "pip install 'undersigned[postgres]' (psycopg)"
        )
    return Settings(
        slack_bot_token=_parse_token(env, "SLACK_BOT_TOKEN", "xoxb-"),
        slack_signing_secret=_get(env, "SLACK_SIGNING_SECRET"),
        slack_app_token=_parse_token(env, "SLACK_APP_TOKEN", "xapp-"),
        signer_key=_parse_signer_key(signer_key_raw) if signer_key_raw else None,
        slack_api_url=_parse_api_url(_get(env, "SLACK_API_URL")),
        database_url=database_url,
        organizers=_parse_organizers(_get(env, "ORGANIZERS")),
        port=_parse_port(_get(env, "PORT")),
        announce_schedule=_parse_schedule(_get(env, "ANNOUNCE_SCHEDULE"), tz),
        timezone=tz,
        log_level=_parse_log_level(_get(env, "LOG_LEVEL")),
        key_store=_parse_key_store(_get(env, "KEY_STORE"), database_url),
        member_directory=_parse_member_directory(_get(env, "MEMBER_DIRECTORY")),
    )


def default_key_store(database_url: str) -> Path:
    """Beside a SQLite database file (`undersigned.db.keys`), else in the working
    directory. Either way outside the database; back it up on its own
    (DEPLOY.md, "The key store")."""
    database = sqlite_path(database_url)
    if database is not None:
        return database.with_name(database.name + ".keys")
    return Path(DEFAULT_KEY_STORE)


def _parse_key_store(raw: str | None, database_url: str) -> Path:
    if raw is None:
        return default_key_store(database_url)
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise SettingsError("KEY_STORE names a file: it must be a directory (made if missing)")
    return path
