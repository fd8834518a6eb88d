"""A small world of campaigns and signers built with the domain functions, and a
snapshot of every row that belongs to a signer, to tell exactly what an operation
changed."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from petition import campaign_spec, campaigns
from petition.keyring import Keyring, person_digest
from petition.signatures import Choice, sign
from storage.db import Database
from storage.models import (
    Campaign,
    NewsPost,
    NewsRetraction,
    Signature,
    Subscriber,
    UpdateDelivery,
)

TEAM = "T0UNDRSGN"
DAY = dt.date(2026, 3, 2)
# Every table that holds a row per signer, and the campaigns' counts.
SIGNER_TABLES = (Signature, Subscriber, UpdateDelivery, NewsPost, NewsRetraction)


def make_campaign(db: Database, slug: str, **fields: Any) -> int:
    data: dict[str, Any] = {
        "slug": slug,
        "title": f"Campaign {slug}",
        "statement": "We ask.",
        "demands": ["One demand"],
        "channel": "C0ANNOUNCE",
    }
    data.update(fields)
    spec = campaign_spec.parse_campaign(data, ZoneInfo("UTC"))
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)
        return session.scalar(select(Campaign.id).where(Campaign.slug == slug))


def person(keyring: Keyring, user: str, scope: str = TEAM) -> str:
    return person_digest(keyring._signer_key, scope, user)


def sign_as(
    db: Database, keyring: Keyring, slug: str, user: str, choice: Choice | None = None
) -> None:
    with db.write() as session:
        sign(session, slug, person(keyring, user), choice or Choice(), keyring, DAY)


def snapshot(db: Database) -> dict[str, set[tuple[Any, ...]]]:
    """Every signer row, whole, by table; and each campaign's count."""
    out: dict[str, set[tuple[Any, ...]]] = {}
    with db.read() as session:
        for model in SIGNER_TABLES:
            table = model.__table__
            out[table.name] = {tuple(row) for row in session.execute(select(table))}
        out["counts"] = set(session.execute(select(Campaign.slug, Campaign.signature_count)))
    return out
