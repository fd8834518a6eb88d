"""Slash commands: `/demands [slug]`."""

from __future__ import annotations

import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.admin import admin_command_answer, draft_preview
from handlers.cards import post_card
from handlers.intime import InTime
from handlers.kept import ack_json
from petition import campaigns
from petition.organizer_actions import OrganizerActions
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)

# Anything longer than this is not a slug; answering with help beats a lookup.
MAX_ARGUMENT = 200


def demands_answer(worker: WorkerActions, tz: ZoneInfo, text: str) -> str:
    """The ephemeral answer to `/demands TEXT`, as the acknowledgement's JSON body."""
    argument = text.strip()
    if argument.lower() in {"help", "?"} or len(argument) > MAX_ARGUMENT:
        return _ephemeral(blocks.help_message())
    # The most frequent request of all, with the same answer for everyone: made
    # from the shared copy of the public campaigns, once per copy, not from the
    # database each time.
    public = worker.snapshot()
    slug = argument.split()[0].lower() if argument else ""
    views = public.views()
    if slug and slug not in {v.slug for v in views}:
        # Not kept: people can type anything here.
        return _ephemeral(_answer(views, slug, argument, tz))
    # Kept serialized: turning the blocks into JSON cost more than the rest of
    # this function.
    return public.kept(
        # The day too: the answer says how many days are left.
        views,
        ("/demands", slug, tz.key, dt.datetime.now(tz).date()),
        lambda: _ephemeral(_answer(views, slug, argument, tz)),
    )


def _ephemeral(answer: tuple[str, list[blocks.Block]]) -> str:
    fallback, content = answer
    return json.dumps({"text": fallback, "response_type": "ephemeral", "blocks": content})


def _answer(
    views: tuple[campaigns.CampaignView, ...], slug: str, argument: str, tz: ZoneInfo
) -> tuple[str, list[blocks.Block]]:
    if slug:
        for view in views:
            if view.slug == slug:
                return blocks.campaign_message(view, tz)
        logger.info("/demands asked for an unknown campaign")
        return blocks.unknown_campaign_message(argument, [v.slug for v in views])
    choices = list_choices(views)
    if not choices:
        return blocks.no_campaigns_message()
    if len(choices) == 1:
        return blocks.campaign_message(choices[0], tz)
    return blocks.campaign_list_message(choices, tz)


def list_choices(views: tuple[campaigns.CampaignView, ...]) -> list[campaigns.CampaignView]:
    """What `/demands` lists: the open campaigns, or every public one when none is open."""
    open_views = [v for v in views if v.is_open]
    return open_views or list(views)


def list_page(worker: WorkerActions, tz: ZoneInfo, offset: int) -> tuple[str, list[blocks.Block]]:
    """A later page of the `/demands` list (its "Next" button)."""
    choices = list_choices(worker.snapshot().views())
    if not choices:
        return blocks.no_campaigns_message()
    return blocks.campaign_list_message(choices, tz, offset=offset)


def handle_demands(
    ack: Ack,
    command: dict,
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    organizer: OrganizerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    text = command.get("text") if isinstance(command.get("text"), str) else ""
    user = command.get("user_id") if isinstance(command.get("user_id"), str) else ""
    # The answer travels in the acknowledgement itself: ephemeral, visible only to
    # the worker, and not kept by Slack as a message.
    if (text or "").strip().lower() == "admin":
        fallback, body = admin_command_answer(organizer, user)
        ack(response_type="ephemeral", text=fallback, blocks=body)
        return
    argument = (text or "").strip()
    words = argument.split()
    if words and words[0].lower() == "card" and len(argument) <= MAX_ARGUMENT:
        ack()
        channel = command.get("channel_id") if isinstance(command.get("channel_id"), str) else ""
        slug = words[1].lower() if len(words) > 1 else ""
        in_time.run(context, lambda: post_card(respond, client, organizer, user, channel, slug))
        return
    if argument and len(argument) <= MAX_ARGUMENT:
        slug = words[0].lower()
        if slug not in {v.slug for v in worker.snapshot().views()}:
            # Perhaps the organizer's own draft: they see it as workers will.
            preview = draft_preview(organizer, user, slug)
            if preview is not None:
                fallback, body = preview
                ack(response_type="ephemeral", text=fallback, blocks=body)
                return
    ack_json(ack, demands_answer(worker, timezone, text or ""))


def register(app: App) -> None:
    app.command("/demands")(handle_demands)
