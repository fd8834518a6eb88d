"""*Sign privately*: an anonymous signature in one click, with no rate-limited call
to Slack.

The button sits under a campaign's demands and the notice of what is kept
(blocks.signing_blocks: /demands, the DM, Home; and blocks.campaign_card, the card
an organizer posts in a channel) and carries
Slack's own confirmation dialog, which Slack's client shows without asking the
app. The click is checked against the member directory (handlers/directory.py,
no call to Slack for anyone it knows), recorded in one transaction
(WorkerActions.sign, group-committed with others on SQLite) and answered where
the person clicked: the ephemeral message replaced through its response URL, a
new ephemeral message under a channel's card, or the Home tab published again. A
response URL is not one of Slack's rate-limited Web API methods, so nothing on
this path waits for a tier: it goes as fast as the server does.

Nothing is recorded unless the whole check passed; the answer says nothing about
the count (it moves on the hour, petition/counts.py); no log line marks a signature.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.errors import Asked, Refusals
from handlers.home import publish_home_quietly
from handlers.identity import account_of, signer_of
from handlers.intime import InTime
from handlers.payload import clicked_value
from handlers.signform import home_page
from handlers.slackapi import SlackUnavailable, Stranger
from petition import eligibility
from petition.campaigns import CampaignView
from petition.signatures import CampaignClosed, SignOutcome
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)

# A response URL takes five posts within 30 minutes; an answer that does not get
# through at once is tried again this many times, this far apart.
ANSWER_ATTEMPTS = 3
ANSWER_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class QuickAnswer:
    """What a click on *Sign privately* came to."""

    signed: bool
    fallback: str
    content: list[blocks.Block]
    # The same, said in a line at the top of the Home tab.
    line: str


def _answer_for(view: CampaignView, outcome: SignOutcome) -> QuickAnswer:
    already = outcome is SignOutcome.ALREADY_SIGNED
    fallback, content = blocks.signed_message(view, already)
    line = str(content[0]["text"]["text"])
    return QuickAnswer(True, fallback, content, line)


def _refused(text: str) -> QuickAnswer:
    fallback, content = blocks.quick_sign_refused(text)
    return QuickAnswer(False, fallback, content, text)


def _surface(body: dict[str, Any]) -> str:
    """Where the click came from: "home", an "ephemeral" message (the /demands
    answer, the DM), or a "message" everyone in a channel sees (the card)."""
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    if container.get("type") == "view":
        view = body.get("view") if isinstance(body.get("view"), dict) else {}
        return "home" if view.get("type") == "home" else "view"
    # Only a message Slack marks ephemeral is replaced: replacing a channel's card
    # would change it for everyone.
    return "ephemeral" if container.get("is_ephemeral") is True else "message"


def record_quick_signature(
    slug: str,
    context: BoltContext,
    client: WebClient,
    worker: WorkerActions,
    timezone: ZoneInfo,
) -> QuickAnswer:
    """Check, then record an anonymous signature, all or nothing. A refusal is
    answered by handlers/errors.py: before the campaign is found, about the name
    clicked; after, about that campaign."""

    def found() -> QuickAnswer:
        view = worker.campaign(slug)
        asked = Asked(slug, campaign=view, timezone=timezone)
        return refusals.sign_button(
            asked, _refused, lambda: _signature(slug, view, context, client, worker)
        )

    return refusals.sign_button(Asked(slug, timezone=timezone), _refused, found)


def _signature(
    slug: str, view: CampaignView, context: BoltContext, client: WebClient, worker: WorkerActions
) -> QuickAnswer:
    if not view.is_open:
        raise CampaignClosed()  # answered as a signature the database refused
    try:
        refusal = eligibility.refusal(
            account_of(context, client), context.team_id, context.enterprise_id
        )
        if refusal:
            logger.info("an ineligible account was refused a signature")
            return _refused(refusal)
        signer = signer_of(context, worker)
    except SlackUnavailable as busy:
        return _refused(blocks.try_again_text(busy.retry_after or 60))
    except Stranger:
        logger.info("refused a signature from someone Slack does not show the app")
        return _refused(blocks.stranger_text())

    outcome = worker.sign(slug, signer, confirm=False).outcome
    # No log line for a signature: its time is exactly what must not be kept.
    return _answer_for(view, outcome)


def _respond(respond: Respond, **message: Any) -> None:
    """Post to the click's response URL, again if Slack did not take it."""
    for attempt in range(ANSWER_ATTEMPTS):
        try:
            status = respond(**message).status_code
        except Exception as error:  # a connection failure: try again
            logger.warning("an answer to a sign button failed: %s", type(error).__name__)
            status = None
        if status is not None and 200 <= status < 300:
            return
        if status is not None and status < 500 and status != 429:
            logger.warning("an answer to a sign button was refused (status %s)", status)
            return
        if attempt + 1 < ANSWER_ATTEMPTS:
            time.sleep(ANSWER_RETRY_SECONDS * (attempt + 1))
    logger.error("an answer to a sign button could not be delivered")


def deliver(
    answer: QuickAnswer,
    surface: str,
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    page: int,
) -> None:
    if surface == "home":
        publish_home_quietly(client, worker, timezone, context, page, notice=answer.line)
    elif surface == "ephemeral":
        _respond(respond, text=answer.fallback, blocks=answer.content, replace_original=True)
    elif surface == "message":
        _respond(
            respond,
            text=answer.fallback,
            blocks=answer.content,
            response_type="ephemeral",
            replace_original=False,
        )
    else:
        logger.warning("a sign button was clicked where no answer can go")


def handle_quick_sign(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    ack()
    slug = clicked_value(body)
    surface = _surface(body)
    page = home_page(body)

    def answer(result: QuickAnswer) -> None:
        deliver(result, surface, respond, client, context, worker, timezone, page)

    def failed(reference: str) -> None:
        text = blocks.error_message(reference)
        answer(_refused(text))

    # The signature is committed before the acknowledgement (by the deadline, else
    # just after it); the answer goes out after it, on the pool.
    done, result = in_time.run(
        context,
        lambda: record_quick_signature(slug, context, client, worker, timezone),
        then=answer,
        failed=failed,
    )
    if done and result is not None:
        in_time.start(lambda: answer(result))


def register(app: App) -> None:
    app.action(blocks.QUICK_SIGN_ACTION)(handle_quick_sign)
