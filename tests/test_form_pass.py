"""The signing form carries a pass saying its signer was found eligible when it
opened, so confirming it does not ask Slack's users.info again; a pass holds only
for the person and campaign it was issued for, and only for PASS_SECONDS.

The member directory (tests/test_directory.py) spares users.info for everyone it
knows; the pass is what spares it for the others, so these tests run with the
directory off (MEMBER_DIRECTORY=off), where every person is one of the others."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from bot.settings import load_settings
from console.workspace import TEAM_ID, FakeUser
from petition import eligibility
from tests.support.running import ALICE, BOB, SIGNER_KEY, RunningBot
from tests.support.running import response_json as answer_of
from tests.support.signing import SLUG, count, open_sign_form, sign_values, stored, view_text

KEY = hashlib.sha256(b"a test key of 32 bytes or more").digest()
NOW = 1_800_000_000.0
SUBJECT = ("T0ORG", "T0TEAM", "U0ALICE")


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"MEMBER_DIRECTORY": "off"}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


def _with_pass(form: dict, token: str | None) -> dict:
    metadata = json.loads(form["private_metadata"])
    if token is None:
        metadata.pop("pass", None)
    else:
        metadata["pass"] = token
    return {**form, "private_metadata": json.dumps(metadata)}


def test_confirming_the_form_does_not_ask_slack_again(bot):
    form = open_sign_form(bot)
    assert len(bot.fake.calls_to("users.info")) == 1
    answer = answer_of(bot.slack.submit(form, sign_values()))
    assert "anonymously" in view_text(answer["view"])
    assert len(bot.fake.calls_to("users.info")) == 1
    assert count(bot) == 1


def test_without_a_pass_the_submission_asks_slack(bot):
    form = _with_pass(open_sign_form(bot), None)
    answer_of(bot.slack.submit(form, sign_values()))
    assert len(bot.fake.calls_to("users.info")) == 2
    assert count(bot) == 1


def test_a_pass_is_for_its_person_only(bot):
    guest = FakeUser("U0GUEST009", "guest", "Guest", is_restricted=True)
    bot.fake.workspace.add_user(guest)
    alices_form = open_sign_form(bot)
    # The guest submits a form carrying Alice's pass: it is checked, and refused.
    answer = answer_of(bot.slack.submit(alices_form, sign_values(), user=guest.id))
    assert "Guest" in view_text(answer["view"])
    assert stored(bot) == []
    # Bob, eligible, is asked about too.
    answer_of(bot.slack.submit(alices_form, sign_values(), user=BOB.id))
    assert [c.params["user"] for c in bot.fake.calls_to("users.info")][-2:] == [guest.id, BOB.id]


def test_an_old_pass_is_checked_again(bot):
    key = load_settings({"SIGNER_KEY": SIGNER_KEY}).require_signer_key()
    old = eligibility.issue_pass(key, TEAM_ID, TEAM_ID, ALICE.id, SLUG, now=time.time() - 3600)
    form = _with_pass(open_sign_form(bot), old)
    before = len(bot.fake.calls_to("users.info"))
    answer_of(bot.slack.submit(form, sign_values()))
    assert len(bot.fake.calls_to("users.info")) == before + 1
    assert count(bot) == 1


def test_a_pass_holds_for_its_subject_and_campaign_within_its_time():
    token = eligibility.issue_pass(KEY, *SUBJECT, "camp", now=NOW)
    assert eligibility.pass_holds(KEY, token, *SUBJECT, "camp", now=NOW)
    assert eligibility.pass_holds(KEY, token, *SUBJECT, "camp", now=NOW + 600)
    assert not eligibility.pass_holds(KEY, token, *SUBJECT, "camp", now=NOW + 3600)
    assert not eligibility.pass_holds(KEY, token, *SUBJECT, "camp", now=NOW - 120)
    assert not eligibility.pass_holds(KEY, token, *SUBJECT, "other", now=NOW)
    assert not eligibility.pass_holds(KEY, token, "T0ORG", "T0TEAM", "U0BOB", "camp", now=NOW)
    assert not eligibility.pass_holds(KEY, token, "T0ORG", "T0ELSE", "U0ALICE", "camp", now=NOW)
    assert not eligibility.pass_holds(b"another key", token, *SUBJECT, "camp", now=NOW)


@pytest.mark.parametrize(
    "token", [None, 12, "", "x", "1.2.3", "abc.def", "-1.00", "99999999999999.ab", ".", "1."]
)
def test_anything_else_is_no_pass(token):
    assert not eligibility.pass_holds(KEY, token, *SUBJECT, "camp", now=NOW)


def test_a_pass_names_nobody():
    token = eligibility.issue_pass(KEY, *SUBJECT, "camp", now=NOW)
    for part in SUBJECT:
        assert part not in token
    minute, mac = token.split(".")
    assert int(minute) == int(NOW) // 60
    assert len(mac) == 32
