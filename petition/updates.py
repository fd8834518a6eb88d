"""News to signers who asked for it: written by organizers, sent once to each.

An update's deliveries are rows keyed by the subscriber's signer hash, created
when the update is written (a snapshot of who had opted in). Sending claims one
row at a time with a conditional UPDATE and a lease, so two senders never send
the same row; a row whose attempt may have reached Slack is marked in doubt, and
the next attempt first looks for its own message in that DM. Once an update has
gone out to everyone, its rows are deleted and only the counts remain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from petition.errors import DomainError
from petition.leases import RELEASED, Lease
from petition.organizing import Organizers, managed_campaign, record
from storage.db import rows_changed
from storage.models import (
    Campaign,
    DeliveryState,
    Subscriber,
    Update,
    UpdateDelivery,
    UpdateKind,
    utcnow,
)

TEXT_MAX = 2500  # leaves room in a section (3000) and in private_metadata
LEASE = dt.timedelta(minutes=5)
# Nobody holds a row that has no claim time (finish() keeps the time, not the token).
_LEASE = Lease(
    UpdateDelivery,
    UpdateDelivery.claim_token,
    UpdateDelivery.claimed_at,
    UpdateDelivery.claimed_at,
    LEASE,
)


class InvalidUpdate(DomainError):
    pass


@dataclass(frozen=True)
class Claimed:
    update_id: int
    signer_hash: str
    token: str
    in_doubt_since: dt.datetime | None
    campaign_id: int
    slug: str
    title: str
    kind: UpdateKind
    text: str
    sealed_address: str | None  # None: they opted out since the update was written
    key_id: str | None = None  # the campaign's key, which opens the address


@dataclass(frozen=True)
class Progress:
    id: int
    kind: UpdateKind
    created_at: dt.datetime
    recipients: int
    sent: int
    failed: int

    @property
    def done(self) -> bool:
        return self.sent + self.failed >= self.recipients


def clean_text(raw: str | None) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidUpdate("Write the update first.")
    if len(text) > TEXT_MAX:
        raise InvalidUpdate(f"Keep the update under {TEXT_MAX:,} characters.")
    return text


def subscriber_count(session: Session, campaign_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Subscriber)
            .where(Subscriber.campaign_id == campaign_id)
        )
        or 0
    )


def create_update(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    kind: UpdateKind,
    text: str,
    today: dt.date | None = None,
) -> Update:
    """Write an update and queue it for every current subscriber.

    A delivery or answer update also records it on the campaign, for /demands.
    """
    campaign = managed_campaign(session, organizers, actor, slug)
    text = clean_text(text)
    if campaign.forgotten_at is not None:
        raise InvalidUpdate("this campaign's signers were forgotten; nobody can be reached")
    if kind is UpdateKind.DELIVERED:
        campaign.delivered_on = today or dt.date.today()
    elif kind is UpdateKind.ANSWER:
        campaign.employer_answer = text
    row = Update(campaign_id=campaign.id, kind=kind, text=text, created_by=actor)
    session.add(row)
    session.flush()
    hashes = list(
        session.scalars(select(Subscriber.signer_hash).where(Subscriber.campaign_id == campaign.id))
    )
    if hashes:
        session.execute(
            insert(UpdateDelivery),
            [
                {
                    "update_id": row.id,
                    "signer_hash": h,
                    "state": DeliveryState.PENDING,
                    "attempts": 0,
                }
                for h in hashes
            ],
        )
    row.recipients = len(hashes)
    record(session, actor, f"update:{kind.value}", slug, f"to {len(hashes)} subscribers")
    session.flush()
    return row


def record_outcome(
    session: Session,
    organizers: Organizers,
    actor: str,
    slug: str,
    kind: UpdateKind,
    text: str,
    today: dt.date | None = None,
) -> None:
    """Record a delivery or the employer's answer without sending anything."""
    campaign = managed_campaign(session, organizers, actor, slug)
    if kind is UpdateKind.DELIVERED:
        campaign.delivered_on = today or dt.date.today()
    elif kind is UpdateKind.ANSWER:
        campaign.employer_answer = clean_text(text)
    else:
        raise InvalidUpdate("only a delivery or an answer can be recorded")
    record(session, actor, f"record:{kind.value}", slug)


def claim_next(session: Session, now: dt.datetime | None = None) -> Claimed | None:
    """Take the claim on the oldest pending delivery nobody else holds."""
    now = now or utcnow()
    for update_id, signer in session.execute(
        select(UpdateDelivery.update_id, UpdateDelivery.signer_hash)
        .where(UpdateDelivery.state == DeliveryState.PENDING, _LEASE.claimable(now))
        .order_by(UpdateDelivery.update_id)
        .limit(20)
    ).all():
        token = _LEASE.take(
            session,
            UpdateDelivery.update_id == update_id,
            UpdateDelivery.signer_hash == signer,
            UpdateDelivery.state == DeliveryState.PENDING,
            now=now,
        )
        if token is None:
            continue
        delivery = session.get(UpdateDelivery, (update_id, signer), populate_existing=True)
        row = session.get(Update, update_id)
        assert delivery is not None
        assert row is not None
        campaign = session.get(Campaign, row.campaign_id)
        assert campaign is not None
        subscriber = session.get(Subscriber, (row.campaign_id, signer))
        return Claimed(
            update_id=update_id,
            signer_hash=signer,
            token=token,
            in_doubt_since=delivery.in_doubt_since,
            campaign_id=campaign.id,
            slug=campaign.slug,
            title=campaign.title,
            kind=row.kind,
            text=row.text,
            sealed_address=subscriber.sealed_address if subscriber else None,
            key_id=campaign.key_id,
        )
    return None


def _mine(claimed: Claimed) -> ColumnElement[bool]:
    return _LEASE.mine(
        claimed.token,
        UpdateDelivery.update_id == claimed.update_id,
        UpdateDelivery.signer_hash == claimed.signer_hash,
    )


def begin_attempt(session: Session, claimed: Claimed, now: dt.datetime | None = None) -> bool:
    """Committed just before posting: a crash from here on leaves the row in doubt."""
    now = now or utcnow()
    return bool(
        rows_changed(
            session.execute(
                update(UpdateDelivery)
                .where(_mine(claimed))
                .values(
                    in_doubt_since=func.coalesce(UpdateDelivery.in_doubt_since, now),
                    attempts=UpdateDelivery.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
        )
    )


def finish(session: Session, claimed: Claimed, state: DeliveryState) -> bool:
    """Record the outcome (sent, or failed for good); False if the claim was lost."""
    done = rows_changed(
        session.execute(
            update(UpdateDelivery)
            .where(_mine(claimed), UpdateDelivery.state == DeliveryState.PENDING)
            .values(state=state, claim_token=None, in_doubt_since=None)
            .execution_options(synchronize_session=False)
        )
    )
    if not done:
        return False
    counter = Update.sent if state is DeliveryState.SENT else Update.failed
    session.execute(
        update(Update).where(Update.id == claimed.update_id).values({counter: counter + 1})
    )
    left = session.scalar(
        select(func.count())
        .select_from(UpdateDelivery)
        .where(
            UpdateDelivery.update_id == claimed.update_id,
            UpdateDelivery.state == DeliveryState.PENDING,
        )
    )
    if not left:
        # Gone out to everyone: the rows (keyed by signer hashes) are no longer needed.
        session.execute(delete(UpdateDelivery).where(UpdateDelivery.update_id == claimed.update_id))
    return True


def release(session: Session, claimed: Claimed, *, clear_doubt: bool) -> None:
    """Give the row back for a later attempt (rate limits, outages)."""
    values: dict[str, object] = dict(RELEASED)
    if clear_doubt:
        values["in_doubt_since"] = None
    session.execute(
        update(UpdateDelivery)
        .where(_mine(claimed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def pending_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(UpdateDelivery)
            .where(UpdateDelivery.state == DeliveryState.PENDING)
        )
        or 0
    )


def progress(session: Session, campaign_id: int) -> list[Progress]:
    rows = session.scalars(
        select(Update).where(Update.campaign_id == campaign_id).order_by(Update.id)
    ).all()
    return [Progress(r.id, r.kind, r.created_at, r.recipients, r.sent, r.failed) for r in rows]
