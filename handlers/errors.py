"""The one place that turns a failure into a message for the person and a log line
for the operator.

A request the domain refuses (a petition.errors.DomainError: not an organizer, no
such campaign, a campaign that breaks a rule) is answered by `Refusals` on the
surface it came from: a click that would open a form opens a notice instead, a
click on a message is answered under it, a submitted form is updated or shows its
field errors, a command answers in its acknowledgement. A refusal is logged with
the action's name only.

Anything else is a failure (`handle_error`): the person gets an error reference,
the operator a log line with the kind of request and that reference, never who
sent it or what they typed."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse, Respond
from slack_sdk import WebClient

import blocks
from blocks import kit
from handlers.identity import UnknownRequester
from handlers.intime import FormAnswer
from handlers.slackapi import open_form, say_form_not_opened
from petition.errors import CampaignIsDraft, CampaignNotFound, DomainError, NotAnOrganizer

logger = logging.getLogger(__name__)

Answer = tuple[str, list[blocks.Block]]


def open_modal(client: WebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Open a modal for a click, or tell the person under what they clicked that
    Slack did not."""
    failure = open_form(client, body.get("trigger_id"), view)
    if failure is not None:
        say_form_not_opened(body, failure)


class Refusals:
    """How a refused request is answered, surface by surface. Each wraps the work
    of one listener: a DomainError it does not know is raised on (to handle_error).

    One per module, with that module's logger: a refusal's log line keeps the name
    of the listener's module."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log

    def refused(self, action: str) -> None:
        self._log.warning("refused an organizer action (%s): not an organizer", action)

    def notice(
        self,
        client: WebClient,
        body: dict[str, Any],
        action: str,
        slug: str,
        work: Callable[[], None],
    ) -> Callable[[], None]:
        """A click that opens a form: refused, it opens a notice in its place."""

        def answered() -> None:
            try:
                work()
            except NotAnOrganizer:
                self.refused(action)
                open_modal(
                    client,
                    body,
                    blocks.notice_modal("Organizers only", blocks.not_organizer_text()),
                )
            except CampaignNotFound as missing:
                text = blocks.not_found_text(slug, missing.known)
                open_modal(client, body, blocks.notice_modal("Not found", text))

        return answered

    def ephemeral(
        self,
        respond: Respond,
        action: str,
        slug: str,
        work: Callable[[], None],
        *,
        changing: bool = False,
    ) -> Callable[[], None]:
        """A click on a message or a command answered later: refused, the person
        alone is told, under it. `changing`: every other refusal of a change says
        that nothing changed, and why."""

        def say(text: str) -> None:
            respond(text=text, response_type="ephemeral", replace_original=False)

        def answered() -> None:
            try:
                work()
            except NotAnOrganizer:
                self.refused(action)
                say(blocks.not_organizer_text())
            except DomainError as problem:
                if changing:
                    say(f"Nothing changed: {problem}.")
                elif isinstance(problem, CampaignNotFound):
                    say(blocks.not_found_text(slug, problem.known))
                elif isinstance(problem, CampaignIsDraft):
                    say(str(problem))
                else:
                    raise

        return answered

    def form(
        self,
        action: str,
        work: Callable[[], FormAnswer],
        *,
        failed: str | None = None,
        invalid: Callable[[DomainError], FormAnswer | None] | None = None,
    ) -> Callable[[], FormAnswer]:
        """A submitted form: refused, it turns into a notice, or shows what
        `invalid` makes of the error beside the form's fields. `failed`: the
        notice's title for any other refusal, which is then shown as it is."""

        def answered() -> FormAnswer:
            try:
                return work()
            except NotAnOrganizer:
                self.refused(action)
                return FormAnswer(
                    view=blocks.notice_modal("Organizers only", blocks.not_organizer_text())
                )
            except DomainError as problem:
                shown = invalid(problem) if invalid is not None else None
                if shown is not None:
                    return shown
                if failed is not None:
                    return FormAnswer(view=blocks.notice_modal(failed, str(problem)))
                if isinstance(problem, CampaignNotFound):
                    return FormAnswer(
                        view=blocks.notice_modal("Not found", "This campaign no longer exists.")
                    )
                raise

        return answered

    def command(self, action: str, work: Callable[[], Answer]) -> Answer:
        """A command answered in its acknowledgement: refused, with the reason."""
        try:
            return work()
        except NotAnOrganizer:
            self.refused(action)
            text = blocks.not_organizer_text()
            return text, [kit._section(text)]


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
