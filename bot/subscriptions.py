"""Signers who asked for news about a campaign, reachable without being readable.

The bot has to DM them later, so their Slack ids are kept, but sealed under a
key derived from SIGNER_KEY (bot/sealing.py): the database alone says nothing
about who they are, and logs never see the ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.errors import DomainError
from bot.sealing import Sealer
from bot.signatures import _campaign
from storage.models import Signature, Subscriber

ADDRESS_CONTEXT = "subscriber:{campaign_id}"


class NotSigned(DomainError):
    def __init__(self) -> None:
        super().__init__("only people who signed can ask for news about a campaign")


@dataclass(frozen=True)
class Address:
    """Where to DM a subscriber: only ever held in memory."""

    team_id: str
    user_id: str


def subscribe(session: Session, slug: str, signer: str, sealer: Sealer, address: Address) -> bool:
    """Opt in; True if this is new. Only signers may."""
    campaign = _campaign(session, slug)
    signed = session.scalar(
        select(Signature.signer_hash).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    )
    if signed is None:
        raise NotSigned()
    existing = session.get(Subscriber, (campaign.id, signer))
    if existing is not None:
        return False
    sealed = sealer.seal(
        f"{address.team_id}:{address.user_id}", ADDRESS_CONTEXT.format(campaign_id=campaign.id)
    )
    session.add(Subscriber(campaign_id=campaign.id, signer_hash=signer, sealed_address=sealed))
    session.flush()
    return True


def unsubscribe(session: Session, signer: str, slug: str | None = None) -> int:
    """Opt out of one campaign's news, or of all of them; how many were removed."""
    query = delete(Subscriber).where(Subscriber.signer_hash == signer)
    if slug is not None:
        query = query.where(Subscriber.campaign_id == _campaign(session, slug).id)
    return session.execute(query).rowcount or 0


def open_address(sealer: Sealer, subscriber: Subscriber) -> Address:
    plain = sealer.open(
        subscriber.sealed_address, ADDRESS_CONTEXT.format(campaign_id=subscriber.campaign_id)
    )
    team_id, _, user_id = plain.partition(":")
    return Address(team_id=team_id, user_id=user_id)
