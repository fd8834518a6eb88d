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


def form_state(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A submitted form's inputs by block id (one input per block)."""
    values = (view.get("state") or {}).get("values") or {}
    flat: dict[str, dict[str, Any]] = {}
    for block_id, actions in values.items():
        if isinstance(actions, dict):
            for element in actions.values():
                if isinstance(element, dict):
                    flat[block_id] = element
    return flat


def input_blocks(view: dict[str, Any]) -> set[str]:
    """The ids of the input blocks the submitted view shows: field errors may only
    name those (Slack refuses an acknowledgement naming any other, and the person
    then sees only that something went wrong). A forged view may lack some; ours
    never does."""
    shown = view.get("blocks")
    return {
        block["block_id"]
        for block in (shown if isinstance(shown, list) else [])
        if isinstance(block, dict)
        and block.get("type") == "input"
        and isinstance(block.get("block_id"), str)
    }


def typed_text(state: dict[str, dict[str, Any]], block_id: str) -> str | None:
    """What was typed in a text input, or None."""
    value = state.get(block_id, {}).get("value")
    return value if isinstance(value, str) else None
