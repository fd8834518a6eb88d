"""News DMs are no lasting proof of signing: the bot deletes the ones it sent when
the person stops news, withdraws, or the campaign is forgotten (petition/retractions.py,
jobs/retract.py), and leaves every other subscriber's DMs alone."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from bot.scheduler import job_client
from console.workspace import FakeUser, dm_channel_for
from jobs.news import EVENT_TYPE, send_pending
from jobs.retract import retract_job
from petition import updates
from petition.organizing import CLI_ACTOR, Organizers, StatusChange, change_status, forget_campaign
from storage.models import Campaign, NewsPost, NewsRetraction, Subscriber, UpdateKind
from tests.support.running import RunningBot, response_json

SLUG = "wewontbuildit"
OPERATOR = Organizers(frozenset())
PEOPLE = [FakeUser(f"U0NEWS{i:04d}", f"n{i}", f"News {i}") for i in range(3)]


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    for user in PEOPLE:
        running_bot.fake.workspace.add_user(user)
        _sign_with_news(running_bot, user)
    return running_bot


def _form(bot: RunningBot, action: str, user: FakeUser) -> dict[str, Any]:
    trigger = bot.fake.new_trigger(user.id)
    bot.slack.click(action, SLUG, user=user.id, trigger_id=trigger)
    [view] = [
        c.params["view"]
        for c in bot.fake.calls_to("views.open")
        if c.params.get("trigger_id") == trigger
    ]
    return view


def _sign_with_news(bot: RunningBot, user: FakeUser) -> None:
    values = {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "anonymous"}}},
        "updates": {"updates": {"type": "checkboxes", "selected_options": [{"value": "news"}]}},
    }
    response_json(bot.slack.submit(_form(bot, "sign_start", user), values, user=user.id))


def _news(bot: RunningBot, text: str) -> None:
    with bot.db.write() as session:
        updates.create_update(session, OPERATOR, CLI_ACTOR, SLUG, UpdateKind.NEWS, text)
    send_pending(bot.db, bot.app_client, bot.keyring, pace_seconds=0)


def _in_dms(bot: RunningBot) -> Counter[str]:
    held: Counter[str] = Counter()
    for message in bot.fake.workspace.messages:
        if (message.get("metadata") or {}).get("event_type") == EVENT_TYPE:
            held[message["channel"]] += 1
    return held


def _retract(bot: RunningBot, expected: int) -> int:
    """Run the deletion job until it has deleted `expected` DMs (the request that
    queued them may be answered after its acknowledgement), or ten seconds."""
    done, deadline = 0, time.monotonic() + 10
    while done < expected and time.monotonic() < deadline:
        done += retract_job(bot.db, job_client(bot.settings), bot.keyring)
        time.sleep(0.05)
    return done


def test_stopping_news_deletes_the_news_dms_sent_and_only_those(bot):
    _news(bot, "First news")
    _news(bot, "Second news")
    everyone = {dm_channel_for(u.id): 2 for u in PEOPLE}
    assert _in_dms(bot) == Counter(everyone)
    bot.slack.dm("stop updates", user=PEOPLE[0].id)
    assert _retract(bot, 2) == 2
    del everyone[dm_channel_for(PEOPLE[0].id)]
    assert _in_dms(bot) == Counter(everyone)
    with bot.db.read() as session:
        assert session.scalars(select(NewsRetraction)).all() == []
        assert len(session.scalars(select(NewsPost)).all()) == 4  # the others', kept


def test_withdrawing_deletes_them_too(bot):
    _news(bot, "News")
    user = PEOPLE[1]
    response_json(bot.slack.submit(_form(bot, "withdraw_start", user), {}, user=user.id))
    assert _retract(bot, 1) == 1
    assert dm_channel_for(user.id) not in _in_dms(bot)
    assert len(_in_dms(bot)) == len(PEOPLE) - 1


def test_forgetting_the_campaign_deletes_every_news_dm(bot):
    _news(bot, "News")
    with bot.db.write() as session:
        change_status(session, OPERATOR, CLI_ACTOR, SLUG, StatusChange.CLOSE)
    forget_campaign(bot.db, bot.keyring, OPERATOR, CLI_ACTOR, SLUG)
    assert _retract(bot, len(PEOPLE)) == len(PEOPLE)
    assert _in_dms(bot) == Counter()
    with bot.db.read() as session:
        assert session.scalars(select(NewsPost)).all() == []
        assert session.scalars(select(NewsRetraction)).all() == []


def test_a_news_dm_says_nothing_a_follower_who_never_signed_could_not_say(bot):
    _news(bot, "News")
    [message] = [
        m for m in bot.fake.workspace.messages if m["channel"] == dm_channel_for(PEOPLE[0].id)
    ]
    text = str(message["blocks"]).lower()
    assert "signed" not in text
    assert "sign" not in text.replace("signatures", "")


def test_anyone_may_get_news_and_a_follower_is_no_signer(bot):
    """Only signers could ask for news, so a news DM said its reader had signed.
    Now anyone may: from /demands, privately, without signing."""
    follower = FakeUser("U0FOLLOW01", "follow", "Fran Follower")
    bot.fake.workspace.add_user(follower)
    answer = response_json(bot.slack.command(SLUG, user=follower.id))
    buttons = [
        e["action_id"] for b in answer["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert "news_follow" in buttons
    assert bot.slack.click("news_follow", SLUG, user=follower.id).status == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not [
        c for c in bot.fake.calls_to("response_url") if "news about" in c.params.get("text", "")
    ]:
        time.sleep(0.05)
    told = [c.params for c in bot.fake.calls_to("response_url")][-1]
    assert "news about" in told["text"]
    assert told.get("replace_original") is False
    with bot.db.read() as session:
        assert session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG)) == 3
        assert len(session.scalars(select(Subscriber)).all()) == 4
    _news(bot, "Hello")
    assert dm_channel_for(follower.id) in _in_dms(bot)
    bot.slack.dm("stop updates", user=follower.id)
    assert _retract(bot, 1) == 1
    assert dm_channel_for(follower.id) not in _in_dms(bot)
