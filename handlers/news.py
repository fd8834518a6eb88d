"""News to a campaign's signers, from the organizer view's "Send an update" button:
the form, its preview, and sending it (or only recording a delivery or the
employer's answer). The messages themselves go out in the background (jobs/news.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

import blocks
from handlers.errors import Refusals, open_modal
from handlers.intime import FormAnswer, InTime, field_errors
from handlers.payload import clicked_value, form_state, typed_text
from petition import updates
from petition.errors import DomainError
from petition.kinds import UpdateKind
from petition.organizer_actions import OrganizerActions

# The organizer view's name in the logs, as before news had a module of its own.
logger = logging.getLogger("handlers.admin")
refusals = Refusals(logger)


def handle_update_open(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()
    slug = clicked_value(body)

    def work() -> None:
        audience = organizer.audience(context.user_id or "", slug)
        open_modal(client, body, blocks.update_form(slug, audience.subscribers))

    in_time.run(context, refusals.notice(client, body, "update", slug, work))


def _text_problem(view: dict[str, Any]) -> Callable[[DomainError], FormAnswer | None]:
    def problem_of(problem: DomainError) -> FormAnswer | None:
        if not isinstance(problem, updates.InvalidUpdate):
            return None
        return field_errors(view, {blocks.UPDATE_TEXT_BLOCK: str(problem)}, "Not sent")

    return problem_of


def handle_update_preview(
    ack: Ack, view: dict, context: BoltContext, organizer: OrganizerActions
) -> None:
    slug = view.get("private_metadata") if isinstance(view.get("private_metadata"), str) else ""
    state = form_state(view)
    kind = (state.get(blocks.UPDATE_KIND_BLOCK, {}).get("selected_option") or {}).get("value")
    if not isinstance(kind, str) or kind not in blocks.UPDATE_KINDS:
        choose = {blocks.UPDATE_KIND_BLOCK: "Choose what it is."}
        field_errors(view, choose, "Not sent").acknowledge(ack)
        return
    chosen = state.get(blocks.UPDATE_SEND_BLOCK, {}).get("selected_options")
    send = isinstance(chosen, list) and bool(chosen)
    if kind == "news" and not send:
        send = True  # news is only ever sent; there is nothing to record

    def work() -> FormAnswer:
        text = updates.clean_text(typed_text(state, blocks.UPDATE_TEXT_BLOCK))
        audience = organizer.audience(context.user_id or "", slug)
        # The text as it is, after one line of JSON: as JSON itself, every quote and
        # backslash would count twice against private_metadata's 3000 characters.
        metadata = json.dumps([slug, kind, send]) + "\n" + text
        if len(metadata) > 3000:
            return field_errors(
                view, {blocks.UPDATE_TEXT_BLOCK: "Please shorten the update a little."}, "Not sent"
            )
        preview = blocks.update_preview(
            slug, audience.title, kind, text, send, audience.subscribers, metadata
        )
        return FormAnswer(view=preview)

    refusals.form("update", work, invalid=_text_problem(view))().acknowledge(ack)


def handle_update_send(
    ack: Ack,
    view: dict,
    context: BoltContext,
    organizer: OrganizerActions,
    send_updates: Callable[[], None],
) -> None:
    try:
        head, _, text = str(view.get("private_metadata") or "").partition("\n")
        slug, kind_value, send = json.loads(head)
        kind = UpdateKind(kind_value)
        if not isinstance(slug, str) or not isinstance(send, bool) or not text:
            raise ValueError("damaged")
    except (ValueError, KeyError, TypeError, RecursionError):
        ack(
            response_action="update",
            view=blocks.notice_modal("Not sent", blocks.damaged_form_text()),
        )
        return
    recorded = {UpdateKind.DELIVERED: "the delivery", UpdateKind.ANSWER: "the answer"}.get(kind)
    recipients = 0

    def work() -> FormAnswer:
        nonlocal recipients
        recipients = organizer.send_news(context.user_id or "", slug, kind, text, send)
        return FormAnswer(
            view=blocks.notice_modal("Done", blocks.update_started_text(recipients, recorded))
        )

    refusals.form("update", work, failed="Not sent")().acknowledge(ack)
    if recipients:
        send_updates()


def register(app: App) -> None:
    app.action(blocks.ADMIN_UPDATE)(handle_update_open)
    app.view(blocks.ADMIN_UPDATE_VIEW)(handle_update_preview)
    app.view(blocks.ADMIN_UPDATE_SEND_VIEW)(handle_update_send)
