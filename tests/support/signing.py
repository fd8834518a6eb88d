"""Signing through the app as a person would: the form, its values, what was stored."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from storage.models import Campaign, Signature
from tests.support.running import ALICE, RunningBot, response_json

SLUG = "wewontbuildit"


def opened_views(bot: RunningBot) -> list[dict[str, Any]]:
    return [call.params["view"] for call in bot.fake.calls_to("views.open")]


def open_sign_form(bot: RunningBot, user: str = ALICE.id, **click: Any) -> dict[str, Any]:
    before = len(opened_views(bot))
    assert bot.slack.click("sign_start", SLUG, user=user, **click).status == 200
    views = opened_views(bot)
    assert len(views) == before + 1, "the click opened no view"
    view = views[-1]
    if (view.get("title") or {}).get("text") != "One moment":
        return view
    # Past handlers/intime.py's 1.5 s (a loaded machine), the click opens "one
    # moment" and the form replaces it: what the person then has is the form.
    stack = bot.fake.workspace.view_stacks.get(user) or []
    assert stack, "the 'one moment' modal is not on the person's screen"
    view_id = stack[-1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        updates = [
            c for c in bot.fake.calls_to("views.update") if c.params.get("view_id") == view_id
        ]
        if updates:
            return {**updates[0].params["view"], "id": view_id}
        time.sleep(0.05)
    raise AssertionError("'one moment' was never replaced by the form")


def sign_values(how: str = "anonymous", name: str | None = None) -> dict[str, Any]:
    return {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": how}}},
        "name": {"name": {"type": "plain_text_input", "value": name}},
    }


def sign(bot: RunningBot, user: str = ALICE.id, how: str = "anonymous", name: str | None = None):
    view = open_sign_form(bot, user)
    assert view.get("callback_id") == "sign_submit", view
    return response_json(bot.slack.submit(view, sign_values(how, name), user=user))


def stored(bot: RunningBot) -> list[Signature]:
    with bot.db.read() as session:
        return list(session.scalars(select(Signature)).all())


def count(bot: RunningBot) -> int:
    with bot.db.read() as session:
        return session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))


def view_text(view: dict[str, Any]) -> str:
    out = []
    for block in view.get("blocks", []):
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                out.append(element["text"])
            elif isinstance(element.get("text"), dict):
                out.append(element["text"]["text"])
        if "label" in block:
            out.append(block["label"]["text"])
    return "\n".join(out)


def ephemerals_to(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return [c.params for c in bot.fake.calls_to("chat.postEphemeral") if c.params["user"] == user]
