"""Counts that cannot be watched (petition/counts.py): what Slack shows moves only at
the hourly refresh, so a colleague polling `/demands` with accounts of their own
cannot see one person's signature or withdrawal arrive."""

from __future__ import annotations

import json
from typing import Any

import pytest

from console.workspace import FakeUser
from tests.support.counts import next_hour
from tests.support.running import RunningBot, response_json

SLUG = "wewontbuildit"
SPIES = [FakeUser(f"U0SPY{i:05d}", f"spy{i}", f"Spy {i}") for i in range(5)]
TARGET = FakeUser("U0TARGET01", "target", "Tara Target")


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    for user in [*SPIES, TARGET]:
        running_bot.fake.workspace.add_user(user)
    return running_bot


def _sign(bot: RunningBot, user: FakeUser) -> None:
    trigger = bot.fake.new_trigger(user.id)
    bot.slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger)
    [form] = [
        c.params["view"]
        for c in bot.fake.calls_to("views.open")
        if c.params.get("trigger_id") == trigger
    ]
    values = {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "anonymous"}}}
    }
    assert "Signed" in json.dumps(response_json(bot.slack.submit(form, values, user=user.id)))


def _withdraw(bot: RunningBot, user: FakeUser) -> None:
    trigger = bot.fake.new_trigger(user.id)
    bot.slack.click("withdraw_start", SLUG, user=user.id, trigger_id=trigger)
    [form] = [
        c.params["view"]
        for c in bot.fake.calls_to("views.open")
        if c.params.get("trigger_id") == trigger
    ]
    response_json(bot.slack.submit(form, {}, user=user.id))


def _watched(bot: RunningBot) -> list[Any]:
    """What each spy sees on /demands, as Slack would show it."""
    return [response_json(bot.slack.command(SLUG, user=spy.id))["blocks"] for spy in SPIES]


def _count_shown(blocks: list[Any]) -> str:
    text = json.dumps(blocks)
    return text.split("Signed so far: ")[1].split("*")[1]


def test_five_accounts_polling_demands_cannot_see_one_signature_arrive(bot):
    for spy in SPIES:
        _sign(bot, spy)
    next_hour(bot.db)
    before = _watched(bot)
    assert _count_shown(before[0]) == "5"
    _sign(bot, TARGET)
    assert _watched(bot) == before
    _withdraw(bot, TARGET)
    assert _watched(bot) == before
    _sign(bot, TARGET)
    assert _watched(bot) == before
    # At the hour, the count moves by the net of the whole hour, by everyone.
    next_hour(bot.db)
    assert _count_shown(_watched(bot)[0]) == "6"


def test_nor_in_their_dm_status_or_home(bot):
    for spy in SPIES:
        _sign(bot, spy)
    next_hour(bot.db)

    def seen() -> tuple[str, str]:
        bot.slack.dm("status", user=SPIES[0].id)
        bot.slack.open_home(user=SPIES[0].id)
        status = bot.fake.workspace.ephemerals_for(SPIES[0].id)[-1]
        home = [c for c in bot.fake.calls_to("views.publish") if c.params["user_id"] == SPIES[0].id]
        return json.dumps(status["blocks"]), json.dumps(home[-1].params["view"])

    before = seen()
    _sign(bot, TARGET)
    assert seen() == before
