"""Signing through the app as a person would: the form, its values, what was stored."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from console.server import FakeSlack
from storage.models import Campaign, Signature
from tests.support.running import ALICE, RunningBot, response_json
from tests.support.scheduling import wait_for

SLUG = "wewontbuildit"


MOMENT = "One moment"


# How long a test waits for what the bot shows after acknowledging
# (handlers/intime.py: under load an answer may come as "one moment", then this).
FOLLOW_UP_SECONDS = 30


def calls_so_far(fake: FakeSlack) -> int:
    """A mark in the fake's record of calls: what a submission's answer is looked
    for after (the form's own "one moment" update came before it)."""
    with fake._lock:
        return len(fake.calls)


def updated_view(
    fake: FakeSlack,
    view_id: str,
    timeout: float = FOLLOW_UP_SECONDS,
    nth: int = 0,
    since: int = 0,
) -> Any:
    """What the nth views.update after the mark `since` put in this modal, once it
    has (None if never)."""
    deadline = time.monotonic() + timeout
    while True:
        with fake._lock:
            later = fake.calls[since:]
        updates = [
            c for c in later if c.method == "views.update" and c.params.get("view_id") == view_id
        ]
        if len(updates) > nth:
            return updates[nth].params["view"]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def view_title(view: dict[str, Any]) -> str:
    return str((view.get("title") or {}).get("text"))


def opened_views(bot: RunningBot) -> list[dict[str, Any]]:
    return [call.params["view"] for call in bot.fake.calls_to("views.open")]


def open_by_click(
    bot: RunningBot, action: str, user: str = ALICE.id, **click: Any
) -> dict[str, Any]:
    """What a click on `action` opened on the person's screen: the form, or the
    notice that stands in for it (for any button whose answer is a modal)."""
    # A trigger_id the fake knows as this person's, as Slack's are: a modal opened
    # with it is on their screen, which the "one moment" case below follows.
    click.setdefault("trigger_id", bot.fake.new_trigger(user))
    before = len(opened_views(bot))
    assert bot.slack.click(action, SLUG, user=user, **click).status == 200
    # A click answered late opens "one moment" just after its acknowledgement.
    wait_for(lambda: len(opened_views(bot)) > before, timeout=FOLLOW_UP_SECONDS)
    views = opened_views(bot)
    assert len(views) == before + 1, "the click opened no view"
    view = views[-1]
    if view_title(view) != MOMENT:
        return view
    # Past handlers/intime.py's 1.5 s (a loaded machine), the click opens "one
    # moment" and the form replaces it: what the person then has is the form.
    # The fake records the views.open call before it has put the view on the
    # person's screen: under load the acknowledgement can come back in between.
    wait_for(lambda: bot.fake.workspace.view_stacks.get(user))
    stack = bot.fake.workspace.view_stacks.get(user) or []
    assert stack, "the 'one moment' modal is not on the person's screen"
    form = updated_view(bot.fake, stack[-1])
    assert form is not None, "'one moment' was never replaced by the form"
    return {**form, "id": stack[-1]}


def open_sign_form(bot: RunningBot, user: str = ALICE.id, **click: Any) -> dict[str, Any]:
    return open_by_click(bot, "sign_start", user, **click)


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
