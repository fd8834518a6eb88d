"""Signers who asked for news about a campaign, reachable without being readable.

The bot has to DM them later, so their Slack ids are kept, but sealed under a
key derived from SIGNER_KEY (bot/sealing.py): the database alone says nothing
about who they are, and logs never see the ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from bot.errors import CampaignNotFound, DomainError
from bot.sealing import Sealer
from bot.signatures import _CAMPAIGN_ID_BY_SLUG, _SIGNED, _SUBSCRIBED, _campaign
from storage.direct import DirectCursor, of
from storage.models import Subscriber

ADDRESS_CONTEXT = "subscriber:{campaign_id}"


class NotSigned(DomainError):
    def __init__(self) -> None:
        super().__init__("only people who signed can ask for news about a campaign")


@dataclass(frozen=True)
class Address:
    """Where to DM a subscriber: only ever held in memory."""

    team_id: str
    user_id: str


_ADD = insert(Subscriber.__table__).values(
    campaign_id=bindparam("campaign"),
    signer_hash=bindparam("signer"),
    sealed_address=bindparam("sealed"),
)


def subscribe(
    unit: Session | DirectCursor, slug: str, signer: str, sealer: Sealer, address: Address
) -> bool:
    """Opt in; True if this is new. Only signers may."""
    work = of(unit)
    found = work.first(_CAMPAIGN_ID_BY_SLUG, slug=slug)
    if found is None:
        raise CampaignNotFound(slug, [])
    campaign_id = found[0]
    if work.first(_SIGNED, campaign=campaign_id, signer=signer) is None:
        raise NotSigned()
    if work.first(_SUBSCRIBED, campaign=campaign_id, signer=signer) is not None:
        return False
    sealed = sealer.seal(
        f"{address.team_id}:{address.user_id}", ADDRESS_CONTEXT.format(campaign_id=campaign_id)
    )
    work.run(_ADD, campaign=campaign_id, signer=signer, sealed=sealed)
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
