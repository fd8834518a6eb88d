"""The signing and withdrawal forms: opened by a button (under /demands, in the DM
or on the Home tab), confirmed by submitting a modal.

Modals are used because Slack does not keep their contents as messages: the
choice a signer makes never lands in an exportable conversation.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot import campaigns, eligibility
from bot.campaigns import CampaignView
from bot.errors import CampaignNotFound
from bot.settings import Settings
from bot.signatures import (
    CampaignClosed,
    InvalidName,
    SignOutcome,
    add_signature,
    clean_name,
    remove_signature,
    signer_status,
)
from handlers import blocks
from handlers.home import publish_home
from handlers.identity import signer_of
from handlers.slackapi import SlackUnavailable, call_quietly, fetch_user
from storage.db import Database

logger = logging.getLogger(__name__)


def _metadata(slug: str, origin: str) -> str:
    # Campaign and where the form was opened from; nothing about the person.
    return json.dumps({"slug": slug, "from": origin})


def _read_metadata(view: dict[str, Any]) -> tuple[str, str]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    slug, origin = data.get("slug"), data.get("from")
    return (slug if isinstance(slug, str) else ""), (origin if isinstance(origin, str) else "")


def _origin(body: dict[str, Any]) -> str:
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    if container.get("type") == "view" and view.get("type") == "home":
        return "home"
    return "message"


def _clicked_slug(body: dict[str, Any]) -> str:
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        value = actions[0].get("value")
        if isinstance(value, str):
            return value
    return ""


def _clear_dm_prompt(body: dict[str, Any], respond: Respond) -> None:
    """Remove the DM prompt whose button was clicked, so the DM keeps no trace of it."""
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    if str(channel.get("id", "")).startswith("D") and body.get("response_url"):
        try:
            respond(delete_original=True)
        except Exception:  # the prompt is ephemeral and fades anyway
            logger.info("could not remove a DM prompt")


def _show(client: WebClient, trigger_id: str | None, view: dict[str, Any]) -> None:
    if not trigger_id:
        logger.warning("a form could not be opened: the click carried no trigger_id")
        return
    call_quietly("views.open", client.views_open, trigger_id=trigger_id, view=view)


def _find(db: Database, slug: str) -> CampaignView | CampaignNotFound:
    with db.read() as session:
        try:
            return campaigns.find_public_campaign(session, slug)
        except CampaignNotFound as missing:
            return missing


def handle_sign_start(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
) -> None:
    ack()
    try:
        _sign_start(body, client, context, db, settings)
    finally:
        # After the form is open: the trigger_id expires in three seconds.
        _clear_dm_prompt(body, respond)


def _sign_start(
    body: dict[str, Any], client: WebClient, context: BoltContext, db: Database, settings: Settings
) -> None:
    trigger_id = body.get("trigger_id")
    slug = _clicked_slug(body)
    found = _find(db, slug)
    if isinstance(found, CampaignNotFound):
        logger.info("a sign button named an unknown campaign")
        text = blocks.not_found_text(slug, found.known)
        _show(client, trigger_id, blocks.notice_modal("Not found", text))
        return
    if not found.is_open:
        _show(
            client,
            trigger_id,
            blocks.notice_modal("Closed", blocks.closed_text(found, settings.timezone)),
        )
        return
    signer = signer_of(context, settings)
    with db.read() as session:
        already = signer_status(session, found.slug, signer).signed
    if already:
        _show(client, trigger_id, blocks.signed_modal(found.title, named=False, already=True))
        return
    try:
        user = fetch_user(client, context.user_id or "")
    except SlackUnavailable as busy:
        _show(
            client,
            trigger_id,
            blocks.notice_modal("Try again", blocks.slack_busy_text(busy.retry_after)),
        )
        return
    refusal = eligibility.refusal(user, context.team_id)
    if refusal:
        logger.info("an ineligible account was refused the signing form")
        _show(client, trigger_id, blocks.notice_modal("Cannot sign", refusal))
        return
    metadata = _metadata(found.slug, _origin(body))
    _show(client, trigger_id, blocks.sign_modal(found, metadata, eligibility.suggested_name(user)))


def _choice(view: dict[str, Any]) -> tuple[str | None, str | None]:
    values = (view.get("state") or {}).get("values") or {}
    how = ((values.get(blocks.HOW_BLOCK) or {}).get(blocks.HOW_ACTION) or {}).get("selected_option")
    choice = how.get("value") if isinstance(how, dict) else None
    name = ((values.get(blocks.NAME_BLOCK) or {}).get(blocks.NAME_ACTION) or {}).get("value")
    return (choice if isinstance(choice, str) else None), (name if isinstance(name, str) else None)


def handle_sign_submit(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
) -> None:
    slug, origin = _read_metadata(view)
    choice, raw_name = _choice(view)
    if choice not in {blocks.ANONYMOUS, blocks.NAMED}:
        ack(response_action="errors", errors={blocks.HOW_BLOCK: "Choose how you want to sign."})
        return
    name = None
    if choice == blocks.NAMED:
        try:
            name = clean_name(raw_name)
        except InvalidName as problem:
            ack(response_action="errors", errors={blocks.NAME_BLOCK: str(problem)})
            return
    try:
        user = fetch_user(client, context.user_id or "")
    except SlackUnavailable as busy:
        ack(
            response_action="errors",
            errors={blocks.HOW_BLOCK: blocks.slack_busy_text(busy.retry_after)},
        )
        return
    refusal = eligibility.refusal(user, context.team_id)
    if refusal:
        logger.info("an ineligible account's signature was refused")
        ack(response_action="update", view=blocks.notice_modal("Cannot sign", refusal))
        return
    signer = signer_of(context, settings)
    try:
        with db.write() as session:
            outcome = add_signature(session, slug, signer, name)
            title = campaigns.find_public_campaign(session, slug).title
    except CampaignNotFound:
        logger.info("a signing form named an unknown campaign")
        ack(
            response_action="update",
            view=blocks.notice_modal(
                "Not found", "This campaign no longer exists. Nothing was recorded."
            ),
        )
        return
    except CampaignClosed:
        found = _find(db, slug)
        text = (
            blocks.closed_text(found, settings.timezone)
            if isinstance(found, CampaignView)
            else "This campaign is closed."
        )
        ack(
            response_action="update",
            view=blocks.notice_modal("Closed", text + " Nothing was recorded."),
        )
        return
    # No log line for a signature: its time is exactly what must not be kept.
    already = outcome is SignOutcome.ALREADY_SIGNED
    ack(
        response_action="update",
        view=blocks.signed_modal(title, named=name is not None, already=already),
    )
    if origin == "home":
        publish_home(client, db, settings, context)


def handle_withdraw_start(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
) -> None:
    ack()
    try:
        _withdraw_start(body, client, context, db, settings)
    finally:
        _clear_dm_prompt(body, respond)


def _withdraw_start(
    body: dict[str, Any], client: WebClient, context: BoltContext, db: Database, settings: Settings
) -> None:
    trigger_id = body.get("trigger_id")
    slug = _clicked_slug(body)
    found = _find(db, slug)
    if isinstance(found, CampaignNotFound):
        _show(
            client,
            trigger_id,
            blocks.notice_modal("Not found", blocks.not_found_text(slug, found.known)),
        )
        return
    signer = signer_of(context, settings)
    with db.read() as session:
        signed = signer_status(session, found.slug, signer).signed
    if not signed:
        _show(client, trigger_id, blocks.withdrawn_modal(found.title, had_signed=False))
        return
    _show(client, trigger_id, blocks.withdraw_modal(found, _metadata(found.slug, _origin(body))))


def handle_withdraw_submit(
    ack: Ack,
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
) -> None:
    slug, origin = _read_metadata(view)
    signer = signer_of(context, settings)
    try:
        with db.write() as session:
            had_signed = remove_signature(session, slug, signer)
            title = campaigns.find_public_campaign(session, slug).title
    except CampaignNotFound:
        ack(
            response_action="update",
            view=blocks.notice_modal("Not found", "This campaign no longer exists."),
        )
        return
    ack(response_action="update", view=blocks.withdrawn_modal(title, had_signed))
    if origin == "home":
        publish_home(client, db, settings, context)


def register(app: App) -> None:
    app.action(blocks.SIGN_ACTION)(handle_sign_start)
    app.view(blocks.SIGN_VIEW)(handle_sign_submit)
    app.action(blocks.WITHDRAW_ACTION)(handle_withdraw_start)
    app.view(blocks.WITHDRAW_VIEW)(handle_withdraw_submit)
