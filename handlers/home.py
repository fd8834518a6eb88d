"""The App Home tab: open campaigns, the viewer's own status, sign and withdraw."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

import blocks
from handlers.identity import requester_key, signer_of
from handlers.intime import InTime
from handlers.pacing import Pacing
from handlers.slackapi import SlackUnavailable, Stranger
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)


def status_lines(worker: WorkerActions, context: BoltContext) -> list[blocks.StatusLine]:
    """The requester's status on each campaign (WorkerActions.status: the shared
    copy of the campaigns, and only their own rows read)."""
    signer = signer_of(context, worker)
    return [
        blocks.StatusLine(
            view,
            status.signed,
            status.named,
            threshold=status.threshold,
            named_today=status.named_today,
            subscribed=status.subscribed,
        )
        for view, status in worker.status(signer)
    ]


def publish_home(
    client: WebClient,
    worker: WorkerActions,
    timezone: ZoneInfo,
    context: BoltContext,
    offset: int = 0,
    notice: str | None = None,
) -> bool:
    """Publish the Home tab, showing the page of campaigns that starts at `offset`
    and `notice` at the top. When Slack holds views.publish back, the tab is
    published once it allows, in the order people asked, made then from what is
    true then (handlers/pacing.Later). True if it went now."""
    pacing: Pacing = context["pacing"]
    user = context.user_id

    def publish(said: str | None = notice) -> None:
        lines = status_lines(worker, context)
        client.views_publish(user_id=user, view=blocks.home_view(lines, timezone, offset, said))

    def publish_late() -> None:
        publish(f"{notice}\n{blocks.HELD_BACK_TEXT}" if notice else blocks.HELD_BACK_TEXT)

    # One waiting publish per person: a later one takes its place in line.
    key = ("home", requester_key(context, worker))
    return pacing.later.call("views.publish", publish, key=key, late=publish_late)


def publish_home_quietly(
    client: WebClient,
    worker: WorkerActions,
    timezone: ZoneInfo,
    context: BoltContext,
    offset: int = 0,
    notice: str | None = None,
) -> None:
    """publish_home, for when the person is not waiting on it: if Slack cannot say
    who they are now, the tab keeps what it showed (logged, without ids)."""
    try:
        publish_home(client, worker, timezone, context, offset, notice)
    except SlackUnavailable:
        logger.info("the Home tab was not refreshed: Slack is busy")
    except Stranger:
        logger.info("the Home tab was not shown: Slack does not show this person to the app")


def handle_home_opened(
    event: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    if event.get("tab") != "home":
        return
    in_time.run(context, lambda: publish_home_quietly(client, worker, timezone, context))


def register(app: App) -> None:
    app.event("app_home_opened")(handle_home_opened)
