"""The announcement run (milestones, final counts, campaign cards), and closing a
campaign on its date.

Running a job twice, late, or after a crash posts nothing twice: what is due and
what was posted lives in the database (petition/announcements.py), and a post
whose outcome is in doubt is looked for before it is made again (jobs/outbox.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk import WebClient

import blocks
from jobs.outbox import RATE_LIMITED, UNAVAILABLE, Marked, Outbox, SlackFailure, find_own
from petition import announcements, campaigns, cards
from petition.announcements import Claimed, Due
from petition.errors import CampaignNotFound
from storage.db import Database
from storage.models import AnnouncementKind
from storage.turns import unhurried

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


@unhurried()
def announce_job(db: Database, client: WebClient, tz: str = "UTC") -> RunReport:
    """The scheduled announcement run (also `python -m bot announce`). `client`
    makes no automatic retries (bot.webclient.posting_client). `tz`: the name of
    the campaigns' time zone (a plain value, as job arguments are), for the dates
    on campaign cards."""
    return run_announcements(db, client, ZoneInfo(tz))


@unhurried()
def close_job(db: Database, client: WebClient, slug: str | None = None) -> RunReport:
    """A campaign's closing date: close it and post its final count, once."""
    return run_closing(db, client, slug)


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
    slack = Outbox(client, RATE_LIMIT_BUDGET_SECONDS)
    _post_due(db, slack, report, tuple(AnnouncementKind))
    _refresh_cards(db, slack, report, tz)
    with db.write() as session:
        announcements.record_run(session, ANNOUNCE_JOB_ID, started)
    _finish(db, report)
    return report


# The card's message is gone or can no longer be edited: stop trying.
_CARD_GONE = {"message_not_found", "channel_not_found", "is_archived", "cant_update_message"}


def _refresh_cards(db: Database, slack: Outbox, report: RunReport, tz: ZoneInfo) -> None:
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
        except SlackFailure as failure:
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
    _post_due(db, Outbox(client, RATE_LIMIT_BUDGET_SECONDS), report, (AnnouncementKind.FINAL,))
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


def metadata_for(slug: str, kind: AnnouncementKind, threshold: int) -> dict[str, Any]:
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"campaign": slug, "kind": kind.value, "threshold": threshold},
    }


def _marked(claimed: Claimed) -> Marked:
    def matches(payload: dict[str, Any]) -> bool:
        return (
            payload.get("campaign") == claimed.slug
            and payload.get("kind") == claimed.kind.value
            and str(payload.get("threshold")) == str(claimed.threshold)
        )

    return Marked(EVENT_TYPE, matches)


def find_own_post(outbox: Outbox, claimed: Claimed) -> str | None:
    """The ts of our post of this announcement in the channel, if it is there.

    Raises SlackFailure when the channel cannot be read to the end of the window.
    """
    assert claimed.in_doubt_since is not None
    return find_own(
        outbox,
        claimed.doubt_channel_id,
        (claimed.in_doubt_since - CLOCK_MARGIN).timestamp(),
        _marked(claimed),
        pages=HISTORY_PAGES,
        page_size=HISTORY_PAGE_SIZE,
        bot_id=outbox.own_bot_id(),
    )


def _message(claimed: Claimed) -> tuple[str, list[blocks.Block]]:
    if claimed.kind is AnnouncementKind.FINAL:
        return blocks.final_count_announcement(claimed.title, claimed.slug, claimed.count)
    return blocks.milestone_announcement(
        claimed.title, claimed.slug, claimed.threshold, claimed.count, claimed.next_milestone
    )


# -- the posting loop --------------------------------------------------------------


def _post_due(
    db: Database, slack: Outbox, report: RunReport, kinds: tuple[AnnouncementKind, ...]
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


def _post_one(db: Database, slack: Outbox, claimed: Claimed, report: RunReport) -> None:
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
    except SlackFailure as failure:
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


def _log_failure(due: Due, failure: SlackFailure, stage: str) -> None:
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
