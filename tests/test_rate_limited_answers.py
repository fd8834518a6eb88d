"""Answers that Slack rate limits still reach the person.

The bot's Web API client (bot.app.make_client) waits out a short Retry-After
itself; a DM answer held back longer is sent once Slack allows it; a form Slack
would not open says when to click again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from console.server import Fault
from tests.support.running import ALICE, RunningBot

SLUG = "wewontbuildit"


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


def _answers_to(bot: RunningBot, user: str) -> list[dict[str, Any]]:
    return bot.fake.workspace.ephemerals_for(user)


def _wait_for(condition, seconds: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_dm_answer_rate_limited_for_a_second_still_arrives(bot):
    bot.fake.fail("chat.postEphemeral", Fault(status=429, retry_after=1))
    assert bot.slack.dm("status").status == 200
    assert _wait_for(lambda: len(_answers_to(bot, ALICE.id)) == 1)
    assert "Your signatures" in _answers_to(bot, ALICE.id)[0]["text"]
    assert len(bot.fake.calls_to("chat.postEphemeral")) == 2


def test_a_dm_answer_rate_limited_for_longer_is_sent_when_slack_allows(bot):
    # Longer than a request waits (bot.webclient.ANSWER_RETRY_AFTER_LIMIT): the
    # answer comes once Retry-After has passed, not never.
    bot.fake.fail("chat.postEphemeral", Fault(status=429, retry_after=4))
    asked = time.monotonic()
    assert bot.slack.dm("status").status == 200
    assert _answers_to(bot, ALICE.id) == []
    assert _wait_for(lambda: len(_answers_to(bot, ALICE.id)) == 1, seconds=20)
    assert time.monotonic() - asked >= 4
    assert "Your signatures" in _answers_to(bot, ALICE.id)[0]["text"]


def test_a_form_rate_limited_for_a_second_still_opens(bot):
    bot.fake.fail("views.open", Fault(status=429, retry_after=1))
    assert (
        bot.slack.click("sign_start", SLUG, trigger_id=bot.fake.new_trigger(ALICE.id)).status == 200
    )
    # The form may come after the acknowledgement (it waited out Retry-After).
    assert _wait_for(
        lambda: (bot.fake.workspace.modal_of(ALICE.id) or {}).get("callback_id") == "sign_submit"
    ), bot.fake.workspace.modal_of(ALICE.id)
    assert len(bot.fake.calls_to("views.open")) == 2


def test_a_form_slack_holds_back_longer_says_when_to_click_again(bot):
    bot.fake.fail("views.open", Fault(status=429, retry_after=40), times=2)
    assert (
        bot.slack.click("sign_start", SLUG, trigger_id=bot.fake.new_trigger(ALICE.id)).status == 200
    )
    assert bot.fake.workspace.modal_of(ALICE.id) is None
    said = [c.params.get("text", "") for c in bot.fake.calls_to("response_url")]
    assert any("click the button again in 40 seconds" in text for text in said), said


def test_the_home_tab_rate_limited_for_a_second_is_still_published(bot):
    bot.fake.fail("views.publish", Fault(status=429, retry_after=1))
    assert bot.slack.open_home().status == 200
    assert _wait_for(lambda: len(bot.fake.calls_to("views.publish")) == 2)
    assert bot.fake.workspace.home_views.get(ALICE.id) is not None
