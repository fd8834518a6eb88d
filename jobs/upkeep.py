"""The jobs that keep what is stored small and unrevealing: the WAL emptied every
minute, the hour's public counts, the nightly rewrite in key order, and campaigns
forgotten when their settings ask. None of them talks to Slack.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from petition.counts import refresh_public_counts
from petition.keyring import Keyring
from petition.organizing import (
    CLI_ACTOR,
    NotForgotten,
    Organizers,
    forget_campaign,
    forget_due,
)
from petition.signatures import rewrite_in_key_order
from storage.db import Database
from storage.models import Campaign
from storage.turns import unhurried

logger = logging.getLogger(__name__)


@unhurried()
def scrub_job(db: Database) -> bool:
    """Empty SQLite's WAL into the database file, so that a withdrawn signature, a
    name replaced, or the order of commits stays in the -wal file for a minute at
    most (the scheduler runs this every minute; ENGINEERING.md, "Privacy: what is stored")."""
    done = db.scrub()
    if not done:
        logger.info("the WAL was busy with readers; emptying it at the next run")
    return done


@unhurried()
def refresh_counts_job(db: Database) -> int:
    """The hour's snapshot of the counts Slack shows (petition/counts.py)."""
    with db.write() as session:
        return refresh_public_counts(session)


@unhurried()
def rewrite_job(db: Database) -> int:
    """Each campaign's signer rows rewritten in the order of their values, one
    campaign per transaction (petition/signatures.rewrite_in_key_order): the order of
    signing is not kept past the night. Returns how many campaigns."""
    with db.read() as session:
        ids = list(session.scalars(select(Campaign.id).where(Campaign.forgotten_at.is_(None))))
    for campaign_id in ids:
        with db.write() as session:
            rewrite_in_key_order(session, campaign_id)
    return len(ids)


@unhurried()
def forget_due_job(db: Database, keyring: Keyring) -> list[str]:
    """The scheduler's entry point for `forget_after_days`, on the process's database.
    Forgetting that did not finish is tried again at the next run."""
    with db.read() as session:
        due = forget_due(session)
        unfinished = list(
            session.scalars(
                select(Campaign.slug).where(
                    Campaign.forgotten_at.is_not(None), Campaign.key_id.is_not(None)
                )
            )
        )
    forgotten = []
    for slug in [*due, *unfinished]:
        try:
            forget_campaign(db, keyring, Organizers(frozenset()), CLI_ACTOR, slug)
        except NotForgotten as problem:
            logger.warning("forgetting %s is not finished: %s", slug, problem)
            continue
        forgotten.append(slug)
    if forgotten:
        logger.info("forgot the signers of %d campaigns, as their settings asked", len(forgotten))
    return forgotten
