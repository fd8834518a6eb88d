"""Requests as Slack sends them to the app: signed slash commands, interactivity
payloads (clicks, form submissions) and Events API envelopes, in the field order
and shape of real captures (/work/shared/slack/ holds samples), for a Workspace's
people, inside an Enterprise Grid organization or not (Grid).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from console.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    FakeUser,
    Grid,
    dm_channel_for,
)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack adds to every request: v0 HMAC-SHA256 over `v0:ts:body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def slash_command_body(
    command: str,
    text: str,
    user_id: str,
    response_url: str,
    channel_id: str = "C0GENERAL",
    team_id: str = TEAM_ID,
    *,
    channel_name: str = "general",
    user_name: str = "someone",
    trigger_id: str | None = None,
    grid: Grid | None = None,
) -> bytes:
    """A slash command form, in the field order of a real capture."""
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _fresh_trigger(),
    }
    if grid is not None:
        fields["is_enterprise_install"] = "true" if grid.org_install else "false"
        fields["enterprise_id"] = grid.enterprise_id
        fields["enterprise_name"] = grid.enterprise_name
    return urlencode(fields).encode()


def block_actions_body(
    action_id: str,
    value: str,
    user_id: str,
    response_url: str | None,
    channel_id: str | None = "C0GENERAL",
    container: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    team_id: str = TEAM_ID,
    *,
    block_id: str = "b1",
    text: str = "button",
    trigger_id: str | None = None,
    grid: Grid | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": container
        or {"type": "message", "message_ts": "1700000000.000100", "is_ephemeral": True},
        "trigger_id": trigger_id or _fresh_trigger(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if channel_id:
        payload["channel"] = {"id": channel_id, "name": "general"}
    if response_url:
        payload["response_url"] = response_url
    if view is not None:
        payload["view"] = view
    _grid_shape(payload, team_id, grid)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _grid_shape(payload: dict[str, Any], team_id: str, grid: Grid | None) -> None:
    if grid is None:
        return
    payload["enterprise"] = {"id": grid.enterprise_id, "name": grid.enterprise_name}
    payload["is_enterprise_install"] = grid.org_install
    if grid.org_install:
        payload["team"] = None
        if isinstance(payload.get("view"), dict):
            payload["view"] = {**payload["view"], "app_installed_team_id": grid.installed_team_id}
    else:
        payload["team"] = {
            "id": team_id,
            "domain": TEAM_DOMAIN,
            "enterprise_id": grid.enterprise_id,
            "enterprise_name": grid.enterprise_name,
        }


def _fresh_trigger() -> str:
    """A trigger_id as Slack makes one: new for every interaction (so no two
    payloads Slack sends are the same bytes, which replay protection relies on)."""
    return f"{int(time.time())}.{next(_event_ids)}.{secrets.token_hex(16)}"


def view_submission_body(
    view: dict[str, Any],
    user_id: str,
    values: dict[str, dict[str, Any]],
    team_id: str = TEAM_ID,
    *,
    trigger_id: str | None = None,
    grid: Grid | None = None,
) -> bytes:
    """A modal submission: the view Slack holds, with the person's input in state."""
    submitted = {
        "id": view.get("id", "V0000001"),
        "team_id": team_id,
        "type": "modal",
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": values},
        "hash": "1700000000.abcdefgh",
        "title": view.get("title"),
        "root_view_id": view.get("id", "V0000001"),
        "app_installed_team_id": team_id,
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": trigger_id or _fresh_trigger(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    _grid_shape(payload, team_id, grid)
    return urlencode({"payload": json.dumps(payload)}).encode()


def _event_envelope(
    event: dict[str, Any], team_id: str, grid: Grid | None = None
) -> dict[str, Any]:
    envelope = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_event_ids):010d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    if grid is not None:
        envelope["enterprise_id"] = grid.enterprise_id
        envelope["authorizations"] = [
            {
                "enterprise_id": grid.enterprise_id,
                "team_id": None if grid.org_install else team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": grid.org_install,
            }
        ]
    return envelope


_event_ids = itertools.count(1)


def message_im_body(
    text: str, user_id: str, team_id: str = TEAM_ID, grid: Grid | None = None, **extra: Any
) -> bytes:
    event = {
        "client_msg_id": f"msg-{next(_event_ids)}",
        "type": "message",
        "text": text,
        "user": user_id,
        "ts": f"{time.time():.6f}",
        "team": team_id,
        "channel": dm_channel_for(user_id),
        "event_ts": f"{time.time():.6f}",
        "channel_type": "im",
        **extra,
    }
    return json.dumps(_event_envelope(event, team_id, grid)).encode()


def app_home_opened_body(
    user_id: str, team_id: str = TEAM_ID, tab: str = "home", grid: Grid | None = None
) -> bytes:
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": dm_channel_for(user_id),
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    return json.dumps(_event_envelope(event, team_id, grid)).encode()


def user_change_body(
    user: FakeUser, team_id: str = TEAM_ID, grid: Grid | None = None, kind: str = "user_change"
) -> bytes:
    """`user_change` (a member's account changed: a guest now, deactivated...) or
    `team_join` (someone joined), each carrying the whole user object."""
    event = {
        "type": kind,
        "user": user.as_api(),
        "cache_ts": int(time.time()),
        "event_ts": f"{time.time():.6f}",
    }
    return json.dumps(_event_envelope(event, team_id, grid)).encode()
