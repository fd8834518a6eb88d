"""Cross-cutting request handling: retries, the installed workspace, rate limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.ratelimit import RateLimiter
from bot.settings import Settings
from handlers import blocks
from handlers.identity import UnknownRequester, signer_of

logger = logging.getLogger(__name__)

# Requests that act for a person; url_verification and the like carry nobody.
_PERSONAL = {"block_actions", "view_submission", "event_callback", "slash_command"}


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


def installed_workspace_only(installed_team: str | None, installed_enterprise: str | None):  # type: ignore[no-untyped-def]
    def check(
        body: dict, context: BoltContext, client: WebClient, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        team = context.team_id
        if (
            _kind(body) in _PERSONAL
            and installed_team
            and team
            and team != installed_team
            and not (installed_enterprise and context.enterprise_id == installed_enterprise)
        ):
            logger.warning(
                "refused a %s request from a workspace the app is not installed in", _kind(body)
            )
            return _tell(body, client, "Not available", blocks.other_workspace_text())
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
    app.middleware(installed_workspace_only(installed_team, installed_enterprise))
    app.middleware(rate_limited(limiter))
