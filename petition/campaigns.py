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
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from petition.announcements import channels_changed
from petition.errors import CampaignNotFound, DemandsLocked, InvalidCampaign
from petition.lengths import ADDRESSEE_MAX, DEMAND_MAX, SLUG_MAX, STATEMENT_MAX, TITLE_MAX
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
# More signatures than any workspace has members; past this a number is a typo (and
# past 2**63 one that the database cannot store).
MAX_MILESTONE = 1_000_000
MAX_CLOSES_AHEAD = dt.timedelta(days=100 * 365)
EARLIEST_DATE = dt.date(2000, 1, 1)
# A campaign file at its largest is about 110 kB (STATEMENT_MAX, 20 demands of
# DEMAND_MAX, every character escaped in TOML); anything much larger is not one.
MAX_FILE_BYTES = 1024 * 1024
CAMPAIGN_FIELDS = frozenset(
    {
        "addressee",
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
    addressee: str | None = None


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


# What each field is called where a person reads it (forms, the organizer view's
# history, error messages): never the name of a column.
FIELD_LABELS = {
    "slug": "short name",
    "title": "title",
    "statement": "statement",
    "demands": "demands",
    "milestones": "milestones",
    "channel": "announcement channel",
    "channel_id": "announcement channel",
    "channels": "more announcement channels",
    "closes": "closing date",
    "closes_at": "closing date",
    "status": "status",
    "organizers": "organizers",
    "forget_after_days": "days before forgetting",
    "addressee": "addressee",
}


def describe_changes(changes: list[str]) -> str:
    """What changed, in words: `closing date, milestones`."""
    return ", ".join(FIELD_LABELS.get(c, c) for c in changes)


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    label = FIELD_LABELS.get(key, key).capitalize()
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidCampaign(f"{label} is missing.", key)
        return None
    if not isinstance(value, str):
        raise InvalidCampaign(f"{label} must be text.", key)
    value = value.strip()
    if required and not value:
        raise InvalidCampaign(f"{label} is empty.", key)
    if len(value) > limit:
        raise InvalidCampaign(
            f"{label} is {len(value):,} characters long; the most is {limit:,}.", key
        )
    return value


def last_day_of(closes_at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The last day one can sign, in `tz`: the day of the last moment before closing."""
    return (closes_at - dt.timedelta(microseconds=1)).astimezone(tz).date()


def closing_moment(last_day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """A closing date is the last day to sign: signing closes as it ends (the
    midnight that follows, in `tz`). So a campaign can close today."""
    following = last_day + dt.timedelta(days=1)
    return dt.datetime.combine(following, dt.time(0, 0), tzinfo=tz).astimezone(dt.UTC)


def _closes_at(value: object, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.time) or not isinstance(value, dt.date):
        raise InvalidCampaign(
            "The closing date must be a date such as 2027-03-01 (the last day to sign), "
            "or a date and time.",
            "closes",
        )
    day = value.date() if isinstance(value, dt.datetime) else value
    # Bounded before any arithmetic: a date near year 1 or 9999 overflows a
    # conversion between time zones.
    if day > (now + MAX_CLOSES_AHEAD).date():
        raise InvalidCampaign(
            f"The closing date is more than {MAX_CLOSES_AHEAD.days // 365} years away; give "
            "a nearer date.",
            "closes",
        )
    if day < EARLIEST_DATE:
        raise InvalidCampaign("The closing date is in the past; give a future date.", "closes")
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=tz)
        return aware.astimezone(dt.UTC)
    return closing_moment(value, tz)


def _demands(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidCampaign("Give at least one demand.", "demands")
    if len(raw) > MAX_DEMANDS:
        raise InvalidCampaign(
            f"There are {len(raw)} demands; the most is {MAX_DEMANDS}.", "demands"
        )
    demands = []
    problems: list[tuple[str | None, str]] = []
    for number, demand in enumerate(raw, start=1):
        if not isinstance(demand, str) or not demand.strip():
            problems.append(("demands", f"Demand {number} is empty."))
        elif len(demand.strip()) > DEMAND_MAX:
            problems.append(
                (
                    "demands",
                    f"Demand {number} is {len(demand.strip()):,} characters long; the most "
                    f"is {DEMAND_MAX:,}.",
                )
            )
        else:
            demands.append(demand.strip())
    if problems:
        raise InvalidCampaign.of(problems)
    return tuple(demands)


def _milestones(raw: object) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in raw
    ):
        raise InvalidCampaign(
            "Milestones must be whole numbers, such as 100, 250, 400.", "milestones"
        )
    if len(raw) > MAX_MILESTONES:
        raise InvalidCampaign(
            f"There are {len(raw)} milestones; the most is {MAX_MILESTONES}.", "milestones"
        )
    if any(m < SMALL_COUNT for m in raw):
        raise InvalidCampaign(
            f"Milestones below {SMALL_COUNT} would expose the first signers; use "
            f"{SMALL_COUNT} or more.",
            "milestones",
        )
    if any(m > MAX_MILESTONE for m in raw):
        raise InvalidCampaign(
            f"Milestones can be at most {MAX_MILESTONE:,} signatures.", "milestones"
        )
    if len(set(raw)) != len(raw):
        raise InvalidCampaign("A milestone is repeated.", "milestones")
    if list(raw) != sorted(raw):
        raise InvalidCampaign(
            "Milestones must be in increasing order, such as 100, 250, 400.", "milestones"
        )
    return tuple(raw)


def _organizers(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(u, str) and USER_RE.fullmatch(u) for u in raw
    ):
        raise InvalidCampaign("Organizers must be Slack user IDs such as U0123ABCD.", "organizers")
    return tuple(sorted(set(raw)))


def _channel(raw: object) -> str | None:
    if raw is not None and (not isinstance(raw, str) or not CHANNEL_RE.fullmatch(raw)):
        raise InvalidCampaign(
            "The announcement channel must be a Slack channel ID such as C0123456789.",
            "channel",
        )
    return raw


def _channels(raw: object, channel: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(c, str) and CHANNEL_RE.fullmatch(c) for c in raw
    ):
        raise InvalidCampaign(
            "More announcement channels must be Slack channel IDs such as C0123456789.",
            "channels",
        )
    others = tuple(sorted(set(raw) - {channel}))
    if others and channel is None:
        raise InvalidCampaign(
            "More announcement channels go beside the announcement channel: choose that one too.",
            "channels",
        )
    if len(others) > MAX_CHANNELS:
        raise InvalidCampaign(
            f"There are {len(others)} more announcement channels; the most is {MAX_CHANNELS}.",
            "channels",
        )
    return others


def _forget_after(raw: object) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_FORGET_DAYS:
        raise InvalidCampaign(
            f"Days before forgetting must be a whole number from 0 to {MAX_FORGET_DAYS:,}.",
            "forget_after_days",
        )
    return raw


def _slug(data: dict[str, Any]) -> str:
    slug = _text(data, "slug", SLUG_MAX)
    assert slug is not None
    return check_slug(slug)


def check_slug(slug: str) -> str:
    """`slug` if it is a valid short name, else InvalidCampaign saying why."""
    if not SLUG_RE.fullmatch(slug):
        raise InvalidCampaign(
            "The short name must be 2 to 40 lowercase letters, digits or dashes, starting "
            "with a letter or digit.",
            "slug",
        )
    return slug


def _status(raw: object) -> CampaignStatus:
    try:
        return CampaignStatus(str(raw))
    except ValueError:
        raise InvalidCampaign("The status must be draft, open or closed.", "status") from None


class _Problems:
    """Runs each field's check, keeping every problem instead of stopping at the
    first: a form shows them all at once, a file's are fixed in one go."""

    def __init__(self) -> None:
        self.found: list[tuple[str | None, str]] = []

    def check(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return parse(*args, **kwargs)
        except InvalidCampaign as problem:
            self.found.extend(problem.problems)
            return None


def parse_campaign(
    data: dict[str, Any], tz: ZoneInfo, now: dt.datetime | None = None
) -> CampaignSpec:
    """Validate a campaign definition; InvalidCampaign lists every bad field."""
    now = now or dt.datetime.now(dt.UTC)
    problems = _Problems()
    unknown = sorted(set(data) - CAMPAIGN_FIELDS)
    if unknown:
        problems.found.append(
            (None, f"Unknown field `{unknown[0]}` (known: {', '.join(sorted(CAMPAIGN_FIELDS))}).")
        )
    slug = problems.check(_slug, data)
    title = problems.check(_text, data, "title", TITLE_MAX)
    statement = problems.check(_text, data, "statement", STATEMENT_MAX)
    demands = problems.check(_demands, data.get("demands"))
    milestones = problems.check(_milestones, data.get("milestones", []))
    channel = problems.check(_channel, data.get("channel"))
    channels = problems.check(_channels, data.get("channels"), data.get("channel"))
    closes_at = problems.check(_closes_at, data.get("closes"), tz, now)
    status = problems.check(_status, data.get("status", CampaignStatus.OPEN.value))
    organizers = problems.check(_organizers, data.get("organizers"))
    forget = problems.check(_forget_after, data.get("forget_after_days"))
    addressee = problems.check(_text, data, "addressee", ADDRESSEE_MAX, required=False)
    if problems.found:
        raise InvalidCampaign.of(problems.found)
    assert slug is not None
    assert demands is not None
    assert milestones is not None
    assert status is not None
    return CampaignSpec(
        slug=slug,
        title=title or "",
        statement=statement or "",
        demands=demands,
        milestones=milestones,
        channel_id=channel,
        closes_at=closes_at,
        status=status,
        organizers=organizers or (),
        forget_after_days=forget,
        channels=channels or (),
        addressee=addressee or None,
    )


def read_campaign_file(path: Path, tz: ZoneInfo) -> CampaignSpec:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidCampaign(
                f"{path}: larger than any campaign ({MAX_FILE_BYTES // 1024} kB at most)"
            )
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidCampaign(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidCampaign(f"{path}: a directory; give a campaign file (.toml)") from None
    except PermissionError:
        raise InvalidCampaign(f"{path}: not readable (permission denied)") from None
    except OSError as exc:
        raise InvalidCampaign(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InvalidCampaign(f"{path}: not text (UTF-8); give a campaign file (.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidCampaign(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise InvalidCampaign(f"{path}: nested too deeply to be a campaign file") from None
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
