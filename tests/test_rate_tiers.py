"""More people at once than Slack's rate-limit tiers allow one workspace: the fake
Slack answers 429 as Slack does (Tier 4: 100 users.info and 100 views.open a
minute), and the app copes. Everyone is told plainly to try again, nothing is
recorded that was not confirmed, and once the minute has passed everyone signs.

The fake's clock is the test's own, so a minute passes without waiting for it, and
stands still otherwise: a crowd arriving within the same instant."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from slack_sdk import WebClient

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.server import FakeSlack
from console.workspace import FakeUser
from handlers.pacing import Pacing
from storage.db import Database
from storage.migrate import upgrade
from tests.support.crowds import opened_by
from tests.support.news import wait_until
from tests.support.running import (
    SIGNING_SECRET,
    RunningBot,
    SlackDriver,
    make_settings,
    response_json,
)
from tests.support.signing import SLUG, count, sign_values, view_text

# A few more than Tier 4 allows at once. The app's client waits out a short
# Retry-After once (bot/webclient.py); on the test's stopped clock that wait never
# refills the tier, so each person past it costs a second or two of real time.
PEOPLE = 105


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def bot_on(fake: FakeSlack, clock: Clock) -> Iterator[RunningBot]:
    """The app, its turns at Slack's limits (handlers/pacing.py) going by the same
    clock as the fake's tiers: a person told "in a second" comes back a second later."""
    with tempfile.TemporaryDirectory() as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'undersigned.db'}"
        db = Database.from_url(database_url)
        upgrade(db.engine)
        settings = make_settings(fake, database_url)
        app = create_app(settings, db, pacing=Pacing(clock))
        server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
        try:
            bot = RunningBot(settings, db, SlackDriver(server.url, fake), fake)
            bot.import_campaign()
            yield bot
        finally:
            server.stop()
            db.dispose()


def said_through_response_urls(fake: FakeSlack) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls_to("response_url")]


def test_a_crowd_past_the_tiers_is_told_to_try_again_and_then_signs():
    clock = Clock()
    with FakeSlack(clock=clock) as fake, bot_on(fake, clock) as bot:
        people = [FakeUser(f"U0CROWD{i:04d}", f"c{i}", f"Crowd {i}") for i in range(PEOPLE)]
        for person in people:
            fake.workspace.add_user(person)

        def click(person: FakeUser) -> dict | None:
            trigger = fake.new_trigger(person.id)
            assert (
                bot.slack.click("sign_start", SLUG, user=person.id, trigger_id=trigger).status
                == 200
            )
            form = opened_by(fake, trigger)
            return form if form and form.get("callback_id") == "sign_submit" else None

        forms = {person.id: click(person) for person in people}
        waiting = [p for p in people if forms[p.id] is None]
        assert fake.rate_limited, "the crowd never reached Slack's tier"
        assert len(waiting) == PEOPLE - 100
        # Each of them was told, under the button they clicked, to click again (the
        # last perhaps just after the acknowledgement).
        wait_until(lambda: len(said_through_response_urls(fake)) == len(waiting))
        told = said_through_response_urls(fake)
        assert all("Nothing was recorded" in t and "click the button again" in t for t in told)
        assert count(bot) == 0

        # Those with a form sign: their form's pass spares a second users.info.
        for person in people:
            form = forms[person.id]
            if form is not None:
                answer = response_json(bot.slack.submit(form, sign_values(), user=person.id))
                assert "anonymously" in view_text(answer["view"])
        assert count(bot) == PEOPLE - len(waiting)

        # A minute later the others click again, and sign.
        clock.now += 60
        for person in waiting:
            form = click(person)
            assert form is not None
            response_json(bot.slack.submit(form, sign_values(), user=person.id))
        assert count(bot) == PEOPLE
        assert fake.refusals == []


def test_users_info_at_its_tier_gets_a_clear_busy_notice_with_the_wait():
    clock = Clock()
    with FakeSlack(clock=clock) as fake, bot_on(fake, clock) as bot:
        alice = fake.workspace.add_user(FakeUser("U0ALICE001", "alice", "Alice Example"))
        # Another part of the app (or another app's share) spent the minute's users.info.
        client = WebClient(base_url=fake.api_url, token="xoxb-test-token")
        for _ in range(100):
            client.users_info(user=alice.id)
        trigger = fake.new_trigger(alice.id)
        assert bot.slack.click("sign_start", SLUG, user=alice.id, trigger_id=trigger).status == 200
        # The form on the person's screen says so (perhaps after "one moment").
        busy = "Slack is busy right now. Nothing was recorded; please try again in a second."

        def on_screen() -> str:
            modal = fake.workspace.modal_of(alice.id)
            return view_text(modal) if modal else ""

        wait_until(lambda: busy in on_screen())
        assert count(bot) == 0
        clock.now += 1
        trigger = fake.new_trigger(alice.id)
        assert bot.slack.click("sign_start", SLUG, user=alice.id, trigger_id=trigger).status == 200
        assert opened_by(fake, trigger)["callback_id"] == "sign_submit"
