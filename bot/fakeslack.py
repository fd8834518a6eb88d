"""An in-process stand-in for Slack: its Web API, response URLs, and a signer of
requests as Slack sends them.

The tests and the offline console both use it, so what the console shows is what
the tests check. It binds 127.0.0.1 on a free port, records every call, and can
be told to fail (rate limits, server errors, Slack error codes) to test faults.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

TEAM_ID = "T0UNDRSGN"
TEAM_DOMAIN = "undersigned-demo"
BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOTBOT1"
APP_ID = "A0UNDRSGN"


@dataclass
class Call:
    """One request the app made: a Web API method or a response_url post."""

    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class FakeUser:
    id: str
    name: str
    real_name: str
    team_id: str = TEAM_ID
    is_bot: bool = False
    deleted: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_stranger: bool = False

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": "Europe/London",
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_stranger": self.is_stranger,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "team": self.team_id,
            },
        }


@dataclass
class Workspace:
    """What the fake Slack knows: users, and the messages and views it was sent."""

    users: dict[str, FakeUser] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)

    def add_user(self, user: FakeUser) -> FakeUser:
        self.users[user.id] = user
        return user


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


class FakeSlack:
    """A fake Slack Web API on loopback. Use as a context manager."""

    def __init__(self, workspace: Workspace | None = None) -> None:
        self.workspace = workspace or Workspace()
        self.calls: list[Call] = []
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, float] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def response_url(self) -> str:
        return f"{self.url}response/{next(self._ids)}"

    def start(self) -> FakeSlack:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes answers held back by delay()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and faults ---------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def fail(self, method: str, fault: Fault, times: int = 1) -> None:
        """Make the next `times` calls to `method` fail as described."""
        with self._lock:
            self._faults.setdefault(method, []).extend([fault] * times)

    def delay(self, method: str, seconds: float) -> None:
        """Answer every later call to `method` only after `seconds` (0: no delay).

        The call takes effect first (a message is posted), then the answer is held
        back: a client that times out or dies meanwhile has still posted.
        """
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.workspace.messages if m["channel"] == channel]

    def _next_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.pop(0) if queue else None

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # -- Web API methods -----------------------------------------------------
    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return _ok(
            url=f"https://{TEAM_DOMAIN}.slack.com/",
            team="Undersigned Demo",
            user="undersigned",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        message = {
            "type": "message",
            "channel": channel,
            "ts": self._new_ts(),
            "text": params.get("text"),
            "blocks": _maybe_json(params.get("blocks")),
            "bot_id": BOT_ID,
            "app_id": APP_ID,
        }
        metadata = _maybe_json(params.get("metadata"))
        if metadata:
            message["metadata"] = metadata
        with self._lock:
            self.workspace.messages.append(message)
        return _ok(channel=channel, ts=message["ts"], message=message)

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        message = {
            "channel": params.get("channel"),
            "user": params.get("user"),
            "text": params.get("text"),
            "blocks": _maybe_json(params.get("blocks")),
        }
        with self._lock:
            self.workspace.ephemerals.append(message)
        return _ok(message_ts=self._new_ts())

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for message in self.workspace.messages:
                if message["channel"] == params.get("channel") and message["ts"] == params.get(
                    "ts"
                ):
                    message["text"] = params.get("text")
                    message["blocks"] = _maybe_json(params.get("blocks"))
                    return _ok(channel=message["channel"], ts=message["ts"])
        return {"ok": False, "error": "message_not_found"}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for message in list(self.workspace.messages):
                if message["channel"] == params.get("channel") and message["ts"] == params.get(
                    "ts"
                ):
                    self.workspace.messages.remove(message)
                    return _ok(channel=message["channel"], ts=message["ts"])
        return {"ok": False, "error": "message_not_found"}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return _ok(channel={"id": dm_channel_for(str(params.get("users", "")))})

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, `oldest`/`latest` exclusive bounds, paged by `cursor`.

        Like Slack, message metadata is only included with include_all_metadata.
        """
        channel = params.get("channel")
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or "inf")
        limit = max(1, min(int(params.get("limit") or 100), 999))
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        with self._lock:
            found = [
                dict(m)
                for m in self.workspace.messages
                if m["channel"] == channel and oldest < float(m["ts"]) < latest
            ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        page = found[start : start + limit]
        for message in page:
            message.pop("channel", None)
            if not with_metadata:
                message.pop("metadata", None)
        more = start + limit < len(found)
        return _ok(
            messages=page,
            has_more=more,
            response_metadata={"next_cursor": str(start + limit) if more else ""},
        )

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.workspace.users.get(str(params.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return _ok(user=user.as_api())

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        view = dict(_maybe_json(params.get("view")) or {})
        view["id"] = f"V{next(self._ids):08d}"
        with self._lock:
            self.workspace.views[view["id"]] = view
        return _ok(view=view)

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        with self._lock:
            if view_id not in self.workspace.views:
                return {"ok": False, "error": "not_found"}
            view = dict(_maybe_json(params.get("view")) or {})
            view["id"] = view_id
            self.workspace.views[view_id] = view
        return _ok(view=view)

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = dict(_maybe_json(params.get("view")) or {})
        with self._lock:
            self.workspace.home_views[str(params.get("user_id"))] = view
        return _ok(view=view)

    # -- HTTP plumbing -------------------------------------------------------
    def _answer(
        self, path: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, Any, dict]:
        if path.startswith("/response/"):
            self._record(Call("response_url", params, None))
            fault = self._next_fault("response_url")
            if fault is not None:
                time.sleep(fault.delay)
                return fault.status, "error", {}
            with self._lock:
                self.workspace.responses.append(params)
            return 200, "ok", {}
        method = path.removeprefix("/api/")
        self._record(Call(method, params, token))
        fault = self._next_fault(method)
        if fault is not None:
            time.sleep(fault.delay)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
            if fault.status == 429:
                return 429, {"ok": False, "error": "ratelimited"}, headers
            if fault.status != 200:
                return fault.status, "server error", headers
            return 200, {"ok": False, "error": fault.error or "fatal_error"}, headers
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if method != "auth.test" and not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        answer = handler(params)
        with self._lock:
            delay = self._delays.get(method, 0.0)
        if delay:
            self._stopping.wait(delay)
        return 200, answer, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                params = _parse_params(raw, self.headers.get("Content-Type", ""))
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                token = token or params.pop("token", None)
                status, payload, headers = fake._answer(self.path, params, token)
                body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                content_type = "text/plain" if isinstance(payload, str) else "application/json"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests carry user ids; keep them out of test output

        return Handler


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _parse_params(raw: str, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json") or raw.lstrip().startswith("{"):
        try:
            data = json.loads(raw)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}
    return dict(parse_qsl(raw, keep_blank_values=True))


# -- requests as Slack sends them to the app ---------------------------------


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
) -> bytes:
    """A slash command form, in the field order of a real capture."""
    fields = {
        "token": "verification-token-unused",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": "someone",
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{int(time.time())}.1234.{hashlib.md5(text.encode()).hexdigest()}",  # noqa: S324
    }
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
) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": container
        or {"type": "message", "message_ts": "1700000000.000100", "is_ephemeral": True},
        "trigger_id": f"{int(time.time())}.1234.abcdef",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "button", "emoji": True},
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
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_submission_body(
    view: dict[str, Any], user_id: str, values: dict[str, dict[str, Any]], team_id: str = TEAM_ID
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
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": f"{int(time.time())}.1234.submit",
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _event_envelope(event: dict[str, Any], team_id: str) -> dict[str, Any]:
    return {
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


_event_ids = itertools.count(1)


def dm_channel_for(user_id: str) -> str:
    return "D" + user_id.lstrip("UW")[:10]


def message_im_body(text: str, user_id: str, team_id: str = TEAM_ID, **extra: Any) -> bytes:
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
    return json.dumps(_event_envelope(event, team_id)).encode()


def app_home_opened_body(user_id: str, team_id: str = TEAM_ID, tab: str = "home") -> bytes:
    event = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": dm_channel_for(user_id),
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    return json.dumps(_event_envelope(event, team_id)).encode()
