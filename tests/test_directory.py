"""The member directory (handlers/directory.py): who may sign is known from
users.list, read a page at a time and kept current by Slack's `user_change` and
`team_join` events, so that signing asks Slack nothing per person; kept in memory
only, never on disk or in a log."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from slack_sdk import WebClient

import blocks
from console.payloads import user_change_body
from console.server import FakeSlack
from console.workspace import FakeUser
from handlers.directory import Directory
from tests.support.databases import database_bytes
from tests.support.running import ALICE, BOB, RunningBot
from tests.support.signing import SLUG, count, stored, view_text

QUICK = blocks.QUICK_SIGN_ACTION
CROWD = [FakeUser(f"U0DIR{n:05d}", f"dir{n}", f"Directory Person {n}") for n in range(7)]


@pytest.fixture
def crowd(fake_slack: FakeSlack) -> list[FakeUser]:
    for user in CROWD:
        fake_slack.workspace.add_user(user)
    return CROWD


@pytest.fixture
def bot(crowd: list[FakeUser], running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def answers(bot: RunningBot) -> list[str]:
    return [view_text(c.params) for c in bot.fake.calls_to("response_url")]


def quick_sign(bot: RunningBot, user: str) -> str:
    seen = len(answers(bot))
    assert bot.slack.click(QUICK, SLUG, user=user).status == 200
    assert wait_for(lambda: len(answers(bot)) > seen), "no answer"
    return answers(bot)[-1]


def changed(bot: RunningBot, user: FakeUser, kind: str = "user_change") -> None:
    """Slack tells the app that an account changed (or joined)."""
    user.updated += 60
    bot.fake.workspace.add_user(user)
    assert bot.slack.post(user_change_body(user, kind=kind), "application/json").status == 200


def test_users_list_is_read_a_page_at_a_time(fake_slack: FakeSlack, crowd: list[FakeUser]):
    client = WebClient(token="xoxb-test-token", base_url=fake_slack.api_url)
    directory = Directory(client, page_size=3)
    directory.start(lambda: True)
    try:
        assert directory.wait_loaded(10)
        # ALICE, BOB and seven more: three pages of three.
        assert len(fake_slack.calls_to("users.list")) == 3
        for user in (ALICE, BOB, *crowd):
            assert directory.get(user.id) is not None, user.id
        assert len(directory) == 9
    finally:
        directory.stop()


def test_everyone_read_signs_with_no_call_to_slack_about_them(bot):
    for user in CROWD[:3]:
        assert "anonymously" in quick_sign(bot, user.id)
    assert count(bot) == 3
    assert bot.fake.calls_to("users.info") == []


def test_a_member_made_a_guest_is_refused_at_once(bot):
    demoted = CROWD[0]
    demoted.is_restricted = True
    try:
        changed(bot, demoted)
        assert "guest" in quick_sign(bot, demoted.id).lower()
        assert stored(bot) == []
        assert bot.fake.calls_to("users.info") == []
    finally:
        demoted.is_restricted = False


def test_a_deactivated_account_is_refused_at_once(bot):
    gone = CROWD[1]
    gone.deleted = True
    try:
        changed(bot, gone)
        assert "deactivated" in quick_sign(bot, gone.id).lower()
        assert stored(bot) == []
    finally:
        gone.deleted = False


def test_an_older_account_change_does_not_undo_a_newer_one(bot):
    demoted = CROWD[2]
    demoted.is_restricted = True
    try:
        changed(bot, demoted)
        stale = FakeUser(demoted.id, demoted.name, demoted.real_name, updated=1)
        body = user_change_body(stale)
        assert bot.slack.post(body, "application/json").status == 200
        assert "guest" in quick_sign(bot, demoted.id).lower()
    finally:
        demoted.is_restricted = False


def test_someone_who_joined_signs_without_users_info(bot):
    joined = FakeUser("U0JOINED01", "joined", "Just Joined")
    changed(bot, joined, kind="team_join")
    assert "anonymously" in quick_sign(bot, joined.id)
    assert bot.fake.calls_to("users.info") == []


def test_the_app_subscribes_to_the_events_the_directory_needs():
    manifest = json.loads((Path(__file__).parent.parent / "manifest.json").read_text())
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"user_change", "team_join"} <= events
    assert "users:read" in manifest["oauth_config"]["scopes"]["bot"]


def test_the_directory_is_nowhere_on_disk_or_in_the_logs(bot, caplog):
    caplog.set_level(logging.DEBUG)
    quick_sign(bot, ALICE.id)
    changed(bot, CROWD[3])
    raw = database_bytes(bot.settings.database_url)
    logs = caplog.text
    assert logs, "nothing was logged: the scan would prove nothing"
    for user in (BOB, *CROWD):
        for secret in (user.id, user.name, user.real_name):
            assert secret.encode() not in raw, secret
            assert secret not in logs, secret
    # Nor the one who signed, in one click.
    assert count(bot) == 1
    for secret in (ALICE.id, ALICE.name, ALICE.real_name):
        assert secret.encode() not in raw, secret
