"""Milestone announcements, run as the scheduler runs them (jobs.announce) against the
fake Slack, on a real SQLite file: what is posted, once, whatever Slack does."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from slack_sdk import WebClient
from sqlalchemy import select, update

import blocks
from bot.settings import Settings
from console.server import FakeSlack, Fault
from jobs.announce import EVENT_TYPE, run_announcements
from petition import announcements, campaign_spec
from petition.errors import InvalidCampaign
from petition.signatures import remove_signature, signer_hash
from storage.db import Database
from storage.models import AnnouncementKind, AnnouncementState, Campaign
from tests.support.announcing import (
    CHANNEL,
    SLUG,
    add_signers,
    age_claims,
    announced,
    import_campaign,
    posts,
    rows,
    run,
    signer,
)
from tests.support.jobs import close
from tests.support.running import ALICE, BOB, RunningBot, make_settings
from tests.support.signing import sign

# -- helpers (shared with the scheduler and CLI tests) ---------------------------


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return make_settings(fake_slack, database_url)


@pytest.fixture
def campaign(db: Database, settings: Settings) -> Database:
    import_campaign(db, settings)
    return db


# -- what is announced ----------------------------------------------------------


def test_five_then_three_more_signers_make_exactly_two_posts(campaign, settings, fake_slack):
    db = campaign
    add_signers(db, settings, 4)
    assert run(settings).posted == []
    add_signers(db, settings, 1, start=4)
    assert [d.threshold for d in run(settings).posted] == [5]
    add_signers(db, settings, 3, start=5)
    assert [d.threshold for d in run(settings).posted] == [8]
    for _ in range(3):
        assert run(settings).posted == []
    assert announced(fake_slack) == [("milestone", 5), ("milestone", 8)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    stored = rows(db)
    assert {k: r.state for k, r in stored.items()} == {
        ("milestone", 5): AnnouncementState.POSTED,
        ("milestone", 8): AnnouncementState.POSTED,
    }
    assert [stored[("milestone", t)].message_ts for t in (5, 8)] == [
        m["ts"] for m in posts(fake_slack)
    ]


def test_several_milestones_passed_at_once_make_one_post_naming_the_highest(
    db, settings, fake_slack
):
    import_campaign(db, settings, milestones=[5, 8, 10, 50])
    add_signers(db, settings, 11)
    report = run(settings)
    assert [d.threshold for d in report.posted] == [10]
    assert sorted(d.threshold for d in report.superseded) == [5, 8]
    assert announced(fake_slack) == [("milestone", 10)]
    # The lower ones are never posted later.
    run(settings)
    assert announced(fake_slack) == [("milestone", 10)]
    assert rows(db)[("milestone", 5)].state is AnnouncementState.SUPERSEDED


def test_a_withdrawal_below_an_announced_milestone_neither_retracts_nor_re_announces(
    campaign, settings, fake_slack
):
    db = campaign
    add_signers(db, settings, 5)
    run(settings)
    with db.write() as session:
        assert remove_signature(session, SLUG, signer(settings, 0), settings.keyring())
    run(settings)
    assert not fake_slack.calls_to("chat.delete")
    assert not fake_slack.calls_to("chat.update")
    add_signers(db, settings, 1, start=100)  # back to 5: passed again
    run(settings)
    run(settings)
    assert announced(fake_slack) == [("milestone", 5)]


def test_the_post_shows_counts_progress_and_the_demands_hint(campaign, settings, fake_slack):
    add_signers(campaign, settings, 6)
    run(settings)
    [message] = posts(fake_slack)
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "has passed *5* signatures" in text
    assert "Signed so far: *6*" in text
    assert f"`{blocks.progress_bar(6, 8)}`  6 of 8, the next milestone" in text
    assert f"/demands {SLUG}" in text
    assert "We won't build it" in message["text"]
    assert message["metadata"] == {
        "event_type": EVENT_TYPE,
        "event_payload": {"campaign": SLUG, "kind": "milestone", "threshold": 5},
    }


def test_a_title_with_slack_markup_is_escaped(db, settings, fake_slack):
    import_campaign(db, settings, title="<!channel> Fair & square <@U0ALICE001>")
    add_signers(db, settings, 5)
    run(settings)
    [call] = fake_slack.calls_to("chat.postMessage")
    raw = json.dumps(call.params)
    assert "<!channel>" not in raw
    assert "<@" not in raw
    assert "&lt;!channel&gt; Fair &amp; square" in call.params["text"]


def test_no_post_contains_a_user_id_or_name(running_bot: RunningBot):
    # Real signers, one of them named, signing through the real flow.
    running_bot.import_campaign(milestones=[5, 8])
    sign(running_bot, user=ALICE.id, how="named", name="Alice Example")
    sign(running_bot, user=BOB.id)
    add_signers(running_bot.db, running_bot.settings, 6)
    run(running_bot.settings)
    with running_bot.db.write() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        campaign.closes_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    run(running_bot.settings)
    calls = running_bot.fake.calls_to("chat.postMessage")
    assert len(calls) == 2  # the milestone of 8, then the final count
    key = running_bot.settings.require_signer_key()
    forbidden = [ALICE.id, BOB.id, "Alice", "alice", "Bob", "bob", ALICE.real_name]
    forbidden += [signer_hash(key, "T0UNDRSGN", u) for u in (ALICE.id, BOB.id)]
    for call in calls:
        raw = json.dumps(call.params)
        for word in forbidden:
            assert word not in raw
        assert "just" not in raw.lower()


def test_milestones_below_the_small_count_are_refused_at_import(settings):
    base = {
        "slug": SLUG,
        "title": "t",
        "statement": "s",
        "demands": ["d"],
        "channel": CHANNEL,
    }
    with pytest.raises(InvalidCampaign, match="expose the first signers"):
        campaign_spec.parse_campaign({**base, "milestones": [4, 10]}, settings.timezone)
    assert campaign_spec.parse_campaign({**base, "milestones": [5]}, settings.timezone)


def test_a_small_final_count_is_not_shown_exactly():
    text, content = blocks.final_count_announcement("T", SLUG, 3)
    assert "fewer than 5" in text
    assert " 3 " not in json.dumps(content)


def test_progress_bar():
    assert blocks.progress_bar(0, 100) == "░" * 10
    assert blocks.progress_bar(55, 100) == "▓" * 5 + "░" * 5
    assert blocks.progress_bar(150, 100) == "▓" * 10


def test_a_campaign_without_a_channel_is_skipped_with_a_log_line(db, settings, fake_slack, caplog):
    import_campaign(db, settings, channel=None)
    add_signers(db, settings, 6)
    with caplog.at_level(logging.INFO, logger="jobs"):
        report = run(settings)
    assert report.no_channel == [SLUG]
    assert "no announcement channel" in caplog.text
    assert not fake_slack.calls_to("chat.postMessage")
    assert rows(db) == {}


def test_drafts_are_never_announced(db, settings, fake_slack):
    import_campaign(db, settings, status="open")
    add_signers(db, settings, 6)
    import_campaign(db, settings, status="draft")
    run(settings)
    assert not fake_slack.calls_to("chat.postMessage")


# -- Slack trouble ---------------------------------------------------------------


def test_a_short_rate_limit_is_waited_out_in_the_same_run(campaign, settings, fake_slack):
    add_signers(campaign, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=1))
    report = run(settings)
    assert [d.threshold for d in report.posted] == [5]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert announced(fake_slack) == [("milestone", 5)]


def test_a_long_rate_limit_leaves_it_for_the_next_run(campaign, settings, fake_slack):
    add_signers(campaign, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=600))
    report = run(settings)
    assert report.posted == []
    assert report.waiting == [f"{SLUG} 5 in {CHANNEL} (ratelimited)"]
    assert posts(fake_slack) == []
    # Nothing can have been posted, so the next run posts without looking first.
    report = run(settings)
    assert [d.threshold for d in report.posted] == [5]
    assert not fake_slack.calls_to("conversations.history")
    run(settings)
    assert announced(fake_slack) == [("milestone", 5)]


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_retried_by_the_next_run_after_a_look(
    campaign, settings, fake_slack, status
):
    add_signers(campaign, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=status))
    assert run(settings).posted == []
    assert rows(campaign)[("milestone", 5)].in_doubt_since is not None
    assert [d.threshold for d in run(settings).posted] == [5]
    [history] = fake_slack.calls_to("conversations.history")
    assert history.params["channel"] == CHANNEL
    run(settings)
    assert announced(fake_slack) == [("milestone", 5)]


def test_429_and_500_on_both_milestones_still_end_with_one_post_each(
    campaign, settings, fake_slack
):
    db = campaign
    add_signers(db, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=600))
    run(settings)
    fake_slack.fail("chat.postMessage", Fault(status=500))
    run(settings)
    run(settings)
    add_signers(db, settings, 3, start=5)
    fake_slack.fail("chat.postMessage", Fault(status=500))
    fake_slack.fail("chat.postMessage", Fault(status=429, retry_after=1))
    run(settings)
    run(settings)
    run(settings)
    assert announced(fake_slack) == [("milestone", 5), ("milestone", 8)]


def test_a_post_whose_answer_never_came_is_found_in_the_channel_not_posted_again(
    campaign, settings, fake_slack
):
    db = campaign
    add_signers(db, settings, 5)
    # Slack posts, but the answer arrives after the client gave up.
    fake_slack.delay("chat.postMessage", 3)
    impatient = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=1,
        retry_handlers=[],
    )
    report = run_announcements(db, impatient)
    assert report.posted == []
    assert len(posts(fake_slack)) == 1
    fake_slack.delay("chat.postMessage", 0)
    report = run(settings)
    assert [d.threshold for d in report.found] == [5]
    assert report.posted == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    [history] = fake_slack.calls_to("conversations.history")
    assert history.params["include_all_metadata"] in {"1", "true", True}
    assert rows(db)[("milestone", 5)].message_ts == posts(fake_slack)[0]["ts"]


@pytest.mark.parametrize("code", ["not_in_channel", "channel_not_found"])
def test_a_channel_the_bot_cannot_post_in_is_logged_for_the_operator_and_retried(
    campaign, settings, fake_slack, caplog, code
):
    add_signers(campaign, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(error=code))
    with caplog.at_level(logging.INFO, logger="jobs"):
        report = run(settings)
    assert report.waiting == [f"{SLUG} 5 in {CHANNEL} ({code})"]
    [line] = [r for r in caplog.records if code in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert "/invite @Undersigned" in line.getMessage()
    assert SLUG in line.getMessage()
    assert "campaign list" in line.getMessage()
    # Once the bot is invited, the next run posts it, without a look: nothing was posted.
    assert [d.threshold for d in run(settings).posted] == [5]
    assert not fake_slack.calls_to("conversations.history")
    assert announced(fake_slack) == [("milestone", 5)]


def test_logs_never_name_a_signer(running_bot: RunningBot, caplog):
    running_bot.import_campaign(milestones=[5])
    sign(running_bot, user=ALICE.id, how="named", name="Alice Example")
    add_signers(running_bot.db, running_bot.settings, 4)
    running_bot.fake.fail("chat.postMessage", Fault(error="not_in_channel"))
    with caplog.at_level(logging.DEBUG):
        run(running_bot.settings)
        run(running_bot.settings)
    assert ALICE.id not in caplog.text
    assert "Alice" not in caplog.text


def test_a_channel_change_moves_a_waiting_announcement(campaign, settings, fake_slack):
    add_signers(campaign, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(error="channel_not_found"))
    run(settings)
    import_campaign(campaign, settings, channel="C0ELSEWHERE")
    run(settings)
    assert announced(fake_slack, "C0ELSEWHERE") == [("milestone", 5)]
    assert rows(campaign)[("milestone", 5)].channel_id == "C0ELSEWHERE"


# -- claims ------------------------------------------------------------------------


def test_a_claim_is_won_once_and_expires(campaign, settings):
    db = campaign
    add_signers(db, settings, 5)
    with db.write() as session:
        announcements.plan_milestones(session)
    with db.read() as session:
        [row_id] = announcements.claimable_ids(session)
    with db.write() as session:
        first = announcements.claim(session, row_id)
    with db.write() as session:
        assert announcements.claim(session, row_id) is None
    assert first is not None
    assert first.in_doubt_since is None
    with db.write() as session:
        assert announcements.begin_attempt(session, first)
    # The holder dies. After the lease, another run takes over, knowing that a
    # post may already be in the channel.
    age_claims(db)
    with db.write() as session:
        second = announcements.claim(session, row_id)
    assert second is not None
    assert second.in_doubt_since is not None
    assert second.token != first.token
    # The first holder can no longer record or release anything.
    with db.write() as session:
        assert not announcements.begin_attempt(session, first)


# -- closing ---------------------------------------------------------------------


def test_closing_posts_the_final_count_once_and_drops_waiting_milestones(
    campaign, settings, fake_slack
):
    db = campaign
    add_signers(db, settings, 5)
    fake_slack.fail("chat.postMessage", Fault(error="not_in_channel"))
    run(settings)
    with db.write() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.slug == SLUG)
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    report = run(settings)
    assert report.closed == [SLUG]
    assert [d.kind for d in report.posted] == [AnnouncementKind.FINAL]
    run(settings)
    assert announced(fake_slack) == [("final", 0)]
    [final] = posts(fake_slack)
    assert "is closed. Final count: *5* signatures" in json.dumps(final["blocks"])
    with db.read() as session:
        assert session.scalar(select(Campaign.status).where(Campaign.slug == SLUG)).value == (
            "closed"
        )
    assert rows(db)[("milestone", 5)].state is AnnouncementState.SUPERSEDED


def test_a_final_count_slack_refused_waits_for_the_announcement_run(campaign, settings, fake_slack):
    db = campaign
    add_signers(db, settings, 5)
    with db.write() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.slug == SLUG)
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    fake_slack.fail("chat.postMessage", Fault(error="not_in_channel"))
    assert close(settings).closed == [SLUG]
    # The minute check does not retry it (nor log about it) every minute...
    assert close(settings).closed == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    # ...the next announcement run posts it.
    assert [d.kind for d in run(settings).posted] == [AnnouncementKind.FINAL]
    assert announced(fake_slack) == [("final", 0)]
