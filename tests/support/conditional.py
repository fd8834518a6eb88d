"""Signing with a name on a condition."""

from __future__ import annotations

from typing import Any

from tests.support.running import RunningBot, response_json
from tests.support.signing import open_sign_form


def values(
    how: str,
    name: str | None = None,
    threshold: str | None = None,
    other: str | None = None,
    news: bool = False,
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": how}}},
        "name": {"name": {"type": "plain_text_input", "value": name}},
        "threshold": {
            "threshold": {
                "type": "static_select",
                "selected_option": {"value": threshold} if threshold else None,
            }
        },
        "threshold_other": {"threshold_other": {"type": "number_input", "value": other}},
        "updates": {
            "updates": {
                "type": "checkboxes",
                "selected_options": [{"value": "news"}] if news else [],
            }
        },
    }
    return state


def sign_as(bot: RunningBot, user: str, **choice: Any) -> dict[str, Any]:
    form = open_sign_form(bot, user)
    return response_json(bot.slack.submit(form, values(**choice), user=user))
