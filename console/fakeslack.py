"""An in-process stand-in for Slack: its Web API, response URLs, and a signer of
requests as Slack sends them.

The tests and the offline console both use it, so what the console shows is what
the tests check. It binds 127.0.0.1 on a free port, records every call, and can
be told to fail (rate limits, server errors, Slack error codes) to test faults.

It is as strict as Slack: a message or view past Slack's documented limits is
refused as Slack refuses it (`invalid_blocks`, `invalid_arguments`, with the
reasons; console/slackcheck.py), and a method called faster than its documented tier
allows for the workspace is answered with HTTP 429 and `Retry-After`
(blocks/limits.py). Every refusal is kept in `refusals`, so a test can say
that none happened. Tiers are on unless a test turns them off, saying why.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

from blocks import limits
from console.slackcheck import Refused, acknowledgement_problems, check_message, check_view

TEAM_ID = "T0UNDRSGN"
TEAM_DOMAIN = "undersigned-demo"
BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOTBOT1"
APP_ID = "A0UNDRSGN"
_MEMBER_ID = re.compile(r"^U[A-Z0-9]{2,}$")


@dataclass
class Call:
    """One request the app made: a Web API method or a response_url post."""

    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class ResponseTarget:
    """Where a response_url's posts land: the person, the channel, the message."""

    user: str | None = None
    channel: str | None = None
    message: dict[str, Any] | None = None


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
    enterprise_id: str | None = None  # set for members of an Enterprise Grid org
    # The organization's id for them (W...), when it differs from `id`: a member of
    # a workspace that joined a Grid keeps a local U id there.
    enterprise_user_id: str | None = None
    # The time zone the person set in Slack (users.info's `tz`).
    tz: str = "Europe/London"
    # When Slack last changed the account (users.info, users.list and user_change
    # carry it): a newer answer replaces an older one.
    updated: int = 1_700_000_000

    @property
    def global_id(self) -> str:
        return self.enterprise_user_id or self.id

    def as_api(self, asked_as: str | None = None) -> dict[str, Any]:
        user = {
            "id": asked_as or self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_stranger": self.is_stranger,
            "updated": self.updated,
            "profile": {
                "real_name": self.real_name,
                "display_name": self.name,
                "team": self.team_id,
            },
        }
        if self.enterprise_id:
            user["enterprise_user"] = {
                "id": self.global_id,
                "enterprise_id": self.enterprise_id,
                "enterprise_name": "Undersigned Org",
                "is_admin": False,
                "is_owner": False,
                "teams": [self.team_id],
            }
        return user


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    bot_is_member: bool = True

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.bot_is_member,
        }


@dataclass
class Change:
    """One thing a person could see change, in the order Slack would show it.

    kind is message, ephemeral, updated, deleted (messages), file (an upload
    shared in a channel), opened, pushed, updated_view, closed (modals) or home.
    """

    kind: str
    item: dict[str, Any]
    user: str | None = None
    channel: str | None = None


@dataclass
class Workspace:
    """What the fake Slack knows: users and channels, and the messages and views it
    was sent. `changes` lists them in order, for a client (the console) to show."""

    users: dict[str, FakeUser] = field(default_factory=dict)
    channels: dict[str, FakeChannel] = field(default_factory=dict)
    # Set when the fake plays an Enterprise Grid organization (see Grid).
    grid: Grid | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Each person's open modals, the root first; the last one is on screen.
    view_stacks: dict[str, list[str]] = field(default_factory=dict)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    # Files shared by the bot: {"id", "channel", "filename", "title", "content"}.
    files: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # Which person each trigger_id was handed to, so views.open knows whose screen.
    triggers: dict[str, str] = field(default_factory=dict)
    # For load tests: users.info answers any unknown U-id as a full member of this
    # workspace instead of user_not_found, so thousands of signers need no setup.
    anyone_is_member: bool = False

    def add_user(self, user: FakeUser) -> FakeUser:
        self.users[user.id] = user
        return user

    def add_channel(self, channel: FakeChannel) -> FakeChannel:
        self.channels[channel.id] = channel
        return channel

    def user_named(self, name: str) -> FakeUser | None:
        wanted = name.strip().lstrip("@").lower()
        for user in self.users.values():
            if wanted in {user.id.lower(), user.name.lower()}:
                return user
        return None

    def channel_named(self, name: str) -> FakeChannel | None:
        wanted = name.strip().lstrip("#").lower()
        for channel in self.channels.values():
            if wanted in {channel.id.lower(), channel.name.lower()}:
                return channel
        return None

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel_id]

    def ephemerals_for(self, user_id: str, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.ephemerals
            if m["user"] == user_id and (channel_id is None or m["channel"] == channel_id)
        ]

    def modal_of(self, user_id: str) -> dict[str, Any] | None:
        """The modal on this person's screen, if any."""
        stack = self.view_stacks.get(user_id) or []
        return self.views.get(stack[-1]) if stack else None


class _Server(ThreadingHTTPServer):
    # The app opens a new connection for every Web API call; with the default
    # backlog of 5, a burst from many worker threads overflows it and the kernel
    # drops connections, which the client only retries a second later.
    request_queue_size = 128


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


class FakeSlack:
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

    # -- Web API methods -----------------------------------------------------
    def _new_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _apps_connections_open(self, _params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode_url is None:
            return {"ok": False, "error": "not_allowed_token_type"}
        return _ok(url=self.socket_mode_url)

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        grid = self.workspace.grid
        answer = _ok(
            url=f"https://{TEAM_DOMAIN}.slack.com/",
            team="Undersigned Demo",
            user="undersigned",
            team_id=TEAM_ID,
            user_id=BOT_USER_ID,
            bot_id=BOT_ID,
            is_enterprise_install=False,
        )
        if grid is not None:
            answer.update(enterprise_id=grid.enterprise_id, is_enterprise_install=grid.org_install)
            if grid.org_install:
                answer.pop("team_id")
                answer.pop("team")
        return answer

    def _outside(self, channel: Any) -> bool:
        """A channel the fake knows of, where the bot has not been invited."""
        known = self.workspace.channels.get(str(channel))
        return known is not None and not known.bot_is_member

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if self._outside(channel):
            return {"ok": False, "error": "not_in_channel"}
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
            self.workspace.changes.append(Change("message", message, channel=channel))
        return _ok(channel=channel, ts=message["ts"], message=message)

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._add_ephemeral(
            params.get("user"), params.get("channel"), params.get("text"), params.get("blocks")
        )
        return _ok(message_ts=message["ts"])

    def _add_ephemeral(
        self, user: Any, channel: Any, text: Any, blocks_: Any = None
    ) -> dict[str, Any]:
        message = {
            "channel": channel,
            "user": user,
            "ts": self._new_ts(),
            "text": text,
            "blocks": _maybe_json(blocks_),
        }
        with self._lock:
            self.workspace.ephemerals.append(message)
            self.workspace.changes.append(
                Change("ephemeral", message, user=message["user"], channel=message["channel"])
            )
        return message

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for message in self.workspace.messages:
                if message["channel"] == params.get("channel") and message["ts"] == params.get(
                    "ts"
                ):
                    message["text"] = params.get("text")
                    message["blocks"] = _maybe_json(params.get("blocks"))
                    self.workspace.changes.append(
                        Change("updated", message, channel=message["channel"])
                    )
                    return _ok(channel=message["channel"], ts=message["ts"])
        return {"ok": False, "error": "message_not_found"}

    def _delete(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for message in list(self.workspace.messages):
                if message["channel"] == params.get("channel") and message["ts"] == params.get(
                    "ts"
                ):
                    self.workspace.messages.remove(message)
                    self.workspace.changes.append(
                        Change("deleted", message, channel=message["channel"])
                    )
                    return _ok(channel=message["channel"], ts=message["ts"])
        return {"ok": False, "error": "message_not_found"}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return _ok(channel={"id": dm_channel_for(str(params.get("users", "")))})

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.workspace.channels.get(str(params.get("channel")))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        return _ok(channel=channel.as_api())

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first, `oldest`/`latest` exclusive bounds, paged by `cursor`.

        Like Slack, message metadata is only included with include_all_metadata.
        """
        channel = params.get("channel")
        if self._outside(channel):
            return {"ok": False, "error": "not_in_channel"}
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
        user_id = str(params.get("user"))
        user = self.workspace.users.get(user_id) or self._by_global_id(user_id)
        if user is not None:
            return _ok(user=user.as_api(asked_as=user_id))
        if user is None and self.workspace.anyone_is_member and _MEMBER_ID.match(user_id):
            user = FakeUser(id=user_id, name=user_id.lower(), real_name=f"Member {user_id}")
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return _ok(user=user.as_api())

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """Everyone in the workspace, deleted accounts and bots included, a page at a
        time (`limit`, `cursor` from `response_metadata.next_cursor`). An org-wide
        token must name the workspace (`team_id`), as Slack's page says."""
        grid = self.workspace.grid
        team = params.get("team_id")
        if grid is not None and grid.org_install and not team:
            return {"ok": False, "error": "missing_argument"}
        cursor = str(params.get("cursor") or "")
        try:
            start = int(cursor.removeprefix("page:")) if cursor else 0
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        limit = int(params.get("limit") or 0)
        with self._lock:
            people = [u for u in self.workspace.users.values() if team is None or u.team_id == team]
        page = people[start : start + limit] if limit > 0 else people[start:]
        after = start + len(page)
        more = limit > 0 and after < len(people)
        return _ok(
            members=[u.as_api() for u in page],
            cache_ts=int(time.time()),
            response_metadata={"next_cursor": f"page:{after}" if more else ""},
        )

    def _by_global_id(self, user_id: str) -> FakeUser | None:
        for user in self.workspace.users.values():
            if user.enterprise_user_id == user_id:
                return user
        return None

    def _migration_exchange(self, params: dict[str, Any]) -> dict[str, Any]:
        """Local (U) ids of a workspace that joined a Grid to the organization's (W),
        or back with to_old; someone with only a W id maps to it both ways."""
        grid = self.workspace.grid
        if grid is None:
            return {"ok": False, "error": "not_enterprise_team"}
        team = str(params.get("team_id") or TEAM_ID)
        to_old = str(params.get("to_old")).lower() in {"1", "true"}  # slack_sdk sends "1"
        mapping: dict[str, str] = {}
        invalid: list[str] = []
        for asked in str(params.get("users") or "").split(","):
            user = self.workspace.users.get(asked) or self._by_global_id(asked)
            if user is None or user.team_id != team:
                invalid.append(asked)
            elif to_old:
                mapping[asked] = user.id if user.enterprise_user_id == asked else asked
            else:
                mapping[asked] = user.global_id
        return _ok(
            team_id=team,
            enterprise_id=grid.enterprise_id,
            user_id_map=mapping,
            invalid_user_ids=invalid,
        )

    def _views_open(self, params: dict[str, Any], push: bool = False) -> dict[str, Any]:
        view = dict(_maybe_json(params.get("view")) or {})
        view["id"] = f"V{next(self._ids):08d}"
        with self._lock:
            self.workspace.views[view["id"]] = view
            user = self.workspace.triggers.get(str(params.get("trigger_id")))
            if user is not None:
                # views.open starts a new stack on the person's screen; push adds to it.
                stack = self.workspace.view_stacks.setdefault(user, [])
                if not push:
                    stack.clear()
                stack.append(view["id"])
                kind = "pushed" if push else "opened"
                self.workspace.changes.append(Change(kind, view, user=user))
        return _ok(view=view)

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(params, push=True)

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        with self._lock:
            if view_id not in self.workspace.views:
                return {"ok": False, "error": "not_found"}
            view = dict(_maybe_json(params.get("view")) or {})
            view["id"] = view_id
            self.workspace.views[view_id] = view
            self._note_view_change(view)
        return _ok(view=view)

    def _note_view_change(self, view: dict[str, Any]) -> None:
        for user, stack in self.workspace.view_stacks.items():
            if view["id"] in stack:
                self.workspace.changes.append(Change("updated_view", view, user=user))

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        view = dict(_maybe_json(params.get("view")) or {})
        user = str(params.get("user_id"))
        with self._lock:
            previous = self.workspace.home_views.get(user) or {}
            view["id"] = previous.get("id") or f"V{next(self._ids):08d}"
            self.workspace.home_views[user] = view
            self.workspace.changes.append(Change("home", view, user=user))
        return _ok(view=view)

    # -- what the Slack client does with the app's answers ---------------------
    def show_command_answer(
        self, user: str, channel: str, answer: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Show a slash command's acknowledgement body as Slack does: ephemeral to
        the person unless response_type is in_channel. Returns the message."""
        if not answer.get("text") and not answer.get("blocks"):
            return None
        if self.check_acknowledgement("command", answer):
            return None  # Slack shows the person an error instead
        return self._respond(ResponseTarget(user, channel), answer)

    def record_user_message(self, user: str, channel: str, text: str) -> dict[str, Any]:
        """A message a person typed; Slack keeps it (and may export it)."""
        message = {"channel": channel, "user": user, "ts": self._new_ts(), "text": text}
        with self._lock:
            self.workspace.messages.append(message)
        return message

    def apply_view_response(
        self, user: str, view_id: str, answer: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Apply a view_submission acknowledgement to the person's modal stack, as
        Slack does. Returns the errors to show, if the answer holds errors."""
        action = answer.get("response_action")
        if self.check_acknowledgement("view_submission", answer, self.workspace.views.get(view_id)):
            # Slack keeps the form open and shows a connection error in it.
            return {"": "Slack could not show the app's answer (see the fake's refusals)."}
        with self._lock:
            stack = self.workspace.view_stacks.setdefault(user, [])
            if action == "errors":
                errors = answer.get("errors")
                return errors if isinstance(errors, dict) else {}
            if action == "update" and view_id in self.workspace.views:
                view = dict(answer.get("view") or {})
                view["id"] = view_id
                self.workspace.views[view_id] = view
                self._note_view_change(view)
            elif action == "push":
                view = dict(answer.get("view") or {})
                view["id"] = f"V{next(self._ids):08d}"
                self.workspace.views[view["id"]] = view
                stack.append(view["id"])
                self.workspace.changes.append(Change("pushed", view, user=user))
            elif action == "clear":
                for closed in reversed(stack):
                    self.workspace.changes.append(
                        Change("closed", self.workspace.views[closed], user=user)
                    )
                stack.clear()
            else:  # an empty acknowledgement closes the view that was submitted
                self._close_locked(user, view_id)
        return None

    def close_view(self, user: str, view_id: str) -> None:
        """The person closed (cancelled) the modal on their screen."""
        with self._lock:
            self._close_locked(user, view_id)

    def _close_locked(self, user: str, view_id: str) -> None:
        stack = self.workspace.view_stacks.setdefault(user, [])
        if view_id in stack:
            stack.remove(view_id)
            self.workspace.changes.append(
                Change("closed", self.workspace.views[view_id], user=user)
            )

    def _respond(self, target: ResponseTarget, params: dict[str, Any]) -> dict[str, Any] | None:
        original = target.message
        if _truthy(params.get("delete_original")):
            with self._lock:
                for kept in (self.workspace.ephemerals, self.workspace.messages):
                    if original is not None and any(m is original for m in kept):
                        kept.remove(original)
                        self.workspace.changes.append(
                            Change("deleted", original, user=target.user, channel=target.channel)
                        )
            return None
        if _truthy(params.get("replace_original")) and original is not None:
            with self._lock:
                original["text"] = params.get("text")
                original["blocks"] = _maybe_json(params.get("blocks"))
                self.workspace.changes.append(
                    Change("updated", original, user=target.user, channel=target.channel)
                )
            return original
        if params.get("response_type") == "in_channel" and target.channel:
            return self._post_message(
                {"channel": target.channel, "text": params.get("text"), **_blocks_of(params)}
            )["message"]
        return self._add_ephemeral(
            target.user, target.channel, params.get("text"), params.get("blocks")
        )

    # -- files (the three steps of files_upload_v2) ------------------------------
    def _files_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        with self._lock:
            self._uploads[file_id] = {"id": file_id, "filename": params.get("filename")}
        return _ok(upload_url=f"{self.url}upload/{file_id}", file_id=file_id)

    def _store_upload(self, path: str, raw: bytes) -> None:
        file_id = path.removeprefix("/upload/")
        with self._lock:
            if file_id in self._uploads:
                self._uploads[file_id]["content"] = raw.decode("utf-8", errors="replace")

    def _files_complete(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _maybe_json(params.get("files")) or []
        done = []
        with self._lock:
            for entry in entries:
                upload = self._uploads.pop(str(entry.get("id")), None)
                if upload is None:
                    return {"ok": False, "error": "file_not_found"}
                upload.update(channel=params.get("channel_id"), title=entry.get("title"))
                self.workspace.files.append(upload)
                self.workspace.changes.append(Change("file", upload, channel=upload["channel"]))
                done.append({"id": upload["id"], "title": upload["title"]})
        return _ok(files=done)

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


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _blocks_of(params: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": params["blocks"]} if params.get("blocks") else {}


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


@dataclass(frozen=True)
class Grid:
    """The shape of requests from an Enterprise Grid organization.

    With an org-wide install Slack sends `team: null` on interactions and no team
    in the event authorizations; with a workspace install inside a Grid the team
    is set and the enterprise is named beside it.
    """

    enterprise_id: str = "E0UNDRSGN"
    enterprise_name: str = "Undersigned Org"
    org_install: bool = True
    # With an org-wide install, a view's `app_installed_team_id` names a workspace
    # of the organization that need not be the person's own (user.team_id); Bolt
    # reads the team from it first, so a click and the submission of the form it
    # opened can carry different team ids (interactive.view_submission.org_install.json).
    installed_team_id: str = "T0ORGINST"


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


def dm_channel_for(user_id: str) -> str:
    return "D" + user_id.lstrip("UW")[:10]


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
