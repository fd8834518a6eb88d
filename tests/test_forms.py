"""The campaign editor as an organizer meets it: every mistake shown at once,
beside its field, in words (never a column's name), numbers bounded, and today
accepted as the last day to sign."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import select

from console.workspace import FakeChannel
from storage.models import Campaign
from tests.support.organizers import DANA, NEW_CAMPAIGN, editor_values, open_editor
from tests.support.running import RunningBot, response_json


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.fake.workspace.add_user(DANA)
    running_bot.fake.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    return running_bot


def _submit(bot: RunningBot, **fields: str) -> dict:
    form = open_editor(bot, "admin_new", "new")
    result = bot.slack.submit(form, editor_values(**{**NEW_CAMPAIGN, **fields}), user=DANA.id)
    assert result.status == 200
    return response_json(result) if result.body else {}


def _created(bot: RunningBot) -> Campaign | None:
    with bot.db.read() as session:
        return session.scalar(select(Campaign).where(Campaign.slug == NEW_CAMPAIGN["slug"]))


def test_every_mistake_is_shown_at_once(bot):
    """Before: one error per submit (four submits to see four mistakes)."""
    answer = _submit(
        bot,
        slug="Bad Slug!",
        title="x" * 151,
        milestones="3",
        forget_after_days="soon",
        closes="2020-01-01",
    )
    assert answer["response_action"] == "errors", answer
    errors = answer["errors"]
    assert set(errors) == {"slug", "title", "milestones", "forget_after_days", "closes"}, errors
    assert "in the past" in errors["closes"]
    assert "lowercase" in errors["slug"]
    assert "the most is 150" in errors["title"]
    assert "expose the first signers" in errors["milestones"]
    assert "number of days" in errors["forget_after_days"]
    for message in errors.values():
        assert len(message) <= 150  # Slack's limit on an error beside a field
        for internal in ("`", "_id", "_at"):
            assert internal not in message


@pytest.mark.parametrize(
    "milestones", ["100, 1000000000000000000000", "1" * 400, "100, 2000000", "1_000"]
)
def test_a_huge_or_odd_milestone_is_a_clear_error(bot, milestones):
    """Before: 1000000000000000000000 reached the database and lost the whole form
    ("try again in a minute")."""
    answer = _submit(bot, milestones=milestones)
    assert answer["response_action"] == "errors", answer
    said = answer["errors"]["milestones"]
    assert "whole numbers" in said or "at most 1,000,000" in said, said
    assert _created(bot) is None


def test_today_is_accepted_as_the_last_day_to_sign(bot):
    """Before: today was refused as "in the past" (a date closed as it began)."""
    today = dt.datetime.now(bot.settings.timezone).date()
    answer = _submit(bot, closes=today.isoformat())
    assert answer.get("response_action") != "errors", answer
    campaign = _created(bot)
    assert campaign is not None
    assert campaign.closes_at is not None
    assert campaign.closes_at > dt.datetime.now(dt.UTC)
    assert campaign.closes_at.astimezone(bot.settings.timezone).date() == today + dt.timedelta(1)


def test_the_closing_day_is_the_organizers_own_in_their_slack_time_zone(bot):
    """Before: the editor read and showed the day in TIMEZONE whatever the
    organizer's own time zone (users.info's `tz`)."""
    bot.fake.workspace.users[DANA.id] = replace(DANA, tz="America/New_York")
    form = open_editor(bot, "admin_new", "new")
    [closes] = [b for b in form["blocks"] if b.get("block_id") == "closes"]
    assert "America/New_York" in closes["hint"]["text"]
    answer = bot.slack.submit(
        form, editor_values(**{**NEW_CAMPAIGN, "closes": "2099-06-01"}), user=DANA.id
    )
    assert answer.status == 200
    campaign = _created(bot)
    assert campaign is not None
    # Signing closes as 1 June ends in New York: 04:00 UTC on 2 June (summer time).
    assert campaign.closes_at == dt.datetime(2099, 6, 2, 4, 0, tzinfo=dt.UTC)
    # Edited again, the editor shows the same day.
    form = open_editor(bot, "admin_edit", NEW_CAMPAIGN["slug"])
    [closes] = [b for b in form["blocks"] if b.get("block_id") == "closes"]
    assert closes["element"]["initial_date"] == "2099-06-01"
