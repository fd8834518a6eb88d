"""Announcement runs and what they posted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bot.settings import Settings
from console.server import FakeSlack
from jobs.announce import RunReport
from petition import announcements, campaign_spec, campaigns
from petition.signatures import add_signature, signer_hash
from storage.db import Database
from storage.models import Announcement
from tests.support.jobs import announce

SLUG = "wewontbuildit"
CHANNEL = "C0ANNOUNCE"


def import_campaign(db: Database, settings: Settings, **fields: Any) -> None:
    data: dict[str, Any] = {
        "slug": SLUG,
        "title": "We won't build it",
        "statement": "We, the undersigned, ask our employer to stop.",
        "demands": ["Cancel the contract", "Publish the terms"],
        "milestones": [5, 8],
        "channel": CHANNEL,
    }
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    spec = campaign_spec.parse_campaign(data, settings.timezone)
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


def signer(settings: Settings, number: int) -> str:
    return signer_hash(settings.require_signer_key(), "T0UNDRSGN", f"U{number:09d}")


def add_signers(db: Database, settings: Settings, count: int, start: int = 0) -> None:
    with db.write() as session:
        for number in range(start, start + count):
            add_signature(session, SLUG, signer(settings, number), keyring=settings.keyring())


def posts(fake: FakeSlack, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """What the channel holds: the messages Slack accepted, not the attempts."""
    return fake.messages_in(channel)


def announced(fake: FakeSlack, channel: str = CHANNEL) -> list[tuple[str, int]]:
    return [
        (m["metadata"]["event_payload"]["kind"], m["metadata"]["event_payload"]["threshold"])
        for m in posts(fake, channel)
    ]


def rows(db: Database) -> dict[tuple[str, int], Announcement]:
    with db.read() as session:
        return {(a.kind.value, a.threshold): a for a in session.scalars(select(Announcement)).all()}


def run(settings: Settings) -> RunReport:
    assert settings.slack_bot_token is not None
    return announce(settings)


def age_claims(db: Database, by: dt.timedelta = announcements.LEASE * 2) -> None:
    """Let the clock run past every lease: what a later run sees after a crash."""
    with db.write() as session:
        for row in session.scalars(select(Announcement)).all():
            if row.claimed_at is not None:
                row.claimed_at -= by
            if row.in_doubt_since is not None:
                row.in_doubt_since -= by
