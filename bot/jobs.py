"""Scheduled jobs: the announcement run, and closing a campaign on its date.

Each job is a module-level function taking the process's `Database` and a Slack
client for posts, then plain values (a campaign slug). Jobs never build an engine
of their own: a process has one `Database` (one pool, one write turn), shared by
the server, its scheduler and its listeners. Running a job twice, late, or after
a crash posts nothing twice: what is due and what was posted lives in the
database (petition/announcements.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from sqlalchemy import select

import blocks
from handlers.slackapi import retry_after
from petition import announcements, campaigns, cards
from petition.announcements import Claimed, Due
from petition.counts import refresh_public_counts
from petition.errors import CampaignNotFound
from petition.signatures import rewrite_in_key_order
from storage.db import Database
from storage.models import AnnouncementKind, Campaign

logger = logging.getLogger(__name__)
UTC = ZoneInfo("UTC")

ANNOUNCE_JOB_ID = "announce"
# Message metadata on every announcement, so that after a crash between posting
# and recording the next run can find its own post in the channel. It names the
# campaign and the milestone: nothing about any signer.
EVENT_TYPE = "undersigned_announcement"
# The most a job sleeps for Retry-After in one run; a longer wait leaves the
# announcement for the next run instead of holding the scheduler's thread.
RATE_LIMIT_BUDGET_SECONDS = 10
HISTORY_PAGE_SIZE = 200
HISTORY_PAGES = 20
# Our clock and Slack's may differ a little; look a bit earlier than the attempt.
CLOCK_MARGIN = dt.timedelta(minutes=5)
INVITE_HINT = (
    "invite the bot with `/invite @Undersigned` in the campaign's announcement channel "
    "(`campaign list` shows which)"
)
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found"})


@dataclass
class RunReport:
    """What one run did, for the operator: campaigns, milestones and channels only."""

    closed: list[str] = field(default_factory=list)
    posted: list[Due] = field(default_factory=list)
    found: list[Due] = field(default_factory=list)
    superseded: list[Due] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    no_channel: list[str] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        lines = [f"closed: {slug}" for slug in self.closed]
        lines += [f"posted: {d.describe()}" for d in self.posted]
        lines += [f"already in the channel, recorded: {d.describe()}" for d in self.found]
        lines += [f"not announced (overtaken): {d.describe()}" for d in self.superseded]
        lines += [f"waiting: {w}" for w in self.waiting]
        lines += [f"no channel set, skipped: {slug}" for slug in self.no_channel]
        lines += [f"card updated: {slug}" for slug in self.cards]
        return lines or ["nothing to announce"]


def announce_job(db: Database, client: WebClient, tz: str = "UTC") -> RunReport:
    """The scheduled announcement run (also `python -m bot announce`). `client`
    makes no automatic retries (bot.webclient.posting_client). `tz`: the name of
    the campaigns' time zone (a plain value, as job arguments are), for the dates
    on campaign cards."""
    return run_announcements(db, client, ZoneInfo(tz))


def close_job(db: Database, client: WebClient, slug: str | None = None) -> RunReport:
    """A campaign's closing date: close it and post its final count, once."""
    return run_closing(db, client, slug)


def scrub_job(db: Database) -> bool:
    """Empty SQLite's WAL into the database file, so that a withdrawn signature, a
    name replaced, or the order of commits stays in the -wal file for a minute at
    most (the scheduler runs this every minute; ENGINEERING.md, "Privacy: what is stored")."""
    done = db.scrub()
    if not done:
        logger.info("the WAL was busy with readers; emptying it at the next run")
    return done


def refresh_counts_job(db: Database) -> int:
    """The hour's snapshot of the counts Slack shows (petition/counts.py)."""
    with db.write() as session:
        return refresh_public_counts(session)


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


def run_announcements(db: Database, client: WebClient, tz: ZoneInfo = UTC) -> RunReport:
    report = RunReport()
    started = announcements.utcnow()
    with db.write() as session:
        report.closed = announcements.close_due_campaigns(session, started)
    with db.write() as session:
        plan = announcements.plan_milestones(session)
    report.superseded.extend(plan.superseded)
    report.no_channel.extend(plan.no_channel)
    for due in plan.superseded:
        logger.info("not announcing %s: overtaken by a higher milestone", due.label)
    slack = _Slack(client)
    _post_due(db, slack, report, tuple(AnnouncementKind))
    _refresh_cards(db, slack, report, tz)
    with db.write() as session:
        announcements.record_run(session, ANNOUNCE_JOB_ID, started)
    _finish(db, report)
    return report


# The card's message is gone or can no longer be edited: stop trying.
_CARD_GONE = {"message_not_found", "channel_not_found", "is_archived", "cant_update_message"}


def _refresh_cards(db: Database, slack: _Slack, report: RunReport, tz: ZoneInfo) -> None:
    """Edit each campaign card whose content changed (count, progress, open or
    closed); an unchanged one is left alone. A card whose message was deleted is
    forgotten; any other failure is retried at the next run."""
    with db.read() as session:
        shown = []
        for card in cards.all_cards(session):
            try:
                view = campaigns.find_public_campaign(session, card.slug)
            except CampaignNotFound:
                continue
            shown.append((card, blocks.campaign_card(view, tz)))
    for card, (fallback, content) in shown:
        fingerprint = cards.digest(json.dumps(content, sort_keys=True))
        if fingerprint == card.shown or slack.held_back(card.channel_id):
            continue
        try:
            slack.call(
                "chat.update",
                slack.client.chat_update,
                channel=card.channel_id,
                ts=card.message_ts,
                text=fallback,
                blocks=content,
            )
        except _Failure as failure:
            if failure.code in _CARD_GONE:
                with db.write() as session:
                    cards.drop_card(session, card.id)
            logger.info("campaign card of %s not updated: %s", card.slug, failure.code)
            continue
        with db.write() as session:
            cards.mark_shown(session, card.id, fingerprint)
        report.cards.append(card.slug)


def run_closing(db: Database, client: WebClient, slug: str | None = None) -> RunReport:
    """Close what is due and post those final counts. When nothing is due it does
    nothing at all (it runs every minute): a final count that could not be posted
    at closing is retried by the announcement runs, not every minute."""
    report = RunReport()
    with db.read() as session:
        due = announcements.closing_due(session, slug=slug)
    if not due:
        return report
    with db.write() as session:
        report.closed = announcements.close_due_campaigns(session, slug=slug)
    _post_due(db, _Slack(client), report, (AnnouncementKind.FINAL,))
    _finish(db, report)
    return report


def _finish(db: Database, report: RunReport) -> None:
    with db.read() as session:
        report.waiting = announcements.waiting(session)
    for slug in report.closed:
        logger.info("closed campaign %s: its closing date has passed", slug)
    for slug in report.no_channel:
        logger.info(
            "campaign %s passed a milestone but has no announcement channel: set `channel` "
            "in its campaign file to announce it",
            slug,
        )


# -- Slack ------------------------------------------------------------------------

# How a Slack call failed, which decides what happens to the claim.
RATE_LIMITED = "rate_limited"  # certainly not posted; wait for the next run
REFUSED = "refused"  # an error code: certainly not posted
UNAVAILABLE = "unavailable"  # 5xx, timeout, connection: it may have been posted


EVERY_CHANNEL = "*"


class _Failure(Exception):
    def __init__(self, kind: str, code: str, retry_after: int | None = None) -> None:
        self.kind = kind
        self.code = code
        self.retry_after = retry_after
        super().__init__(code)


class _Slack:
    """The Web API for one run, with a bounded budget for honouring Retry-After.

    A rate limit that outlasts the budget holds back the channel it came from for
    the rest of the run. Slack counts posting limits per channel (and apart for
    each workspace of a Grid), so other channels go on: one busy channel neither
    delays nor repeats another's announcement.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self.wait_budget = RATE_LIMIT_BUDGET_SECONDS
        self.rate_limited: set[str] = set()
        self._bot_id: str | None = None

    def held_back(self, *channels: str | None) -> bool:
        if EVERY_CHANNEL in self.rate_limited:
            return True
        return any(c in self.rate_limited for c in channels if c)

    def call(self, method: str, fn: Callable[..., SlackResponse], **kwargs: Any) -> SlackResponse:
        while True:
            try:
                return fn(**kwargs)
            except SlackApiError as error:
                status = getattr(error.response, "status_code", 0) or 0
                data = getattr(error.response, "data", None)
                code = data.get("error") if isinstance(data, dict) else None
                if status == 429:
                    wait = retry_after(error) or 60
                    if wait <= self.wait_budget:
                        # Honour Retry-After: no call to Slack before it has passed.
                        self.wait_budget -= wait
                        logger.info("%s rate limited; retrying in %d s", method, wait)
                        time.sleep(wait)
                        continue
                    # A method that names no channel (auth.test) holds back them all.
                    channel = kwargs.get("channel")
                    self.rate_limited.add(channel if isinstance(channel, str) else EVERY_CHANNEL)
                    raise _Failure(RATE_LIMITED, "ratelimited", wait) from None
                if status >= 500:
                    raise _Failure(UNAVAILABLE, f"http_{status}") from None
                raise _Failure(REFUSED, code or f"http_{status}") from None
            except (SlackClientError, OSError) as error:
                # Timeouts and connection errors: the request may have arrived.
                raise _Failure(UNAVAILABLE, type(error).__name__) from None

    def own_bot_id(self) -> str | None:
        if self._bot_id is None:
            response = self.call("auth.test", self.client.auth_test)
            self._bot_id = response.get("bot_id")
        return self._bot_id


def metadata_for(slug: str, kind: AnnouncementKind, threshold: int) -> dict[str, Any]:
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"campaign": slug, "kind": kind.value, "threshold": threshold},
    }


def _is_ours(message: dict[str, Any], bot_id: str | None, claimed: Claimed) -> bool:
    if bot_id is not None and message.get("bot_id") != bot_id:
        return False
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == EVENT_TYPE
        and payload.get("campaign") == claimed.slug
        and payload.get("kind") == claimed.kind.value
        and str(payload.get("threshold")) == str(claimed.threshold)
    )


def find_own_post(slack: _Slack, claimed: Claimed) -> str | None:
    """The ts of our post of this announcement in the channel, if it is there.

    Raises _Failure when the channel cannot be read to the end of the window.
    """
    assert claimed.in_doubt_since is not None
    bot_id = slack.own_bot_id()
    oldest = (claimed.in_doubt_since - CLOCK_MARGIN).timestamp()
    cursor: str | None = None
    for _page in range(HISTORY_PAGES):
        kwargs: dict[str, Any] = {
            "channel": claimed.doubt_channel_id,
            "oldest": f"{oldest:.6f}",
            "limit": HISTORY_PAGE_SIZE,
            "include_all_metadata": True,
        }
        if cursor:
            kwargs["cursor"] = cursor
        response = slack.call("conversations.history", slack.client.conversations_history, **kwargs)
        for message in response.get("messages") or []:
            if isinstance(message, dict) and _is_ours(message, bot_id, claimed):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            return None
    raise _Failure(UNAVAILABLE, "history_too_long")


def _message(claimed: Claimed) -> tuple[str, list[blocks.Block]]:
    if claimed.kind is AnnouncementKind.FINAL:
        return blocks.final_count_announcement(claimed.title, claimed.slug, claimed.count)
    return blocks.milestone_announcement(
        claimed.title, claimed.slug, claimed.threshold, claimed.count, claimed.next_milestone
    )


# -- the posting loop --------------------------------------------------------------


def _post_due(
    db: Database, slack: _Slack, report: RunReport, kinds: tuple[AnnouncementKind, ...]
) -> None:
    with db.read() as session:
        due = announcements.claimable(session, kinds=kinds)
    for announcement_id, channel_id in due:
        if slack.held_back(channel_id):
            continue  # this channel waits for the next run, as Retry-After asks
        with db.write() as session:
            claimed = announcements.claim(session, announcement_id)
        if claimed is None:
            continue  # another run holds it, or it is done
        if slack.held_back(claimed.channel_id):
            # Moving to a channel that is rate limited: give it back untouched.
            with db.write() as session:
                announcements.release(session, claimed, posted_maybe=True, error="ratelimited")
            continue
        try:
            _post_one(db, slack, claimed, report)
        except Exception:
            # A bug or a database failure: the claim expires and the next run,
            # seeing the row in doubt, looks in the channel before posting.
            logger.exception("announcing %s failed", claimed.due.label)


def _post_one(db: Database, slack: _Slack, claimed: Claimed, report: RunReport) -> None:
    due = claimed.due
    stage = "look"
    try:
        if claimed.in_doubt_since is not None:
            ts = find_own_post(slack, claimed)
            if ts is not None:
                with db.write() as session:
                    announcements.record_posted(session, claimed, claimed.doubt_channel_id, ts)
                logger.info(
                    "found %s already in the channel (an earlier run stopped before recording "
                    "it); recorded, not posted again",
                    due.label,
                )
                report.found.append(due)
                return
        if claimed.moot is not None:
            with db.write() as session:
                announcements.set_aside(session, claimed)
            logger.info("not announcing %s: %s", due.label, claimed.moot)
            report.superseded.append(due)
            return
        with db.write() as session:
            if not announcements.begin_attempt(session, claimed):
                return
        stage = "post"
        assert claimed.channel_id is not None
        text, content = _message(claimed)
        response = slack.call(
            "chat.postMessage",
            slack.client.chat_postMessage,
            channel=claimed.channel_id,
            text=text,
            blocks=content,
            metadata=metadata_for(claimed.slug, claimed.kind, claimed.threshold),
            unfurl_links=False,
            unfurl_media=False,
        )
    except _Failure as failure:
        # Before the post, a failed look leaves the earlier doubt in place.
        maybe = stage == "look" or failure.kind == UNAVAILABLE
        with db.write() as session:
            announcements.release(session, claimed, posted_maybe=maybe, error=failure.code)
        _log_failure(due, failure, stage)
        return
    with db.write() as session:
        recorded = announcements.record_posted(
            session, claimed, claimed.channel_id, str(response.get("ts"))
        )
    if not recorded:
        logger.warning("posted %s, but another run had recorded it meanwhile", due.label)
    logger.info("announced %s", due.label)
    report.posted.append(due)


def _log_failure(due: Due, failure: _Failure, stage: str) -> None:
    what = "reading the channel" if stage == "look" else "posting"
    if failure.code in CHANNEL_ERRORS:
        logger.warning(
            "cannot announce %s (%s while %s): %s, or fix the campaign's channel id; "
            "the announcement is kept and retried at the next run",
            due.label,
            failure.code,
            what,
            INVITE_HINT,
        )
    elif failure.kind == RATE_LIMITED:
        logger.warning(
            "Slack rate limit (retry after %s s) while %s %s: it waits for the next run",
            failure.retry_after,
            what,
            due.label,
        )
    elif failure.kind == UNAVAILABLE:
        logger.warning(
            "Slack did not answer (%s) while %s %s: the next run checks the channel and "
            "posts it if it is not there",
            failure.code,
            what,
            due.label,
        )
    else:
        logger.error(
            "Slack refused %s %s (%s): it is kept and retried at the next run",
            what,
            due.label,
            failure.code,
        )
