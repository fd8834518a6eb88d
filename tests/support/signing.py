"""Signing through the app as a person would: the form, its values, what was stored."""

from __future__ import annotations

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
    return views[-1]


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
