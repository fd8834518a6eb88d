"""The real APScheduler, as `run` and `serve` start it, against the fake Slack:
closing dates, the announcement job, and catching up after downtime.

Waits poll a condition with a deadline; nothing asserts how long anything took.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import select, update

from bot.scheduler import (
    ANNOUNCE_JOB_ID,
    CLOSE_CHECK_JOB_ID,
    MISFIRE_GRACE_SECONDS,
    build_scheduler,
    job_client,
    reconcile_closing_jobs,
    schedule_announcements,
    start_scheduler,
)
from bot.settings import Settings
from console.server import FakeSlack
from petition import announcements
from storage.db import Database
from storage.models import Campaign, CampaignStatus
from tests.support.announcing import SLUG, add_signers, announced, import_campaign, run
from tests.support.jobs import close
from tests.support.running import make_settings
from tests.support.scheduling import NEVER_SOON, start, wait_for

CLOSE_JOB = f"close:{SLUG}"


@pytest.fixture
def settings(fake_slack: FakeSlack, database_url: str) -> Settings:
    return make_settings(fake_slack, database_url, ANNOUNCE_SCHEDULE=NEVER_SOON)


@pytest.fixture
def schedulers() -> Iterator[list[BackgroundScheduler]]:
    started: list[BackgroundScheduler] = []
    yield started
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown(wait=True)


def status(db: Database) -> CampaignStatus:
    with db.read() as session:
        return session.scalar(select(Campaign.status).where(Campaign.slug == SLUG))


def last_run(db: Database) -> dt.datetime | None:
    with db.read() as session:
        return announcements.last_run(session, ANNOUNCE_JOB_ID)


def test_a_closing_date_closes_the_campaign_and_posts_the_final_count_once(
    db, settings, fake_slack, schedulers
):
    closes = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    import_campaign(db, settings, closes=closes)
    add_signers(db, settings, 6)
    scheduler = start(settings, db, schedulers)
    job = scheduler.get_job(CLOSE_JOB)
    assert isinstance(job.trigger, DateTrigger)
    assert job.trigger.run_date == closes
    assert status(db) is CampaignStatus.OPEN

    assert wait_for(lambda: announced(fake_slack) == [("final", 0)])
    assert status(db) is CampaignStatus.CLOSED
    assert wait_for(lambda: scheduler.get_job(CLOSE_JOB) is None)
    # Whatever runs next, the final count is not posted again.
    run(settings)
    close(settings, SLUG)
    assert announced(fake_slack) == [("final", 0)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    [message] = fake_slack.messages_in("C0ANNOUNCE")
    assert "Final count: *6* signatures" in message["blocks"][0]["text"]["text"]


def test_a_closing_date_that_passed_while_the_bot_was_down_is_caught_up_at_start(
    db, settings, fake_slack, schedulers
):
    import_campaign(db, settings, closes=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    add_signers(db, settings, 5)
    with db.write() as session:  # the bot was down while the date passed
        session.execute(
            update(Campaign)
            .where(Campaign.slug == SLUG)
            .values(closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        )
    start(settings, db, schedulers)
    assert wait_for(lambda: announced(fake_slack) == [("final", 0)])
    assert status(db) is CampaignStatus.CLOSED


def test_a_closing_date_set_while_the_bot_runs_still_closes_it(
    db, settings, fake_slack, schedulers
):
    scheduler = start_scheduler(settings, db, close_check_seconds=1)
    schedulers.append(scheduler)
    # An organizer sets a closing date after start-up: no date job knows of it.
    closes = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    import_campaign(db, settings, closes=closes)
    add_signers(db, settings, 5)
    assert scheduler.get_job(CLOSE_JOB) is None
    assert wait_for(lambda: announced(fake_slack) == [("final", 0)])
    assert status(db) is CampaignStatus.CLOSED


def test_the_real_scheduler_posts_five_then_eight_and_nothing_more(
    db, settings, fake_slack, schedulers
):
    import_campaign(db, settings)
    scheduler = start(settings, db, schedulers)
    finished: list[JobExecutionEvent] = []

    def on_finished(event: JobExecutionEvent) -> None:
        if event.job_id == ANNOUNCE_JOB_ID:
            finished.append(event)

    scheduler.add_listener(on_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def run_now() -> None:
        before = len(finished)
        scheduler.modify_job(ANNOUNCE_JOB_ID, next_run_time=dt.datetime.now(dt.UTC))
        assert wait_for(lambda: len(finished) > before)
        assert finished[-1].exception is None

    add_signers(db, settings, 5)
    run_now()
    assert announced(fake_slack) == [("milestone", 5)]
    add_signers(db, settings, 3, start=5)
    run_now()
    run_now()
    run_now()
    assert announced(fake_slack) == [("milestone", 5), ("milestone", 8)]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_runs_missed_while_down_are_caught_up_once_at_start(
    db, fake_slack, database_url, schedulers
):
    settings = make_settings(fake_slack, database_url, ANNOUNCE_SCHEDULE="0 10 * * *")
    import_campaign(db, settings)
    add_signers(db, settings, 5)
    down_since = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    with db.write() as session:
        announcements.record_run(session, ANNOUNCE_JOB_ID, down_since)
    scheduler = start(settings, db, schedulers)
    # Three days of 10:00 runs were missed: one run now, not three.
    assert wait_for(lambda: announced(fake_slack) == [("milestone", 5)])
    assert wait_for(lambda: last_run(db) != down_since)
    job = scheduler.get_job(ANNOUNCE_JOB_ID)
    assert job.next_run_time > dt.datetime.now(dt.UTC)
    # A restart now has missed nothing.
    again = build_scheduler(settings)
    again.start(paused=True)
    schedulers.append(again)
    assert schedule_announcements(again, settings, db, job_client(settings)) is False


def test_the_first_start_misses_nothing_and_the_jobs_are_plain(
    db, fake_slack, database_url, schedulers
):
    settings = make_settings(fake_slack, database_url, ANNOUNCE_SCHEDULE="0 10,16 * * mon-fri")
    import_campaign(db, settings, closes=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    add_signers(db, settings, 5)
    scheduler = start(settings, db, schedulers)
    assert last_run(db) is not None  # counting from now on

    announce = scheduler.get_job(ANNOUNCE_JOB_ID)
    assert announce.next_run_time > dt.datetime.now(dt.UTC)
    assert isinstance(announce.trigger, CronTrigger)
    assert str(announce.trigger.timezone) == "Europe/London"
    close = scheduler.get_job(CLOSE_JOB)
    for job in (announce, close, scheduler.get_job(CLOSE_CHECK_JOB_ID)):
        assert job.coalesce is True
        assert job.max_instances == 1
        # Module-level functions, on the process's own database (one engine, one
        # write turn: a second engine per job once cost the server its locks).
        assert job.func.__module__ == "jobs.announce"
        assert job.args[0] is db
        assert all(isinstance(arg, str) for arg in job.args[2:])
    assert announce.misfire_grace_time == MISFIRE_GRACE_SECONDS
    assert close.misfire_grace_time is None  # a closing date runs however late


def test_closing_jobs_are_reconciled_with_the_campaigns(db, settings, schedulers):
    import_campaign(db, settings, closes=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    scheduler = start(settings, db, schedulers)
    assert scheduler.get_job(CLOSE_JOB) is not None
    import_campaign(db, settings, closes=None)
    assert reconcile_closing_jobs(scheduler, db, job_client(settings)) == []
    assert scheduler.get_job(CLOSE_JOB) is None
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=60)
    import_campaign(db, settings, closes=later)
    assert reconcile_closing_jobs(scheduler, db, job_client(settings)) == [SLUG]
    assert reconcile_closing_jobs(scheduler, db, job_client(settings)) == [SLUG]  # replace_existing
    assert scheduler.get_job(CLOSE_JOB).trigger.run_date == later
    import_campaign(db, settings, closes=later, status="draft")
    assert reconcile_closing_jobs(scheduler, db, job_client(settings)) == []
