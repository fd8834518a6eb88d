"""Signing, checking and withdrawing: the only code that touches signature rows.

A signer is known here only by `signer_hash`, an HMAC of workspace and user id
under SIGNER_KEY; the raw ids never reach this module's callers' storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot.campaigns import CampaignView, campaign_view, is_open
from bot.errors import CampaignNotFound, DomainError
from storage.models import NAME_MAX, Campaign, CampaignStatus, Signature


class SignOutcome(StrEnum):
    SIGNED = "signed"
    ALREADY_SIGNED = "already_signed"


class CampaignClosed(DomainError):
    def __init__(self) -> None:
        super().__init__("this campaign is closed and no longer takes signatures")


@dataclass(frozen=True)
class SignerStatus:
    signed: bool
    named: bool


def signer_hash(key: bytes, team_id: str, user_id: str) -> str:
    """The only form in which a signer's identity is ever stored."""
    message = f"slack:{team_id}:{user_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalars(
        select(Campaign).where(Campaign.slug == slug, Campaign.status != CampaignStatus.DRAFT)
    ).one_or_none()
    if campaign is None:
        raise CampaignNotFound(slug, [])
    return campaign


def add_signature(
    session: Session,
    slug: str,
    signer: str,
    name: str | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> SignOutcome:
    """Record a signature once. A second call for the same signer changes nothing."""
    campaign = _campaign(session, slug)
    if not is_open(campaign, now):
        raise CampaignClosed()
    exists = session.scalar(
        select(Signature.signer_hash).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    )
    if exists is not None:
        return SignOutcome.ALREADY_SIGNED
    try:
        with session.begin_nested():
            session.execute(
                insert(Signature).values(
                    campaign_id=campaign.id,
                    signer_hash=signer,
                    name=name,
                    signed_on=today or dt.date.today(),
                )
            )
    except IntegrityError:
        # A concurrent request for the same signer got there first.
        return SignOutcome.ALREADY_SIGNED
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(signature_count=Campaign.signature_count + 1)
    )
    return SignOutcome.SIGNED


def remove_signature(session: Session, slug: str, signer: str) -> bool:
    """Delete the signer's signature; True if there was one."""
    campaign = _campaign(session, slug)
    deleted = session.execute(
        delete(Signature).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    ).rowcount
    if deleted:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(signature_count=Campaign.signature_count - deleted)
        )
    return bool(deleted)


def signer_status(session: Session, slug: str, signer: str) -> SignerStatus:
    campaign = _campaign(session, slug)
    row = session.execute(
        select(Signature.name).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    ).one_or_none()
    if row is None:
        return SignerStatus(signed=False, named=False)
    return SignerStatus(signed=True, named=row.name is not None)


class InvalidName(DomainError):
    pass


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_name(raw: str | None) -> str:
    """The name as it will appear on the letter: one line, trimmed, length limited."""
    if raw is None:
        raise InvalidName("Type the name to put on the letter, or choose to sign anonymously.")
    name = " ".join(_CONTROL.sub(" ", raw).split())
    if not name:
        raise InvalidName("Type the name to put on the letter, or choose to sign anonymously.")
    if len(name) > NAME_MAX:
        raise InvalidName(f"Please keep the name under {NAME_MAX} characters.")
    return name


def signer_overview(
    session: Session, signer: str, now: dt.datetime | None = None
) -> list[tuple[CampaignView, SignerStatus]]:
    """Every open campaign, and every other one this signer is still on."""
    now = now or dt.datetime.now(dt.UTC)
    names = dict(
        session.execute(
            select(Signature.campaign_id, Signature.name).where(Signature.signer_hash == signer)
        ).all()
    )
    signed_ids = set(names)
    rows = []
    for campaign in session.scalars(
        select(Campaign)
        .where(Campaign.status != CampaignStatus.DRAFT)
        .options(selectinload(Campaign.demands))
        .order_by(Campaign.created_at, Campaign.id)
    ):
        signed = campaign.id in signed_ids
        if not (is_open(campaign, now) or signed):
            continue
        status = SignerStatus(signed=signed, named=signed and names[campaign.id] is not None)
        rows.append((campaign_view(campaign, now), status))
    return rows
