"""The one place that turns a failure into a message for the person and a log line
for the operator. The log line names the kind of request and an error reference,
never who sent it or what they typed."""

from __future__ import annotations

import json
import logging
import secrets

from slack_bolt import App, BoltResponse, Respond

import blocks
from handlers.identity import UnknownRequester

logger = logging.getLogger(__name__)


def _request_kind(body: dict) -> str:
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    return str(kind)[:40]


def handle_error(error: Exception, body: dict, respond: Respond) -> BoltResponse:
    if isinstance(error, UnknownRequester):
        # Slack always says who acts; a payload that does not is nobody to answer.
        logger.warning("ignored a %s request that named no person", _request_kind(body))
        return BoltResponse(status=200, body="")
    reference = secrets.token_hex(4)
    # exc_info gives the operator the traceback; the traceback holds our code's
    # frames, not the request body.
    logger.error(
        "handler failed on a %s request (ref %s): %s",
        _request_kind(body),
        reference,
        type(error).__name__,
        exc_info=error,
    )
    message = blocks.error_message(reference)
    if "command" in body:
        payload = {"response_type": "ephemeral", "text": message}
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
        )
    if body.get("type") == "view_submission":
        # Replacing the form keeps the person from resubmitting into the same failure.
        payload = {
            "response_action": "update",
            "view": blocks.notice_modal("Something went wrong", message),
        }
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
        )
    if body.get("response_url"):
        try:
            respond(text=message, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.warning("could not tell the person about error %s", reference)
    return BoltResponse(status=200, body="")


def register(app: App) -> None:
    app.error(handle_error)
