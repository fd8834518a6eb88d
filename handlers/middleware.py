"""Cross-cutting request handling: retries, the installed workspace, rate limits."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient

from bot.deliveries import Receipts
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


def _retry(req: BoltRequest) -> str:
    """Slack's retry number of a delivery ("0" for a first one), for the log."""
    values = req.headers.get("x-slack-retry-num") or ["none"]
    return str(values[0])[:8]


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


class Gate(Middleware):
    """Everything every request goes through before its listener, in this order:

    1. Each event is acted on once: its delivery claims the event id in the
       database (bot/deliveries.py), and a redelivery of an event already taken
       on, here or by another replica, is acknowledged without acting again. A
       retry number says nothing by itself: Socket Mode marks first deliveries
       with retry 0, and a redelivery may be the first to arrive.
    2. A request without a response URL (a forged click, say) has nowhere to be
       answered that way: `respond` then does nothing, where Bolt's would raise
       inside the listener.
    3. Requests naming an organization or workspace we are not installed in are
       refused.
    4. Each person is rate limited.
    5. In a Grid, a person's signatures are carried over once their workspace
       has joined it.

    One Middleware object rather than five middleware functions: Bolt builds the
    arguments of a middleware function anew for each request (tens of microseconds
    apiece), and these run on every request.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        receipts: Receipts,
        installed_team: str | None,
        installed_enterprise: str | None,
    ) -> None:
        self.limiter = limiter
        self.receipts = receipts
        self.installed_team = installed_team
        self.installed_enterprise = installed_enterprise
        self._adopted: set[str] = set()
        self._adopted_lock = threading.Lock()

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        body, context = req.body, req.context
        if body.get("type") == "event_callback" and not self._first_claim(req):
            return BoltResponse(status=200, body="")
        if not context.response_url or not isinstance(context.response_url, str):
            context["respond"] = _nowhere_to_respond
        kind = _kind(body)
        if kind not in _PERSONAL:
            next()
            return resp
        if _from_elsewhere(context, self.installed_team, self.installed_enterprise):
            logger.warning(
                "refused a %s request from a workspace the app is not installed in", kind
            )
            return _tell(body, context.client, "Not available", blocks.other_workspace_text())
        settings: Settings = context["settings"]
        refusal = self._rate_limited(body, kind, context, settings)
        if refusal is not None:
            return refusal
        if self.installed_enterprise:
            self._adopt(context, settings, context["db"])
        next()
        return resp

    def _first_claim(self, req: BoltRequest) -> bool:
        """Whether this delivery of an event is the one to act on: the first to claim
        its event id here or on any replica. A first delivery (Socket Mode says
        `retry_attempt: 0`) and a redelivery whose first delivery never arrived
        both are; a redelivery of an event taken on already is not."""
        event_id = req.body.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return True
        if self.receipts.claim(event_id):
            return True
        logger.info(
            "acknowledged a redelivery of an event already taken on (retry %s)", _retry(req)
        )
        return False

    def _rate_limited(
        self, body: dict[str, Any], kind: str, context: BoltContext, settings: Settings
    ) -> BoltResponse | None:
        if not context.user_id:
            return None
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("bot_id") or event.get("subtype"):
            return None  # not a person acting
        try:
            key = signer_of(context, settings)
        except UnknownRequester:
            return None
        if self.limiter.allow(key):
            return None
        logger.warning("rate limited a %s request", kind)
        return _tell(body, context.client, "Slow down", blocks.rate_limited_text())

    def _adopt(self, context: BoltContext, settings: Settings, db: Database) -> None:
        """Carry a person's signatures over when their workspace has joined a Grid."""
        try:
            former = workspace_signer_of(context, settings)
            current = signer_of(context, settings) if former else None
        except UnknownRequester:
            return
        if not (former and current and former != current):
            return
        with self._adopted_lock:
            if current in self._adopted:
                return
        with db.write() as session:
            adopt_signer(session, current, former)
        with self._adopted_lock:
            if len(self._adopted) > 100_000:
                self._adopted.clear()
            self._adopted.add(current)


def register(
    app: App,
    limiter: RateLimiter,
    receipts: Receipts,
    installed_team: str | None,
    installed_enterprise: str | None,
) -> None:
    app.use(Gate(limiter, receipts, installed_team, installed_enterprise))
