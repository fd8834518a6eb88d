"""Milestone and final-count announcements: what is due, who may post it, and
what was posted. Plain functions on a Session; Slack is called from jobs/announce.py.

Exactly once rests on three things, all in our tables:
- A row per (campaign, kind, threshold, channel) is written before anything is
  posted, and never removed, so a milestone is announced at most once in each
  channel, whatever the count does afterwards (withdrawals never retract and
  never re-announce).
- A claim (a token and a lease) is taken with a conditional UPDATE that only one
  process can win, so two schedulers never both post the same row.
- A claim marks the row "in doubt" until the outcome is recorded: a process that
  dies between posting and recording leaves that mark behind, and the next run
  looks in the channel for its own message before posting again.

A campaign announces in its `channel` and in any `channels` beside it (one per
workspace of an Enterprise Grid, or a shared org-wide channel). Each channel is
planned, claimed and posted on its own: "highest milestone only", "never again"
and the look after a crash apply per channel, and trouble in one channel (a rate
limit, a missing invitation) neither holds back nor repeats a post in another.
- The campaign's `channel` keeps the behaviour it always had: replaced by another
  id (a typo fixed), what was waiting moves to the new id, and what was already
  announced is not announced again. Rows whose channel is not among the other
  channels belong to it.
- A channel added beside the others starts from the next milestone passed: what
  the campaign had already reached when it was added is set aside for it
  (channels_changed()), so it is not told old news.
- A channel removed hears nothing more: what was waiting for it is set aside.

Signer data never passes through here: counts and thresholds only.

Why it runs past 500 lines: it holds the whole life of one table's rows (planned,
claimed, posted or set aside), and the channel rules above decide both where a
row is planned and, once claimed, where it goes or whether it is moot. The next
cut, if it grows, is planning apart from posting; how a row is claimed (the
lease) is already apart, in petition/leases.py, shared with the news.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from petition.leases import RELEASED, Lease
from storage.db import rows_changed
from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Campaign,
    CampaignChannel,
    CampaignStatus,
    JobRun,
    Milestone,
)

# How long a claim holds. Far longer than one attempt can take (a job waits at
# most a few seconds for Slack per call), so a live claim is never taken over; a
# claim left by a dead process is retried once it expires.
LEASE = dt.timedelta(minutes=10)
# Nobody holds a row that has no token.
_LEASE = Lease(
    Announcement, Announcement.claim_token, Announcement.claimed_at, Announcement.claim_token, LEASE
)
FINAL_THRESHOLD = 0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- channels ----------------------------------------------------------------------


def _others(campaign: Campaign) -> frozenset[str]:
    """The campaign's channels beside its `channel`."""
    return frozenset(c.channel_id for c in campaign.extra_channels) - {campaign.channel_id}


def announcement_channels(campaign: Campaign) -> list[str]:
    """Every channel the campaign announces in: its `channel` first, then the others."""
    first = [campaign.channel_id] if campaign.channel_id else []
    return first + sorted(_others(campaign))


def _target(row_channel: str, channel: str | None, others: frozenset[str]) -> str | None:
    """Where a row is to be posted: its own channel if that is one of the others;
    otherwise it belongs to the campaign's channel, whatever that is now."""
    return row_channel if row_channel in others else channel


def _same_channel(row_channel: str, others: frozenset[str]) -> ColumnElement[bool]:
    """The rows that go to the same channel as a row in `row_channel`."""
    if row_channel in others:
        return Announcement.channel_id == row_channel
    return Announcement.channel_id.not_in(others) if others else true()


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
    # Where it is to be posted now: its own channel if that is one of the campaign's
    # other channels, else the campaign's channel (which may have been corrected).
    channel_id: str | None
    # Where an earlier attempt went, and since when it may be there (None: no doubt).
    doubt_channel_id: str
    in_doubt_since: dt.datetime | None
    # Why it should no longer be posted (campaign closed, higher milestone, ...).
    moot: str | None

    @property
    def due(self) -> Due:
        # Set aside, it is reported where it was meant to go; else where it goes now.
        channel = self.doubt_channel_id if self.moot else self.channel_id
        return Due(self.slug, self.kind, self.threshold, channel or self.doubt_channel_id)


# -- closing -----------------------------------------------------------------------


def _past_closing(now: dt.datetime, slug: str | None) -> Select[Campaign]:
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
        won = rows_changed(
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.OPEN)
                .values(status=CampaignStatus.CLOSED, closed_at=Campaign.closes_at)
                .execution_options(synchronize_session=False)
            )
        )
        if won:
            queue_final_count(session, campaign.id)
            closed.append(campaign.slug)
    session.expire_all()
    return closed


def _channels_of(session: Session, campaign_id: int) -> tuple[str | None, frozenset[str]]:
    """The campaign's channel and its others, read from the tables (not from
    objects the session may hold from before a change)."""
    channel = session.scalar(select(Campaign.channel_id).where(Campaign.id == campaign_id))
    others = session.scalars(
        select(CampaignChannel.channel_id).where(CampaignChannel.campaign_id == campaign_id)
    ).all()
    return channel, frozenset(others) - {channel}


def queue_final_count(session: Session, campaign_id: int) -> bool:
    """Queue the campaign's final count for each of its channels, once ever per
    channel.

    For whatever closes a campaign (its closing date, or an organizer). False
    when there is no channel or the final count was already queued everywhere.
    """
    channel, others = _channels_of(session, campaign_id)
    queued_for = {
        _target(row_channel, channel, others)
        for row_channel in session.scalars(
            select(Announcement.channel_id).where(
                Announcement.campaign_id == campaign_id,
                Announcement.kind == AnnouncementKind.FINAL,
            )
        )
    }
    queued = False
    for target in ([channel] if channel else []) + sorted(others):
        if target not in queued_for:
            queued |= _insert(session, campaign_id, AnnouncementKind.FINAL, FINAL_THRESHOLD, target)
    return queued


def channels_changed(
    session: Session, campaign_id: int, channel_before: str | None, others_before: frozenset[str]
) -> None:
    """Settle the announcements of a campaign whose channels were just changed.

    - A channel added beside the others starts from the next milestone passed:
      every milestone the campaign has reached, or announced anywhere, and its
      final count once it has closed, are set aside for that channel. Telling a
      channel old news, days late, would only look like a new milestone.
    - The campaign's `channel` replaced by a new id is the same channel corrected:
      nothing to do here (claim() moves what was waiting). If the old id stays as
      one of the others, though, the new one is a channel added, as above.
    - A channel removed: what was waiting for it and is certainly not in it yet is
      set aside now; anything in doubt is looked for first (claim()).
    """
    channel, others = _channels_of(session, campaign_id)
    before = ({channel_before} | others_before) - {None}
    added = set(others - before)
    if channel is not None and channel not in before and channel_before in others:
        added.add(channel)
    removed = others_before - others - {channel}
    if removed:
        session.execute(
            update(Announcement)
            .where(
                Announcement.campaign_id == campaign_id,
                Announcement.channel_id.in_(removed),
                Announcement.state == AnnouncementState.PENDING,
                Announcement.claim_token.is_(None),
                Announcement.in_doubt_since.is_(None),
            )
            .values(state=AnnouncementState.SUPERSEDED)
            .execution_options(synchronize_session=False)
        )
    if not added:
        return
    count, status = session.execute(
        select(Campaign.signature_count, Campaign.status).where(Campaign.id == campaign_id)
    ).one()
    reached = set(
        session.scalars(
            select(Milestone.threshold).where(
                Milestone.campaign_id == campaign_id, Milestone.threshold <= count
            )
        )
    )
    kinds: set[AnnouncementKind] = set()
    for kind, threshold in session.execute(
        select(Announcement.kind, Announcement.threshold).where(
            Announcement.campaign_id == campaign_id
        )
    ):
        if kind is AnnouncementKind.MILESTONE:
            reached.add(threshold)
        kinds.add(kind)
    old_news = [(AnnouncementKind.MILESTONE, t) for t in sorted(reached)]
    if status is CampaignStatus.CLOSED or AnnouncementKind.FINAL in kinds:
        old_news.append((AnnouncementKind.FINAL, FINAL_THRESHOLD))
    for target in sorted(added):
        for kind, threshold in old_news:
            _insert(session, campaign_id, kind, threshold, target, AnnouncementState.SUPERSEDED)


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
    campaign, in each of its channels, and set aside the lower ones passed since
    the last run.

    One message names the highest milestone, so a jump from 90 to 260 past 100
    and 250 is one post ("250"), not two. A milestone already announced in a
    channel is never announced there again, even after withdrawals took the count
    below it and new signatures took it back up.
    """
    plan = Plan()
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.status != CampaignStatus.DRAFT)
        .options(selectinload(Campaign.milestones), selectinload(Campaign.extra_channels))
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
        channels = announcement_channels(campaign)
        if not channels:
            plan.no_channel.append(campaign.slug)
            continue
        others = _others(campaign)
        rows = session.scalars(
            select(Announcement).where(
                Announcement.campaign_id == campaign.id,
                Announcement.kind == AnnouncementKind.MILESTONE,
            )
        ).all()
        for channel in channels:
            mine = [
                r for r in rows if _target(r.channel_id, campaign.channel_id, others) == channel
            ]
            _plan_channel(
                session, plan, campaign, channel, passed, mine, _same_channel(channel, others)
            )
    return plan


def _plan_channel(
    session: Session,
    plan: Plan,
    campaign: Campaign,
    channel: str,
    passed: list[int],
    rows: list[Announcement],
    same_channel: ColumnElement[bool],
) -> None:
    """plan_milestones() for one channel, given the rows that went or go there."""
    handled = {r.threshold for r in rows}
    live = [
        r.threshold for r in rows if r.state is not AnnouncementState.SUPERSEDED
    ]  # posted, or on its way
    new = sorted(t for t in passed if t not in handled)
    if not new:
        return
    top = new[-1] if new[-1] > max(live, default=0) else None
    for threshold in new:
        state = AnnouncementState.PENDING if threshold == top else AnnouncementState.SUPERSEDED
        if _insert(session, campaign.id, AnnouncementKind.MILESTONE, threshold, channel, state):
            due = Due(campaign.slug, AnnouncementKind.MILESTONE, threshold, channel)
            (plan.created if threshold == top else plan.superseded).append(due)
    if top is None:
        return
    # Lower milestones still waiting for this channel (the bot was not in it, Slack
    # was down) are overtaken by this one, unless a post of theirs may be in the
    # channel already: claim() sorts those out after a look.
    overtaken = (
        Announcement.campaign_id == campaign.id,
        Announcement.kind == AnnouncementKind.MILESTONE,
        Announcement.state == AnnouncementState.PENDING,
        Announcement.threshold < top,
        Announcement.claim_token.is_(None),
        Announcement.in_doubt_since.is_(None),
        same_channel,
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
    plan.superseded.extend(Due(campaign.slug, AnnouncementKind.MILESTONE, t, c) for t, c in lower)


# -- claims ------------------------------------------------------------------------


def claimable(
    session: Session,
    now: dt.datetime | None = None,
    kinds: tuple[AnnouncementKind, ...] = tuple(AnnouncementKind),
) -> list[tuple[int, str]]:
    """Pending rows nobody holds a live claim on, in posting order, each with the
    channel it went or goes to."""
    now = now or utcnow()
    rows = session.execute(
        select(Announcement.id, Announcement.channel_id)
        .where(
            Announcement.state == AnnouncementState.PENDING,
            Announcement.kind.in_(kinds),
            _LEASE.claimable(now),
        )
        .order_by(
            Announcement.campaign_id, Announcement.kind, Announcement.threshold, Announcement.id
        )
    ).all()
    return [(row_id, channel_id) for row_id, channel_id in rows]


def claimable_ids(
    session: Session,
    now: dt.datetime | None = None,
    kinds: tuple[AnnouncementKind, ...] = tuple(AnnouncementKind),
) -> list[int]:
    """Pending rows nobody holds a live claim on, in posting order."""
    return [row_id for row_id, _channel in claimable(session, now, kinds)]


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
        if _LEASE.held(row.claimed_at, now):
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
    token = _LEASE.take(
        session,
        Announcement.id == announcement_id,
        Announcement.state == AnnouncementState.PENDING,
        now=now,
    )
    if token is None:
        return None
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.id == row.campaign_id)
        .options(selectinload(Campaign.milestones), selectinload(Campaign.extra_channels))
    ).one()
    thresholds = [m.threshold for m in campaign.milestones]
    count = campaign.signature_count
    others = _others(campaign)
    target = _target(row.channel_id, campaign.channel_id, others)
    return Claimed(
        id=row.id,
        token=token,
        slug=campaign.slug,
        title=campaign.title,
        kind=row.kind,
        threshold=row.threshold,
        count=count,
        next_milestone=min((t for t in thresholds if t > max(count, row.threshold)), default=None),
        channel_id=target,
        doubt_channel_id=row.channel_id,
        in_doubt_since=earlier_doubt,
        moot=_moot(session, row, campaign, thresholds, target, others),
    )


def _moot(
    session: Session,
    row: Announcement,
    campaign: Campaign,
    thresholds: list[int],
    target: str | None,
    others: frozenset[str],
) -> str | None:
    if target is None:
        return "the campaign no longer has a channel"
    if row.channel_id != target:
        # Its channel is no longer the campaign's: it moves to the campaign's
        # channel (a corrected id), unless that channel has its own row already.
        theirs = session.scalar(
            select(Announcement.id).where(
                Announcement.campaign_id == row.campaign_id,
                Announcement.kind == row.kind,
                Announcement.threshold == row.threshold,
                Announcement.channel_id == target,
            )
        )
        if theirs is not None:
            return "its channel was removed from the campaign"
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
            _same_channel(row.channel_id, others),
        )
    )
    return "a higher milestone was reached" if higher is not None else None


def _mine(claimed: Claimed) -> ColumnElement[bool]:
    return _LEASE.mine(claimed.token, Announcement.id == claimed.id)


def begin_attempt(session: Session, claimed: Claimed, now: dt.datetime | None = None) -> bool:
    """Mark the row in doubt just before posting, in the channel about to be used.

    Committed before the post goes out: if this process dies before recording the
    outcome, the next run knows to look in that channel first. Any earlier doubt
    has been cleared by that look already. False if the claim was lost.
    """
    now = now or utcnow()
    assert claimed.channel_id is not None
    try:
        with session.begin_nested():
            return bool(
                rows_changed(
                    session.execute(
                        update(Announcement)
                        .where(_mine(claimed), Announcement.state == AnnouncementState.PENDING)
                        .values(channel_id=claimed.channel_id, in_doubt_since=now)
                        .execution_options(synchronize_session=False)
                    )
                )
            )
    except IntegrityError:
        # Moving to the campaign's channel, which meanwhile got a row of its own
        # for this announcement: that one stands; this one is set aside next run.
        return False


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
        rows_changed(
            session.execute(
                update(Announcement)
                .where(
                    Announcement.id == claimed.id, Announcement.state == AnnouncementState.PENDING
                )
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
            )
        )
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
    values: dict[str, object] = {**RELEASED, "last_error": error}
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
    updated = rows_changed(
        session.execute(
            update(JobRun)
            .where(JobRun.job_id == job_id)
            .values(last_run_at=at)
            .execution_options(synchronize_session=False)
        )
    )
    if updated:
        return
    try:
        with session.begin_nested():
            session.add(JobRun(job_id=job_id, last_run_at=at))
    except IntegrityError:
        pass  # another process recorded a run at the same moment; either will do
