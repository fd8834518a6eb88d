"""News DMs, deleted when they could say someone signed.

A news DM stays in the signer's DM, and a Slack export shows it: read with the
signing form, it hints that the person signed. So the bot keeps track of each
news DM it sends (its channel and ts, sealed under the campaign's key), and
deletes them (chat.delete) when the person stops news, withdraws, or the
campaign is forgotten. In between, the places wait in `news_retractions`, sealed
under a key derived from SIGNER_KEY (forgetting destroys the campaign's key
first), with nothing that says whose or which campaign's they were; each row goes
once Slack has deleted its message.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from bot.keyring import ADDRESS_PAD, CampaignKeys, CannotOpen, Keyring
from storage.db import Database
from storage.direct import DirectCursor, of
from storage.models import NewsPost, NewsRetraction

logger = logging.getLogger(__name__)

_CONTEXT = "news-post:{campaign_id}"
_WAITING = "news-retraction"
# Errors that mean the message is gone already, or can no longer be reached.
GONE = frozenset({"message_not_found", "channel_not_found", "is_archived", "cant_delete_message"})
# Deletions per run: chat.delete is Tier 3 (about 50 a minute per workspace).
PER_RUN = 40


def _ref(channel: str, ts: str) -> str:
    return f"{channel}\n{ts}"


def record_post(
    unit: Session | DirectCursor,
    keys: CampaignKeys,
    campaign_id: int,
    signer: str,
    channel: str,
    ts: str,
) -> None:
    """Remember where a news DM went, to delete it later."""
    sealed = keys.seal(_ref(channel, ts), _CONTEXT.format(campaign_id=campaign_id), ADDRESS_PAD)
    of(unit).run(
        insert(NewsPost.__table__).values(
            campaign_id=campaign_id, signer_hash=signer, sealed_ref=sealed
        )
    )


def queue(
    session: Session,
    keyring: Keyring,
    campaign_id: int,
    key_id: str | None,
    signer: str | None = None,
) -> int:
    """Queue for deletion the news DMs sent to one subscriber of a campaign (or, with
    no `signer`, to all of them); how many."""
    mine = NewsPost.campaign_id == campaign_id
    if signer is not None:
        mine = mine & (NewsPost.signer_hash == signer)
    sealed = list(session.scalars(select(NewsPost.sealed_ref).where(mine)))
    if not sealed:
        return 0
    session.execute(delete(NewsPost).where(mine).execution_options(synchronize_session=False))
    if key_id is None:
        return 0
    keys, waiting = keyring.campaign(key_id), keyring.retractions
    rows = []
    for token in sealed:
        try:
            place = keys.open(token, _CONTEXT.format(campaign_id=campaign_id))
        except CannotOpen:
            continue
        rows.append({"sealed_ref": waiting.seal(place, _WAITING, ADDRESS_PAD)})
    if rows:
        session.execute(insert(NewsRetraction.__table__), rows)
    return len(rows)


def retract_job(db: Database, client: WebClient, keyring: Keyring) -> int:
    """Delete queued news DMs from Slack; how many went. Each row goes once its
    message is gone; what Slack cannot delete now waits for the next run."""
    with db.read() as session:
        waiting = list(session.scalars(select(NewsRetraction.sealed_ref).limit(PER_RUN)))
    done = 0
    for token in waiting:
        try:
            channel, _, ts = keyring.retractions.open(token, _WAITING).partition("\n")
        except CannotOpen:
            logger.error("a news DM to delete cannot be opened: was SIGNER_KEY changed?")
            _forget_row(db, token)
            continue
        try:
            client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code not in GONE:
                logger.warning("deleting news DMs paused (%s); will resume", code)
                break
        except (SlackClientError, OSError) as error:
            logger.warning("deleting news DMs paused (%s); will resume", type(error).__name__)
            break
        _forget_row(db, token)
        done += 1
    if done:
        logger.info("deleted %d news DMs of people who stopped news or withdrew", done)
    return done


def _forget_row(db: Database, token: str) -> None:
    with db.write() as session:
        session.execute(delete(NewsRetraction).where(NewsRetraction.sealed_ref == token))
