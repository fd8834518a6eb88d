"""`python -m bot announce` as cron users run it: real processes, concurrent ones,
and one killed between posting and recording, on one SQLite file."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.settings import Settings
from console.server import FakeSlack
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Announcement, AnnouncementState
from tests.support.announcing import (
    CHANNEL,
    SLUG,
    add_signers,
    age_claims,
    announced,
    import_campaign,
    rows,
)
from tests.support.cli import base_env
from tests.support.databases import ON_POSTGRES
from tests.support.running import SIGNER_KEY, SIGNING_SECRET, make_settings
from tests.support.scheduling import NEVER_SOON, wait_for


@pytest.fixture
def database_url(database_url: str, tmp_path: Path) -> str:
    # SQLite: a file in a directory not made yet, which the app makes. PostgreSQL:
    # the test's own database, from conftest.
    if ON_POSTGRES:
        return database_url
    return f"sqlite:///{tmp_path / 'data' / 'undersigned.db'}"


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return make_settings(fake_slack, database_url, ANNOUNCE_SCHEDULE=NEVER_SOON)


@pytest.fixture
def env(settings: Settings, database_url: str) -> dict[str, str]:
    return {
        **base_env(),
        "DATABASE_URL": database_url,
        "SLACK_API_URL": settings.slack_api_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "ANNOUNCE_SCHEDULE": NEVER_SOON,
    }


@pytest.fixture
def campaign(db: Database, settings: Settings) -> Database:
    import_campaign(db, settings)
    return db


def start_announce(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "announce"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def announce(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "announce"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def row(db: Database) -> Announcement:
    with db.read() as session:
        return session.scalars(select(Announcement)).one()


def test_announce_runs_once_prints_a_summary_and_exits(campaign, settings, env, tmp_path):
    add_signers(campaign, settings, 5)
    assert announce(env, tmp_path).splitlines() == [f"posted: {SLUG} 5 in {CHANNEL}"]
    assert announce(env, tmp_path).splitlines() == ["nothing to announce"]


def test_announce_without_a_bot_token_names_it(env, tmp_path):
    del env["SLACK_BOT_TOKEN"]
    done = subprocess.run(
        [sys.executable, "-m", "bot", "announce"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "SLACK_BOT_TOKEN" in line


def test_concurrent_announce_processes_post_once(campaign, settings, env, tmp_path, fake_slack):
    add_signers(campaign, settings, 8)
    # Slack is slow to answer: every process is in its run while the first posts.
    fake_slack.delay("chat.postMessage", 2)
    processes = [start_announce(env, tmp_path) for _ in range(3)]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        outputs.append(out)
    assert announced(fake_slack) == [("milestone", 8)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert sum(out.count("posted:") for out in outputs) == 1
    assert rows(campaign)[("milestone", 8)].state is AnnouncementState.POSTED
    assert rows(campaign)[("milestone", 5)].state is AnnouncementState.SUPERSEDED


def test_a_process_killed_between_posting_and_recording_is_not_posted_twice(
    campaign, settings, env, tmp_path, fake_slack
):
    add_signers(campaign, settings, 5)
    # Slack takes the post but holds back its answer; the process dies waiting.
    fake_slack.delay("chat.postMessage", 60)
    process = start_announce(env, tmp_path)
    try:
        assert wait_for(lambda: len(fake_slack.messages_in(CHANNEL)) == 1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]
    fake_slack.delay("chat.postMessage", 0)
    killed = row(campaign)
    assert killed.state is AnnouncementState.PENDING
    assert killed.in_doubt_since is not None

    # While the dead process's claim lasts, nobody posts.
    assert announce(env, tmp_path).splitlines() == [
        f"waiting: {SLUG} 5 in {CHANNEL} (being posted by another run)"
    ]
    # Once it expired, the next run finds the post in the channel and records it.
    age_claims(campaign)
    assert announce(env, tmp_path).splitlines() == [
        f"already in the channel, recorded: {SLUG} 5 in {CHANNEL}"
    ]
    assert announce(env, tmp_path).splitlines() == ["nothing to announce"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    [history] = fake_slack.calls_to("conversations.history")
    assert history.params["channel"] == CHANNEL
    assert history.params["include_all_metadata"] in {"1", "true"}
    [message] = fake_slack.messages_in(CHANNEL)
    recorded = row(campaign)
    assert recorded.state is AnnouncementState.POSTED
    assert recorded.message_ts == message["ts"]


def test_serve_starts_the_scheduler_which_closes_on_time(db, settings, env, tmp_path, fake_slack):
    closes = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=3)
    import_campaign(db, settings, closes=closes)
    add_signers(db, settings, 7)
    upgrade(db.engine)
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", "0"],
        cwd=tmp_path,
        env={
            **env,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SIGNER_KEY": SIGNER_KEY,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: announced(fake_slack) == [("final", 0)]), (
            tmp_path / "serve.log"
        ).read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        log.close()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
