"""Two hundred people signing at once on one SQLite file, through the real WSGI
server, while the announcement job runs in a loop and an organizer edits the
campaign: every signature counted exactly once, no 5xx, and no "database is
locked" (or any error) reaching anyone."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.fakeslack import FakeChannel, FakeSlack, FakeUser
from bot.jobs import announce_job
from bot.scheduler import job_client
from bot.server import BackgroundServer, SlackWSGI
from storage.db import Database
from storage.models import Campaign, Signature
from tests.conftest import SIGNING_SECRET, RunningBot, SlackDriver, make_settings
from tests.test_admin import DANA, editor_values
from tests.test_signing import SLUG, sign_values

SIGNERS = 200
MILESTONES = [50, 100, 150, 200]
# Enough worker threads that requests really contend for the SQLite write lock.
SERVER_THREADS = 32
# An organizer at a brisk human pace: two requests per edit stay well inside the
# per-person limit (bot/ratelimit.py), which is not what this test is about.
EDIT_PAUSE, EDITS = 0.2, 8


@pytest.fixture
def slack_tiers() -> bool:
    # What is under test is SQLite under contention: two hundred people signing in
    # a few seconds. Slack's tiers would refuse most of their users.info and
    # views.open calls (Tier 4: 100 a minute per workspace) long before the
    # database is stressed; how the app copes with that is test_rate_tiers.py's.
    return False


@dataclass
class Outcome:
    """What one signer saw, request by request."""

    user: str
    statuses: list[int] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.titles[-1:] == ["Signed"]


def signers(fake: FakeSlack, prefix: str = "LOAD", n: int = SIGNERS) -> list[FakeUser]:
    users = [FakeUser(f"U0{prefix}{i:05d}", f"w{i}", f"Worker {i}") for i in range(n)]
    for user in users:
        fake.workspace.add_user(user)
    return users


MOMENT = "One moment"
# How long a test waits for what the bot shows after acknowledging
# (handlers/intime.py: under load an answer may come as "one moment", then this).
FOLLOW_UP_SECONDS = 30


def _updated(
    fake: FakeSlack, view_id: str, timeout: float = FOLLOW_UP_SECONDS, nth: int = 0
) -> Any:
    """What the nth views.update put in this modal, once it has (None if never)."""
    deadline = time.monotonic() + timeout
    while True:
        updates = [c for c in fake.calls_to("views.update") if c.params.get("view_id") == view_id]
        if len(updates) > nth:
            return updates[nth].params["view"]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _title(view: dict[str, Any]) -> str:
    return str((view.get("title") or {}).get("text"))


def opened_by(
    fake: FakeSlack, trigger: str, user: str | None = None, timeout: float = FOLLOW_UP_SECONDS
) -> dict[str, Any] | None:
    """The view opened with this trigger_id (with many people at once, not the
    last one), with its id when `user` is given. A click acknowledged before its
    form was ready opens "one moment" first, which the form then replaces."""
    deadline = time.monotonic() + timeout
    while True:
        for call in fake.calls_to("views.open"):
            if call.params.get("trigger_id") == trigger:
                view = dict(call.params["view"])
                if user is None:
                    return view
                # The fake records a call before it acts on it: the modal is on the
                # person's screen only once views.open has been answered.
                stack = fake.workspace.view_stacks.get(user)
                if not stack:
                    break
                view_id = stack[0]
                if _title(view) == MOMENT:
                    view = _updated(fake, view_id) or view
                return {**view, "id": view_id}
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def answered_title(fake: FakeSlack, body: str, view_id: str) -> str:
    """The title of the modal a submission ends on: its acknowledgement, or what
    replaced "one moment" (still "One moment" if nothing ever did)."""
    return answered_titles(fake, [body], view_id)[0]


def answered_titles(fake: FakeSlack, bodies: list[str], view_id: str) -> list[str]:
    """answered_title for several submissions of one form: those answered "one
    moment" take the modal's updates in turn."""
    titles, late = [], 0
    for body in bodies:
        view = json.loads(body)["view"]
        if _title(view) == MOMENT:
            view = _updated(fake, view_id, nth=late) or view
            late += 1
        titles.append(_title(view))
    return titles


def sign_through(slack: SlackDriver, user: FakeUser) -> Outcome:
    """Click the button, then submit the form Slack opened for this person."""
    outcome = Outcome(user.id)
    trigger = slack.fake.new_trigger(user.id)
    clicked = slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger)
    outcome.statuses.append(clicked.status)
    form = opened_by(slack.fake, trigger, user.id)
    if form is None or form.get("callback_id") != "sign_submit":
        outcome.errors.append(f"no signing form: {json.dumps(form)[:200]}")
        return outcome
    how = "named" if user.id[-1] in "13579" else "anonymous"
    submitted = slack.submit(form, sign_values(how, user.real_name), user=user.id)
    outcome.statuses.append(submitted.status)
    try:
        outcome.titles.append(answered_title(slack.fake, submitted.body, form["id"]))
    except (ValueError, KeyError, TypeError):
        outcome.errors.append(f"unexpected answer: {submitted.body[:200]}")
    return outcome


def in_a_loop(
    work: Callable[[], Any],
    stop: threading.Event,
    results: list[Any],
    pause: float = 0.0,
    limit: int | None = None,
) -> threading.Thread:
    def run() -> None:
        while not stop.is_set() and (limit is None or len(results) < limit):
            try:
                results.append(work())
            except Exception as error:  # recorded, and the test fails on it
                results.append(error)
            stop.wait(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def everything_sent(fake: FakeSlack) -> str:
    return json.dumps([c.params for c in fake.calls], default=str)


@pytest.fixture
def busy_bot(fake_slack: FakeSlack, db: Database, database_url: str) -> Iterator[RunningBot]:
    settings = make_settings(fake_slack, database_url, ORGANIZERS=DANA.id)
    app = create_app(settings, db)
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET), threads=SERVER_THREADS).start()
    fake_slack.workspace.add_user(DANA)
    fake_slack.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    bot = RunningBot(settings, db, SlackDriver(server.url, fake_slack), fake_slack)
    bot.import_campaign(milestones=MILESTONES)
    try:
        yield bot
    finally:
        server.stop()


def test_two_hundred_signers_while_announcing_and_editing(busy_bot: RunningBot, caplog):
    bot = busy_bot
    caplog.set_level(logging.WARNING)
    users = signers(bot.fake)
    settings = bot.settings
    assert settings.slack_bot_token is not None

    client = job_client(settings)

    def announce() -> Any:
        # The job exactly as the server's scheduler runs it: on the server's database.
        return announce_job(bot.db, client)

    edits = iter(range(1_000_000))

    def edit() -> str:
        number = next(edits)
        trigger = bot.fake.new_trigger(DANA.id)
        assert bot.slack.click("admin_edit", SLUG, user=DANA.id, trigger_id=trigger).status == 200
        form = opened_by(bot.fake, trigger, DANA.id)
        assert form is not None
        values = editor_values(
            title=f"We won't build it (edit {number})",
            milestones=", ".join(map(str, MILESTONES)),
            channel="C0ANNOUNCE",
        )
        result = bot.slack.submit(form, values, user=DANA.id)
        assert result.status == 200, result
        return answered_title(bot.fake, result.body, form["id"])

    stop = threading.Event()
    announced: list[Any] = []
    edited: list[Any] = []
    background = [
        in_a_loop(announce, stop, announced),
        in_a_loop(edit, stop, edited, pause=EDIT_PAUSE, limit=EDITS),
    ]
    try:
        with ThreadPoolExecutor(max_workers=SIGNERS) as pool:
            outcomes = list(pool.map(lambda user: sign_through(bot.slack, user), users))
    finally:
        stop.set()
        for thread in background:
            thread.join(timeout=30)

    assert [o for o in outcomes if o.errors] == []
    assert {s for o in outcomes for s in o.statuses} == {200}
    assert all(o.titles == ["Signed"] for o in outcomes)
    with bot.db.read() as session:
        rows = session.scalar(select(func.count()).select_from(Signature))
        kept = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
    assert rows == kept == SIGNERS

    # The background work ran alongside, and none of it failed either.
    assert announced, "the announcement job never ran during the load"
    assert [r for r in announced if isinstance(r, Exception)] == []
    assert len(edited) >= 2, "the organizer's edits did not overlap the load"
    assert [r for r in edited if isinstance(r, Exception)] == []
    assert set(edited) == {"Saved"}, edited

    # Each milestone announced at most once, and the last one for sure.
    announce()
    posted = [
        m["metadata"]["event_payload"]["threshold"] for m in bot.fake.messages_in("C0ANNOUNCE")
    ]
    assert len(posted) == len(set(posted))
    assert SIGNERS in posted

    sent = everything_sent(bot.fake)
    for trouble in ("database is locked", "Something went wrong", "Traceback", "Slow down"):
        assert trouble not in sent
    assert "database is locked" not in caplog.text
    assert "OperationalError" not in caplog.text
