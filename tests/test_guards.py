"""Requests refused before any handler acts: another workspace, too many requests."""

from __future__ import annotations

import json
import logging

from console.workspace import FakeUser
from tests.support.running import ALICE, BOB, RunningBot, response_json
from tests.support.signing import SLUG, ephemerals_to, opened_views, sign, stored, view_text


def test_a_slash_command_from_another_workspace_is_refused(running_bot: RunningBot, caplog):
    caplog.set_level(logging.WARNING)
    running_bot.import_campaign()
    answer = response_json(running_bot.slack.command("", team_id="T0OTHERORG"))
    assert "not installed in your workspace" in answer["text"]
    assert "blocks" not in answer
    assert "refused a slash_command request from a workspace" in caplog.text
    assert ALICE.id not in caplog.text


def test_clicks_and_forms_from_another_workspace_change_nothing(running_bot: RunningBot):
    running_bot.import_campaign()
    running_bot.slack.click("sign_start", SLUG, team_id="T0OTHERORG")
    assert "not installed" in view_text(opened_views(running_bot)[-1])
    assert running_bot.fake.calls_to("users.info") == []
    form = {"callback_id": "sign_submit", "private_metadata": json.dumps({"slug": SLUG})}
    values = {"how": {"choice": {"selected_option": {"value": "anonymous"}}}}
    from console.payloads import view_submission_body

    body = view_submission_body(form, ALICE.id, values, team_id="T0OTHERORG")
    answer = response_json(running_bot.slack.post(body, "application/x-www-form-urlencoded"))
    assert "not installed" in view_text(answer["view"])
    assert stored(running_bot) == []


def test_a_dm_from_another_workspace_gets_no_answer(running_bot: RunningBot):
    from console.payloads import message_im_body

    body = message_im_body("status", ALICE.id, team_id="T0OTHERORG")
    assert running_bot.slack.post(body, "application/json").status == 200
    assert running_bot.fake.calls_to("chat.postEphemeral") == []


def test_a_burst_of_requests_from_one_person_is_slowed_politely(running_bot: RunningBot, caplog):
    caplog.set_level(logging.WARNING)
    running_bot.import_campaign()
    answers = [response_json(running_bot.slack.command("")) for _ in range(25)]
    slowed = [a for a in answers if "pausing yours" in a.get("text", "")]
    assert len(slowed) == 5
    assert all("blocks" not in a for a in slowed)
    assert "rate limited a slash_command request" in caplog.text
    assert ALICE.id not in caplog.text
    # Someone else is not affected, and clicks are limited too.
    assert "blocks" in response_json(running_bot.slack.command("", user=BOB.id))
    running_bot.slack.click("sign_start", SLUG)
    assert "Slow down" in json.dumps(opened_views(running_bot)[-1])


def test_the_limit_leaves_nothing_half_done(running_bot: RunningBot):
    running_bot.import_campaign()
    for _ in range(19):
        running_bot.slack.dm("status")
    sign(running_bot, BOB.id)
    assert len(ephemerals_to(running_bot, ALICE.id)) == 19
    running_bot.slack.dm("status")  # the 20th is still allowed
    running_bot.slack.dm("status")  # the 21st is not, and gets no reply
    assert len(ephemerals_to(running_bot, ALICE.id)) == 20
    worker = FakeUser("U0FRESH001", "fresh", "Fresh Worker")
    running_bot.fake.workspace.add_user(worker)
    sign(running_bot, worker.id)
    assert len(stored(running_bot)) == 2


def test_the_limiter_refills_over_time_and_forgets_idle_people():
    from petition import ratelimit

    now = [0.0]
    limiter = ratelimit.RateLimiter(burst=3, refill_seconds=2.0, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    now[0] += 2.0
    assert limiter.allow("a")
    assert not limiter.allow("a")
    assert limiter.allow("b")
    now[0] += 100.0
    limiter._forget_full(now[0])
    assert limiter._buckets == {}
