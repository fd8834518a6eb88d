"""The fake Slack's workspace: who is in it, its channels, and what the app posted
there (messages, ephemerals, modals, Home tabs, files), in the order a person
would see it change (`changes`, which the offline console shows).

The fake Web API (console/server.py, console/webapi.py) keeps it; the tests and
the console set it up and read it. `Grid` says when the fake plays an Enterprise
Grid organization, for the workspace and the requests alike (console/payloads.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0UNDRSGN"
TEAM_DOMAIN = "undersigned-demo"
BOT_USER_ID = "U0BOTUSER"
BOT_ID = "B0BOTBOT1"
APP_ID = "A0UNDRSGN"


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


def dm_channel_for(user_id: str) -> str:
    return "D" + user_id.lstrip("UW")[:10]
