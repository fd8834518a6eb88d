"""The job that deletes queued news DMs from Slack (the queue and why it exists:
petition/retractions.py; the domain half, which records and queues the places,
stays there).
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from sqlalchemy import delete, select

from jobs.outbox import REFUSED, Outbox, SlackFailure
from petition.keyring import CannotOpen, Keyring
from petition.retractions import WAITING
from storage.db import Database
from storage.models import NewsRetraction
from storage.turns import unhurried

logger = logging.getLogger(__name__)

# Errors that mean the message is gone already, or can no longer be reached.
GONE = frozenset({"message_not_found", "channel_not_found", "is_archived", "cant_delete_message"})
# Deletions per run: chat.delete is Tier 3 (about 50 a minute per workspace).
PER_RUN = 40


@unhurried()
def retract_job(db: Database, client: WebClient, keyring: Keyring) -> int:
    """Delete queued news DMs from Slack; how many went. Each row goes once its
    message is gone; what Slack cannot delete now waits for the next run."""
    with db.read() as session:
        waiting = list(session.scalars(select(NewsRetraction.sealed_ref).limit(PER_RUN)))
    done = 0
    outbox = Outbox(client, wait_budget=0)  # a rate limit waits for the next run
    for token in waiting:
        try:
            channel, _, ts = keyring.retractions.open(token, WAITING).partition("\n")
        except CannotOpen:
            logger.error("a news DM to delete cannot be opened: was SIGNER_KEY changed?")
            _forget_row(db, token)
            continue
        try:
            outbox.call("chat.delete", outbox.client.chat_delete, channel=channel, ts=ts)
        except SlackFailure as failure:
            if failure.kind != REFUSED or failure.code not in GONE:
                logger.warning("deleting news DMs paused (%s); will resume", failure.code)
                break
        _forget_row(db, token)
        done += 1
    if done:
        logger.info("deleted %d news DMs of people who stopped news or withdrew", done)
    return done


def _forget_row(db: Database, token: str) -> None:
    with db.write() as session:
        session.execute(delete(NewsRetraction).where(NewsRetraction.sealed_ref == token))
