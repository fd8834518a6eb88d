"""A click that opens a form (signing, changing, withdrawing): acknowledged in
time, opened at once or after a "one moment" modal, people taking turns once Slack
holds views.open back, the DM prompt cleared once the form is open, and a form
that did not open said so where the click came from."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.home import publish_home_quietly
from handlers.identity import UnknownRequester, requester_key
from handlers.intime import FormOpener, InTime
from handlers.pacing import Pacing, Turns
from handlers.signform import home_page, origin_of
from handlers.slackapi import SlackUnavailable, Stranger, say_form_not_opened
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)


def _clear_dm_prompt(body: dict[str, Any], respond: Respond) -> None:
    """Remove the DM prompt whose button was clicked, so the DM keeps no trace of it."""
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    if str(channel.get("id", "")).startswith("D") and body.get("response_url"):
        try:
            respond(delete_original=True)
        except Exception:  # the prompt is ephemeral and fades anyway
            logger.info("could not remove a DM prompt")


class FormNotOpened(Exception):
    """Slack did not confirm that a modal opened (rate limit, outage, timeout)."""

    def __init__(self, failure: SlackUnavailable) -> None:
        super().__init__("views.open")
        self.failure = failure


def show(opener: FormOpener, view: dict[str, Any]) -> None:
    """Show `view` as the click's form; FormNotOpened if Slack did not take it."""
    failure = opener.show(view)
    if failure is not None:
        raise FormNotOpened(failure)


def _opening(
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    turn: _Turn | None,
    open_form: Callable[[], None],
) -> None:
    """Open a form for a click. If Slack did not, say so and leave the DM prompt to
    be clicked again; if it did, clear the prompt (after opening it: the
    trigger_id expires in three seconds)."""
    try:
        open_form()
    except FormNotOpened as not_opened:
        failure = not_opened.failure
        if turn is not None and failure.retry_after:
            # Refused at their turn: they go first once Slack allows.
            failure = SlackUnavailable(
                failure.method, turn.turns.refused(turn.who, failure.retry_after)
            )
        _tell_not_opened(body, context, failure)
    else:
        _clear_dm_prompt(body, respond)


@dataclass(frozen=True)
class _Turn:
    turns: Turns
    who: str


def _form_turn(context: BoltContext) -> _Turn | None:
    """The person's place in line for views.open (handlers/pacing.Turns)."""
    pacing, worker = context.get("pacing"), context.get("worker")
    if not isinstance(pacing, Pacing) or not isinstance(worker, WorkerActions):
        return None
    try:
        return _Turn(pacing.turns("views.open"), requester_key(context, worker))
    except UnknownRequester:
        return None


def _tell_not_opened(body: dict[str, Any], context: BoltContext, failure: SlackUnavailable) -> None:
    """Say that the form did not open, and when to click again: under the message
    clicked, or at the top of the Home tab."""
    if body.get("response_url") or origin_of(body) != "home":
        say_form_not_opened(body, failure)
        return
    publish_home_quietly(
        context.client,
        context["worker"],
        context["timezone"],
        context,
        home_page(body),
        notice=blocks.form_not_opened_text(failure.retry_after),
    )


def open_on_click(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    in_time: InTime,
    form: Callable[[FormOpener], None],
) -> None:
    """Acknowledge a click in time and open the form it asks for: at once if it is
    ready by the deadline, else a "one moment" modal that the form replaces. Once
    Slack holds views.open back, people take turns: someone whose turn has not come
    is told when it does, without asking Slack."""
    ack()
    turn = _form_turn(context)
    wait = turn.turns.ask(turn.who) if turn is not None else 0
    if wait:
        waiting = SlackUnavailable("views.open", wait)
        in_time.start(lambda: _tell_not_opened(body, context, waiting))
        return
    opener = FormOpener(client, body.get("trigger_id"))

    def open_it() -> None:
        try:
            form(opener)
        except SlackUnavailable as busy:
            show(opener, blocks.notice_modal("Try again", blocks.slack_busy_text(busy.retry_after)))
        except Stranger:
            logger.info("refused a form to someone Slack does not show the app")
            show(opener, blocks.notice_modal("Cannot sign", blocks.stranger_text()))

    in_time.run(
        context,
        lambda: _opening(body, respond, context, turn, open_it),
        late=lambda: in_time.start(opener.hold),
    )
