"""Slack waits three seconds for an acknowledgement. However long its Web API
takes (here users.info, chat.postEphemeral or conversations.info answering after
3.5 s), every request is acknowledged in time, and the person is told the outcome
once it is decided: a form says "one moment" and is then updated; a signature is
confirmed only once it is committed."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from slack_bolt import BoltContext
from sqlalchemy import select

from console.payloads import message_im_body, view_submission_body
from console.server import FakeSlack
from console.workspace import FakeChannel, Grid
from handlers.intime import ARRIVED, InTime
from storage.models import Campaign
from tests.support.databases import sqlite_only
from tests.support.httpclient import HttpResult
from tests.support.organizers import DANA, NEW_CAMPAIGN, editor_values, open_editor
from tests.support.running import ALICE, RunningBot, newcomer, response_json
from tests.support.signing import (
    SLUG,
    open_sign_form,
    opened_views,
    sign,
    sign_values,
    view_text,
)

SLOW = 3.5
SLACK_WAITS = 3.0


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.fake.workspace.add_user(DANA)
    running_bot.fake.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    running_bot.import_campaign()
    return running_bot


def timed(request: Callable[[], HttpResult]) -> tuple[HttpResult, float]:
    started = time.monotonic()
    result = request()
    return result, time.monotonic() - started


def wait_for(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    return condition()


def count(bot: RunningBot) -> int:
    with bot.db.read() as session:
        return session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))


def updated_views(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params["view"] for c in fake.calls_to("views.update")]


def test_a_signing_form_is_acknowledged_in_time_and_confirmed_once_committed(bot):
    # A form without our pass (opened long ago, say), from someone the member
    # directory does not know yet: users.info is asked.
    late = newcomer(bot.fake).id
    form = {
        "id": "V0SLOWFORM",
        "callback_id": "sign_submit",
        "private_metadata": json.dumps({"slug": SLUG, "from": "message", "mode": "sign"}),
    }
    bot.fake.workspace.views["V0SLOWFORM"] = dict(form)
    bot.fake.delay("users.info", SLOW)
    result, took = timed(lambda: bot.slack.submit(form, sign_values(), user=late))
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    answer = response_json(result)
    assert answer["response_action"] == "update"
    assert "nothing is recorded until it does" in view_text(answer["view"])
    assert "You signed" not in view_text(answer["view"])
    confirmed = wait_for(lambda: updated_views(bot.fake))
    [view] = confirmed
    assert "You signed" in view_text(view)
    assert bot.fake.calls_to("views.update")[0].params["view_id"] == "V0SLOWFORM"
    assert count(bot) == 1


def _writes_held(bot: RunningBot, seconds: float) -> threading.Thread:
    """Another process's write (a backup, the CLI) holding SQLite's write lock for
    `seconds`: the app's writer thread waits for it in SQLite's busy handler."""
    assert bot.db.sqlite_file is not None
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(bot.db.sqlite_file, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            taken.set()
            time.sleep(seconds)
            other.execute("ROLLBACK")
        finally:
            other.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(5)
    return thread


def on_screen(bot: RunningBot) -> dict[str, Any]:
    """Alice's signing form, opened by her click, as it is on her screen (with its id)."""
    open_sign_form(bot)
    [view_id] = bot.fake.workspace.view_stacks[ALICE.id]
    return {**bot.fake.workspace.views[view_id], "id": view_id}


@sqlite_only("the writer thread a signature is queued for is SQLite's")
def test_a_queued_signature_written_late_is_confirmed_once_committed(bot):
    # A form with our pass needs nothing of Slack: its signature is queued for the
    # writer thread (InTime.run_queued). Held up past the deadline, it is answered
    # "one moment", then confirmed once committed.
    form = on_screen(bot)
    asked = len(bot.fake.calls_to("users.info"))
    holder = _writes_held(bot, 2.0)
    result, took = timed(lambda: bot.slack.submit(form, sign_values(), user=ALICE.id))
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    answer = response_json(result)
    assert "nothing is recorded until it does" in view_text(answer["view"])
    [view] = wait_for(lambda: updated_views(bot.fake))
    assert "You signed" in view_text(view)
    holder.join(5)
    assert count(bot) == 1
    assert len(bot.fake.calls_to("users.info")) == asked  # the pass said it all
    assert "You signed" in view_text(bot.fake.workspace.modal_of(ALICE.id) or {})


@sqlite_only("the writer thread a signature is queued for is SQLite's")
def test_a_queued_signature_that_could_not_be_written_says_so_and_stores_nothing(bot, caplog):
    form = on_screen(bot)
    holder = _writes_held(bot, 3.5)  # past SQLite's busy timeout (2.5 s)
    result, took = timed(lambda: bot.slack.submit(form, sign_values(), user=ALICE.id))
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    assert "nothing is recorded until it does" in view_text(response_json(result)["view"])
    [view] = wait_for(lambda: updated_views(bot.fake))
    assert "Something went wrong" in json.dumps(view)
    assert "Something went wrong" in json.dumps(bot.fake.workspace.modal_of(ALICE.id))
    assert "You signed" not in view_text(view)
    holder.join(5)
    assert count(bot) == 0
    assert "work after an acknowledgement failed" in caplog.text
    assert ALICE.id not in caplog.text


def test_a_click_is_acknowledged_in_time_and_its_form_follows(bot):
    bot.fake.delay("users.info", SLOW)
    trigger = bot.fake.new_trigger(ALICE.id)
    result, took = timed(lambda: bot.slack.click("sign_start", SLUG, trigger_id=trigger))
    assert result.status == 200
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    # The trigger_id is used in time, for a "one moment" modal...
    [holding] = wait_for(lambda: opened_views(bot))
    assert "One moment" in json.dumps(holding)
    # ...which the signing form then replaces.
    [form] = wait_for(lambda: updated_views(bot.fake))
    assert form["callback_id"] == "sign_submit"


def test_the_test_driver_follows_a_form_behind_one_moment(bot):
    """tests/support/signing.sign(), as the whole suite signs: when the click is
    answered with "one moment" (here users.info is slow; in a loaded run, anything),
    it follows that modal on the person's screen to the form, and signs."""
    person = newcomer(bot.fake)
    bot.fake.delay("users.info", SLOW)
    answer = sign(bot, person.id)
    assert "One moment" in json.dumps(opened_views(bot)[0])
    assert count(bot) == 1, answer


def test_a_dm_is_acknowledged_in_time_and_answered(bot):
    bot.fake.delay("chat.postEphemeral", SLOW)
    result, took = timed(lambda: bot.slack.dm("status", settled=False))
    assert result.status == 200
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    assert wait_for(lambda: bot.fake.calls_to("chat.postEphemeral"))


def test_a_dm_in_a_grid_is_acknowledged_in_time_while_the_person_is_looked_up(bot):
    grid = Grid(enterprise_id="E0UNDRSGN", org_install=False)
    bot.fake.workspace.grid = grid
    bot.fake.delay("users.info", SLOW)
    body = message_im_body("status", ALICE.id, grid=grid)
    result, took = timed(lambda: bot.slack.post(body, "application/json"))
    assert result.status == 200
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    assert wait_for(lambda: bot.fake.calls_to("chat.postEphemeral"))


def test_the_organizer_editor_is_acknowledged_in_time_while_channels_are_checked(bot):
    form = dict(open_editor(bot, "admin_new", "new"), id="V0EDITOR01")
    bot.fake.workspace.views[form["id"]] = dict(form)
    bot.fake.delay("conversations.info", SLOW)
    body = view_submission_body(form, DANA.id, editor_values(**NEW_CAMPAIGN))
    result, took = timed(lambda: bot.slack.post(body, "application/x-www-form-urlencoded"))
    assert took < SLACK_WAITS, f"acknowledged after {took:.2f} s"
    assert "checking the channels" in view_text(response_json(result)["view"])
    [saved] = wait_for(lambda: updated_views(bot.fake))
    assert "draft" in view_text(saved)


def test_work_that_could_not_be_queued_is_not_counted_as_running():
    # A writer thread that cannot start raises in queue(): settle() (the console,
    # the tests) must not then wait for an answer that will never come.
    in_time = InTime()
    context = BoltContext({ARRIVED: time.monotonic()})

    def queue(finished: Callable[[Any, BaseException | None], None]) -> bool:
        raise RuntimeError("can't start new thread")

    try:
        with pytest.raises(RuntimeError):
            in_time.run_queued(
                context, queue, lambda r, e: r, late=lambda: None, then=print, failed=print
            )
        assert in_time.settle(timeout=1)
    finally:
        in_time.shutdown()
