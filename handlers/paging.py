"""The "Next" and "Previous" buttons of long lists: each page is made again from
what is true now and replaces the one clicked (a message through its response URL,
the Home tab by publishing it again).

Every list keeps to its surface's block limit by showing a page at a time
(blocks/paging.py, PAGE_SIZES) and says how many more there are.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers import admin, commands, messages
from handlers.errors import Refusals
from handlers.home import publish_home_quietly, status_lines
from handlers.intime import InTime
from handlers.payload import clicked_value
from handlers.slackapi import SlackUnavailable, Stranger
from petition.organizer_actions import OrganizerActions
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)


def _page(
    surface: str,
    offset: int,
    context: BoltContext,
    worker: WorkerActions,
    organizer: OrganizerActions,
    timezone: ZoneInfo,
) -> tuple[str, list[blocks.Block]] | None:
    actor = context.user_id or ""
    if surface == "demands":
        return commands.list_page(worker, timezone, offset)
    if surface == "status":
        lines = status_lines(worker, context)
        return blocks.status_message(lines, timezone, offset)
    if surface == "sign":
        return messages.chooser_page(worker, timezone, context, blocks.SIGN_ACTION, offset)
    if surface == "withdraw":
        return messages.chooser_page(worker, timezone, context, blocks.WITHDRAW_ACTION, offset)
    # NotAnOrganizer for someone who organizes nothing: answered by `refusals`.
    if surface == "admin":
        return admin.panel(organizer, actor, offset)
    if surface == "archived":
        return admin.archived_panel(organizer, actor, offset)
    return None


def handle_page(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    organizer: OrganizerActions,
    timezone: ZoneInfo,
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
            publish_home_quietly(client, worker, timezone, context, offset)
            return
        try:
            answer = _page(surface, offset, context, worker, organizer, timezone)
        except SlackUnavailable as busy:
            # Who the person is could not be asked of Slack (a Grid's ids).
            text = blocks.slack_busy_text(busy.retry_after)
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        except Stranger:
            respond(text=blocks.stranger_text(), response_type="ephemeral", replace_original=False)
            return
        if answer is None:  # a surface with pages that none of these shows
            return
        text, content = answer
        # Posted to the response URL: in time for Slack whatever that takes.
        respond(text=text, blocks=content, replace_original=True)

    in_time.run(context, refusals.ephemeral(respond, "page", "", work))


def register(app: App) -> None:
    app.action(blocks.PAGE_ACTION)(handle_page)
    app.action(blocks.PAGE_BACK_ACTION)(handle_page)
