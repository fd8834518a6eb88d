"""Draft, preview, publish: an organizer sees their draft as workers will, before
anyone can; publishing asks first and says that the text then locks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.slackcheck import message_problems
from tests.support.organizers import DANA
from tests.support.running import ALICE, RunningBot, response_json
from tests.support.signing import opened_views, sign_values, stored, view_text

EVIL = "We ask <!channel> & <@U0ALICE001> to stop."


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.fake.workspace.add_user(DANA)
    running_bot.import_campaign(status="draft", statement=EVIL)
    return running_bot


def _text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


def test_an_organizer_previews_their_draft_with_demands_slug(bot):
    """Before: "There is no campaign called `wewontbuildit`" for its own organizer."""
    answer = response_json(bot.slack.command("wewontbuildit", user=DANA.id))
    assert answer["response_type"] == "ephemeral"
    shown = _text(answer["blocks"])
    assert "Preview of a draft" in shown
    assert "Cancel the contract" in shown
    # No button a worker would use; only one to try the form, which records nothing.
    buttons = [e for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["preview_sign"]
    # What the organizer typed is escaped, here as everywhere.
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown
    assert message_problems(answer) == []


def test_a_worker_still_cannot_see_a_draft(bot):
    answer = response_json(bot.slack.command("wewontbuildit", user=ALICE.id))
    shown = _text(answer["blocks"]) + answer["text"]
    assert "Preview" not in shown
    assert "We ask" not in shown


def test_open_asks_for_confirmation_and_says_the_text_locks(bot):
    """Before: Open published at the first click, with no word on locking."""
    panel = response_json(bot.slack.command("admin", user=DANA.id))
    [opener] = [
        element
        for block in panel["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == "admin_open"
    ]
    confirm = opener["confirm"]
    assert confirm["confirm"]["text"] == "Open"
    assert "lock" in confirm["text"]["text"]
    assert "/demands wewontbuildit" in confirm["text"]["text"]
    assert len(confirm["text"]["text"]) <= 300


def test_an_organizer_tries_the_signing_form_and_nothing_is_recorded(bot):
    """Before: a draft could not be tried as workers will use it."""
    assert bot.slack.click("preview_sign", "wewontbuildit", user=DANA.id).status == 200
    form = opened_views(bot)[-1]
    assert form["callback_id"] == "preview_sign_submit"
    assert "Nothing you choose here is recorded" in view_text(form)
    assert "How do you want to sign?" in view_text(form)
    answer = response_json(bot.slack.submit(form, sign_values("named", "Dana"), user=DANA.id))
    assert answer["response_action"] == "update"
    assert "Nothing was recorded" in view_text(answer["view"])
    assert stored(bot) == []


def test_a_worker_cannot_try_a_draft(bot):
    assert bot.slack.click("preview_sign", "wewontbuildit", user=ALICE.id).status == 200
    form = opened_views(bot)[-1]
    assert form.get("callback_id") != "preview_sign_submit"
    assert "We ask" not in view_text(form)
