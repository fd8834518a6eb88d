"""`/demands card SLUG`: an organizer posts a campaign's card in the channel they
type it in (petition/cards.py keeps it current)."""

from __future__ import annotations

import datetime as dt
import json
import logging

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import blocks
from bot.settings import Settings
from petition import cards, organizing
from petition.campaigns import campaign_view
from petition.errors import CampaignNotFound, NotAnOrganizer
from storage.db import Database
from storage.models import CampaignStatus

logger = logging.getLogger(__name__)


def _say(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def post_card(
    respond: Respond,
    client: WebClient,
    db: Database,
    settings: Settings,
    actor: str,
    channel_id: str,
    slug: str,
) -> None:
    # A card is for a channel: in a DM it would only sit in an exportable
    # conversation, helping nobody find the campaign.
    if not slug or not channel_id or channel_id.startswith("D"):
        _say(respond, blocks.card_usage_text())
        return
    try:
        with db.read() as session:
            campaign = organizing.managed_campaign(
                session, organizing.Organizers(settings.organizers), actor, slug
            )
            if campaign.status is CampaignStatus.DRAFT:
                _say(respond, f"`{campaign.slug}` is a draft: open it before posting its card.")
                return
            view = campaign_view(campaign, dt.datetime.now(dt.UTC))
    except NotAnOrganizer:
        logger.warning("refused an organizer action (card): not an organizer")
        _say(respond, blocks.not_organizer_text())
        return
    except CampaignNotFound as missing:
        _say(respond, blocks.not_found_text(slug, missing.known))
        return
    fallback, content = blocks.campaign_card(view, settings.timezone)
    try:
        posted = client.chat_postMessage(channel=channel_id, text=fallback, blocks=content)
    except SlackApiError as error:
        data = getattr(error.response, "data", None)
        reason = data.get("error", "") if isinstance(data, dict) else ""
        logger.info("could not post a campaign card: %s", reason or "error")
        _say(respond, blocks.card_refused_text(str(reason)))
        return
    except (SlackClientError, OSError) as error:
        logger.info("could not post a campaign card: %s", type(error).__name__)
        _say(respond, blocks.card_refused_text(""))
        return
    shown = cards.digest(json.dumps(content, sort_keys=True))
    with db.write() as session:
        cards.record_card(session, view.campaign_id, channel_id, str(posted["ts"]), shown)
    logger.info("a campaign card was posted")
    _say(respond, blocks.card_posted_text(view.slug))
