"""Progress toward the next milestone and the time left, on /demands and Home: in
words first, then a small bar; under the same rules as the count (the hourly
snapshot, nothing exact below 5)."""

from __future__ import annotations

import datetime as dt
import json
import time

from console.workspace import FakeUser
from tests.support.counts import next_hour
from tests.support.running import ALICE, RunningBot, response_json
from tests.support.signing import sign


def _demands_text(bot: RunningBot) -> str:
    return json.dumps(
        response_json(bot.slack.command("wewontbuildit"))["blocks"], ensure_ascii=False
    )


def _home_text(bot: RunningBot) -> str:
    assert bot.slack.open_home(ALICE.id).status == 200
    deadline = time.monotonic() + 10
    while not bot.fake.calls_to("views.publish") and time.monotonic() < deadline:
        time.sleep(0.05)
    return json.dumps(bot.fake.calls_to("views.publish")[-1].params["view"], ensure_ascii=False)


def test_progress_and_time_left_are_shown(running_bot: RunningBot):
    """Before: /demands and Home showed neither the next milestone nor time left."""
    bot = running_bot
    last_day = dt.datetime.now(bot.settings.timezone).date() + dt.timedelta(days=9)
    bot.import_campaign(milestones=[5, 10, 25], closes=last_day)
    for number in range(6):
        user = f"U0PROG{number:04d}"
        bot.fake.workspace.add_user(FakeUser(user, "p", "P"))
        sign(bot, user)
    next_hour(bot.db)
    for shown in (_demands_text(bot), _home_text(bot)):
        assert "Next milestone: 10 signatures, 4 to go (60% of the way) ▰▰▰▰▰▰▱▱▱▱" in shown
        assert "9 days left to sign." in shown


def test_nothing_exact_below_five(running_bot: RunningBot):
    bot = running_bot
    bot.import_campaign(milestones=[100], closes=dt.datetime.now(dt.UTC).date() + dt.timedelta(1))
    sign(bot, ALICE.id)
    next_hour(bot.db)
    shown = _demands_text(bot)
    assert "Next milestone: 100 signatures." in shown
    assert "to go" not in shown
    assert "▰" not in shown
    assert "▱" not in shown
