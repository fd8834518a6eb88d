"""Campaigns: stored from a spec (petition/campaign_spec.py reads one), looked up,
listed, and how they look to a worker, from a copy shared by requests."""

from __future__ import annotations

import datetime as dt
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from petition.announcements import channels_changed
from petition.campaign_spec import (
    SMALL_COUNT,
    CampaignSpec,
)
from petition.errors import CampaignNotFound, DemandsLocked, InvalidCampaign
from storage.models import (
    Campaign,
    CampaignChannel,
    CampaignOrganizer,
    CampaignStatus,
    Demand,
    Milestone,
    table,
)

if TYPE_CHECKING:
    from storage.db import Database


@dataclass(frozen=True)
class CampaignView:
    """What a worker may see of a campaign; no signer data at all."""

    slug: str
    title: str
    statement: str
    demands: tuple[str, ...]
    signatures: int
    is_open: bool
    status: CampaignStatus
    closes_at: dt.datetime | None
    delivered_on: dt.date | None = None
    employer_answer: str | None = None
    # The milestones, lowest first: progress toward the next one is shown.
    milestones: tuple[int, ...] = ()
    # For looking a signer up, never shown: the row, and its key in the key store.
    campaign_id: int = 0
    key_id: str | None = None


def upsert_campaign(
    session: Session, spec: CampaignSpec, now: dt.datetime | None = None
) -> tuple[Campaign, list[str]]:
    """Create or update a campaign from a spec. Returns (campaign, what changed).

    Idempotent: applying the same spec twice changes nothing the second time.
    Refuses to change the statement or demands once people have signed them, and
    to set a closing date that has already passed.
    """
    now = now or dt.datetime.now(dt.UTC)
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.slug == spec.slug)
        .options(
            selectinload(Campaign.demands),
            selectinload(Campaign.milestones),
            selectinload(Campaign.organizers),
            selectinload(Campaign.extra_channels),
        )
    ).one_or_none()
    changes: list[str] = []
    channels_before = (
        (campaign.channel_id, frozenset(c.channel_id for c in campaign.extra_channels))
        if campaign is not None
        else None
    )
    if campaign is None:
        campaign = Campaign(slug=spec.slug, signature_count=0, public_count=0)
        session.add(campaign)
        changes.append("created")
    demands_change = tuple(d.text for d in campaign.demands) != spec.demands
    if campaign.signature_count and (demands_change or campaign.statement != spec.statement):
        # Signers agreed to this text; changing it would put their names under words
        # they never saw. Start a new campaign instead (ORGANIZERS.md: "Editing a campaign").
        field = "demands" if demands_change else "statement"
        raise DemandsLocked(
            "People have signed this campaign, so its statement and demands can no longer "
            "change. Fix typos before anyone signs, or start a new campaign.",
            field,
        )
    if spec.closes_at != campaign.closes_at and spec.closes_at and spec.closes_at <= now:
        raise InvalidCampaign("The closing date is in the past; give a future date.", "closes")
    status_before = campaign.status
    for attr, value in (
        ("title", spec.title),
        ("statement", spec.statement),
        ("channel_id", spec.channel_id),
        ("closes_at", spec.closes_at),
        ("status", spec.status),
        ("forget_after_days", spec.forget_after_days),
        ("addressee", spec.addressee),
    ):
        if getattr(campaign, attr) != value:
            setattr(campaign, attr, value)
            changes.append(attr)
    if "status" in changes or "created" in changes:
        note_status(campaign, status_before if "created" not in changes else None, now)
    if demands_change:
        campaign.demands.clear()
        session.flush()  # free the (campaign, position) slots before reusing them
        campaign.demands.extend(
            Demand(position=i, text=text) for i, text in enumerate(spec.demands, start=1)
        )
        changes.append("demands")
    if tuple(m.threshold for m in campaign.milestones) != spec.milestones:
        wanted = set(spec.milestones)
        for milestone in list(campaign.milestones):
            if milestone.threshold not in wanted:
                campaign.milestones.remove(milestone)
        have = {m.threshold for m in campaign.milestones}
        campaign.milestones.extend(Milestone(threshold=t) for t in spec.milestones if t not in have)
        changes.append("milestones")
    if tuple(o.user_id for o in campaign.organizers) != spec.organizers:
        campaign.organizers.clear()
        session.flush()
        campaign.organizers.extend(CampaignOrganizer(user_id=u) for u in spec.organizers)
        changes.append("organizers")
    if tuple(sorted(c.channel_id for c in campaign.extra_channels)) != spec.channels:
        wanted_channels = set(spec.channels)
        for extra in list(campaign.extra_channels):
            if extra.channel_id not in wanted_channels:
                campaign.extra_channels.remove(extra)
        session.flush()
        have_channels = {c.channel_id for c in campaign.extra_channels}
        campaign.extra_channels.extend(
            CampaignChannel(channel_id=c) for c in spec.channels if c not in have_channels
        )
        changes.append("channels")
    session.flush()
    if channels_before is not None and {"channel_id", "channels"} & set(changes):
        # A channel added hears the next milestone, not the ones it missed.
        channels_changed(session, campaign.id, *channels_before)
    if "created" in changes:
        changes = ["created"]
    return campaign, changes


def note_status(campaign: Campaign, before: CampaignStatus | None, now: dt.datetime) -> None:
    """Keep the signing period the letter states: first opened, last closed."""
    if campaign.status is CampaignStatus.OPEN:
        if campaign.opened_at is None:
            campaign.opened_at = now
        campaign.closed_at = None
    elif campaign.status is CampaignStatus.CLOSED and before is not CampaignStatus.CLOSED:
        passed = campaign.closes_at is not None and campaign.closes_at <= now
        # Closed by its date before anyone closed it by hand: it closed then.
        campaign.closed_at = campaign.closes_at if passed else now
        if campaign.opened_at is None:
            campaign.opened_at = now


def spec_of(campaign: Campaign) -> CampaignSpec:
    """The campaign as a spec, to edit one field and apply it again."""
    return CampaignSpec(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        milestones=tuple(m.threshold for m in campaign.milestones),
        channel_id=campaign.channel_id,
        closes_at=campaign.closes_at,
        status=campaign.status,
        organizers=tuple(o.user_id for o in campaign.organizers),
        forget_after_days=campaign.forget_after_days,
        channels=tuple(sorted(c.channel_id for c in campaign.extra_channels)),
        addressee=campaign.addressee,
    )


def is_open(campaign: Campaign, now: dt.datetime | None = None) -> bool:
    return is_open_at(campaign.status, campaign.closes_at, now)


def is_open_at(
    status: CampaignStatus, closes_at: dt.datetime | None, now: dt.datetime | None = None
) -> bool:
    """Whether a campaign with this status and closing time takes signatures now."""
    now = now or dt.datetime.now(dt.UTC)
    if status is not CampaignStatus.OPEN:
        return False
    return closes_at is None or now < closes_at


def campaign_view(campaign: Campaign, now: dt.datetime) -> CampaignView:
    return CampaignView(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        # What Slack may show: the hourly snapshot (petition/counts.py), not the live count.
        signatures=campaign.public_count,
        is_open=is_open(campaign, now),
        status=campaign.status,
        closes_at=campaign.closes_at,
        delivered_on=campaign.delivered_on,
        employer_answer=campaign.employer_answer,
        milestones=tuple(m.threshold for m in campaign.milestones),
        campaign_id=campaign.id,
        key_id=campaign.key_id,
    )


# Built once: /demands, status and the signing form run these on every request,
# and building a statement and its cache key each time is wasted work.
PUBLIC_CAMPAIGNS = (
    select(Campaign)
    .where(Campaign.status != CampaignStatus.DRAFT)
    .options(selectinload(Campaign.demands), selectinload(Campaign.milestones))
    .order_by(Campaign.created_at, Campaign.id)
)
_PUBLIC_BY_SLUG = (
    select(Campaign)
    .where(Campaign.slug == bindparam("slug"), Campaign.status != CampaignStatus.DRAFT)
    .options(selectinload(Campaign.demands), selectinload(Campaign.milestones))
)


def public_campaigns(session: Session, now: dt.datetime | None = None) -> list[CampaignView]:
    """Every campaign a worker may read (drafts are for organizers only)."""
    now = now or dt.datetime.now(dt.UTC)
    campaigns = session.scalars(PUBLIC_CAMPAIGNS).all()
    return [campaign_view(c, now) for c in campaigns]


# Core, on the table's columns: cheaper to run than an ORM-enabled select.
_TITLE_BY_SLUG = select(table(Campaign).c.title).where(
    table(Campaign).c.slug == bindparam("slug"),
    table(Campaign).c.status != CampaignStatus.DRAFT,
)


def public_title(session: Session, slug: str) -> str:
    """A public campaign's title: all a confirmation needs, without its demands."""
    title: str | None = session.execute(_TITLE_BY_SLUG, {"slug": slug.strip().lower()}).scalar()
    if title is None:
        raise CampaignNotFound(slug, [v.slug for v in public_campaigns(session)])
    return title


def find_public_campaign(
    session: Session, slug: str, now: dt.datetime | None = None
) -> CampaignView:
    now = now or dt.datetime.now(dt.UTC)
    campaign = session.scalars(_PUBLIC_BY_SLUG, {"slug": slug.strip().lower()}).one_or_none()
    if campaign is None:
        known = [v.slug for v in public_campaigns(session, now)]
        raise CampaignNotFound(slug, known)
    return campaign_view(campaign, now)


T = TypeVar("T")

# How old the shared copy of the public campaigns may get before it is read again.
# Writes made through this process's database are seen at once; a campaign edited
# by another process (the CLI, another replica) shows within this time.
SNAPSHOT_SECONDS = 1.0


@dataclass(frozen=True)
class _Snapshot:
    views: tuple[CampaignView, ...]
    generation: int
    taken_at: float
    # Answers made from these views alone, kept as long as they are (see kept()).
    answers: dict[Hashable, Any] = field(default_factory=dict)


class PublicCampaigns:
    """What workers may see of every campaign, read once and shared by requests.

    /demands is what a viral campaign is asked most (most of the load on a
    petition site is people checking the count), and its answer is the same for
    everyone: rather than a query per request, it is read again only once the
    database has changed through this process, or it is SNAPSHOT_SECONDS old.
    Views are immutable and hold nothing about any signer.
    """

    def __init__(
        self,
        db: Database,
        max_age: float = SNAPSHOT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._max_age = max_age
        self._clock = clock
        self._snapshot: _Snapshot | None = None
        self._refreshing = threading.Lock()

    def _fresh(self, snapshot: _Snapshot | None, generation: int) -> TypeGuard[_Snapshot]:
        return (
            snapshot is not None
            and snapshot.generation == generation
            and self._clock() - snapshot.taken_at < self._max_age
        )

    def views(self) -> tuple[CampaignView, ...]:
        """Like public_campaigns(), at most SNAPSHOT_SECONDS old."""
        snapshot = self._snapshot
        if self._fresh(snapshot, self._db.generation):
            return snapshot.views
        with self._refreshing:  # one thread reads; the others wait and share it
            # The generation is taken before reading, so a commit that lands
            # while reading makes this snapshot stale at once.
            generation, taken_at = self._db.generation, self._clock()
            snapshot = self._snapshot
            if self._fresh(snapshot, generation):
                return snapshot.views
            with self._db.read() as session:
                views = tuple(public_campaigns(session))
            self._snapshot = _Snapshot(views, generation, taken_at)
            return views

    def kept(self, views: tuple[CampaignView, ...], key: Hashable, make: Callable[[], T]) -> T:
        """`make()`, an answer made from `views` (of this copy) and nothing else
        that `key` does not say, made once for as long as this copy stands (the
        /demands answer, the same for everyone)."""
        snapshot = self._snapshot
        if snapshot is None or snapshot.views is not views:  # replaced meanwhile
            return make()
        try:
            # Answers of every kind share the dict; `key` names what `make` returns.
            return snapshot.answers[key]  # type: ignore[no-any-return]
        except KeyError:
            answer = snapshot.answers[key] = make()
            return answer

    def find(self, slug: str) -> CampaignView:
        """Like find_public_campaign(), from the shared copy."""
        wanted = slug.strip().lower()
        views = self.views()
        for view in views:
            if view.slug == wanted:
                return view
        raise CampaignNotFound(slug, [v.slug for v in views])


_shared: weakref.WeakKeyDictionary[Database, PublicCampaigns] = weakref.WeakKeyDictionary()
_shared_lock = threading.Lock()


def public_snapshot(db: Database) -> PublicCampaigns:
    """The one PublicCampaigns of this database in this process."""
    with _shared_lock:
        found = _shared.get(db)
        if found is None:
            # By a weak reference: a strong one would keep the database (and its
            # connections) alive for as long as the process.
            found = _shared[db] = PublicCampaigns(weakref.proxy(db))
        return found


def all_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, drafts included, for operators and organizers."""
    return list(session.scalars(select(Campaign).order_by(Campaign.created_at, Campaign.id)).all())


def campaign_summary(campaign: Campaign, now: dt.datetime | None = None) -> dict[str, Any]:
    """The operator's view (`campaign list --json`): exact counts, no signer data."""
    now = now or dt.datetime.now(dt.UTC)
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "status": campaign.status.value,
        "open": is_open(campaign, now),
        "signatures": campaign.signature_count,
        "channel": campaign.channel_id,
        "channels": sorted(c.channel_id for c in campaign.extra_channels),
        "closes_at": campaign.closes_at.isoformat() if campaign.closes_at else None,
    }


def displayed_count(count: int) -> str:
    """The count as workers see it: exact from SMALL_COUNT on."""
    return f"fewer than {SMALL_COUNT}" if count < SMALL_COUNT else f"{count:,}"
