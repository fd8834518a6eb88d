"""What an organizer does, one call each: list and read the campaigns they manage,
create and edit them, open, close, archive, preview, post a card, send news, export
the letter, forget the signers. Each call checks that the person may
(NotAnOrganizer otherwise), opens its own transaction and returns plain results:
nothing returned is tied to a database session.

Built once per process (bot/app.py) with the process's Database, Keyring and the
operator's ORGANIZERS."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from petition import cards, organizing, updates
from petition.campaign_spec import CampaignSpec
from petition.campaigns import CampaignView, campaign_view, is_open, spec_of
from petition.errors import CampaignIsDraft, CampaignNotFound, NoSignerKey, NotAnOrganizer
from petition.keyring import Keyring
from petition.letter import Letter, build_letter
from petition.organizing import Organizers, StatusChange
from storage.db import Database
from storage.models import Campaign, CampaignStatus, UpdateKind


@dataclass(frozen=True)
class CampaignRow:
    """One campaign as organizers see it: exact figures, still nothing on signers."""

    slug: str
    title: str
    status: str
    is_open: bool
    count: int
    channel_id: str | None
    closes_at: dt.datetime | None
    forgotten: bool
    more_channels: int = 0  # announcement channels beside channel_id
    archived: bool = False

    @property
    def may_archive(self) -> bool:
        """Closed (by hand or by its date) or forgotten: done with, out of the way."""
        return not self.archived and self.status != "draft" and not self.is_open


def campaign_row(campaign: Campaign, now: dt.datetime) -> CampaignRow:
    return CampaignRow(
        slug=campaign.slug,
        title=campaign.title,
        status=campaign.status.value,
        is_open=is_open(campaign, now),
        count=campaign.public_count,  # the hourly snapshot, as everyone sees it
        channel_id=campaign.channel_id,
        closes_at=campaign.closes_at,
        forgotten=campaign.forgotten_at is not None,
        more_channels=len(campaign.extra_channels),
        archived=campaign.archived_at is not None,
    )


@dataclass(frozen=True)
class Manageable:
    """Every campaign a person manages (archived ones too), oldest first."""

    rows: list[CampaignRow]
    may_create: bool


@dataclass(frozen=True)
class Editing:
    """A campaign as its editor starts from."""

    spec: CampaignSpec
    # People signed: its statement and demands cannot change under them.
    locked: bool


@dataclass(frozen=True)
class AuditLine:
    at: dt.datetime
    actor: str  # an organizer's Slack id, or organizing.CLI_ACTOR
    action: str
    detail: str


@dataclass(frozen=True)
class History:
    row: CampaignRow
    milestones: list[tuple[dt.datetime, str]]
    audit: list[AuditLine]
    news: list[updates.Progress]


@dataclass(frozen=True)
class Audience:
    """Whom news about a campaign would reach."""

    title: str
    subscribers: int


class OrganizerActions:
    def __init__(
        self,
        db: Database,
        keyring: Keyring | None,
        organizers: Organizers,
        timezone: ZoneInfo,
    ) -> None:
        self.db = db
        self._keyring = keyring
        self.organizers = organizers
        # The operator's TIMEZONE: organizers' dates are read in it unless their
        # own Slack profile says otherwise.
        self.timezone = timezone

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise NoSignerKey()
        return self._keyring

    def may_create(self, user_id: str) -> bool:
        return self.organizers.may_create(user_id)

    def require_creator(self, actor: str) -> None:
        """NotAnOrganizer unless the person may create campaigns (ORGANIZERS)."""
        if not self.organizers.may_create(actor):
            raise NotAnOrganizer()

    # -- reading ------------------------------------------------------------------

    def manageable(self, actor: str) -> Manageable:
        """The organizer view's rows; NotAnOrganizer if the person organizes nothing."""
        now = dt.datetime.now(dt.UTC)
        with self.db.read() as session:
            if not self.organizers.is_organizer(session, actor):
                raise NotAnOrganizer()
            rows = [campaign_row(c, now) for c in self.organizers.manageable(session, actor)]
        return Manageable(rows, self.organizers.may_create(actor))

    def draft_view(self, actor: str, slug: str) -> CampaignView | None:
        """A draft as workers will see it once open, for the organizers who manage it.
        For anyone else, as for a campaign that is not a draft, None: a draft does not
        exist outside its organizers, and the answer does not say which it was."""
        if not actor:
            return None
        try:
            with self.db.read() as session:
                campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
                if campaign.status is not CampaignStatus.DRAFT:
                    return None
                return campaign_view(campaign, dt.datetime.now(dt.UTC))
        except (CampaignNotFound, NotAnOrganizer):
            return None

    def row(self, actor: str, slug: str) -> CampaignRow:
        with self.db.read() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            return campaign_row(campaign, dt.datetime.now(dt.UTC))

    def editing(self, actor: str, slug: str) -> Editing:
        with self.db.read() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            return Editing(spec_of(campaign), locked=campaign.signature_count > 0)

    def history(self, actor: str, slug: str) -> History:
        """The campaign's row, its milestones reached, its audit trail and its news."""
        now = dt.datetime.now(dt.UTC)
        with self.db.read() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            return History(
                row=campaign_row(campaign, now),
                milestones=organizing.milestone_history(session, campaign),
                audit=[
                    AuditLine(e.at, e.actor, e.action, e.detail)
                    for e in organizing.audit_trail(session, slug)
                ],
                news=updates.progress(session, campaign.id),
            )

    def audience(self, actor: str, slug: str) -> Audience:
        with self.db.read() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            return Audience(campaign.title, updates.subscriber_count(session, campaign.id))

    def card_view(self, actor: str, slug: str) -> CampaignView:
        """What a campaign's card shows; CampaignIsDraft for a draft."""
        with self.db.read() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            if campaign.status is CampaignStatus.DRAFT:
                raise CampaignIsDraft(campaign.slug)
            return campaign_view(campaign, dt.datetime.now(dt.UTC))

    # -- changing -----------------------------------------------------------------

    def save(self, actor: str, spec: CampaignSpec, *, creating: bool) -> list[str]:
        """Create (a draft) or edit a campaign; the fields that changed."""
        with self.db.write() as session:
            _, changes = organizing.save_campaign(
                session, self.organizers, actor, spec, creating=creating
            )
        return changes

    def change_status(self, actor: str, slug: str, change: StatusChange) -> None:
        with self.db.write() as session:
            organizing.change_status(session, self.organizers, actor, slug, change)

    def set_archived(self, actor: str, slug: str, archived: bool) -> None:
        with self.db.write() as session:
            organizing.set_archived(session, self.organizers, actor, slug, archived)

    def letter(self, actor: str, slug: str) -> Letter:
        """The letter as of today (the campaigns' TIMEZONE); the export is audited."""
        today = dt.datetime.now(self.timezone).date()
        with self.db.write() as session:
            return build_letter(
                session, self.organizers, actor, slug, today, self._keyring, self.timezone
            )

    def forget(self, actor: str, slug: str) -> int:
        """Forget a campaign's signers for good: how many signatures were unlinked.
        NoSignerKey before anything else without the key store's key."""
        keyring = self.keyring
        # Emptying SQLite's WAL may wait for readers: this returns after it.
        return organizing.forget_campaign(self.db, keyring, self.organizers, actor, slug)

    def send_news(self, actor: str, slug: str, kind: UpdateKind, text: str, send: bool) -> int:
        """Queue an update for every subscriber (`send`), or only record a delivery or
        the employer's answer: how many people it goes to."""
        today = dt.datetime.now(self.timezone).date()
        with self.db.write() as session:
            if send:
                return updates.create_update(
                    session, self.organizers, actor, slug, kind, text, today
                ).recipients
            updates.record_outcome(session, self.organizers, actor, slug, kind, text, today)
            return 0

    def record_card(
        self, actor: str, slug: str, channel_id: str, message_ts: str, shown: str
    ) -> None:
        """The card just posted in `channel_id`, kept current from now on."""
        with self.db.write() as session:
            campaign = organizing.managed_campaign(session, self.organizers, actor, slug)
            cards.record_card(session, campaign.id, channel_id, message_ts, shown)
