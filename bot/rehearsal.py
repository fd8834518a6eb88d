"""The offline console, wired: the settings a rehearsal runs under (a rehearsal
SIGNER_KEY when none is configured), the real app on the fake workspace, and
Slack's side of the request path into the app's WSGI entry point.

It builds the app, so it lives with the runnable; console/ holds the console
itself and the fake workspace it plays with.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.server import EVENTS_PATH, SlackWSGI
from bot.settings import Settings, SettingsError, decode_key
from bot.webclient import posting_client
from console.console import Console
from console.console_io import LineSource, ScriptLines, TerminalLines
from console.console_render import Style
from console.console_setup import DANA, DEMO_CAMPAIGN, demo_workspace
from console.payloads import sign
from console.server import FakeSlack
from jobs.announce import announce_job
from petition import campaign_spec, campaigns
from petition.counts import rehearse_an_hour
from petition.keyring import Rekeyer
from petition.opening import open_database
from storage.db import Database, sqlite_path

# Not a secret: the fake workspace only checks that some bot token is sent.
CONSOLE_TOKEN = "xoxb-console"  # noqa: S105

# -- settings ------------------------------------------------------------------------

KEY_SUFFIX = ".console-key"


def ensure_demo_campaign(db: Database, settings: Settings) -> str | None:
    """Create the demo campaign when the database has no campaign at all."""
    with db.write() as session:
        if campaigns.all_campaigns(session):
            return None
        spec = campaign_spec.parse_campaign(dict(DEMO_CAMPAIGN), settings.timezone)
        campaigns.upsert_campaign(session, spec)
    return str(DEMO_CAMPAIGN["slug"])


def _decode_key(raw: str, origin: Path) -> bytes:
    key = decode_key(raw)
    if key is None:
        raise SettingsError(
            f"the console's rehearsal key in {origin} is malformed: delete the file to get a "
            "new one (the rehearsal's signers then become strangers to it)"
        )
    return key


def rehearsal_key(path: Path) -> bytes:
    """The key in `path`, created (readable by its owner only) on first use."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
        raw = next((line.strip() for line in lines if line.strip() and line[0] != "#"), "")
        return _decode_key(raw, path)
    key = secrets.token_bytes(32)
    encoded = base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(
            "# SIGNER_KEY for rehearsals in the Undersigned console (python -m bot console).\n"
            "# Not for real use: set SIGNER_KEY in .env (python -m bot keygen).\n"
            f"{encoded}\n"
        )
    return key


def rehearsal_key_path(database_url: str) -> Path | None:
    """Where the console keeps the rehearsal key of this database (a SQLite file),
    or None for a database the console cannot rehearse on without SIGNER_KEY."""
    database = sqlite_path(database_url)
    return None if database is None else database.with_name(database.name + KEY_SUFFIX)


def existing_rehearsal_key(settings: Settings) -> tuple[bytes, Path] | None:
    """The rehearsal key a console session left beside this database, when
    SIGNER_KEY is not set: the command line uses it, so that the letter and the
    rest work after a rehearsal. The bot itself never does (settings.py)."""
    if settings.signer_key is not None:
        return None
    path = rehearsal_key_path(settings.database_url)
    if path is None or not path.is_file():
        return None
    return rehearsal_key(path), path


def prepare_settings(settings: Settings) -> tuple[Settings, list[str]]:
    """The settings the console runs under, and what to tell the person about them."""
    notices = []
    if settings.mode != "none":
        notices.append(
            "Slack tokens are configured, but the console never talks to Slack. It does use "
            "DATABASE_URL: rehearse on a copy (DATABASE_URL=sqlite:///rehearsal.db), not on "
            "the live campaigns."
        )
    key = settings.signer_key
    if key is None:
        try:
            backend: str | None = make_url(settings.database_url).get_backend_name()
        except (ArgumentError, ValueError):
            backend = None  # not a URL: opening the database says so, in one line
        path = rehearsal_key_path(settings.database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            key = rehearsal_key(path)
            notices.append(
                f"SIGNER_KEY is not set: this rehearsal keys signatures with {path}; the "
                "command line uses it too while SIGNER_KEY is unset (`python -m bot campaign "
                "letter SLUG` after the rehearsal). For real use, put a SIGNER_KEY in .env "
                "(python -m bot keygen)."
            )
        elif backend in ("sqlite", None):
            key = secrets.token_bytes(32)
            notices.append("SIGNER_KEY is not set: using a key for this session only.")
        else:
            settings.require_signer_key()  # raises, saying how to set it
    organizers = settings.organizers or frozenset({DANA.id})
    return replace(settings, signer_key=key, organizers=organizers), notices


# -- Slack's side of the request path ----------------------------------------------


class LocalSlack:
    """Signs request bodies as Slack does and dispatches them into the app's WSGI
    entry point in this process: no port, same verification, same dispatch."""

    def __init__(self, wsgi: SlackWSGI, signing_secret: str) -> None:
        self.wsgi = wsgi
        self.secret = signing_secret

    def post(self, body: bytes, content_type: str) -> tuple[int, str]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": EVENTS_PATH,
            "QUERY_STRING": "",
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": "console",
            "SERVER_PORT": "0",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in sign(self.secret, body).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status: list[str] = []

        def start_response(line: str, _headers: Any, _exc: Any = None) -> None:
            status.append(line)

        chunks = self.wsgi(environ, start_response)
        return int(status[0].split()[0]), b"".join(chunks).decode("utf-8", "replace")


# -- wiring --------------------------------------------------------------------------


def _announcer(fake: FakeSlack, db: Database, tz: ZoneInfo) -> Callable[[], str]:
    """The scheduler's hourly count refresh and announcement job, run now against
    the fake workspace."""
    client = posting_client(fake.api_url, CONSOLE_TOKEN)

    def run() -> str:
        # On the hour the scheduler refreshes the counts Slack shows, then announces:
        # a rehearsal's `announce` is that hour, so counts and cards move with it.
        with db.write() as session:
            rehearse_an_hour(session)
        report = announce_job(db, client, tz.key)
        return "Announcement job: " + "; ".join(report.summary()) + "."

    return run


def run_console(settings: Settings, script: Path | None = None, people: int = 0) -> int:
    """Start the console on the configured database; 0 when left normally."""
    settings, notices = prepare_settings(settings)
    signing_secret = secrets.token_hex(16)  # a fresh one per run: nothing to leak
    interactive = script is None and sys.stdin.isatty()
    out = sys.stdout
    style = Style(color=out.isatty(), width=_width(out))
    # Before any thread starts: a terminal's lines decide which threads take Ctrl-C.
    if script is not None:
        lines: LineSource = ScriptLines(_script_lines(script), out)
    elif interactive:
        lines = TerminalLines()
    else:
        lines = ScriptLines(sys.stdin, out)
    keyring = settings.keyring()
    db = open_database(
        settings.database_url, rekeyer=Rekeyer(keyring, settings.require_signer_key())
    )
    try:
        created = ensure_demo_campaign(db, settings)
        with FakeSlack(demo_workspace(people)) as fake:
            settings = replace(
                settings,
                slack_bot_token=CONSOLE_TOKEN,
                slack_signing_secret=signing_secret,
                slack_app_token=None,
                slack_api_url=fake.api_url,
            )
            from bot.app import create_app
            from handlers.intime import InTime

            client = WebClient(base_url=fake.api_url, token=CONSOLE_TOKEN)
            in_time = InTime()
            app = create_app(settings, db, client=client, keyring=keyring, in_time=in_time)
            slack = LocalSlack(SlackWSGI(app, db, signing_secret), signing_secret)
            console = Console(
                fake,
                slack,
                lines,
                out,
                style,
                announce=_announcer(fake, db, settings.timezone),
                organizers=settings.organizers,
                settle=in_time.settle,
            )
            if created:
                notices.append(f"Created a demo campaign, `{created}`, to play with.")
            return console.run(notices)
    finally:
        db.dispose()


def _script_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _width(out: TextIO) -> int:
    if not out.isatty():
        return 88
    import shutil

    return max(40, min(100, shutil.get_terminal_size().columns - 2))
