"""An organizer and the campaign editor."""

from __future__ import annotations

from typing import Any

from console.workspace import FakeUser
from tests.support.running import RunningBot
from tests.support.signing import opened_views

DANA = FakeUser(id="U0DANA0001", name="dana", real_name="Dana Organizer")
SLUG = "wewontbuildit"


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
