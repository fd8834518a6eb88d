"""Cross-cutting request handling: retries, the installed workspace, rate limits."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

import blocks
from handlers.identity import WORKSPACE, UnknownRequester, requester_key
from handlers.installation import Identity, Installation
from handlers.intime import ARRIVED, InTime
from handlers.slackapi import open_form
from petition.deliveries import Receipts
from petition.ratelimit import RateLimiter
from petition.worker_actions import WorkerActions

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


def _tell(body: dict[str, Any], context: BoltContext, title: str, text: str) -> BoltResponse:
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
        client, trigger_id = context.client, body["trigger_id"]
        in_time: InTime = context["in_time"]
        # Shown with the click's trigger_id; the click is acknowledged in time.
        in_time.run(
            context, lambda: open_form(client, trigger_id, blocks.notice_modal(title, text))
        )
    return BoltResponse(status=200, body="")


def _workspace_named(body: dict[str, Any]) -> str | None:
    """The workspace a payload names outside Bolt's team_id (an org-wide install's
    events carry their team only at the top and in the event)."""
    for value in (
        body.get("team_id"),
        (body.get("team") or {}).get("id") if isinstance(body.get("team"), dict) else None,
        (body.get("user") or {}).get("team_id") if isinstance(body.get("user"), dict) else None,
    ):
        if isinstance(value, str) and value.startswith("T"):
            return value
    return None


def _from_elsewhere(context: BoltContext, installed: Identity) -> bool:
    """True when a request names an organization or workspace we are not installed in.

    Installed in a Grid (org-wide, or a workspace inside one): any workspace of
    that organization is home, any other organization is not. Installed in a
    single workspace: only that workspace.
    """
    if installed.enterprise_id:
        return context.enterprise_id != installed.enterprise_id
    if installed.team_id:
        return bool(context.enterprise_id) or context.team_id != installed.team_id
    return False


# Events about the installation itself: they name no person, and may arrive
# while the workspace is moving into a Grid (handlers/lifecycle.py).
LIFECYCLE_EVENTS = frozenset(
    {"app_uninstalled", "tokens_revoked", "grid_migration_started", "grid_migration_finished"}
)


# Events that update the member directory (handlers/directory.py): an account as it
# is now, taken as it comes. Taking one twice changes nothing, so they claim no
# receipt (a write per event, and a large organization changes profiles all day),
# and a person editing their profile is no person acting: no rate limit.
DIRECTORY_EVENTS = frozenset({"user_change", "team_join"})


def _event_type(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    kind = event.get("type") if isinstance(event, dict) else None
    # A signed body is still anyone's JSON: a type that is not text is no event.
    return kind if isinstance(kind, str) else None


class Gate(Middleware):
    """Everything every request goes through before its listener, in this order:

    1. Each event is acted on once: its delivery claims the event id in the
       database (petition/deliveries.py), and a redelivery of an event already taken
       on, here or by another replica, is acknowledged without acting again. A
       retry number says nothing by itself: Socket Mode marks first deliveries
       with retry 0, and a redelivery may be the first to arrive.
    2. A request without a response URL (a forged click, say) has nowhere to be
       answered that way: `respond` then does nothing, where Bolt's would raise
       inside the listener.
    3. Requests naming an organization or workspace we are not installed in are
       refused, after asking auth.test again in case the installation changed
       (a workspace that joined a Grid starts naming its organization).
    4. Each person is rate limited (by the ids the request names; looking the
       person up is left to the listener, after the acknowledgement).

    One Middleware object rather than several middleware functions: Bolt builds
    the arguments of a middleware function anew for each request (tens of
    microseconds apiece), and these run on every request.
    """

    def __init__(
        self, limiter: RateLimiter, receipts: Receipts, installation: Installation
    ) -> None:
        self.limiter = limiter
        self.receipts = receipts
        self.installation = installation

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        body, context = req.body, req.context
        context[ARRIVED] = time.monotonic()
        if not context.team_id:
            context[WORKSPACE] = _workspace_named(body)
        if _event_type(body) in DIRECTORY_EVENTS:
            next()
            return resp
        if body.get("type") == "event_callback" and not self._first_claim(req):
            return BoltResponse(status=200, body="")
        if not context.response_url or not isinstance(context.response_url, str):
            context["respond"] = _nowhere_to_respond
        kind = _kind(body)
        if kind not in _PERSONAL or _event_type(body) in LIFECYCLE_EVENTS:
            next()
            return resp
        if self._from_elsewhere(context):
            logger.warning(
                "refused a %s request from a workspace the app is not installed in", kind
            )
            return _tell(body, context, "Not available", blocks.other_workspace_text())
        worker: WorkerActions = context["worker"]
        refusal = self._rate_limited(body, kind, context, worker)
        if refusal is not None:
            return refusal
        next()
        return resp

    def _from_elsewhere(self, context: BoltContext) -> bool:
        if not _from_elsewhere(context, self.installation.current):
            return False
        # Perhaps it is we who moved (into a Grid, or org-wide): ask Slack again.
        if self.installation.refresh_if_due("a request from an unknown workspace"):
            return _from_elsewhere(context, self.installation.current)
        return True

    def _first_claim(self, req: BoltRequest) -> bool:
        """Whether this delivery of an event is the one to act on: the first to claim
        its event id here or on any replica. A first delivery (Socket Mode says
        `retry_attempt: 0`) and a redelivery whose first delivery never arrived
        both are; a redelivery of an event taken on already is not."""
        event_id = req.body.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return True
        # Over HTTP a first delivery carries no retry number (Socket Mode says 0,
        # which a redelivery may too): its receipt need not be waited for.
        first = req.mode == "http" and not req.headers.get("x-slack-retry-num")
        if self.receipts.claim(event_id, first_delivery=first):
            return True
        logger.info(
            "acknowledged a redelivery of an event already taken on (retry %s)", _retry(req)
        )
        return False

    def _rate_limited(
        self, body: dict[str, Any], kind: str, context: BoltContext, worker: WorkerActions
    ) -> BoltResponse | None:
        if not context.user_id:
            return None
        event = body.get("event") if isinstance(body.get("event"), dict) else {}
        if event.get("bot_id") or event.get("subtype"):
            return None  # not a person acting
        try:
            key = requester_key(context, worker)
        except UnknownRequester:
            return None
        if self.limiter.allow(key):
            return None
        logger.warning("rate limited a %s request", kind)
        return _tell(body, context, "Slow down", blocks.rate_limited_text())


def register(
    app: App, limiter: RateLimiter, receipts: Receipts, installation: Installation
) -> None:
    app.use(Gate(limiter, receipts, installation))
