"""Button clicks on the bot's messages that do not belong to the signing flow."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond

import blocks
from handlers.errors import Asked, Refusals
from handlers.identity import signer_of
from handlers.intime import InTime
from handlers.payload import clicked_value
from handlers.slackapi import SlackUnavailable, Stranger
from petition.subscriptions import Address
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)


def handle_show(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    """ "Read" next to a campaign in the list: replace the list with that campaign."""
    ack()
    slug = clicked_value(body)

    def work() -> None:
        view = worker.campaign(slug)
        fallback, answer = blocks.campaign_message(view, timezone)
        # Posted to the response URL: in time for Slack whatever that takes.
        respond(text=fallback, blocks=answer, replace_original=True)

    in_time.run(context, refusals.replace(respond, Asked(slug), work))


def handle_follow(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    worker: WorkerActions,
    in_time: InTime,
) -> None:
    """ "Get news by DM" under a campaign: anyone may, signed or not, so that a news
    DM is no sign of a signature. Answered under the message clicked, privately."""
    ack()
    slug = clicked_value(body)

    def work() -> None:
        try:
            person = signer_of(context, worker)
        except SlackUnavailable as busy:
            respond(text=blocks.slack_busy_text(busy.retry_after), replace_original=False)
            return
        except Stranger:
            respond(text=blocks.stranger_text(), replace_original=False)
            return
        address = Address(
            team_id=context.team_id or context.enterprise_id or "", user_id=context.user_id or ""
        )
        followed = worker.follow(slug, person, address)
        respond(text=blocks.followed_text(followed.title, followed.new), replace_original=False)

    in_time.run(context, refusals.under(respond, Asked(slug), work))


def register(app: App) -> None:
    app.action(blocks.SHOW_ACTION)(handle_show)
    app.action(blocks.FOLLOW_ACTION)(handle_follow)
