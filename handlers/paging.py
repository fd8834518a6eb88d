"""The "Next" and "Previous" buttons of long lists: each page is made again from
what is true now and replaces the one clicked (a message through its response URL,
the Home tab by publishing it again).

Every list keeps to its surface's block limit by showing a page at a time
(blocks/paging.py, PAGE_SIZES) and says how many more there are.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from bot.settings import Settings
from handlers import admin, commands, messages
from handlers.home import publish_home_quietly, status_lines
from handlers.intime import InTime
from handlers.payload import clicked_value
from handlers.slackapi import SlackUnavailable, Stranger
from petition.keyring import Keyring
from storage.db import Database

logger = logging.getLogger(__name__)


def _page(
    surface: str,
    offset: int,
    db: Database,
    settings: Settings,
    context: BoltContext,
    keyring: Keyring,
) -> tuple[str, list[blocks.Block]] | None:
    actor = context.user_id or ""
    if surface == "demands":
        return commands.list_page(db, settings, offset)
    worker, timezone = context["worker"], context["timezone"]
    if surface == "status":
        lines = status_lines(worker, context)
        return blocks.status_message(lines, timezone, offset)
    if surface == "sign":
        return messages.chooser_page(worker, timezone, context, blocks.SIGN_ACTION, offset)
    if surface == "withdraw":
        return messages.chooser_page(worker, timezone, context, blocks.WITHDRAW_ACTION, offset)
    if surface == "admin":
        return admin.panel(db, settings, actor, offset)
    if surface == "archived":
        return admin.archived_panel(db, settings, actor, offset)
    return None


def handle_page(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    keyring: Keyring,
    in_time: InTime,
) -> None:
    ack()
    wanted = blocks.read_page_value(clicked_value(body))
    if wanted is None:
        logger.info("a page button carried an unknown value")
        return
    surface, offset = wanted

    def work() -> None:
        if surface == "home":
            publish_home_quietly(client, context["worker"], context["timezone"], context, offset)
            return
        try:
            answer = _page(surface, offset, db, settings, context, keyring)
        except SlackUnavailable as busy:
            # Who the person is could not be asked of Slack (a Grid's ids).
            text = blocks.slack_busy_text(busy.retry_after)
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        except Stranger:
            respond(text=blocks.stranger_text(), response_type="ephemeral", replace_original=False)
            return
        if answer is None:  # an organizer page asked for by someone who organizes nothing
            logger.warning("refused an organizer action (page): not an organizer")
            respond(
                text=blocks.not_organizer_text(), response_type="ephemeral", replace_original=False
            )
            return
        text, content = answer
        # Posted to the response URL: in time for Slack whatever that takes.
        respond(text=text, blocks=content, replace_original=True)

    in_time.run(context, work)


def register(app: App) -> None:
    app.action(blocks.PAGE_ACTION)(handle_page)
    app.action(blocks.PAGE_BACK_ACTION)(handle_page)
