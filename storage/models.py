"""Typed SQLAlchemy models.

Privacy shapes this schema (see DESIGN.md and petition/keyring.py): a signer is known
in each campaign by an HMAC under that campaign's own key, never by Slack ids; a
name, and a Slack id kept for news, are sealed under the same key; the key is
kept outside the database, so that destroying it (forgetting) leaves nothing in
any copy of these tables that can be linked to anyone. Signing time is kept to
the day.

A little past 500 lines on purpose: the whole schema is here, so that what is
stored about anyone is read (and reviewed for privacy) in one file.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names keep Alembic's batch mode (SQLite) and
# PostgreSQL migrations identical.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SLUG_MAX = 40
TITLE_MAX = 150  # Slack's header block limit
STATEMENT_MAX = 2900  # a section block holds 3000 characters
DEMAND_MAX = 1000
NAME_MAX = 80
ADDRESSEE_MAX = 200  # one line at the head of the letter
SIGNER_HASH_LENGTH = 64  # hex HMAC-SHA256
KEY_ID_LENGTH = 32  # hex, petition/keyring.py


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table(model: type[Base]) -> Table:
    """A model's table, typed as a Table: Core statements built on it (INSERT ...
    ON CONFLICT, bulk UPDATE) check their columns, where `__table__` is typed as
    any FROM clause."""
    return Base.metadata.tables[model.__tablename__]


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(
            CampaignStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=CampaignStatus.OPEN,
    )
    channel_id: Mapped[str | None] = mapped_column(String(32))
    # Stored in UTC; a TOML date means midnight at the start of that day in TIMEZONE.
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Kept in step with the signatures table inside the same transaction, so that
    # showing the count never scans the signatures. Exact: for the operator, the
    # letter and the milestones, never shown in Slack as it moves.
    signature_count: Mapped[int] = mapped_column(Integer, default=0)
    # What everyone in Slack sees: the exact count as it was at the last full hour
    # (petition/counts.py; SECURITY.md, "Counts that cannot be watched").
    public_count: Mapped[int] = mapped_column(Integer, default=0)
    public_count_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the link between signatures and people was cut for good (see forgetting).
    forgotten_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Put out of the organizer view (closed or forgotten campaigns only); workers'
    # view of it does not change.
    archived_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Whom the letter is addressed to ("The board of Acme Ltd"); shown on the letter.
    addressee: Mapped[str | None] = mapped_column(String(ADDRESSEE_MAX))
    # The signing period the letter states: when the campaign was first opened to
    # workers, and when it last closed (by hand or at its closing date). Campaign
    # times only, nothing about any signer.
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Forget automatically this many days after the campaign closed; None: never.
    forget_after_days: Mapped[int | None] = mapped_column(Integer)
    # Which key of the key store (petition/keyring.py) this campaign's signers are
    # known and sealed under; made with the first signature, destroyed when the
    # campaign is forgotten. The key itself is never in the database.
    key_id: Mapped[str | None] = mapped_column(String(KEY_ID_LENGTH))
    # Recorded by organizers, shown in /demands and sent as updates.
    delivered_on: Mapped[dt.date | None] = mapped_column(Date)
    employer_answer: Mapped[str | None] = mapped_column(Text)

    demands: Mapped[list[Demand]] = relationship(
        back_populates="campaign",
        order_by="Demand.position",
        cascade="all, delete-orphan",
    )
    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="campaign",
        order_by="Milestone.threshold",
        cascade="all, delete-orphan",
    )
    organizers: Mapped[list[CampaignOrganizer]] = relationship(
        back_populates="campaign",
        order_by="CampaignOrganizer.user_id",
        cascade="all, delete-orphan",
    )
    # Announcement channels beside `channel_id`: one per workspace of a Grid, say.
    extra_channels: Mapped[list[CampaignChannel]] = relationship(
        back_populates="campaign",
        order_by="CampaignChannel.channel_id",
        cascade="all, delete-orphan",
    )


class CampaignCard(Base):
    """A card an organizer posted in a channel: the campaign, its count (the hourly
    snapshot, as /demands shows it) and a button to sign privately. Kept current on
    the announcement schedule by editing the message (chat.update); `shown` is a
    digest of what it shows, so that an unchanged card is not edited again.

    Where a campaign is advertised says nothing about who signs it."""

    __tablename__ = "campaign_cards"
    __table_args__ = (UniqueConstraint("campaign_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    shown: Mapped[str] = mapped_column(String(64), default="")
    posted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The last Slack error when editing it (message_not_found: deleted by hand).
    last_error: Mapped[str | None] = mapped_column(String(64))


class Demand(Base):
    __tablename__ = "demands"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)

    campaign: Mapped[Campaign] = relationship(back_populates="demands")


class Milestone(Base):
    __tablename__ = "milestones"
    __table_args__ = (UniqueConstraint("campaign_id", "threshold"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    threshold: Mapped[int] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship(back_populates="milestones")


class Signature(Base):
    """One signer's signature on one campaign.

    `signer_hash` is the signer's identity in this campaign: an HMAC, under the
    campaign's key, of a digest of their Slack ids (petition/keyring.py). The same
    person always maps to the same row of a campaign, and to unrelated values in
    other campaigns; without the campaign's key nothing maps back to a person.
    A name (public, or conditional) is sealed under the same key: no name is in
    the database in clear.
    """

    __tablename__ = "signatures"
    # No autoincrement id and no rowid: either would keep the order in which people
    # signed, finer than the day. Rows are stored in the order of their values,
    # and rewritten in that order every night (jobs/upkeep.py, rewrite_job).
    # The conditional naming rule (petition/naming.py) needs the named signers' count
    # and every conditional threshold of a campaign: partial indexes hold just
    # those rows, so that reading them does not read the whole campaign.
    __table_args__ = (
        Index(
            "ix_signatures_named",
            "campaign_id",
            "named",
            sqlite_where=text("named = 1"),
            postgresql_where=text("named"),
        ),
        Index(
            "ix_signatures_conditional",
            "campaign_id",
            "name_threshold",
            sqlite_where=text("name_threshold IS NOT NULL"),
            postgresql_where=text("name_threshold IS NOT NULL"),
        ),
        {"sqlite_with_rowid": False},
    )

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    signer_hash: Mapped[str] = mapped_column(String(SIGNER_HASH_LENGTH), primary_key=True)
    # Signed with their name, for the letter: the name is in `sealed_name`.
    named: Mapped[bool] = mapped_column(Boolean, default=False)
    # A day, not a second: a timestamp could be matched against who opened a DM.
    signed_on: Mapped[dt.date] = mapped_column(Date)
    # "Name me once N colleagues have added theirs": N; the name in `sealed_name`.
    name_threshold: Mapped[int | None] = mapped_column(Integer)
    sealed_name: Mapped[str | None] = mapped_column(Text)


class CampaignOrganizer(Base):
    """A Slack user an organizer added to one campaign (beyond ORGANIZERS).

    Organizers act in the open on the campaign's behalf; their ids are kept in
    clear, apart from any signature.
    """

    __tablename__ = "campaign_organizers"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)

    campaign: Mapped[Campaign] = relationship(back_populates="organizers")


class CampaignChannel(Base):
    """One more channel a campaign announces in, beside `Campaign.channel_id`.

    In an Enterprise Grid a campaign may announce in a channel of each workspace
    (or in one shared org-wide channel): every channel hears each milestone once
    (see petition/announcements.py). A channel id says nothing about any signer.
    """

    __tablename__ = "campaign_channels"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)

    campaign: Mapped[Campaign] = relationship(back_populates="extra_channels")


class AuditEntry(Base):
    """One organizer action: who changed what, when. Never about signers."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A Slack user id of an organizer, or "cli" for the operator's command line.
    actor: Mapped[str] = mapped_column(String(32))
    campaign_slug: Mapped[str | None] = mapped_column(String(SLUG_MAX))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")


# -- announcements ---------------------------------------------------------------


class AnnouncementKind(enum.StrEnum):
    MILESTONE = "milestone"
    FINAL = "final"  # the final count, once the campaign has closed


class AnnouncementState(enum.StrEnum):
    PENDING = "pending"  # due: the next run that claims it posts it
    POSTED = "posted"  # in the channel; message_ts says which message
    SUPERSEDED = "superseded"  # passed with a higher milestone, or moot: never posted


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Announcement(Base):
    """One post the campaign's channel hears, or decided it will not hear.

    The row exists before anything is posted, so a milestone is announced at most
    once (the unique key), and is claimed in the database before posting, so two
    schedulers never both post it. A claim is a token with a lease: a process that
    dies holding it leaves a claim that expires, and `in_doubt_since` says that an
    attempt may have reached Slack since then, so the next run first looks in the
    channel for its own message before posting again.

    Counts and thresholds only: nothing here says who signed, or when.
    """

    __tablename__ = "announcements"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "threshold", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[AnnouncementKind] = mapped_column(_enum(AnnouncementKind))
    # The milestone; 0 for the final count.
    threshold: Mapped[int] = mapped_column(Integer)
    # Where it goes (or went): the campaign's channel when it was last attempted.
    channel_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[AnnouncementState] = mapped_column(
        _enum(AnnouncementState), default=AnnouncementState.PENDING
    )
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set while an attempt to post may have reached Slack without being recorded
    # (a crash, a timeout, a 5xx): the channel is checked from this time on.
    in_doubt_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The last Slack error code (not_in_channel, ...), for the operator.
    last_error: Mapped[str | None] = mapped_column(String(64))
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    message_ts: Mapped[str | None] = mapped_column(String(32))


class JobRun(Base):
    """When a scheduled job last ran, so runs missed while the bot was down are
    caught up once at start-up."""

    __tablename__ = "job_runs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Subscriber(Base):
    """A signer who asked for news about a campaign.

    The bot must be able to DM them, so their Slack workspace and user ids are
    kept, sealed under the campaign's key: never in clear. The row is keyed like
    the signature, and goes when the signature goes.
    """

    __tablename__ = "subscribers"
    __table_args__ = ({"sqlite_with_rowid": False},)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    signer_hash: Mapped[str] = mapped_column(String(SIGNER_HASH_LENGTH), primary_key=True)
    sealed_address: Mapped[str] = mapped_column(Text)


class UpdateKind(enum.StrEnum):
    NEWS = "news"
    DELIVERED = "delivered"
    ANSWER = "answer"


class Update(Base):
    """News an organizer sends to the campaign's subscribers."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[UpdateKind] = mapped_column(_enum(UpdateKind))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(32))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the person can no longer be reached (left, deactivated)


class UpdateDelivery(Base):
    """One update to one subscriber; claimed before sending so nobody gets it twice.

    The rows of an update are deleted once it has gone out to everyone, leaving
    only the counts on the update.
    """

    __tablename__ = "update_deliveries"
    __table_args__ = ({"sqlite_with_rowid": False},)

    update_id: Mapped[int] = mapped_column(
        ForeignKey("updates.id", ondelete="CASCADE"), primary_key=True
    )
    signer_hash: Mapped[str] = mapped_column(String(SIGNER_HASH_LENGTH), primary_key=True)
    state: Mapped[DeliveryState] = mapped_column(
        _enum(DeliveryState), default=DeliveryState.PENDING
    )
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # An attempt may have reached Slack without being recorded: look before resending.
    in_doubt_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class EventReceipt(Base):
    """An Events API delivery this app has taken on, so that Slack's redelivery of
    it (a lost acknowledgement, a dropped Socket Mode connection) is not acted on
    twice, by this process or by another replica.

    Slack's event id and the minute it was taken, nothing else: the event's
    content, and who or which workspace it came from, are not kept. Rows go once Slack's retries
    are long over (petition/deliveries.py).
    """

    __tablename__ = "event_receipts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Minutes since the epoch: enough to prune by, and to the minute at most.
    minute: Mapped[int] = mapped_column(Integer, index=True)


class HomeWorkspace(Base):
    """A workspace this app was installed in on its own (a workspace install, in
    or out of an Enterprise Grid), as auth.test or a Grid migration event named it.

    Signatures made there before the workspace joined a Grid are keyed by this
    workspace and the person's local user id: after the move they are looked for
    under it (handlers/identity.py). Like everything that could help tie a row to
    a workspace, the id is sealed under a key derived from SIGNER_KEY, and known
    by a keyed hash (petition/workspaces.py).
    """

    __tablename__ = "home_workspaces"

    workspace_hash: Mapped[str] = mapped_column(String(SIGNER_HASH_LENGTH), primary_key=True)
    sealed_team: Mapped[str] = mapped_column(Text)


class NewsPost(Base):
    """A news DM the bot sent a subscriber: where it is (channel and ts), sealed
    under the campaign's key, so that it can be deleted when they stop news,
    withdraw, or the campaign is forgotten (petition/retractions.py)."""

    __tablename__ = "news_posts"
    __table_args__ = ({"sqlite_with_rowid": False},)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    signer_hash: Mapped[str] = mapped_column(String(SIGNER_HASH_LENGTH), primary_key=True)
    sealed_ref: Mapped[str] = mapped_column(String(200), primary_key=True)


class NewsRetraction(Base):
    """A news DM to delete: queued when its subscriber stopped, withdrew or was
    forgotten, deleted from Slack by the next run, then this row goes. The place
    is sealed under a key derived from SIGNER_KEY (not the campaign's, which
    forgetting destroys); nothing says which campaign or person it was for."""

    __tablename__ = "news_retractions"
    __table_args__ = ({"sqlite_with_rowid": False},)

    sealed_ref: Mapped[str] = mapped_column(String(200), primary_key=True)
