"""Direct messages to the bot: `sign`, `status`, `withdraw`, `help`.

Every answer is ephemeral, visible only to the signer and not kept by Slack as a
message, so the DM holds no record of what the bot told them.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

import blocks
from blocks import kit
from handlers.errors import Asked, Refusals
from handlers.home import status_lines
from handlers.identity import signer_of
from handlers.intime import InTime
from handlers.pacing import Pacing
from handlers.slackapi import SlackUnavailable, Stranger, answer_privately
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)

MAX_TEXT = 500  # longer than any command; anything past it gets help


def _reply(
    client: WebClient,
    pacing: Pacing,
    event: dict[str, Any],
    answer: tuple[str, list[blocks.Block]],
) -> None:
    text, content = answer
    answer_privately(client, pacing.later, event["channel"], event["user"], text, content)


def _campaign_answer(
    worker: WorkerActions,
    slug: str | None,
    action_id: str,
    timezone: ZoneInfo,
    signed_only: list[blocks.StatusLine] | None = None,
    offset: int = 0,
) -> tuple[str, list[blocks.Block]]:
    if slug:
        view = worker.campaign(slug)
        if action_id == blocks.SIGN_ACTION:
            if not view.is_open:
                text = blocks.closed_text(view, timezone)
                return text, [kit._section(text)]
            # The demands, the notice and *Sign privately*, as under /demands.
            return blocks.campaign_message(view, timezone)
        return blocks.open_form_message(view, action_id)
    views = worker.public_campaigns()
    if action_id == blocks.SIGN_ACTION:
        choices = [v for v in views if v.is_open]
        intro = "Which campaign do you want to sign?"
    else:
        choices = [line.view for line in signed_only or []]
        intro = "Which signature do you want to withdraw?"
    if not choices:
        if action_id == blocks.SIGN_ACTION:
            text = blocks.no_open_campaign_text()
        else:
            text = "You have not signed any campaign, so there is nothing to withdraw."
        return text, [kit._section(text)]
    if len(choices) == 1:
        if action_id == blocks.SIGN_ACTION:
            return blocks.campaign_message(choices[0], timezone)
        return blocks.open_form_message(choices[0], action_id)
    return blocks.choose_campaign_message(choices, action_id, intro, offset)


def chooser_page(
    worker: WorkerActions,
    timezone: ZoneInfo,
    context: BoltContext,
    action_id: str,
    offset: int,
) -> tuple[str, list[blocks.Block]]:
    """A later page of the DM's sign or withdraw chooser (its "Next" button)."""
    signed = None
    if action_id == blocks.WITHDRAW_ACTION:
        signed = [line for line in status_lines(worker, context) if line.signed]
    return _campaign_answer(worker, None, action_id, timezone, signed, offset)


def handle_message(
    event: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
    pacing: Pacing,
) -> None:
    if event.get("channel_type") != "im":
        return
    # Edits, deletions, joins and other bots' messages are not commands.
    if (
        event.get("subtype")
        or event.get("bot_id")
        or not event.get("user")
        or not event.get("channel")
    ):
        return
    raw = event.get("text")
    text = raw.strip() if isinstance(raw, str) else ""
    words = text.split() if len(text) <= MAX_TEXT else []
    verb = words[0].lower().strip("!.?/") if words else ""
    argument = words[1] if len(words) > 1 else None

    # A campaign's name is asked for with `sign`, whichever verb named it.
    asked = Asked(argument or "", command="sign")

    def answer() -> None:
        try:
            reply = refusals.reply(
                asked, lambda: _answer(verb, argument, context, worker, timezone)
            )
        except SlackUnavailable as busy:
            text = blocks.slack_busy_text(busy.retry_after)
            reply = (text, [kit._section(text)])
        except Stranger:
            text = blocks.stranger_text()
            reply = (text, [kit._section(text)])
        _reply(client, pacing, event, reply)

    # The event is acknowledged by the deadline whatever Slack's Web API does.
    in_time.run(context, answer)


def _answer(
    verb: str,
    argument: str | None,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
) -> tuple[str, list[blocks.Block]]:
    if verb == "sign":
        return _campaign_answer(worker, argument, blocks.SIGN_ACTION, timezone)
    if verb == "withdraw":
        signed = [line for line in status_lines(worker, context) if line.signed]
        return _campaign_answer(worker, argument, blocks.WITHDRAW_ACTION, timezone, signed)
    if verb == "stop" and argument and argument.lower().startswith("update"):
        removed = worker.stop_news(signer_of(context, worker))
        text = (
            "Done: you will get no more news from the bot, and the encrypted copy of your "
            "Slack ID kept for it is deleted."
            if removed
            else "You were not getting news about any campaign; nothing to stop."
        )
        return text, [kit._section(text)]
    if verb == "status":
        return blocks.status_message(status_lines(worker, context), timezone)
    # Garbled or unknown text gets help; the text itself is neither logged nor kept.
    return blocks.dm_help_message()


def register(app: App) -> None:
    app.event("message")(handle_message)
