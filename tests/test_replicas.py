"""Two `python -m bot serve` replicas on one PostgreSQL database, as behind a load
balancer: signers spread across both (some through both at once), both running
their schedulers on the same every-minute cron, and `python -m bot announce` run
from each side at once mid-load. The count is exact and each milestone is posted
once: claims are made in the database, not in any one process.

Needs a PostgreSQL server (UNDERSIGNED_TEST_PG_URL); skipped without one.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from console.server import FakeSlack
from console.workspace import FakeChannel, FakeUser
from petition import campaign_spec, campaigns
from storage.db import Database
from storage.models import Announcement, AnnouncementState, Campaign, Signature
from tests.support.crowds import (
    Outcome,
    answered_titles,
    calls_so_far,
    opened_by,
    sign_through,
    signers,
)
from tests.support.databases import PostgresServer
from tests.support.httpclient import get
from tests.support.running import (
    SIGNER_KEY,
    SIGNING_SECRET,
    SlackDriver,
    key_store_for,
    make_settings,
)
from tests.support.signers import expected_value
from tests.support.signing import SLUG, sign_values

SIGNERS = 120
MILESTONES = [20, 40, 60, 80, 100, 120]
# Signers who open the form on one replica and submit it on both at once, as a
# double click that the load balancer spread.
TWICE = 20
CHANNEL = "C0ANNOUNCE"
EVERY_MINUTE = "* * * * *"


@pytest.fixture
def slack_tiers() -> bool:
    # Under test is the claim logic of two replicas on one database: 120 people in
    # a few seconds. Slack's Tier 4 (about 100 views.open and users.info a minute
    # per workspace) would refuse some of them first; how the app answers that is
    # test_rate_tiers.py's.
    return False


class Replica:
    """`python -m bot serve` on a free port, with its scheduler, as deployed."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = cwd / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if get(self.url + "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{name} did not start:\n{self.log_path.read_text()}")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def shared_database(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create()
    yield url
    postgres_server.drop(url)


def _env(fake: FakeSlack, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, env.get("PYTHONPATH")]))
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        DATABASE_URL=database_url,
        SIGNER_KEY=SIGNER_KEY,
        # One key store for both replicas, as DEPLOY.md requires, and the test's.
        KEY_STORE=key_store_for(database_url),
        TIMEZONE="Europe/London",
        ANNOUNCE_SCHEDULE=EVERY_MINUTE,
        # APScheduler says at INFO when each run of a job finished.
        LOG_LEVEL="INFO",
    )
    return env


def _announce_from_both_sides(env: dict[str, str], cwd: Path) -> list[int]:
    """`python -m bot announce` twice at once, as cron on two machines would."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "announce"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    codes = []
    for run in runs:
        _, err = run.communicate(timeout=120)
        codes.append(run.returncode)
        assert run.returncode == 0, err
    return codes


def _posted(fake: FakeSlack) -> list[int]:
    return [m["metadata"]["event_payload"]["threshold"] for m in fake.messages_in(CHANNEL)]


def _seconds_to_next_minute() -> float:
    now = dt.datetime.now()
    return 60 - now.second - now.microsecond / 1e6


def test_two_replicas_count_exactly_and_announce_each_milestone_once(
    fake_slack: FakeSlack, shared_database: str, tmp_path: Path
):
    settings = make_settings(fake_slack, shared_database)
    fake_slack.workspace.add_channel(FakeChannel(CHANNEL, "announcements"))
    db = Database.from_url(shared_database)
    spec = campaign_spec.parse_campaign(
        {
            "slug": SLUG,
            "title": "We won't build it",
            "statement": "We, the undersigned, ask our employer to stop.",
            "demands": ["Cancel the contract"],
            "milestones": MILESTONES,
            "channel": CHANNEL,
        },
        settings.timezone,
    )
    with db.write() as session:
        campaigns.upsert_campaign(session, spec)
    users = signers(fake_slack, "REPL", SIGNERS)
    env = _env(fake_slack, shared_database)

    first = Replica(env, tmp_path, "first")
    second = Replica(env, tmp_path, "second")
    replicas = [first, second]
    try:
        drivers = [SlackDriver(r.url, fake_slack) for r in replicas]

        def sign_once(numbered: tuple[int, FakeUser]) -> Outcome:
            number, user = numbered
            return sign_through(drivers[number % 2], user)

        def sign_on_both(user: FakeUser) -> list[str]:
            # The form opened by one replica, submitted to both at the same time.
            trigger = fake_slack.new_trigger(user.id)
            assert (
                drivers[0].click("sign_start", SLUG, user=user.id, trigger_id=trigger).status == 200
            )
            form = opened_by(fake_slack, trigger, user.id)
            assert form is not None
            assert form.get("callback_id") == "sign_submit", form
            since = calls_so_far(fake_slack)
            with ThreadPoolExecutor(max_workers=2) as both:
                results = list(
                    both.map(lambda d: d.submit(form, sign_values(), user=user.id), drivers)
                )
            assert [r.status for r in results] == [200, 200], results
            return answered_titles(fake_slack, [r.body for r in results], form["id"], since)

        stop = threading.Event()
        announce_runs: list[object] = []

        def announce_meanwhile() -> None:
            while not stop.is_set():
                try:
                    announce_runs.append(_announce_from_both_sides(env, tmp_path))
                except Exception as error:  # recorded, and the test fails on it
                    announce_runs.append(error)

        announcer = threading.Thread(target=announce_meanwhile, daemon=True)
        announcer.start()
        once, twice = users[TWICE:], users[:TWICE]
        try:
            with ThreadPoolExecutor(max_workers=64) as pool:
                doubled = pool.map(sign_on_both, twice)
                outcomes = list(pool.map(sign_once, enumerate(once)))
                doubled_titles = list(doubled)
        finally:
            stop.set()
            announcer.join(timeout=180)
        assert [o for o in outcomes if o.errors] == []
        assert {s for o in outcomes for s in o.statuses} == {200}
        assert [o for o in outcomes if o.titles != ["Signed"]] == []
        # Through both at once: one of the two signs, the other is told so.
        for titles in doubled_titles:
            assert sorted(titles) == ["Already signed", "Signed"], titles
        assert announce_runs, "no `announce` ran during the load"
        assert [r for r in announce_runs if isinstance(r, Exception)] == []

        with db.read() as session:
            hashes = list(session.scalars(select(Signature.signer_hash)))
            kept = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
        assert len(hashes) == len(set(hashes)) == kept == SIGNERS
        assert set(hashes) == {expected_value(db, settings, SLUG, u.id) for u in users}

        # Both schedulers fire on the same minute; the top milestone must be posted
        # by one of them, once, even if the `announce` runs above already had it.
        def announced_top() -> bool:
            with db.read() as session:
                return (
                    session.scalar(
                        select(Announcement.state).where(Announcement.threshold == SIGNERS)
                    )
                    is AnnouncementState.POSTED
                )

        minute = time.monotonic() + _seconds_to_next_minute()
        deadline = minute + 45
        while time.monotonic() < deadline and not (
            time.monotonic() > minute + 5 and announced_top() and _both_ran(replicas)
        ):
            time.sleep(0.25)
        assert announced_top()
        assert _both_ran(replicas), "\n".join(r.log[-2000:] for r in replicas)
    finally:
        for replica in replicas:
            replica.stop()

    posted = _posted(fake_slack)
    assert SIGNERS in posted
    assert len(posted) == len(set(posted)), posted
    assert len(fake_slack.calls_to("chat.postMessage")) == len(posted)
    with db.read() as session:
        rows = session.execute(select(Announcement.threshold, Announcement.state)).all()
        assert session.scalar(select(func.count()).select_from(Signature)) == SIGNERS
    assert {t for t, state in rows if state is AnnouncementState.POSTED} == set(posted)
    for replica in replicas:
        assert "Traceback" not in replica.log, replica.log[-3000:]
    db.dispose()


def _both_ran(replicas: list[Replica]) -> bool:
    """Each replica's scheduler has run the announcement job at least once."""
    return all(
        '"announce milestones' in r.log and "executed successfully" in r.log for r in replicas
    )
