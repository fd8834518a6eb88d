"""The App Home tab: open campaigns, the viewer's own status, sign and withdraw."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

import blocks
from bot.settings import Settings
from handlers.identity import requester_key, signer_of
from handlers.intime import InTime
from handlers.pacing import Pacing
from handlers.slackapi import SlackUnavailable, Stranger
from petition import campaigns
from petition.keyring import Keyring
from petition.signatures import signer_overview
from storage.db import Database

logger = logging.getLogger(__name__)


def status_lines(
    db: Database, settings: Settings, context: BoltContext, keyring: Keyring
) -> list[blocks.StatusLine]:
    signer = signer_of(context, settings)
    # The campaigns come from the copy /demands shares; only this signer's own
    # rows are read from the database, directly on the driver (storage/direct.py).
    views = campaigns.public_snapshot(db).views()
    with db.direct.read() as work:
        overview = signer_overview(work, signer, keyring, views=views)
    return [
        blocks.StatusLine(
            view,
            status.signed,
            status.named,
            threshold=status.threshold,
            named_today=status.named_today,
            subscribed=status.subscribed,
        )
        for view, status in overview
    ]


def publish_home(
    client: WebClient,
    db: Database,
    settings: Settings,
    context: BoltContext,
    keyring: Keyring,
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
        lines = status_lines(db, settings, context, keyring)
        client.views_publish(
            user_id=user, view=blocks.home_view(lines, settings.timezone, offset, said)
        )

    def publish_late() -> None:
        publish(f"{notice}\n{blocks.HELD_BACK_TEXT}" if notice else blocks.HELD_BACK_TEXT)

    # One waiting publish per person: a later one takes its place in line.
    key = ("home", requester_key(context, settings))
    return pacing.later.call("views.publish", publish, key=key, late=publish_late)


def publish_home_quietly(
    client: WebClient,
    db: Database,
    settings: Settings,
    context: BoltContext,
    keyring: Keyring,
    offset: int = 0,
    notice: str | None = None,
) -> None:
    """publish_home, for when the person is not waiting on it: if Slack cannot say
    who they are now, the tab keeps what it showed (logged, without ids)."""
    try:
        publish_home(client, db, settings, context, keyring, offset, notice)
    except SlackUnavailable:
        logger.info("the Home tab was not refreshed: Slack is busy")
    except Stranger:
        logger.info("the Home tab was not shown: Slack does not show this person to the app")


def handle_home_opened(
    event: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    keyring: Keyring,
    in_time: InTime,
) -> None:
    if event.get("tab") != "home":
        return
    in_time.run(context, lambda: publish_home_quietly(client, db, settings, context, keyring))


def register(app: App) -> None:
    app.event("app_home_opened")(handle_home_opened)
