"""Campaigns: import from TOML, look up, list, and how they look to a worker."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
import tomllib
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from bot.announcements import channels_changed
from bot.errors import CampaignNotFound, DemandsLocked, InvalidCampaign
from storage.models import (
    DEMAND_MAX,
    SLUG_MAX,
    STATEMENT_MAX,
    TITLE_MAX,
    Campaign,
    CampaignChannel,
    CampaignOrganizer,
    CampaignStatus,
    Demand,
    Milestone,
)

if TYPE_CHECKING:
    from storage.db import Database

# Below this many signatures the count is shown as "fewer than 5": an exact small
# number lets a watcher tie a change to the one colleague who just signed.
SMALL_COUNT = 5
MAX_DEMANDS = 20  # keeps the /demands answer inside Slack's 50-block limit
MAX_MILESTONES = 20
# Announcement channels beside `channel`: enough for one in each workspace of a
# large Grid, few enough that a run posts them all in reasonable time.
MAX_CHANNELS = 100

SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{1,{SLUG_MAX - 1}}}$")
CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_FORGET_DAYS = 3650
CAMPAIGN_FIELDS = frozenset(
    {
        "slug",
        "title",
        "statement",
        "demands",
        "milestones",
        "channel",
        "channels",
        "closes",
        "status",
        "organizers",
        "forget_after_days",
    }
)


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign definition, as read from a campaign file."""

    slug: str
    title: str
    statement: str
    demands: tuple[str, ...]
    milestones: tuple[int, ...]
    channel_id: str | None
    closes_at: dt.datetime | None
    status: CampaignStatus
    organizers: tuple[str, ...] = ()
    forget_after_days: int | None = None
    # More announcement channels beside channel_id, sorted, without it.
    channels: tuple[str, ...] = ()


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
    # For looking a signer up, never shown: the row, and its key in the key store.
    campaign_id: int = 0
    key_id: str | None = None


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidCampaign(f"`{key}` is missing", key)
        return None
    if not isinstance(value, str):
        raise InvalidCampaign(f"`{key}` must be text", key)
    value = value.strip()
    if required and not value:
        raise InvalidCampaign(f"`{key}` is empty", key)
    if len(value) > limit:
        raise InvalidCampaign(f"`{key}` is {len(value)} characters long; the limit is {limit}", key)
    return value


def _closes_at(value: object, tz: ZoneInfo) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=tz)
        return aware.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        # A date closes the campaign as that day begins, in the campaign's time zone.
        return dt.datetime.combine(value, dt.time(0, 0), tzinfo=tz).astimezone(dt.UTC)
    raise InvalidCampaign(
        "`closes` must be a date such as 2027-03-01, or a date and time", "closes"
    )


def _demands(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidCampaign("`demands` must be a list with at least one demand", "demands")
    if len(raw) > MAX_DEMANDS:
        raise InvalidCampaign(
            f"`demands` has {len(raw)} entries; the limit is {MAX_DEMANDS}", "demands"
        )
    demands = []
    for number, demand in enumerate(raw, start=1):
        if not isinstance(demand, str) or not demand.strip():
            raise InvalidCampaign(f"demand {number} must be non-empty text", "demands")
        if len(demand.strip()) > DEMAND_MAX:
            raise InvalidCampaign(
                f"demand {number} is longer than {DEMAND_MAX} characters", "demands"
            )
        demands.append(demand.strip())
    return tuple(demands)


def _milestones(raw: object) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in raw
    ):
        raise InvalidCampaign("`milestones` must be a list of whole numbers", "milestones")
    if len(raw) > MAX_MILESTONES:
        raise InvalidCampaign(f"`milestones` has more than {MAX_MILESTONES} entries", "milestones")
    if any(m <= 0 for m in raw):
        raise InvalidCampaign("milestones must be positive numbers", "milestones")
    if any(m < SMALL_COUNT for m in raw):
        raise InvalidCampaign(
            f"milestones below {SMALL_COUNT} would expose the first signers; "
            f"use {SMALL_COUNT} or more",
            "milestones",
        )
    if len(set(raw)) != len(raw):
        raise InvalidCampaign("`milestones` repeats a number", "milestones")
    if list(raw) != sorted(raw):
        raise InvalidCampaign(
            "`milestones` must be in increasing order, such as [100, 250, 400]", "milestones"
        )
    return tuple(raw)


def _organizers(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(u, str) and USER_RE.match(u) for u in raw):
        raise InvalidCampaign(
            "`organizers` must be a list of Slack user ids such as U0123ABCD", "organizers"
        )
    return tuple(sorted(set(raw)))


def _channels(raw: object, channel: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(c, str) and CHANNEL_RE.match(c) for c in raw
    ):
        raise InvalidCampaign(
            "`channels` must be a list of Slack channel ids such as C0123456789", "channels"
        )
    others = tuple(sorted(set(raw) - {channel}))
    if others and channel is None:
        raise InvalidCampaign(
            "`channels` are announcement channels beside `channel`: set `channel` too", "channels"
        )
    if len(others) > MAX_CHANNELS:
        raise InvalidCampaign(f"`channels` has more than {MAX_CHANNELS} entries", "channels")
    return others


def _forget_after(raw: object) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_FORGET_DAYS:
        raise InvalidCampaign(
            f"`forget_after_days` must be a number of days from 0 to {MAX_FORGET_DAYS}",
            "forget_after_days",
        )
    return raw


def parse_campaign(data: dict[str, Any], tz: ZoneInfo) -> CampaignSpec:
    """Validate a campaign definition; InvalidCampaign names the first bad field."""
    unknown = sorted(set(data) - CAMPAIGN_FIELDS)
    if unknown:
        raise InvalidCampaign(
            f"unknown field `{unknown[0]}` (known: {', '.join(sorted(CAMPAIGN_FIELDS))})"
        )
    slug = _text(data, "slug", SLUG_MAX)
    assert slug is not None
    if not SLUG_RE.match(slug):
        raise InvalidCampaign(
            "`slug` must be 2 to 40 lowercase letters, digits or dashes, starting with a "
            "letter or digit",
            "slug",
        )
    title = _text(data, "title", TITLE_MAX)
    statement = _text(data, "statement", STATEMENT_MAX)
    channel = data.get("channel")
    if channel is not None and (not isinstance(channel, str) or not CHANNEL_RE.match(channel)):
        raise InvalidCampaign("`channel` must be a Slack channel id such as C0123456789", "channel")
    raw_status = data.get("status", CampaignStatus.OPEN.value)
    try:
        status = CampaignStatus(raw_status)
    except ValueError:
        raise InvalidCampaign("`status` must be draft, open or closed", "status") from None
    return CampaignSpec(
        slug=slug,
        title=title or "",
        statement=statement or "",
        demands=_demands(data.get("demands")),
        milestones=_milestones(data.get("milestones", [])),
        channel_id=channel,
        closes_at=_closes_at(data.get("closes"), tz),
        status=status,
        organizers=_organizers(data.get("organizers")),
        forget_after_days=_forget_after(data.get("forget_after_days")),
        channels=_channels(data.get("channels"), channel),
    )


def read_campaign_file(path: Path, tz: ZoneInfo) -> CampaignSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidCampaign(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidCampaign(f"{path}: not valid TOML ({exc})") from None
    return parse_campaign(data, tz)


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
        # they never saw. Start a new campaign instead (README: "Editing a campaign").
        field = "demands" if demands_change else "statement"
        raise DemandsLocked(
            "People have signed this campaign, so its statement and demands can no longer "
            "change. Fix typos before anyone signs, or start a new campaign.",
            field,
        )
    if spec.closes_at != campaign.closes_at and spec.closes_at and spec.closes_at <= now:
        raise InvalidCampaign("`closes` is in the past; give a future date", "closes")
    for attr, value in (
        ("title", spec.title),
        ("statement", spec.statement),
        ("channel_id", spec.channel_id),
        ("closes_at", spec.closes_at),
        ("status", spec.status),
        ("forget_after_days", spec.forget_after_days),
    ):
        if getattr(campaign, attr) != value:
            setattr(campaign, attr, value)
            changes.append(attr)
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
        wanted = set(spec.channels)
        for extra in list(campaign.extra_channels):
            if extra.channel_id not in wanted:
                campaign.extra_channels.remove(extra)
        session.flush()
        have = {c.channel_id for c in campaign.extra_channels}
        campaign.extra_channels.extend(
            CampaignChannel(channel_id=c) for c in spec.channels if c not in have
        )
        changes.append("channels")
    session.flush()
    if channels_before is not None and {"channel_id", "channels"} & set(changes):
        # A channel added hears the next milestone, not the ones it missed.
        channels_changed(session, campaign.id, *channels_before)
    if "created" in changes:
        changes = ["created"]
    return campaign, changes


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
        # What Slack may show: the hourly snapshot (bot/counts.py), not the live count.
        signatures=campaign.public_count,
        is_open=is_open(campaign, now),
        status=campaign.status,
        closes_at=campaign.closes_at,
        delivered_on=campaign.delivered_on,
        employer_answer=campaign.employer_answer,
        campaign_id=campaign.id,
        key_id=campaign.key_id,
    )


# Built once: /demands, status and the signing form run these on every request,
# and building a statement and its cache key each time is wasted work.
PUBLIC_CAMPAIGNS = (
    select(Campaign)
    .where(Campaign.status != CampaignStatus.DRAFT)
    .options(selectinload(Campaign.demands))
    .order_by(Campaign.created_at, Campaign.id)
)
_PUBLIC_BY_SLUG = (
    select(Campaign)
    .where(Campaign.slug == bindparam("slug"), Campaign.status != CampaignStatus.DRAFT)
    .options(selectinload(Campaign.demands))
)


def public_campaigns(session: Session, now: dt.datetime | None = None) -> list[CampaignView]:
    """Every campaign a worker may read (drafts are for organizers only)."""
    now = now or dt.datetime.now(dt.UTC)
    campaigns = session.scalars(PUBLIC_CAMPAIGNS).all()
    return [campaign_view(c, now) for c in campaigns]


# Core, on the table's columns: cheaper to run than an ORM-enabled select.
_TITLE_BY_SLUG = select(Campaign.__table__.c.title).where(
    Campaign.__table__.c.slug == bindparam("slug"),
    Campaign.__table__.c.status != CampaignStatus.DRAFT,
)


def public_title(session: Session, slug: str) -> str:
    """A public campaign's title: all a confirmation needs, without its demands."""
    title = session.execute(_TITLE_BY_SLUG, {"slug": slug.strip().lower()}).scalar()
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

    def _fresh(self, snapshot: _Snapshot | None, generation: int) -> bool:
        return (
            snapshot is not None
            and snapshot.generation == generation
            and self._clock() - snapshot.taken_at < self._max_age
        )

    def views(self) -> tuple[CampaignView, ...]:
        """Like public_campaigns(), at most SNAPSHOT_SECONDS old."""
        snapshot = self._snapshot
        if self._fresh(snapshot, self._db.generation):
            return snapshot.views  # type: ignore[union-attr]
        with self._refreshing:  # one thread reads; the others wait and share it
            # The generation is taken before reading, so a commit that lands
            # while reading makes this snapshot stale at once.
            generation, taken_at = self._db.generation, self._clock()
            snapshot = self._snapshot
            if self._fresh(snapshot, generation):
                return snapshot.views  # type: ignore[union-attr]
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
