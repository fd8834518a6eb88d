"""What organizers do: create and edit campaigns, open and close them, forget the
signers. The CLI and the Slack admin view both call these functions.

Every change leaves an audit entry naming the organizer and the change, never a
signer.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, selectinload

from petition import retractions
from petition.announcements import queue_final_count
from petition.campaign_spec import CampaignSpec, check_slug, describe_changes
from petition.campaigns import is_open, note_status, spec_of, upsert_campaign
from petition.errors import CampaignNotFound, DomainError, InvalidCampaign, NotAnOrganizer
from petition.keyring import Keyring
from storage.db import Database, NotScrubbed
from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    AuditEntry,
    Campaign,
    CampaignOrganizer,
    CampaignStatus,
    NewsPost,
    Signature,
    Subscriber,
    Update,
    UpdateDelivery,
)

logger = logging.getLogger(__name__)

CLI_ACTOR = "cli"


class StatusChange(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    REOPEN = "reopen"


class CannotForget(DomainError):
    pass


@dataclass(frozen=True)
class Organizers:
    """Who may organize: the operator's ORGANIZERS, plus those added per campaign."""

    global_ids: frozenset[str]

    def may_create(self, user_id: str) -> bool:
        return user_id == CLI_ACTOR or user_id in self.global_ids

    def may_manage(self, session: Session, user_id: str, campaign: Campaign) -> bool:
        if self.may_create(user_id):
            return True
        return bool(
            session.scalar(
                select(
                    exists().where(
                        CampaignOrganizer.campaign_id == campaign.id,
                        CampaignOrganizer.user_id == user_id,
                    )
                )
            )
        )

    def is_organizer(self, session: Session, user_id: str) -> bool:
        if self.may_create(user_id):
            return True
        return bool(session.scalar(select(exists().where(CampaignOrganizer.user_id == user_id))))

    def manageable(self, session: Session, user_id: str) -> list[Campaign]:
        query = select(Campaign).options(selectinload(Campaign.organizers))
        if not self.may_create(user_id):
            query = query.join(CampaignOrganizer).where(CampaignOrganizer.user_id == user_id)
        return list(session.scalars(query.order_by(Campaign.created_at, Campaign.id)).unique())


def record(session: Session, actor: str, action: str, slug: str | None, detail: str = "") -> None:
    session.add(AuditEntry(actor=actor, campaign_slug=slug, action=action, detail=detail[:500]))


def _campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalars(
        select(Campaign)
        .where(Campaign.slug == slug)
        .options(
            selectinload(Campaign.demands),
            selectinload(Campaign.milestones),
            selectinload(Campaign.organizers),
        )
    ).one_or_none()
    if campaign is None:
        known = list(session.scalars(select(Campaign.slug).order_by(Campaign.slug)))
        raise CampaignNotFound(slug, known)
    return campaign


def managed_campaign(session: Session, organizers: Organizers, actor: str, slug: str) -> Campaign:
    campaign = _campaign(session, slug)
    if not organizers.may_manage(session, actor, campaign):
        raise NotAnOrganizer()
    return campaign


def save_campaign(
    session: Session,
    organizers: Organizers,
    actor: str,
    spec: CampaignSpec,
    *,
    creating: bool,
    now: dt.datetime | None = None,
) -> tuple[Campaign, list[str]]:
    """Create (as a draft, from Slack) or edit a campaign, with an audit entry."""
    existing = session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    if creating:
        if not organizers.may_create(actor):
            raise NotAnOrganizer()
        if existing is not None:
            raise InvalidCampaign(f"a campaign called `{spec.slug}` already exists", "slug")
    elif existing is None:
        raise CampaignNotFound(spec.slug, [])
    elif not organizers.may_manage(session, actor, existing):
        raise NotAnOrganizer()
    campaign, changes = upsert_campaign(session, spec, now)
    if changes:
        action = "create" if creating else "edit"
        record(session, actor, action, spec.slug, describe_changes(changes))
    return campaign, changes


def import_campaign(session: Session, spec: CampaignSpec) -> tuple[Campaign, list[str]]:
    """`campaign import`: the operator's create-or-update from a file."""
    exists_already = session.scalar(select(Campaign.id).where(Campaign.slug == spec.slug))
    campaign, changes = upsert_campaign(session, spec)
    if changes:
        action = "edit" if exists_already else "create"
        record(session, CLI_ACTOR, action, spec.slug, "import: " + describe_changes(changes))
    return campaign, changes


def change_status(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    change: StatusChange,
    now: dt.datetime | None = None,
) -> Campaign:
    now = now or dt.datetime.now(dt.UTC)
    campaign = managed_campaign(session, organizers, actor, slug)
    if campaign.forgotten_at is not None:
        raise InvalidCampaign("this campaign's signers were forgotten; it cannot change")
    before = campaign.status
    if change is StatusChange.CLOSE:
        if before is CampaignStatus.CLOSED:
            return campaign
        campaign.status = CampaignStatus.CLOSED
        note_status(campaign, before, now)
        if before is CampaignStatus.OPEN:
            # The channel hears the final count at the next announcement run, once.
            session.flush()
            queue_final_count(session, campaign.id)
    else:
        if change is StatusChange.OPEN and before is CampaignStatus.CLOSED:
            change = StatusChange.REOPEN
        if is_open(campaign, now):
            return campaign
        campaign.status = CampaignStatus.OPEN
        note_status(campaign, before, now)
        campaign.archived_at = None  # an open campaign is never out of sight
        if campaign.closes_at is not None and campaign.closes_at <= now:
            # Reopening past the closing date: the old date no longer applies.
            campaign.closes_at = None
    record(session, actor, change.value, slug, f"status: {before.value} -> {campaign.status.value}")
    session.flush()
    return campaign


def set_archived(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    archived: bool,
    now: dt.datetime | None = None,
) -> Campaign:
    """Put a closed or forgotten campaign out of the organizer view, or bring it back.

    Only what organizers see changes: workers still find it with `/demands SLUG`,
    its letter and history stay, and nothing about its signers is touched.
    """
    now = now or dt.datetime.now(dt.UTC)
    campaign = managed_campaign(session, organizers, actor, slug)
    if archived == (campaign.archived_at is not None):
        return campaign
    if archived and (campaign.status is CampaignStatus.DRAFT or is_open(campaign, now)):
        raise InvalidCampaign("only a closed or forgotten campaign can be archived")
    campaign.archived_at = now if archived else None
    record(session, actor, "archive" if archived else "unarchive", slug)
    session.flush()
    return campaign


def duplicate_campaign(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    new_slug: str,
    now: dt.datetime | None = None,
) -> Campaign:
    """A new draft that starts from an old campaign: its text, demands, milestones,
    channels, organizers and addressee; no closing date, no signatures."""
    source = managed_campaign(session, organizers, actor, slug)
    if not organizers.may_create(actor):
        raise NotAnOrganizer()
    new_slug = check_slug(new_slug.strip().lower())
    spec = replace(spec_of(source), slug=new_slug, closes_at=None, status=CampaignStatus.DRAFT)
    campaign, _ = save_campaign(session, organizers, actor, spec, creating=True, now=now)
    record(session, actor, "duplicate", slug, f"as {new_slug}")
    return campaign


@dataclass(frozen=True)
class Forgetting:
    """What forget_signers did: how many signatures it unlinked, and the campaign
    key still to destroy (None once it is gone)."""

    unlinked: int
    key_id: str | None


def forget_signers(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    now: dt.datetime | None = None,
    keyring: Keyring | None = None,
) -> Forgetting:
    """The database's part of forgetting: the campaign's signer rows go (its count
    stays), and it is marked forgotten. What makes it for good is destroying the
    campaign's key, which only the caller can do once this has committed
    (forget_campaign): without the key, no copy of these rows (the WAL, dead
    row versions, backups) can be linked to anyone, by anyone."""
    now = now or dt.datetime.now(dt.UTC)
    campaign = managed_campaign(session, organizers, actor, slug)
    if campaign.forgotten_at is not None:
        return Forgetting(0, campaign.key_id)  # again: finish what is left
    if is_open(campaign, now):
        raise CannotForget(
            "close the campaign and deliver the letter before forgetting its signers"
        )
    unlinked = campaign.signature_count
    if keyring is not None:
        # Their news DMs go from Slack too, while the key can still say where.
        retractions.queue(session, keyring, campaign.id, campaign.key_id)
    session.execute(delete(NewsPost).where(NewsPost.campaign_id == campaign.id))
    updates = select(Update.id).where(Update.campaign_id == campaign.id)
    session.execute(
        delete(UpdateDelivery)
        .where(UpdateDelivery.update_id.in_(updates))
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Subscriber).where(Subscriber.campaign_id == campaign.id))
    session.execute(delete(Signature).where(Signature.campaign_id == campaign.id))
    before = campaign.status
    campaign.status = CampaignStatus.CLOSED
    note_status(campaign, before, now)
    campaign.forgotten_at = now
    record(session, actor, "forget", slug, f"unlinked {unlinked} signatures")
    session.flush()
    return Forgetting(unlinked, campaign.key_id)


class NotForgotten(DomainError):
    """Forgetting did not finish; running it again finishes it."""


def forget_campaign(
    db: Database,
    keyring: Keyring,
    organizers: Organizers,
    actor: str,
    slug: str,
    now: dt.datetime | None = None,
    scrub_timeout: float | None = None,
) -> int:
    """Forget a campaign's signers for good, or raise NotForgotten saying why not.

    The rows go, then the campaign's key is destroyed and the database stops
    naming it, then (SQLite) the WAL is emptied. Each step can be run again: a
    campaign whose key still exists is not forgotten, whatever the database says.
    """
    with db.write() as session:
        forgetting = forget_signers(session, organizers, actor, slug, now, keyring)
    key_id = forgetting.key_id
    if key_id is not None:
        try:
            keyring.destroy(key_id)
        except OSError as error:
            raise NotForgotten(
                f"the campaign's key could not be deleted from the key store "
                f"({type(error).__name__}): its signers can still be linked. Fix the key "
                "store's permissions, then forget again"
            ) from None
        if keyring.store.exists(key_id):
            raise NotForgotten("the campaign's key is still in the key store: forget again")
        with db.write() as session:
            session.execute(
                update(Campaign)
                .where(Campaign.slug == slug, Campaign.key_id == key_id)
                .values(key_id=None)
            )
    try:
        if scrub_timeout is None:
            db.scrub_until_done()
        else:
            db.scrub_until_done(scrub_timeout)
    except NotScrubbed as busy:
        raise NotForgotten(str(busy)) from None
    return forgetting.unlinked


def forget_due(session: Session, now: dt.datetime | None = None) -> list[str]:
    """Campaigns whose `forget_after_days` have passed since closing."""
    now = now or dt.datetime.now(dt.UTC)
    due = []
    candidates = session.scalars(
        select(Campaign).where(
            Campaign.forget_after_days.is_not(None), Campaign.forgotten_at.is_(None)
        )
    ).all()
    for campaign in candidates:
        closed_at = _closed_at(session, campaign, now)
        if closed_at is None or is_open(campaign, now):
            continue
        if now >= closed_at + dt.timedelta(days=campaign.forget_after_days or 0):
            due.append(campaign.slug)
    return due


def _closed_at(session: Session, campaign: Campaign, now: dt.datetime) -> dt.datetime | None:
    """When the campaign closed: the last close by an organizer, else its closing date."""
    closed_by_hand = session.scalar(
        select(AuditEntry.at)
        .where(AuditEntry.campaign_slug == campaign.slug, AuditEntry.action == "close")
        .order_by(AuditEntry.at.desc())
        .limit(1)
    )
    if closed_by_hand is not None:
        return closed_by_hand
    if campaign.closes_at is not None and campaign.closes_at <= now:
        return campaign.closes_at
    return None


def audit_trail(session: Session, slug: str, limit: int = 20) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.campaign_slug == slug)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
    )


def milestone_history(session: Session, campaign: Campaign) -> list[tuple[dt.datetime, str]]:
    """What the channel heard, and what it will hear at the next run."""
    rows = session.scalars(
        select(Announcement)
        .where(Announcement.campaign_id == campaign.id)
        .order_by(Announcement.threshold)
    ).all()
    # With several channels, say which channel each line is about.
    several = bool(campaign.extra_channels)

    def where(row: Announcement) -> str:
        return f" in <#{row.channel_id}>" if several else ""

    history: list[tuple[dt.datetime, str]] = []
    for row in rows:
        what = "final count" if row.kind is AnnouncementKind.FINAL else f"{row.threshold:,}"
        if row.state is AnnouncementState.POSTED and row.posted_at:
            history.append((row.posted_at, f"{what} announced in <#{row.channel_id}>"))
        elif row.state is AnnouncementState.SUPERSEDED:
            history.append(
                (
                    row.posted_at or row.claimed_at or _epoch(),
                    f"{what} passed, announced together with a higher milestone or not at all"
                    + where(row),
                )
            )
        else:
            problem = f" (last error: {row.last_error})" if row.last_error else ""
            history.append(
                (row.claimed_at or _epoch(), f"{what} due at the next run{where(row)}{problem}")
            )
    return history


def _epoch() -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
