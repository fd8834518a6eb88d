"""An organizer trying their draft's signing form from its preview: the same form
a worker gets, whose submission records nothing."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

import blocks
from handlers.identity import profile_of
from handlers.intime import InTime
from handlers.payload import clicked_value
from handlers.slackapi import open_form
from petition import eligibility
from petition.organizer_actions import OrganizerActions

logger = logging.getLogger(__name__)


def handle_preview_sign(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        # Someone else's draft, a campaign that is not one: the same refusal.
        view = organizer.draft_view(context.user_id or "", clicked_value(body))
        if view is None:
            logger.info("a preview of a signing form was refused")
            form = blocks.notice_modal("Not available", blocks.not_organizer_text())
        else:
            try:
                suggested = eligibility.suggested_name(profile_of(context, client))
            except Exception:  # only a suggestion: the form works without it
                suggested = None
            form = blocks.preview_sign_modal(view, suggested)
        open_form(client, body.get("trigger_id"), form)

    in_time.run(context, work)


def handle_preview_submit(ack: Ack, view: dict[str, Any]) -> None:
    """Nothing is recorded: the answer only says what a worker would read."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):
        meta = {}
    # Forgeable like any private_metadata: shown escaped, and nothing is recorded.
    title = meta.get("title") if isinstance(meta, dict) else None
    shown = title[:150] if isinstance(title, str) else "this campaign"
    ack(response_action="update", view=blocks.preview_signed_modal(shown))


def register(app: App) -> None:
    app.action(blocks.PREVIEW_SIGN_ACTION)(handle_preview_sign)
    app.view(blocks.PREVIEW_SIGN_VIEW)(handle_preview_submit)
