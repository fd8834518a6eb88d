"""An organizer, the campaign editor, and the `bot` an organizer's tests start
from (tests/conftest.py hands it to every test module that has no `bot` of its own)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from console.workspace import FakeChannel, FakeUser
from tests.support.running import RunningBot
from tests.support.signing import opened_views

DANA = FakeUser(id="U0DANA0001", name="dana", real_name="Dana Organizer")
SLUG = "wewontbuildit"
ANNOUNCEMENTS = FakeChannel("C0ANNOUNCE", "announcements")
# A channel the bot was never invited to.
ELSEWHERE = FakeChannel("C0NOTIN001", "elsewhere", bot_is_member=False)


@dataclass(frozen=True)
class Organizing:
    """What an organizer's test starts with beside Dana: more people, channels, and
    how the campaign differs from RunningBot.import_campaign's."""

    users: tuple[FakeUser, ...] = ()
    channels: tuple[FakeChannel, ...] = ()
    campaign: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def organizing() -> Organizing:
    """Override in a test module to start `bot` with more (Organizing)."""
    return Organizing()


@pytest.fixture
def bot(running_bot: RunningBot, organizing: Organizing) -> RunningBot:
    """The running bot with Dana, what `organizing` adds, and a campaign imported.

    Dana organizes only if the module's extra_settings name her in ORGANIZERS."""
    running_bot.fake.workspace.add_user(DANA)
    for user in organizing.users:
        running_bot.fake.workspace.add_user(user)
    for channel in organizing.channels:
        # A copy: a test may change its channel (archive it, remove the bot).
        running_bot.fake.workspace.add_channel(replace(channel))
    running_bot.import_campaign(**organizing.campaign)
    return running_bot


def editor_values(**fields: Any) -> dict[str, Any]:
    """The state of a filled-in campaign editor, as Slack sends it."""
    state: dict[str, Any] = {}
    for key in ("slug", "title", "statement", "milestones", "forget_after_days"):
        if key in fields:
            state[key] = {key: {"type": "plain_text_input", "value": fields[key]}}
    if "demands" in fields:
        # One field per demand (demand_1, demand_2, ...); given as a list, or as
        # text with one demand per line.
        demands = fields["demands"]
        if isinstance(demands, str):
            demands = [line for line in demands.splitlines() if line.strip()]
        for number, demand in enumerate(demands, start=1):
            key = f"demand_{number}"
            state[key] = {key: {"type": "plain_text_input", "value": demand}}
    if "channel" in fields:
        state["channel"] = {
            "channel": {"type": "conversations_select", "selected_conversation": fields["channel"]}
        }
    if "closes" in fields:
        state["closes"] = {"closes": {"type": "datepicker", "selected_date": fields["closes"]}}
    if "organizers" in fields:
        state["organizers"] = {
            "organizers": {"type": "multi_users_select", "selected_users": fields["organizers"]}
        }
    return state


def open_editor(
    bot: RunningBot, action: str = "admin_edit", value: str = SLUG, user: str = DANA.id
) -> dict[str, Any]:
    assert bot.slack.click(action, value, user=user).status == 200
    return opened_views(bot)[-1]


NEW_CAMPAIGN = {
    "slug": "fair-pay",
    "title": "Fair pay now",
    "statement": "We ask for fair pay.",
    "demands": "Publish pay bands\n\nClose the gender gap\n",
    "milestones": "10, 50",
    "channel": "C0ANNOUNCE",
    "closes": "2099-06-01",
}
