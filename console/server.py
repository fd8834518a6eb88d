"""An in-process stand-in for Slack: its Web API, response URLs and file uploads,
served over HTTP on loopback.

The tests and the offline console both use it, so what the console shows is what
the tests check. It binds 127.0.0.1 on a free port, records every call, and can
be told to fail (rate limits, server errors, Slack error codes) to test faults.

It is as strict as Slack: a message or view past Slack's documented limits is
refused as Slack refuses it (`invalid_blocks`, `invalid_arguments`, with the
reasons; console/slackcheck.py), and a method called faster than its documented tier
allows for the workspace is answered with HTTP 429 and `Retry-After`
(blocks/limits.py). Every refusal is kept in `refusals`, so a test can say
that none happened. Tiers are on unless a test turns them off, saying why.

What it knows is a Workspace (console/workspace.py); the methods themselves are in
console/webapi.py; the requests Slack sends the app are built by console/payloads.py.
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from blocks import limits
from console.slackcheck import Refused, acknowledgement_problems, check_message, check_view
from console.webapi import ResponseTarget, WebApiMethods, _truthy
from console.workspace import Workspace


@dataclass
class Call:
    """One request the app made: a Web API method or a response_url post."""

    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class Refusal:
    """A request Slack would have refused: which method (or acknowledgement), the
    error Slack answers with, and why."""

    method: str
    error: str
    problems: list[str]


class _Bucket:
    """A token bucket: `capacity` calls at once, refilled at `rate` per second."""

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.at = now

    def take(self, now: float) -> float:
        """0 if a call may go now (and take it), else the seconds until one may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateTiers:
    """Slack's per-method, per-workspace rate limits (blocks/limits.py).

    Each tier allows its documented figure per minute, refilled evenly over the
    minute, with its burst at once (limits.Tier); chat.postMessage allows one
    a second per channel with a short burst. `clock` can be a test's own, so that a
    minute passes without waiting for it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._lock = threading.Lock()

    def wait_for(self, method: str, workspace: str, params: dict[str, Any]) -> float:
        """0 if the call may go, else the seconds Slack would say to wait."""
        if method == "chat.postMessage":
            key: tuple[str, ...] = (method, workspace, str(params.get("channel")))
            capacity = float(limits.POST_MESSAGE_BURST)
            rate = float(limits.POST_MESSAGE_PER_CHANNEL_PER_SECOND)
        else:
            limit = limits.METHOD_TIERS.get(method)
            if limit is None:
                return 0.0
            key = (method, workspace)
            capacity = float(limit.tier.burst)
            rate = limit.tier.per_minute / 60
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(capacity, rate, now)
            return bucket.take(now)


_VIEW_METHODS = {"views.open", "views.push", "views.update", "views.publish"}
_MESSAGE_METHODS = {"chat.postMessage", "chat.postEphemeral", "chat.update"}


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    # Do what was asked, then drop the connection without answering: a post that
    # Slack accepted but whose answer never arrived.
    drop_after: bool = False


# _answer's status for "close the connection without a response".
_DROP = 0


class _Server(ThreadingHTTPServer):
    # The app opens a new connection for every Web API call; with the default
    # backlog of 5, a burst from many worker threads overflows it and the kernel
    # drops connections, which the client only retries a second later.
    request_queue_size = 128


class FakeSlack(WebApiMethods):
    """A fake Slack Web API on loopback. Use as a context manager."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        tiers: bool = True,
        clock: Callable[[], float] = time.monotonic,
        checks: bool = True,
    ) -> None:
        self.workspace = workspace or Workspace()
        # Whether messages and views are checked against Slack's limits (always, but
        # for a benchmark that measures the app, not the fake).
        self.checks = checks
        self.calls: list[Call] = []
        # What Slack would have refused (invalid blocks or views, bad acknowledgements).
        self.refusals: list[Refusal] = []
        # Calls answered with 429 because a method's tier was exceeded.
        self.rate_limited: list[Call] = []
        self.tiers: RateTiers | None = RateTiers(clock) if tiers else None
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, float] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._response_targets: dict[str, ResponseTarget] = {}
        self._uploads: dict[str, dict[str, Any]] = {}
        # Socket Mode: the ws:// URL apps.connections.open hands out (None: not offered).
        self.socket_mode_url: str | None = None
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.history": self._conversations_history,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_upload_url,
            "files.completeUploadExternal": self._files_complete,
            "apps.connections.open": self._apps_connections_open,
            "migration.exchange": self._migration_exchange,
        }

    # -- lifecycle ---------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def response_url(
        self,
        user: str | None = None,
        channel: str | None = None,
        message: dict[str, Any] | None = None,
    ) -> str:
        """A fresh response URL. Given the person (and the message clicked), what the
        app posts to it is shown to them as Slack would: a new ephemeral message, or
        the original replaced or deleted."""
        url = f"{self.url}response/{next(self._ids)}"
        if user is not None:
            with self._lock:
                self._response_targets[url.removeprefix(self.url)] = ResponseTarget(
                    user, channel, message
                )
        return url

    def new_trigger(self, user_id: str) -> str:
        """A trigger_id as Slack hands one out with a click, remembered as that person's."""
        trigger = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(8)}"
        with self._lock:
            self.workspace.triggers[trigger] = user_id
        return trigger

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

    def check_acknowledgement(
        self, kind: str, body: str | dict[str, Any] | None, submitted: dict[str, Any] | None = None
    ) -> list[str]:
        """Check the app's HTTP answer to a request as Slack reads it (a slash command's
        answer, a view submission's response_action); a refusal is kept in `refusals`
        and its problems returned."""
        problems = acknowledgement_problems(kind, body, submitted)
        if problems:
            self._refuse(Refusal(f"ack:{kind}", "invalid_acknowledgement", problems))
        return problems

    def _refuse(self, refusal: Refusal) -> None:
        with self._lock:
            self.refusals.append(refusal)

    def _next_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.pop(0) if queue else None

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

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
            if self.checks and not _truthy(params.get("delete_original")):
                try:
                    check_message(params)
                except Refused as refused:
                    self._refuse(Refusal("response_url", refused.error, refused.problems))
                    return 400, refused.error, {}
            with self._lock:
                self.workspace.responses.append(params)
                target = self._response_targets.get(path.removeprefix("/"))
            if target is not None:
                self._respond(target, params)
            return 200, "ok", {}
        method = path.removeprefix("/api/")
        self._record(Call(method, params, token))
        fault = self._next_fault(method)
        if fault is not None and fault.drop_after:
            handler = self._methods.get(method)
            if handler is not None:
                handler(params)
            return _DROP, "", {}
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
        if self.tiers is not None:
            wait = self.tiers.wait_for(method, token or "", params)
            if wait > 0:
                with self._lock:
                    self.rate_limited.append(Call(method, params, token))
                retry = {"Retry-After": str(max(1, math.ceil(wait)))}
                return 429, {"ok": False, "error": "ratelimited"}, retry
        refused = self._refused(method, params)
        if refused is not None:
            return 200, refused, {}
        answer = handler(params)
        with self._lock:
            delay = self._delays.get(method, 0.0)
        if delay:
            self._stopping.wait(delay)
        return 200, answer, {}

    def _refused(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Slack's answer if it would refuse this call's blocks or view, else None."""
        if not self.checks:
            return None
        try:
            if method in _VIEW_METHODS:
                check_view(params.get("view"))
            elif method in _MESSAGE_METHODS:
                check_message(params)
            else:
                return None
        except Refused as refused:
            self._refuse(Refusal(method, refused.error, refused.problems))
            answer: dict[str, Any] = {"ok": False, "error": refused.error}
            if method in _MESSAGE_METHODS:
                answer["errors"] = refused.problems
            answer["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in refused.problems]}
            return answer
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: with Nagle's algorithm the
            # body waits for the client's delayed ACK (40 ms) on a kept-alive
            # connection, which real Slack never makes anyone wait.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                if len(data) < length:
                    # The client went away mid-body (a server killed while it
                    # sent): an HTTP server acts on no part of such a request.
                    self.close_connection = True
                    return
                if self.path.startswith("/upload/"):
                    fake._store_upload(self.path, data)
                    reply = f"OK - {len(data)}".encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                    return
                raw = data.decode("utf-8", errors="replace")
                params = _parse_params(raw, self.headers.get("Content-Type", ""))
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                token = token or params.pop("token", None)
                status, payload, headers = fake._answer(self.path, params, token)
                if status == _DROP:
                    self.close_connection = True
                    return
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
