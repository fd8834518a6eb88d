"""Button clicks on the bot's messages that do not belong to the signing flow."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond

from bot import campaigns
from bot.errors import CampaignNotFound
from bot.settings import Settings
from handlers import blocks
from handlers.payload import clicked_value
from storage.db import Database

logger = logging.getLogger(__name__)


def handle_show(ack: Ack, body: dict, respond: Respond, db: Database, settings: Settings) -> None:
    """ "Read" next to a campaign in the list: replace the list with that campaign."""
    ack()
    slug = clicked_value(body)
    with db.read() as session:
        try:
            view = campaigns.find_public_campaign(session, slug)
        except CampaignNotFound as missing:
            logger.info("a list button named a campaign that no longer exists")
            fallback, answer = blocks.unknown_campaign_message(slug, missing.known)
            respond(text=fallback, blocks=answer, replace_original=True)
            return
    fallback, answer = blocks.campaign_message(view, settings.timezone)
    respond(text=fallback, blocks=answer, replace_original=True)


def register(app: App) -> None:
    app.action(blocks.SHOW_ACTION)(handle_show)
