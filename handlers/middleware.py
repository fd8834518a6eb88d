"""Cross-cutting request handling: retries, the installed workspace, rate limits."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.ratelimit import RateLimiter
from bot.settings import Settings
from bot.signatures import adopt_signer
from handlers import blocks
from handlers.identity import UnknownRequester, signer_of, workspace_signer_of
from storage.db import Database

logger = logging.getLogger(__name__)

# Requests that act for a person; url_verification and the like carry nobody.
_PERSONAL = {"block_actions", "view_submission", "event_callback", "slash_command"}


def _nowhere_to_respond(*_args: Any, **_kwargs: Any) -> None:
    logger.info("dropped an answer to a request that carried no response URL")


def respond_needs_a_response_url(context: BoltContext, next: Callable[[], BoltResponse]) -> None:
    """Slack sends a response URL with every click on a message and every command.
    A request without one (a forged click, say) has nowhere to be answered that way:
    `respond` then does nothing, where Bolt's would raise inside the listener."""
    if not context.response_url or not isinstance(context.response_url, str):
        context["respond"] = _nowhere_to_respond
    next()


def skip_event_retries(
    request: BoltRequest, body: dict, next: Callable[[], BoltResponse]
) -> BoltResponse:
    """Answer Slack's redeliveries of an event without acting on them again.

    Every listener runs to completion before Slack gets its answer and failures
    are answered with 200, so a retry means the first delivery was slow, not
    lost: acting again would send the signer a second reply.
    """
    if body.get("type") == "event_callback" and request.headers.get("x-slack-retry-num"):
        logger.info(
            "ignored a redelivered event (retry %s)", request.headers["x-slack-retry-num"][0]
        )
        return BoltResponse(status=200, body="")
    return next()


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "slash_command"
    return str(body.get("type", ""))


def _ephemeral(text: str) -> BoltResponse:
    payload = {"response_type": "ephemeral", "text": text}
    return BoltResponse(
        status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
    )


def _tell(body: dict[str, Any], client: WebClient, title: str, text: str) -> BoltResponse:
    """Refuse politely in whatever way this kind of request allows."""
    kind = _kind(body)
    if kind == "slash_command":
        return _ephemeral(text)
    if kind == "view_submission":
        payload = {"response_action": "update", "view": blocks.notice_modal(title, text)}
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
        )
    if kind == "block_actions" and body.get("trigger_id"):
        try:
            client.views_open(trigger_id=body["trigger_id"], view=blocks.notice_modal(title, text))
        except Exception:  # the refusal stands even if it cannot be shown
            logger.info("could not show a refusal")
    return BoltResponse(status=200, body="")


def _from_elsewhere(
    context: BoltContext, installed_team: str | None, installed_enterprise: str | None
) -> bool:
    """True when a request names an organization or workspace we are not installed in.

    Installed in a Grid (org-wide, or a workspace inside one): any workspace of
    that organization is home, any other organization is not. Installed in a
    single workspace: only that workspace.
    """
    if installed_enterprise:
        return context.enterprise_id != installed_enterprise
    if installed_team:
        return bool(context.enterprise_id) or context.team_id != installed_team
    return False


def installed_workspace_only(installed_team: str | None, installed_enterprise: str | None):  # type: ignore[no-untyped-def]
    def check(
        body: dict, context: BoltContext, client: WebClient, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if _kind(body) in _PERSONAL and _from_elsewhere(
            context, installed_team, installed_enterprise
        ):
            logger.warning(
                "refused a %s request from a workspace the app is not installed in", _kind(body)
            )
            return _tell(body, client, "Not available", blocks.other_workspace_text())
        return next()

    return check


def adopt_grid_identity(adopted: set[str], lock: threading.Lock):  # type: ignore[no-untyped-def]
    """Carry a person's signatures over when their workspace has joined a Grid."""

    def check(
        body: dict,
        context: BoltContext,
        settings: Settings,
        db: Database,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse:
        if _kind(body) not in _PERSONAL:
            return next()
        try:
            former = workspace_signer_of(context, settings)
            current = signer_of(context, settings) if former else None
        except UnknownRequester:
            return next()
        if former and current and former != current:
            with lock:
                done = current in adopted
            if not done:
                with db.write() as session:
                    adopt_signer(session, current, former)
                with lock:
                    if len(adopted) > 100_000:
                        adopted.clear()
                    adopted.add(current)
        return next()

    return check


def rate_limited(limiter: RateLimiter):  # type: ignore[no-untyped-def]
    def check(
        body: dict,
        context: BoltContext,
        client: WebClient,
        settings: Settings,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse:
        if _kind(body) not in _PERSONAL or not context.user_id:
            return next()
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("bot_id") or event.get("subtype"):
            return next()  # not a person acting
        try:
            key = signer_of(context, settings)
        except UnknownRequester:
            return next()
        if limiter.allow(key):
            return next()
        logger.warning("rate limited a %s request", _kind(body))
        return _tell(body, client, "Slow down", blocks.rate_limited_text())

    return check


def register(
    app: App, limiter: RateLimiter, installed_team: str | None, installed_enterprise: str | None
) -> None:
    app.middleware(skip_event_retries)
    app.middleware(respond_needs_a_response_url)
    app.middleware(installed_workspace_only(installed_team, installed_enterprise))
    app.middleware(rate_limited(limiter))
    if installed_enterprise:
        app.middleware(adopt_grid_identity(set(), threading.Lock()))
