"""Button clicks on the bot's messages that do not belong to the signing flow."""

from __future__ import annotations

import logging

from slack_bolt import Ack, App, BoltContext, Respond

from bot import campaigns
from bot.errors import CampaignNotFound
from bot.settings import Settings
from handlers import blocks
from handlers.intime import InTime
from handlers.payload import clicked_value
from storage.db import Database

logger = logging.getLogger(__name__)


def handle_show(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    """ "Read" next to a campaign in the list: replace the list with that campaign."""
    ack()
    slug = clicked_value(body)

    def work() -> None:
        with db.read() as session:
            try:
                view = campaigns.find_public_campaign(session, slug)
            except CampaignNotFound as missing:
                logger.info("a list button named a campaign that no longer exists")
                fallback, answer = blocks.unknown_campaign_message(slug, missing.known)
                respond(text=fallback, blocks=answer, replace_original=True)
                return
        fallback, answer = blocks.campaign_message(view, settings.timezone)
        # Posted to the response URL: in time for Slack whatever that takes.
        respond(text=fallback, blocks=answer, replace_original=True)

    in_time.run(context, work)


def register(app: App) -> None:
    app.action(blocks.SHOW_ACTION)(handle_show)
