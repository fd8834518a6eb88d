"""Campaigns and counts for the tests of the SQLite writers (tests/test_batching.py,
tests/test_writerprocess.py), and the tasks a writer process is sent in them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.settings import load_settings
from petition import campaign_spec, campaigns
from petition.keyring import Keyring
from storage.db import Database
from storage.direct import DirectCursor
from storage.models import Campaign, Signature
from tests.support.running import SIGNER_KEY, key_store_for


def open_campaign(db: Database, slug: str, status: str = "open") -> None:
    spec = campaign_spec.parse_campaign(
        {
            "slug": slug,
            "title": slug,
            "statement": "We ask.",
            "demands": ["One."],
            "milestones": [10],
            "status": status,
        },
        ZoneInfo("UTC"),
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)


def counted(db: Database, slug: str) -> tuple[int, int]:
    """A campaign's kept count, and its rows counted."""
    with db.read() as session:
        kept = session.scalar(select(Campaign.signature_count).where(Campaign.slug == slug))
        rows = session.scalars(
            select(Signature.signer_hash).join(Campaign).where(Campaign.slug == slug)
        ).all()
    return kept or 0, len(rows)


def writer_setup(database_url: str) -> Callable[[], Keyring]:
    """What `serve` hands its writer process: its settings' keyring, made there."""
    settings = load_settings(
        {
            "SIGNER_KEY": SIGNER_KEY,
            "DATABASE_URL": database_url,
            "KEY_STORE": key_store_for(database_url),
        }
    )
    return settings.keyring


# Tasks for a writer process: module-level, so that they are sent by name.
def pid_of_writer(cursor: DirectCursor, context: Any) -> int:
    return os.getpid()


def sleep_in_writer(cursor: DirectCursor, context: Any, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def never_starts() -> Keyring:
    raise RuntimeError("no keys here")


def unpicklable_result(cursor: DirectCursor, context: Any) -> Any:
    return threading.Lock()


def environment_of_writer(cursor: DirectCursor, context: Any) -> list[str]:
    return sorted(os.environ)
