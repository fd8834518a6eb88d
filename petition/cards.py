"""Campaign cards: a message an organizer posts in a channel with the campaign, its
count (the hourly snapshot, as /demands shows it) and a button that opens the
private signing form. The announcement run keeps each card current by editing it.

Where a campaign is advertised says nothing about who signs it: a card row holds
the channel and the message, never who clicked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import Campaign, CampaignCard


@dataclass(frozen=True)
class Card:
    id: int
    slug: str
    channel_id: str
    message_ts: str
    shown: str


def digest(content: str) -> str:
    """What a card shows, as a short fingerprint: an unchanged card is not edited."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def record_card(
    session: Session, campaign_id: int, channel_id: str, message_ts: str, shown: str
) -> None:
    """The card just posted in `channel_id`; a campaign keeps one card per channel
    (the newest), so an older one there is no longer edited."""
    card = session.scalar(
        select(CampaignCard).where(
            CampaignCard.campaign_id == campaign_id, CampaignCard.channel_id == channel_id
        )
    )
    if card is None:
        session.add(
            CampaignCard(
                campaign_id=campaign_id,
                channel_id=channel_id,
                message_ts=message_ts,
                shown=shown,
            )
        )
    else:
        card.message_ts, card.shown, card.last_error = message_ts, shown, None


def all_cards(session: Session) -> list[Card]:
    rows = session.execute(
        select(CampaignCard, Campaign.slug)
        .join(Campaign, Campaign.id == CampaignCard.campaign_id)
        .where(Campaign.forgotten_at.is_(None))
        .order_by(CampaignCard.id)
    ).all()
    return [Card(c.id, slug, c.channel_id, c.message_ts, c.shown) for c, slug in rows]


def mark_shown(session: Session, card_id: int, shown: str) -> None:
    card = session.get(CampaignCard, card_id)
    if card is not None:
        card.shown, card.last_error = shown, None


def drop_card(session: Session, card_id: int) -> None:
    """The message is gone (deleted by hand, channel archived): stop editing it."""
    session.execute(delete(CampaignCard).where(CampaignCard.id == card_id))
