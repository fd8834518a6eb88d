"""The Web API methods the fake Slack answers, and what a Slack client does with
the app's answers (an acknowledgement, a response_url post, a view submission's
response_action), each as Slack does it, over the fake's Workspace.

`WebApiMethods` is the half of `FakeSlack` (console/server.py) that knows Slack's
methods; the other half is the HTTP server, the faults, the checks and the rate
tiers in front of them. It keeps no state of its own: what it uses of FakeSlack's
is declared below.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Change,
    FakeUser,
    Workspace,
    dm_channel_for,
)

_MEMBER_ID = re.compile(r"^U[A-Z0-9]{2,}$")


@dataclass
class ResponseTarget:
    """Where a response_url's posts land: the person, the channel, the message."""

    user: str | None = None
    channel: str | None = None
    message: dict[str, Any] | None = None


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


class WebApiMethods:
    """Slack's Web API methods and client, as methods of FakeSlack (console/server.py)."""

    # FakeSlack's, which these methods share with its HTTP side.
    workspace: Workspace
    socket_mode_url: str | None
    url: str
    check_acknowledgement: Callable[..., list[str]]
    _lock: threading.Lock
    _ts: itertools.count[int]
    _ids: itertools.count[int]
    _uploads: dict[str, dict[str, Any]]

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
