"""What the offline console plays with: a demo workspace, a demo campaign, and the
settings it runs under (a rehearsal SIGNER_KEY when none is configured)."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import replace
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import SIGNER_KEY_MIN_BYTES, Settings, SettingsError
from console.fakeslack import BOT_USER_ID, FakeChannel, FakeUser, Workspace
from petition import campaigns
from storage.db import Database

GENERAL = FakeChannel("C0GENERAL", "general")
ANNOUNCE = FakeChannel("C0ANNOUNCE", "announcements")

ALICE = FakeUser("U0ALICE001", "alice", "Alice Moreau")
BOB = FakeUser("U0BOB00002", "bob", "Bob Okafor")
CAROL = FakeUser("U0CAROL003", "carol", "Carol Jensen")
DANA = FakeUser("U0DANA0004", "dana", "Dana Lee")  # the organizer
ERIN = FakeUser("U0ERIN0005", "erin", "Erin Walsh")
FRANK = FakeUser("U0FRANK006", "frank", "Frank Ito")
GUS = FakeUser("U0GUS00007", "gus", "Gus Brandt", is_restricted=True)  # a guest
PEOPLE = (ALICE, BOB, CAROL, DANA, ERIN, FRANK, GUS)
BOT = FakeUser(BOT_USER_ID, "undersigned", "Undersigned", is_bot=True)

DEMO_CAMPAIGN = {
    "slug": "demo",
    "title": "Fair schedules now",
    "statement": (
        "We, the undersigned, ask management to give us our schedules in good time and "
        "to stop changing shifts at the last minute."
    ),
    "demands": [
        "Publish schedules two weeks in advance",
        "Pay for shifts cancelled with less than 48 hours' notice",
        "No retaliation against anyone who signs",
    ],
    "milestones": [5, 10, 25],
    "channel": ANNOUNCE.id,
}

KEY_SUFFIX = ".console-key"


def demo_workspace(people: int = 0) -> Workspace:
    """The demo workspace, with `people` more members (`member1`...) to rehearse a
    crowd: milestones, conditional names and the letter at a real campaign's size."""
    workspace = Workspace()
    for channel in (GENERAL, ANNOUNCE):
        workspace.add_channel(replace(channel))
    for user in (*PEOPLE, BOT):
        workspace.add_user(replace(user))
    add_members(workspace, people)
    return workspace


def add_members(workspace: Workspace, count: int) -> list[FakeUser]:
    """`count` more members, numbered after those already there."""
    have = sum(1 for u in workspace.users.values() if u.name.startswith("member"))
    added = []
    for number in range(have + 1, have + count + 1):
        user = FakeUser(f"U1M{number:07d}", f"member{number}", f"Member {number}")
        added.append(workspace.add_user(user))
    return added


def role_of(user: FakeUser, organizers: frozenset[str] = frozenset({DANA.id})) -> str:
    if user.is_restricted or user.is_ultra_restricted:
        return "guest"
    if user.id in organizers:
        return "organizer"
    return "member"


def ensure_demo_campaign(db: Database, settings: Settings) -> str | None:
    """Create the demo campaign when the database has no campaign at all."""
    with db.write() as session:
        if campaigns.all_campaigns(session):
            return None
        spec = campaigns.parse_campaign(dict(DEMO_CAMPAIGN), settings.timezone)
        campaigns.upsert_campaign(session, spec)
    return str(DEMO_CAMPAIGN["slug"])


def _decode_key(raw: str, origin: Path) -> bytes:
    padded = raw + "=" * (-len(raw) % 4)
    try:
        key = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) < SIGNER_KEY_MIN_BYTES:
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
    try:
        url = make_url(database_url)
    except ArgumentError:
        return None
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return Path(database + KEY_SUFFIX).expanduser()


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
        url = make_url(settings.database_url)
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
        elif url.get_backend_name() == "sqlite":
            key = secrets.token_bytes(32)
            notices.append("SIGNER_KEY is not set: using a key for this session only.")
        else:
            settings.require_signer_key()  # raises, saying how to set it
    organizers = settings.organizers or frozenset({DANA.id})
    return replace(settings, signer_key=key, organizers=organizers), notices
