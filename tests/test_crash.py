"""`kill -9` of a real `python -m bot serve` in the middle of two hundred people
signing, then a restart on the same SQLite file: every signature whose
confirmation reached its signer is still there, none twice, the file passes
`PRAGMA integrity_check`, and each milestone is still announced exactly once."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text

from console.server import FakeSlack
from console.workspace import FakeUser
from petition import campaign_spec, campaigns
from storage.db import Database, sqlite_path
from storage.migrate import alembic_config, upgrade
from storage.models import Campaign, Signature
from tests.support.crowds import (
    MILESTONES,
    MOMENT,
    SIGNERS,
    Outcome,
    answered_title,
    calls_so_far,
    opened_by,
    sign_through,
    signers,
)
from tests.support.httpclient import get
from tests.support.jobs import announce
from tests.support.running import SIGNER_KEY, SIGNING_SECRET, SlackDriver, make_settings
from tests.support.signers import expected_value
from tests.support.signing import SLUG, sign_values

# Killed once this many signers have seen their confirmation: the middle of the load.
KILL_AFTER = SIGNERS // 2
# After the restart, everyone not acknowledged tries again, and this many who were.
RECHECKED = 20
CHANNEL = "C0ANNOUNCE"


class ServeProcess:
    """`python -m bot serve` on a free port, as an operator would run it."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = cwd / f"{name}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(self.port), "--threads", "32"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if get(self.url + "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("the server did not start:\n" + self.log_path.read_text())

    def kill_9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def stored_signers(db: Database) -> tuple[list[str], int]:
    with db.read() as session:
        hashes = list(session.scalars(select(Signature.signer_hash)))
        kept = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
    return hashes, kept


def integrity(database_url: str) -> str:
    path = sqlite_path(database_url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.fixture
def slack_tiers() -> bool:
    # What is under test is durability across kill -9 with two hundred signers in
    # flight; Slack's tiers (Tier 4: 100 users.info a minute) would turn most of
    # them away before the kill (tests/test_rate_tiers.py covers that).
    return False


def test_kill_9_under_load_loses_no_acknowledged_signature(fake_slack: FakeSlack, tmp_path: Path):
    database_url = f"sqlite:///{tmp_path / 'undersigned.db'}"
    settings = make_settings(fake_slack, database_url)
    db = Database.from_url(database_url)
    upgrade(db.engine)
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
    users = signers(fake_slack, "KILL")

    def hash_of(user: FakeUser) -> str:
        return expected_value(db, settings, SLUG, user.id)

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        DATABASE_URL=database_url,
        SIGNER_KEY=SIGNER_KEY,
        TIMEZONE="Europe/London",
        LOG_LEVEL="WARNING",
    )

    # The announcement job runs on its own schedule throughout, crash or not.
    assert settings.slack_bot_token is not None
    stop = threading.Event()
    runs: list[Any] = []

    def announce_forever() -> None:
        while not stop.is_set():
            try:
                runs.append(announce(settings))
            except Exception as error:  # recorded, and the test fails on it
                runs.append(error)
            stop.wait(0.05)

    announcer = threading.Thread(target=announce_forever, daemon=True)
    announcer.start()

    first = ServeProcess(env, tmp_path, "first")
    slack = SlackDriver(first.url, fake_slack)
    lock = threading.Lock()
    acknowledged: list[FakeUser] = []
    statuses: list[int] = []
    kill_now = threading.Event()

    def sign_until_killed(user: FakeUser) -> Outcome | None:
        try:
            outcome = sign_through(slack, user)
        except (OSError, http.client.HTTPException):
            return None  # the server died under this request: not acknowledged
        with lock:
            statuses.extend(outcome.statuses)
            if outcome.acknowledged:
                acknowledged.append(user)
                if len(acknowledged) >= KILL_AFTER:
                    kill_now.set()
        return outcome

    def killer() -> None:
        kill_now.wait(timeout=60)
        first.kill_9()

    killing = threading.Thread(target=killer)
    killing.start()
    try:
        with ThreadPoolExecutor(max_workers=SIGNERS) as pool:
            completed = [o for o in pool.map(sign_until_killed, users) if o is not None]
    finally:
        kill_now.set()
        killing.join(timeout=30)
        first.stop()
    assert first.process.returncode == -signal.SIGKILL
    assert KILL_AFTER <= len(acknowledged) < SIGNERS, "the kill did not land mid-load"
    assert not [s for s in statuses if s >= 500]
    # Whoever got an answer at all before the kill got the confirmation, not an
    # error; or, answered "one moment" under the load, nothing more before it.
    assert [o for o in completed if not o.acknowledged and o.titles[-1:] != [MOMENT]] == []

    # Restarted on the same file: everything acknowledged is there, once.
    second = ServeProcess(env, tmp_path, "second")
    try:
        assert integrity(database_url) == "ok"
        hashes, kept = stored_signers(db)
        assert len(hashes) == len(set(hashes)) == kept
        assert {hash_of(u) for u in acknowledged} <= set(hashes)

        # Everyone without a confirmation tries again, and some who had one: those
        # already signed are told so, the rest sign.
        slack = SlackDriver(second.url, fake_slack)

        def sign_or_told(user: FakeUser) -> str:
            trigger = fake_slack.new_trigger(user.id)
            assert slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger).status == 200
            view = opened_by(fake_slack, trigger, user.id)
            assert view is not None
            if view.get("callback_id") is None:
                return view["title"]["text"]
            since = calls_so_far(fake_slack)
            result = slack.submit(view, sign_values(), user=user.id)
            assert result.status == 200, result
            return answered_title(fake_slack, result.body, view["id"], since)

        confirmed = {u.id for u in acknowledged}
        again = [u for u in users if u.id not in confirmed] + acknowledged[:RECHECKED]
        with ThreadPoolExecutor(max_workers=50) as pool:
            told = dict(zip((u.id for u in again), pool.map(sign_or_told, again), strict=True))
        assert set(told.values()) <= {"Signed", "Already signed"}, set(told.values())
        already = {user for user, title in told.items() if title == "Already signed"}
        assert already == {u.id for u in again if hash_of(u) in hashes}
        hashes, kept = stored_signers(db)
        assert len(hashes) == len(set(hashes)) == kept == SIGNERS
        assert integrity(database_url) == "ok"
    finally:
        second.stop()
        stop.set()
        announcer.join(timeout=30)
    assert runs
    assert [r for r in runs if isinstance(r, Exception)] == []

    # Milestones after it all: each one posted at most once, the last one for sure,
    # and no post attempt was wasted on a duplicate.
    assert settings.slack_bot_token is not None
    announce(settings)
    announce(settings)
    posted = [m["metadata"]["event_payload"]["threshold"] for m in fake_slack.messages_in(CHANNEL)]
    assert len(posted) == len(set(posted))
    assert SIGNERS in posted
    assert len(fake_slack.calls_to("chat.postMessage")) == len(posted)
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(Signature))
    assert count == SIGNERS
    db.dispose()


def test_a_restart_that_migrates_starts_while_another_process_writes(tmp_path: Path):
    """A new release migrates at start-up; the scheduler or `announce` of another
    process may be writing at that moment. The migration waits its turn."""
    url = f"sqlite:///{tmp_path / 'undersigned.db'}"
    script = ScriptDirectory.from_config(alembic_config())
    previous = script.get_revision("head").down_revision
    assert isinstance(previous, str)
    old = Database.from_url(url)
    upgrade(old.engine, previous)
    stop = threading.Event()
    writes = [0]

    def another_process_writing() -> None:
        while not stop.is_set():
            with old.write() as session:
                session.execute(
                    text(
                        "INSERT INTO audit_entries (at, actor, action, detail) "
                        "VALUES (CURRENT_TIMESTAMP, 'cli', 'test', '')"
                    )
                )
            writes[0] += 1

    writer = threading.Thread(target=another_process_writing)
    writer.start()
    try:
        while writes[0] < 20:
            time.sleep(0.01)
        new = Database.from_url(url)
        upgrade(new.engine)
        new.dispose()
    finally:
        stop.set()
        writer.join(timeout=30)
        old.dispose()
    assert integrity(url) == "ok"
