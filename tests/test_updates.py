"""News to signers who asked for it: the organizer's flow, pacing, 429s, a kill in
the middle, and never the same update twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
from sqlalchemy import select

from bot.scheduler import job_client
from console.server import Fault
from console.workspace import FakeUser, dm_channel_for
from jobs.news import EVENT_TYPE, send_pending, send_pending_job
from petition import updates
from petition.keyring import Keyring
from petition.organizing import CLI_ACTOR, Organizers
from storage.models import Campaign, UpdateDelivery, UpdateKind
from tests.support.conditional import sign_as
from tests.support.news import news_posts, wait_until
from tests.support.organizers import DANA
from tests.support.running import SIGNER_KEY, RunningBot, key_store_for, response_json
from tests.support.signing import SLUG, ephemerals_to, opened_views, view_text


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


def _people(bot: RunningBot, count: int, news: bool, start: int = 0) -> list[str]:
    ids = []
    for n in range(start, start + count):
        user = FakeUser(f"U0N{n:07d}", f"n{n}", f"News {n}")
        bot.fake.workspace.add_user(user)
        sign_as(bot, user.id, how="anonymous", news=news)
        ids.append(user.id)
    return ids


def _received(bot: RunningBot) -> Counter[str]:
    """How many news messages each DM holds."""
    counts: Counter[str] = Counter()
    for message in bot.fake.workspace.messages:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == EVENT_TYPE:
            counts[message["channel"]] += 1
    return counts


def _sent_so_far(bot: RunningBot) -> int:
    with bot.db.read() as session:
        return sum(p.sent for p in updates.progress(session, 1))


def _left_in_doubt(bot: RunningBot) -> int:
    """Deliveries given back unclaimed with a post in doubt."""
    with bot.db.read() as session:
        return len(
            session.scalars(
                select(UpdateDelivery).where(
                    UpdateDelivery.in_doubt_since.is_not(None),
                    UpdateDelivery.claimed_at.is_(None),
                )
            ).all()
        )


def _queue(bot: RunningBot, text: str = "We delivered the letter today.") -> int:
    with bot.db.write() as session:
        return updates.create_update(
            session, Organizers(frozenset()), CLI_ACTOR, SLUG, UpdateKind.NEWS, text
        ).recipients


def _keyring(bot: RunningBot) -> Keyring:
    return bot.keyring


def test_an_organizer_previews_then_sends_to_exactly_the_subscribers(bot):
    subscribers = _people(bot, 3, news=True)
    others = _people(bot, 2, news=False, start=10)
    bot.slack.click("admin_update", SLUG, user=DANA.id)
    form = opened_views(bot)[-1]
    assert "*3* signers" in view_text(form)
    state = {
        "kind": {"kind": {"type": "static_select", "selected_option": {"value": "news"}}},
        "text": {"text": {"type": "plain_text_input", "value": "Meeting <!channel> Friday & all"}},
        "send": {"send": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
    }
    preview = response_json(bot.slack.submit(form, state, user=DANA.id))
    assert preview["response_action"] == "update"
    shown = view_text(preview["view"])
    assert "Meeting &lt;!channel&gt; Friday &amp; all" in shown
    assert preview["view"]["submit"]["text"] == "Send to 3"
    assert news_posts(bot) == []  # nothing before the confirmation
    done = response_json(bot.slack.submit(preview["view"], {}, user=DANA.id))
    assert "Sending to 3 people" in view_text(done["view"])
    wait_until(lambda: len(news_posts(bot)) == 3)
    assert _received(bot) == Counter({dm_channel_for(u): 1 for u in subscribers})
    for user in others:
        assert dm_channel_for(user) not in _received(bot)
    post = news_posts(bot)[0]
    assert post["metadata"]["event_payload"] == {"update": 1}
    for user in subscribers:
        assert user not in str(post)
    wait_until(lambda: _sent_so_far(bot) == 3)
    bot.slack.click("admin_history", SLUG, user=DANA.id)
    assert "news: 3 of 3 sent" in view_text(opened_views(bot)[-1])
    with bot.db.read() as session:
        # Gone out to everyone: the rows keyed by signer hashes are deleted.
        assert session.scalars(select(UpdateDelivery)).all() == []


def test_recording_a_delivery_and_an_answer_shows_in_demands(bot):
    _people(bot, 1, news=True)
    bot.slack.click("admin_update", SLUG, user=DANA.id)
    form = opened_views(bot)[-1]
    state = {
        "kind": {"kind": {"type": "static_select", "selected_option": {"value": "answer"}}},
        "text": {"text": {"type": "plain_text_input", "value": "We will <b>review</b> it."}},
        "send": {"send": {"type": "checkboxes", "selected_options": []}},
    }
    preview = response_json(bot.slack.submit(form, state, user=DANA.id))
    assert "nothing is sent" in view_text(preview["view"])
    response_json(bot.slack.submit(preview["view"], {}, user=DANA.id))
    with bot.db.write() as session:
        updates.record_outcome(
            session, Organizers(frozenset()), CLI_ACTOR, SLUG, UpdateKind.DELIVERED, ""
        )
    answer = response_json(bot.slack.command(""))
    text = view_text({"blocks": answer["blocks"]})
    assert "*Delivered* on" in text
    assert "We will &lt;b&gt;review&lt;/b&gt; it." in text
    assert news_posts(bot) == []


def test_a_worker_cannot_send_updates(bot):
    _people(bot, 1, news=True)
    form = {
        "callback_id": "admin_update_send",
        "private_metadata": '["wewontbuildit", "news", true]\nx',
    }
    answer = response_json(bot.slack.submit(form, {}, user="U0N0000000"))
    assert "for the campaign's organizers" in view_text(answer["view"])
    with bot.db.read() as session:
        assert session.scalar(select(Campaign.employer_answer)) is None
    assert news_posts(bot) == []


def test_someone_who_opts_out_after_the_update_is_written_does_not_get_it(bot):
    subscribers = _people(bot, 2, news=True)
    _queue(bot)
    bot.slack.dm("stop updates", user=subscribers[0])
    assert "no more news" in ephemerals_to(bot, subscribers[0])[-1]["text"]
    # Their delivery went with their subscription: nothing keyed by them is left.
    report = send_pending(bot.db, bot.app_client, _keyring(bot), pace_seconds=0)
    assert (report.sent, report.failed) == (1, 0)
    assert _received(bot) == Counter({dm_channel_for(subscribers[1]): 1})
    with bot.db.read() as session:
        [done] = updates.progress(session, 1)
        assert session.scalars(select(UpdateDelivery)).all() == []
    assert (done.recipients, done.sent, done.failed) == (2, 1, 1)


def test_rate_limits_are_waited_out_and_nobody_gets_it_twice(bot):
    subscribers = _people(bot, 4, news=True)
    _queue(bot)
    bot.fake.fail("chat.postMessage", Fault(status=429, retry_after=2), times=3)
    waits: list[float] = []
    report = send_pending(bot.db, bot.app_client, _keyring(bot), pace_seconds=0, sleep=waits.append)
    assert report.sent == 4
    assert report.retried == 3
    assert waits == [2.0, 2.0, 2.0]
    assert _received(bot) == Counter({dm_channel_for(u): 1 for u in subscribers})


def test_an_outage_pauses_sending_and_the_next_run_resumes(bot):
    subscribers = _people(bot, 3, news=True)
    _queue(bot)
    bot.fake.fail("chat.postMessage", Fault(status=500))
    first = send_pending(bot.db, bot.app_client, _keyring(bot), pace_seconds=0)
    assert first.stopped_by is not None
    second = send_pending(bot.db, bot.app_client, _keyring(bot), pace_seconds=0)
    assert first.sent + second.sent == 3
    assert _received(bot) == Counter({dm_channel_for(u): 1 for u in subscribers})


def test_a_kill_in_the_middle_then_a_restart_sends_each_update_once(bot, database_url):
    subscribers = _people(bot, 6, news=True)
    _queue(bot)
    # Each post takes effect, then its answer is held back: the process is killed
    # while it waits, with a message in Slack it never recorded.
    bot.fake.delay("chat.postMessage", 30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        DATABASE_URL=database_url,
        SIGNER_KEY=SIGNER_KEY,
        # The test's own key store: without it, on PostgreSQL the process used
        # ./undersigned-keys, found no campaign key and sent nothing.
        KEY_STORE=key_store_for(database_url),
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_API_URL=bot.fake.api_url,
    )
    sender = subprocess.Popen(
        [sys.executable, "-m", "bot", "send-updates"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: len(news_posts(bot)) >= 1, seconds=60)
    finally:
        sender.send_signal(signal.SIGKILL)
        sender.wait(timeout=10)
    bot.fake.delay("chat.postMessage", 0)
    with bot.db.read() as session:
        in_doubt = session.scalars(
            select(UpdateDelivery).where(UpdateDelivery.in_doubt_since.is_not(None))
        ).all()
    assert len(in_doubt) == 1
    # The lease of the killed process has to run out before its row is taken over.
    with bot.db.write() as session:
        session.execute(UpdateDelivery.__table__.update().values(claimed_at=None))
    report = send_pending(bot.db, bot.app_client, _keyring(bot), pace_seconds=0)
    assert report.sent == 6  # one found already delivered, five posted now
    assert _received(bot) == Counter({dm_channel_for(u): 1 for u in subscribers})


# -- a post Slack accepted, whose answer was lost --------------------------------------


def _organizer_sends(bot: RunningBot, text: str) -> None:
    bot.slack.click("admin_update", SLUG, user=DANA.id)
    state = {
        "kind": {"kind": {"type": "static_select", "selected_option": {"value": "news"}}},
        "text": {"text": {"type": "plain_text_input", "value": text}},
        "send": {"send": {"type": "checkboxes", "selected_options": [{"value": "yes"}]}},
    }
    preview = response_json(bot.slack.submit(opened_views(bot)[-1], state, user=DANA.id))
    response_json(bot.slack.submit(preview["view"], {}, user=DANA.id))


def test_a_dropped_connection_after_the_post_leaves_one_copy_from_the_app(bot):
    """The organizer's send runs on the app's own sender. Slack posts the DM, then
    the connection drops before its answer: slack_sdk's default retry would post
    it again. Before the fix: two copies in the signer's DM."""
    [subscriber] = _people(bot, 1, news=True)
    bot.fake.fail("chat.postMessage", Fault(drop_after=True))
    _organizer_sends(bot, "We met the CEO.")
    wait_until(lambda: len(news_posts(bot)) >= 1)
    # The app's sender gives the row back after the post: until then it holds the
    # claim, and a scheduler's run finds nothing to take up.
    wait_until(lambda: _left_in_doubt(bot) == 1)
    # The scheduler's run takes up the delivery left in doubt and finds the post.
    settings = bot.settings
    send_pending_job(bot.db, job_client(settings), _keyring(bot))
    assert _received(bot) == Counter({dm_channel_for(subscriber): 1})
    assert _sent_so_far(bot) == 1


def test_a_dropped_connection_after_the_post_leaves_one_copy_from_the_scheduler(bot):
    [subscriber] = _people(bot, 1, news=True)
    _queue(bot)
    bot.fake.fail("chat.postMessage", Fault(drop_after=True))
    send_pending_job(bot.db, job_client(bot.settings), _keyring(bot))
    assert _received(bot) == Counter({dm_channel_for(subscriber): 1})
    send_pending_job(bot.db, job_client(bot.settings), _keyring(bot))
    assert _received(bot) == Counter({dm_channel_for(subscriber): 1})
    assert _sent_so_far(bot) == 1
