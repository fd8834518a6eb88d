"""Sending queued updates: paced, resumable, and never twice to the same person.

Module-level functions taking plain values, so the scheduler, the CLI and the
admin view all run the same code. Slack ids are opened from their sealed form
in memory only and never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slack_sdk import WebClient

import blocks
from jobs.outbox import (
    DEFAULT_RETRY_AFTER,
    HISTORY_TOO_LONG,
    RATE_LIMITED,
    REFUSED,
    UNAVAILABLE,
    Marked,
    Outbox,
    SlackFailure,
    find_own,
)
from petition import updates
from petition.keyring import CannotOpen, KeyMissing, Keyring
from petition.retractions import record_post
from petition.subscriptions import open_address
from storage.db import Database
from storage.models import DeliveryState
from storage.turns import unhurried

logger = logging.getLogger(__name__)

EVENT_TYPE = "undersigned_update"
# Slack lets an app post about one message a second to a conversation, with
# bursts; each DM is its own conversation, but the workspace has a ceiling too.
DEFAULT_PACE_SECONDS = 0.2
MAX_RETRY_AFTER_WAIT = 30.0
# Errors that mean this person cannot be reached any more: give up on them.
UNREACHABLE = {
    "user_not_found",
    "account_inactive",
    "cannot_dm_bot",
    "user_disabled",
    "channel_not_found",
    "is_archived",
    "not_allowed_token_type",
    "invalid_users",
}


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    stopped_by: str | None = None
    errors: list[str] = field(default_factory=list)


def _already_delivered(
    outbox: Outbox, channel: str, update_id: int, since: dt.datetime
) -> str | None:
    """Look in the DM for our own message about this update, posted since `since`:
    its ts, or None."""
    marked = Marked(EVENT_TYPE, lambda payload: payload.get("update") == update_id)
    try:
        # Bounded: a DM with the bot holds few messages.
        return find_own(outbox, channel, since.timestamp() - 60, marked, pages=10, page_size=100)
    except SlackFailure as failure:
        if failure.code != HISTORY_TOO_LONG:
            raise
    # Past the pages searched: taken as not delivered. At worst this one person gets
    # a second copy; refusing would stop everyone's news, the row being first in line.
    logger.info("a DM in doubt has too long a history to search; sending the news")
    return None


def _send_one(db: Database, outbox: Outbox, keyring: Keyring, claimed: updates.Claimed) -> str:
    """Deliver one claimed row: sent, failed or retry. Raises SlackFailure."""
    if claimed.sealed_address is None or claimed.key_id is None:
        # They opted out after the update was written: they must not hear from us.
        with db.write() as session:
            updates.finish(session, claimed, DeliveryState.FAILED)
        return "failed"
    try:
        address = open_address(keyring, claimed.key_id, claimed.campaign_id, claimed.sealed_address)
    except (CannotOpen, KeyMissing):
        logger.error(
            "a subscriber's address cannot be opened: was the campaign forgotten, or "
            "SIGNER_KEY or KEY_STORE changed?"
        )
        with db.write() as session:
            updates.finish(session, claimed, DeliveryState.FAILED)
        return "failed"
    opened = outbox.call(
        "conversations.open", outbox.client.conversations_open, users=address.user_id
    )
    channel = (opened.get("channel") or {}).get("id")
    if not channel:
        raise SlackFailure(UNAVAILABLE, "no_channel")
    if claimed.in_doubt_since is not None:
        found = _already_delivered(outbox, channel, claimed.update_id, claimed.in_doubt_since)
        if found is not None:
            _sent(db, keyring, claimed, channel, found)
            return "sent"
    with db.write() as session:
        if not updates.begin_attempt(session, claimed):
            return "retry"  # someone else took it over after our lease ran out
    text, content = blocks.update_message(claimed.title, claimed.kind.value, claimed.text)
    posted = outbox.call(
        "chat.postMessage",
        outbox.client.chat_postMessage,
        channel=channel,
        text=text,
        blocks=content,
        metadata={"event_type": EVENT_TYPE, "event_payload": {"update": claimed.update_id}},
        unfurl_links=False,
        unfurl_media=False,
    )
    _sent(db, keyring, claimed, str(posted.get("channel") or channel), str(posted.get("ts")))
    return "sent"


def _sent(db: Database, keyring: Keyring, claimed: updates.Claimed, channel: str, ts: str) -> None:
    """Record the delivery, and where the DM is, to delete it if they stop news or
    withdraw (petition/retractions.py)."""
    assert claimed.key_id is not None
    with db.write() as session:
        if updates.finish(session, claimed, DeliveryState.SENT):
            record_post(
                session,
                keyring.campaign(claimed.key_id),
                claimed.campaign_id,
                claimed.signer_hash,
                channel,
                ts,
            )


def send_pending(
    db: Database,
    client: WebClient,
    keyring: Keyring,
    *,
    pace_seconds: float = DEFAULT_PACE_SECONDS,
    max_seconds: float = 600.0,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Send queued updates until none is left, Slack needs a break, or time is up."""
    report = SendReport()
    deadline = time.monotonic() + max_seconds
    # No waiting inside a call: this loop paces itself, and waits out a rate limit
    # (up to MAX_RETRY_AFTER_WAIT) before claiming the next delivery.
    outbox = Outbox(client, wait_budget=0)
    while time.monotonic() < deadline:
        with db.write() as session:
            claimed = updates.claim_next(session)
        if claimed is None:
            break
        try:
            outcome = _send_one(db, outbox, keyring, claimed)
        except SlackFailure as failure:
            code = failure.code
            if failure.kind == RATE_LIMITED:
                # The outbox takes a missing Retry-After as DEFAULT_RETRY_AFTER.
                wait = min(float(failure.retry_after or DEFAULT_RETRY_AFTER), MAX_RETRY_AFTER_WAIT)
                logger.warning("Slack rate limited news DMs; waiting %.0f s", wait)
                with db.write() as session:
                    # Nothing was posted: a 429 is answered before the call acts.
                    updates.release(session, claimed, clear_doubt=False)
                report.retried += 1
                if time.monotonic() + wait >= deadline:
                    report.stopped_by = "rate limit"
                    break
                sleep(wait)
                continue
            if failure.kind == REFUSED and code in UNREACHABLE:
                logger.info("a subscriber cannot be reached (%s); giving up on them", code)
                with db.write() as session:
                    updates.finish(session, claimed, DeliveryState.FAILED)
                outcome = "failed"
            elif failure.kind == REFUSED:
                logger.warning("sending news stopped on a Slack error (%s); will resume", code)
                with db.write() as session:
                    updates.release(session, claimed, clear_doubt=False)
                report.stopped_by = code
                report.errors.append(code)
                break
            else:
                logger.warning("sending news stopped (%s); will resume", code)
                with db.write() as session:
                    updates.release(session, claimed, clear_doubt=False)
                report.stopped_by = code
                break
        except OSError as error:
            # Not Slack: the key store read from disk (open_address). Paused, and the
            # claim given back now rather than left to its lease.
            logger.warning("sending news stopped (%s); will resume", type(error).__name__)
            with db.write() as session:
                updates.release(session, claimed, clear_doubt=False)
            report.stopped_by = type(error).__name__
            break
        if outcome == "sent":
            report.sent += 1
        elif outcome == "failed":
            report.failed += 1
        if on_progress is not None:
            on_progress(report)
        if pace_seconds:
            sleep(pace_seconds)
    return report


@unhurried()
def send_pending_job(db: Database, client: WebClient, keyring: Keyring) -> None:
    """The scheduler's entry point, on the process's database. `client` makes no
    automatic retries (bot.webclient.posting_client): a DM that Slack accepted
    before the connection dropped must not be sent again blindly."""
    report = send_pending(db, client, keyring, max_seconds=50)
    if report.sent or report.failed or report.stopped_by:
        logger.info(
            "news: %d sent, %d unreachable%s",
            report.sent,
            report.failed,
            f", paused ({report.stopped_by})" if report.stopped_by else "",
        )


class BackgroundSender:
    """Starts sending queued updates in a thread of this process, one at a time.

    Called after an organizer confirms an update, so the request returns at once;
    the scheduler's job resumes whatever this does not finish.
    """

    def __init__(self, db: Database, client: WebClient, keyring: Keyring) -> None:
        self._db = db
        self._client = client
        self._keyring = keyring
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="news", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            send_pending(self._db, self._client, self._keyring)
        except Exception:
            logger.exception("sending news failed; the scheduler will resume it")

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
