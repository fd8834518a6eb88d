"""`/demands card SLUG`: an organizer posts a campaign's card in the channel they
type it in (petition/cards.py keeps it current)."""

from __future__ import annotations

import json
import logging

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

import blocks
from handlers.errors import Refusals
from petition import cards
from petition.organizer_actions import OrganizerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)


def _say(respond: Respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def post_card(
    respond: Respond,
    client: WebClient,
    organizer: OrganizerActions,
    actor: str,
    channel_id: str,
    slug: str,
) -> None:
    # A card is for a channel: in a DM it would only sit in an exportable
    # conversation, helping nobody find the campaign.
    if not slug or not channel_id or channel_id.startswith("D"):
        _say(respond, blocks.card_usage_text())
        return

    def work() -> None:
        _post(respond, client, organizer, actor, channel_id, slug)

    refusals.ephemeral(respond, "card", slug, work)()


def _post(
    respond: Respond,
    client: WebClient,
    organizer: OrganizerActions,
    actor: str,
    channel_id: str,
    slug: str,
) -> None:
    view = organizer.card_view(actor, slug)
    fallback, content = blocks.campaign_card(view, organizer.timezone)
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
    organizer.record_card(actor, view.slug, channel_id, str(posted["ts"]), shown)
    logger.info("a campaign card was posted")
    _say(respond, blocks.card_posted_text(view.slug))
