"""Milestone and final-count announcements: what is due, who may post it, and
what was posted. Plain functions on a Session; Slack is called from bot/jobs.py.

Exactly once rests on three things, all in our tables:
- A row per (campaign, kind, threshold) is written before anything is posted, and
  never removed, so a milestone is announced at most once, whatever the count
  does afterwards (withdrawals never retract and never re-announce).
- A claim (a token and a lease) is taken with a conditional UPDATE that only one
  process can win, so two schedulers never both post the same row.
- A claim marks the row "in doubt" until the outcome is recorded: a process that
  dies between posting and recording leaves that mark behind, and the next run
  looks in the channel for its own message before posting again.

Signer data never passes through here: counts and thresholds only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Campaign,
    CampaignStatus,
    JobRun,
)

# How long a claim holds. Far longer than one attempt can take (a job waits at
# most a few seconds for Slack per call), so a live claim is never taken over; a
# claim left by a dead process is retried once it expires.
LEASE = dt.timedelta(minutes=10)
FINAL_THRESHOLD = 0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Due:
    """An announcement row, as reported to the operator."""

    slug: str
    kind: AnnouncementKind
    threshold: int
    channel_id: str

    @property
    def label(self) -> str:
        """For log lines: the campaign and milestone (logs mask channel ids anyway)."""
        what = "final count" if self.kind is AnnouncementKind.FINAL else f"{self.threshold}"
        return f"{self.slug} {what}"

    def describe(self) -> str:
        """For the operator's `announce` summary: where it goes, too."""
        return f"{self.label} in {self.channel_id}"


@dataclass
class Plan:
    """What planning did: new rows to post, lower milestones set aside."""

    created: list[Due] = field(default_factory=list)
    superseded: list[Due] = field(default_factory=list)
    no_channel: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Claimed:
    """A claimed row and everything needed to post it, read in the same transaction."""

    id: int
    token: str
    slug: str
    title: str
    kind: AnnouncementKind
    threshold: int
    count: int
    next_milestone: int | None
    # Where it is to be posted now: the campaign's channel.
    channel_id: str | None
    # Where an earlier attempt went, and since when it may be there (None: no doubt).
    doubt_channel_id: str
    in_doubt_since: dt.datetime | None
    # Why it should no longer be posted (campaign closed, higher milestone, ...).
    moot: str | None

    @property
    def due(self) -> Due:
        return Due(self.slug, self.kind, self.threshold, self.channel_id or self.doubt_channel_id)


# -- closing -----------------------------------------------------------------------


def _past_closing(now: dt.datetime, slug: str | None):  # type: ignore[no-untyped-def]
    query = select(Campaign).where(
        Campaign.status == CampaignStatus.OPEN,
        Campaign.closes_at.is_not(None),
        Campaign.closes_at <= now,
    )
    return query if slug is None else query.where(Campaign.slug == slug)


def closing_due(session: Session, now: dt.datetime | None = None, slug: str | None = None) -> bool:
    """Whether an open campaign (or `slug`) has passed its closing date: a read,
    so that checking often costs no write lock."""
    query = _past_closing(now or utcnow(), slug).with_only_columns(Campaign.id).limit(1)
    return session.scalar(query) is not None


def close_due_campaigns(
    session: Session, now: dt.datetime | None = None, slug: str | None = None
) -> list[str]:
    """Close every open campaign whose closing date has passed (or just `slug`),
    and queue its final count. Returns the slugs closed by this call."""
    now = now or utcnow()
    closed = []
    for campaign in session.scalars(_past_closing(now, slug).order_by(Campaign.id)).all():
        # Conditional, so that of two schedulers closing at once only one queues.
        won = session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.OPEN)
            .values(status=CampaignStatus.CLOSED)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won:
            queue_final_count(session, campaign.id)
            closed.append(campaign.slug)
    session.expire_all()
    return closed


def queue_final_count(session: Session, campaign_id: int) -> bool:
    """Queue the campaign's final count for its channel, once ever.

    For whatever closes a campaign (its closing date, or an organizer). False
    when there is no channel or the final count was already queued.
    """
    channel_id = session.scalar(select(Campaign.channel_id).where(Campaign.id == campaign_id))
    if channel_id is None:
        return False
    existing = session.scalar(
        select(Announcement.id).where(
            Announcement.campaign_id == campaign_id,
            Announcement.kind == AnnouncementKind.FINAL,
        )
    )
    if existing is not None:
        return False
    return _insert(session, campaign_id, AnnouncementKind.FINAL, FINAL_THRESHOLD, channel_id)


def _insert(
    session: Session,
    campaign_id: int,
    kind: AnnouncementKind,
    threshold: int,
    channel_id: str,
    state: AnnouncementState = AnnouncementState.PENDING,
) -> bool:
    try:
        with session.begin_nested():
            session.add(
                Announcement(
                    campaign_id=campaign_id,
                    kind=kind,
                    threshold=threshold,
                    channel_id=channel_id,
                    state=state,
                )
            )
    except IntegrityError:
        # Another scheduler planned the same row first; theirs stands.
        return False
    return True


# -- planning ----------------------------------------------------------------------


def plan_milestones(session: Session) -> Plan:
    """Write a pending row for the highest milestone newly passed by each open
    campaign, and set aside the lower ones passed since the last run.

    One message names the highest milestone, so a jump from 90 to 260 past 100
    and 250 is one post ("250"), not two. A milestone already announced is never
    announced again, even after withdrawals took the count below it and new
    signatures took it back up.
    """
    plan = Plan()
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.status != CampaignStatus.DRAFT)
        .options(selectinload(Campaign.milestones))
        .order_by(Campaign.id)
    ).all()
    for campaign in campaigns:
        if campaign.status is not CampaignStatus.OPEN:
            continue  # closed: the final count says it all (see claim())
        passed = [
            m.threshold for m in campaign.milestones if m.threshold <= campaign.signature_count
        ]
        if not passed:
            continue
        if campaign.channel_id is None:
            plan.no_channel.append(campaign.slug)
            continue
        rows = session.scalars(
            select(Announcement).where(
                Announcement.campaign_id == campaign.id,
                Announcement.kind == AnnouncementKind.MILESTONE,
            )
        ).all()
        handled = {r.threshold for r in rows}
        live = [
            r.threshold for r in rows if r.state is not AnnouncementState.SUPERSEDED
        ]  # posted, or on its way
        new = sorted(t for t in passed if t not in handled)
        if not new:
            continue
        top = new[-1] if new[-1] > max(live, default=0) else None
        for threshold in new:
            state = AnnouncementState.PENDING if threshold == top else AnnouncementState.SUPERSEDED
            if _insert(
                session,
                campaign.id,
                AnnouncementKind.MILESTONE,
                threshold,
                campaign.channel_id,
                state,
            ):
                due = Due(campaign.slug, AnnouncementKind.MILESTONE, threshold, campaign.channel_id)
                (plan.created if threshold == top else plan.superseded).append(due)
        if top is not None:
            # Lower milestones still waiting (the bot was not in the channel, Slack
            # was down) are overtaken by this one, unless a post of theirs may be in
            # the channel already: claim() sorts those out after a look.
            overtaken = (
                Announcement.campaign_id == campaign.id,
                Announcement.kind == AnnouncementKind.MILESTONE,
                Announcement.state == AnnouncementState.PENDING,
                Announcement.threshold < top,
                Announcement.claim_token.is_(None),
                Announcement.in_doubt_since.is_(None),
            )
            lower = session.execute(
                select(Announcement.threshold, Announcement.channel_id).where(*overtaken)
            ).all()
            session.execute(
                update(Announcement)
                .where(*overtaken)
                .values(state=AnnouncementState.SUPERSEDED)
                .execution_options(synchronize_session=False)
            )
            plan.superseded.extend(
                Due(campaign.slug, AnnouncementKind.MILESTONE, t, c) for t, c in lower
            )
    return plan


# -- claims ------------------------------------------------------------------------


def _claimable(now: dt.datetime):  # type: ignore[no-untyped-def]
    return or_(Announcement.claim_token.is_(None), Announcement.claimed_at < now - LEASE)


def claimable_ids(
    session: Session,
    now: dt.datetime | None = None,
    kinds: tuple[AnnouncementKind, ...] = tuple(AnnouncementKind),
) -> list[int]:
    """Pending rows nobody holds a live claim on, in posting order."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Announcement.id)
            .where(
                Announcement.state == AnnouncementState.PENDING,
                Announcement.kind.in_(kinds),
                _claimable(now),
            )
            .order_by(Announcement.campaign_id, Announcement.kind, Announcement.threshold)
        )
    )


def waiting(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Pending rows, each with why it is still waiting, for the operator."""
    now = now or utcnow()
    rows = session.execute(
        select(Announcement, Campaign.slug)
        .join(Campaign, Campaign.id == Announcement.campaign_id)
        .where(Announcement.state == AnnouncementState.PENDING)
        .order_by(Announcement.id)
    ).all()
    lines = []
    for row, slug in rows:
        if row.claimed_at is not None and row.claimed_at >= now - LEASE:
            reason = "being posted by another run"
        elif row.last_error:
            reason = row.last_error
        elif row.in_doubt_since is not None:
            reason = "to look for in the channel first"
        else:
            reason = "due"
        lines.append(f"{Due(slug, row.kind, row.threshold, row.channel_id).describe()} ({reason})")
    return lines


def claim(session: Session, announcement_id: int, now: dt.datetime | None = None) -> Claimed | None:
    """Take the claim on a pending row, or None if another process holds it.

    The conditional UPDATE is the whole guarantee: whichever process's statement
    matches first wins, the other matches no row (SQLite serialises writers with
    BEGIN IMMEDIATE; PostgreSQL re-checks the WHERE after a concurrent update).
    """
    now = now or utcnow()
    row = session.get(Announcement, announcement_id, populate_existing=True)
    if row is None or row.state is not AnnouncementState.PENDING:
        return None
    earlier_doubt = row.in_doubt_since
    token = secrets.token_hex(16)
    won = session.execute(
        update(Announcement)
        .where(
            Announcement.id == announcement_id,
            Announcement.state == AnnouncementState.PENDING,
            _claimable(now),
        )
        .values(claim_token=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return None
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.id == row.campaign_id)
        .options(selectinload(Campaign.milestones))
    ).one()
    thresholds = [m.threshold for m in campaign.milestones]
    count = campaign.signature_count
    return Claimed(
        id=row.id,
        token=token,
        slug=campaign.slug,
        title=campaign.title,
        kind=row.kind,
        threshold=row.threshold,
        count=count,
        next_milestone=min((t for t in thresholds if t > max(count, row.threshold)), default=None),
        channel_id=campaign.channel_id,
        doubt_channel_id=row.channel_id,
        in_doubt_since=earlier_doubt,
        moot=_moot(session, row, campaign, thresholds),
    )


def _moot(
    session: Session, row: Announcement, campaign: Campaign, thresholds: list[int]
) -> str | None:
    if campaign.channel_id is None:
        return "the campaign no longer has a channel"
    if row.kind is AnnouncementKind.FINAL:
        return None
    if campaign.status is not CampaignStatus.OPEN:
        return "the campaign is closed; its final count says it"
    if row.threshold not in thresholds:
        return "the milestone was removed"
    higher = session.scalar(
        select(Announcement.id).where(
            Announcement.campaign_id == row.campaign_id,
            Announcement.kind == AnnouncementKind.MILESTONE,
            Announcement.threshold > row.threshold,
            Announcement.state != AnnouncementState.SUPERSEDED,
        )
    )
    return "a higher milestone was reached" if higher is not None else None


def _mine(claimed: Claimed):  # type: ignore[no-untyped-def]
    return (Announcement.id == claimed.id) & (Announcement.claim_token == claimed.token)


def begin_attempt(session: Session, claimed: Claimed, now: dt.datetime | None = None) -> bool:
    """Mark the row in doubt just before posting, in the channel about to be used.

    Committed before the post goes out: if this process dies before recording the
    outcome, the next run knows to look in that channel first. Any earlier doubt
    has been cleared by that look already. False if the claim was lost.
    """
    now = now or utcnow()
    assert claimed.channel_id is not None
    return bool(
        session.execute(
            update(Announcement)
            .where(_mine(claimed), Announcement.state == AnnouncementState.PENDING)
            .values(channel_id=claimed.channel_id, in_doubt_since=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def record_posted(
    session: Session,
    claimed: Claimed,
    channel_id: str,
    message_ts: str,
    now: dt.datetime | None = None,
) -> bool:
    """Record the post (ours, or one found in the channel). False if someone
    else recorded it first."""
    now = now or utcnow()
    return bool(
        session.execute(
            update(Announcement)
            .where(Announcement.id == claimed.id, Announcement.state == AnnouncementState.PENDING)
            .values(
                state=AnnouncementState.POSTED,
                channel_id=channel_id,
                message_ts=message_ts,
                posted_at=now,
                claim_token=None,
                claimed_at=None,
                in_doubt_since=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def release(
    session: Session, claimed: Claimed, *, posted_maybe: bool, error: str | None = None
) -> None:
    """Give the claim back so that the next run tries again.

    `posted_maybe` is for failures after which the post may still have reached
    the channel (timeouts, connection errors, 5xx): the doubt stays, and the next
    run looks in the channel before posting. Refusals (429, not_in_channel) are
    certain not to have posted, and the look made before this attempt cleared
    any earlier doubt, so the row is clean again.
    """
    values: dict[str, object] = {"claim_token": None, "claimed_at": None, "last_error": error}
    if not posted_maybe:
        values["in_doubt_since"] = None
    session.execute(
        update(Announcement)
        .where(_mine(claimed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def set_aside(session: Session, claimed: Claimed) -> None:
    """A row that should no longer be posted, and (after a look) was not."""
    session.execute(
        update(Announcement)
        .where(_mine(claimed), Announcement.state == AnnouncementState.PENDING)
        .values(
            state=AnnouncementState.SUPERSEDED,
            claim_token=None,
            claimed_at=None,
            in_doubt_since=None,
        )
        .execution_options(synchronize_session=False)
    )


# -- job runs ----------------------------------------------------------------------


def last_run(session: Session, job_id: str) -> dt.datetime | None:
    return session.scalar(select(JobRun.last_run_at).where(JobRun.job_id == job_id))


def record_run(session: Session, job_id: str, at: dt.datetime | None = None) -> None:
    at = at or utcnow()
    updated = session.execute(
        update(JobRun)
        .where(JobRun.job_id == job_id)
        .values(last_run_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if updated:
        return
    try:
        with session.begin_nested():
            session.add(JobRun(job_id=job_id, last_run_at=at))
    except IntegrityError:
        pass  # another process recorded a run at the same moment; either will do
