"""Reading the parts of Slack payloads that several handlers need."""

from __future__ import annotations

from typing import Any


def clicked_value(body: dict[str, Any]) -> str:
    """The `value` of the button that was clicked (a campaign slug), or ""."""
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        value = actions[0].get("value")
        if isinstance(value, str):
            return value
    return ""
