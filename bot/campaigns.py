"""Campaigns: import from TOML, look up, list, and how they look to a worker."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.errors import CampaignNotFound, InvalidCampaign
from storage.models import (
    DEMAND_MAX,
    SLUG_MAX,
    STATEMENT_MAX,
    TITLE_MAX,
    Campaign,
    CampaignStatus,
    Demand,
    Milestone,
)

# Below this many signatures the count is shown as "fewer than 5": an exact small
# number lets a watcher tie a change to the one colleague who just signed.
SMALL_COUNT = 5
MAX_DEMANDS = 20  # keeps the /demands answer inside Slack's 50-block limit
MAX_MILESTONES = 20

SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{1,{SLUG_MAX - 1}}}$")
CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")


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


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidCampaign(f"`{key}` is missing")
        return None
    if not isinstance(value, str):
        raise InvalidCampaign(f"`{key}` must be text")
    value = value.strip()
    if required and not value:
        raise InvalidCampaign(f"`{key}` is empty")
    if len(value) > limit:
        raise InvalidCampaign(f"`{key}` is {len(value)} characters long; the limit is {limit}")
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
    raise InvalidCampaign("`closes` must be a date such as 2027-03-01, or a date and time")


def parse_campaign(data: dict[str, Any], tz: ZoneInfo) -> CampaignSpec:
    """Validate a campaign definition; InvalidCampaign names the first bad field."""
    slug = _text(data, "slug", SLUG_MAX)
    assert slug is not None
    if not SLUG_RE.match(slug):
        raise InvalidCampaign(
            "`slug` must be 2 to 40 lowercase letters, digits or dashes, starting with a "
            "letter or digit"
        )
    title = _text(data, "title", TITLE_MAX)
    statement = _text(data, "statement", STATEMENT_MAX)
    raw_demands = data.get("demands")
    if not isinstance(raw_demands, list) or not raw_demands:
        raise InvalidCampaign("`demands` must be a list with at least one demand")
    if len(raw_demands) > MAX_DEMANDS:
        raise InvalidCampaign(
            f"`demands` has {len(raw_demands)} entries; the limit is {MAX_DEMANDS}"
        )
    demands = []
    for number, demand in enumerate(raw_demands, start=1):
        if not isinstance(demand, str) or not demand.strip():
            raise InvalidCampaign(f"demand {number} must be non-empty text")
        if len(demand.strip()) > DEMAND_MAX:
            raise InvalidCampaign(f"demand {number} is longer than {DEMAND_MAX} characters")
        demands.append(demand.strip())
    raw_milestones = data.get("milestones", [])
    if not isinstance(raw_milestones, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in raw_milestones
    ):
        raise InvalidCampaign("`milestones` must be a list of whole numbers")
    if len(raw_milestones) > MAX_MILESTONES:
        raise InvalidCampaign(f"`milestones` has more than {MAX_MILESTONES} entries")
    if any(m < SMALL_COUNT for m in raw_milestones):
        raise InvalidCampaign(
            f"milestones below {SMALL_COUNT} would expose the first signers; "
            f"use {SMALL_COUNT} or more"
        )
    if len(set(raw_milestones)) != len(raw_milestones):
        raise InvalidCampaign("`milestones` repeats a number")
    channel = data.get("channel")
    if channel is not None and (not isinstance(channel, str) or not CHANNEL_RE.match(channel)):
        raise InvalidCampaign("`channel` must be a Slack channel id such as C0123456789")
    raw_status = data.get("status", CampaignStatus.OPEN.value)
    try:
        status = CampaignStatus(raw_status)
    except ValueError:
        raise InvalidCampaign("`status` must be draft, open or closed") from None
    known = {"slug", "title", "statement", "demands", "milestones", "channel", "closes", "status"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidCampaign(f"unknown field `{unknown[0]}` (known: {', '.join(sorted(known))})")
    return CampaignSpec(
        slug=slug,
        title=title or "",
        statement=statement or "",
        demands=tuple(demands),
        milestones=tuple(sorted(raw_milestones)),
        channel_id=channel,
        closes_at=_closes_at(data.get("closes"), tz),
        status=status,
    )


def read_campaign_file(path: Path, tz: ZoneInfo) -> CampaignSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidCampaign(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidCampaign(f"{path}: not valid TOML ({exc})") from None
    return parse_campaign(data, tz)


def upsert_campaign(session: Session, spec: CampaignSpec) -> tuple[Campaign, bool]:
    """Create or update a campaign from a spec. Returns (campaign, changed).

    Idempotent: applying the same spec twice changes nothing the second time.
    """
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.slug == spec.slug)
        .options(selectinload(Campaign.demands), selectinload(Campaign.milestones))
    ).one_or_none()
    changed = False
    if campaign is None:
        campaign = Campaign(slug=spec.slug, signature_count=0)
        session.add(campaign)
        changed = True
    for attr, value in (
        ("title", spec.title),
        ("statement", spec.statement),
        ("channel_id", spec.channel_id),
        ("closes_at", spec.closes_at),
        ("status", spec.status),
    ):
        if getattr(campaign, attr) != value:
            setattr(campaign, attr, value)
            changed = True
    if tuple(d.text for d in campaign.demands) != spec.demands:
        campaign.demands.clear()
        session.flush()  # free the (campaign, position) slots before reusing them
        campaign.demands.extend(
            Demand(position=i, text=text) for i, text in enumerate(spec.demands, start=1)
        )
        changed = True
    if tuple(m.threshold for m in campaign.milestones) != spec.milestones:
        wanted = set(spec.milestones)
        for milestone in list(campaign.milestones):
            if milestone.threshold not in wanted:
                campaign.milestones.remove(milestone)
        have = {m.threshold for m in campaign.milestones}
        campaign.milestones.extend(Milestone(threshold=t) for t in spec.milestones if t not in have)
        changed = True
    session.flush()
    return campaign, changed


def is_open(campaign: Campaign, now: dt.datetime | None = None) -> bool:
    now = now or dt.datetime.now(dt.UTC)
    if campaign.status is not CampaignStatus.OPEN:
        return False
    return campaign.closes_at is None or now < campaign.closes_at


def campaign_view(campaign: Campaign, now: dt.datetime) -> CampaignView:
    return CampaignView(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        signatures=campaign.signature_count,
        is_open=is_open(campaign, now),
        status=campaign.status,
        closes_at=campaign.closes_at,
    )


def public_campaigns(session: Session, now: dt.datetime | None = None) -> list[CampaignView]:
    """Every campaign a worker may read (drafts are for organizers only)."""
    now = now or dt.datetime.now(dt.UTC)
    campaigns = session.scalars(
        select(Campaign)
        .where(Campaign.status != CampaignStatus.DRAFT)
        .options(selectinload(Campaign.demands))
        .order_by(Campaign.created_at, Campaign.id)
    ).all()
    return [campaign_view(c, now) for c in campaigns]


def find_public_campaign(
    session: Session, slug: str, now: dt.datetime | None = None
) -> CampaignView:
    now = now or dt.datetime.now(dt.UTC)
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.slug == slug.strip().lower(), Campaign.status != CampaignStatus.DRAFT)
        .options(selectinload(Campaign.demands))
    ).one_or_none()
    if campaign is None:
        known = [v.slug for v in public_campaigns(session, now)]
        raise CampaignNotFound(slug, known)
    return campaign_view(campaign, now)


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
        "closes_at": campaign.closes_at.isoformat() if campaign.closes_at else None,
    }


def displayed_count(count: int) -> str:
    """The count as workers see it: exact from SMALL_COUNT on."""
    return f"fewer than {SMALL_COUNT}" if count < SMALL_COUNT else f"{count:,}"
