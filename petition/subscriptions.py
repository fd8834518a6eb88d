"""Signers who asked for news about a campaign, reachable without being readable.

The bot has to DM them later, so their Slack ids are kept, but sealed under the
campaign's key (petition/keyring.py), padded to one length: the database alone says
nothing about who they are, logs never see the ids, and forgetting the campaign
(destroying its key) leaves nothing to open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from petition.errors import CampaignNotFound, DomainError
from petition.keyring import ADDRESS_PAD, Keyring, address_context
from petition.signatures import (
    _CAMPAIGN_ID_BY_SLUG,
    _SUBSCRIBED,
    campaign_keys,
    drop_subscriber_rows,
    signer_value,
)
from storage.direct import DirectCursor, of
from storage.models import Campaign, Subscriber, table


class NotSigned(DomainError):
    def __init__(self) -> None:
        super().__init__("you have not signed this campaign")


@dataclass(frozen=True)
class Address:
    """Where to DM a subscriber: only ever held in memory."""

    team_id: str
    user_id: str


_ADD = insert(table(Subscriber)).values(
    campaign_id=bindparam("campaign"),
    signer_hash=bindparam("signer"),
    sealed_address=bindparam("sealed"),
)


def subscribe(
    unit: Session | DirectCursor, slug: str, person: str, keyring: Keyring, address: Address
) -> bool:
    """Opt in to a campaign's news; True if this is new. Anyone may, signed or not:
    getting news must say nothing about whether someone signed."""
    work = of(unit)
    found = work.first(_CAMPAIGN_ID_BY_SLUG, slug=slug)
    if found is None:
        raise CampaignNotFound(slug, [])
    campaign_id, key_id = found
    keys = campaign_keys(work, keyring, campaign_id, key_id)
    signer = keys.signer(person)
    if work.first(_SUBSCRIBED, campaign=campaign_id, signer=signer) is not None:
        return False
    sealed = keys.seal(
        f"{address.team_id}:{address.user_id}", address_context(campaign_id), ADDRESS_PAD
    )
    work.run(_ADD, campaign=campaign_id, signer=signer, sealed=sealed)
    return True


def unsubscribe(session: Session, person: str, keyring: Keyring, slug: str | None = None) -> int:
    """Opt out of one campaign's news, or of all of them; how many were removed.
    News queued for them goes too."""
    query = select(Campaign.id, Campaign.key_id).where(Campaign.key_id.is_not(None))
    if slug is not None:
        query = query.where(Campaign.slug == slug)
    removed = 0
    for campaign_id, key_id in session.execute(query).all():
        signer = signer_value(keyring, key_id, person)
        if signer is not None:
            removed += drop_subscriber_rows(session, campaign_id, signer, keyring, key_id)
    return removed


def open_address(keyring: Keyring, key_id: str, campaign_id: int, sealed: str) -> Address:
    plain = keyring.campaign(key_id).open(sealed, address_context(campaign_id))
    team_id, _, user_id = plain.partition(":")
    return Address(team_id=team_id, user_id=user_id)
