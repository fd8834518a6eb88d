"""APScheduler wiring: the announcement schedule and campaigns' closing dates.

The durable truth is in our tables; the scheduler only holds times. Jobs are
module-level functions (jobs/) with fixed ids and
`replace_existing=True`, in an in-memory job store rebuilt from the database at
every start. They are handed the process's one `Database` and one posting client
(nothing is serialised: the store is in memory, and the token in the client is
never written anywhere).

At start-up, before anything runs:
- the announcement job is scheduled from ANNOUNCE_SCHEDULE in TIMEZONE; if one or
  more of its runs fell while the bot was down, it runs once now (coalesced);
- every open campaign with a closing date gets a date job, run now when that date
  passed while the bot was down.

Organizers can set or move a closing date from Slack while the bot runs; a light
check every minute closes any campaign whose date passed without a date job, so
a closing never waits for the next restart.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk import WebClient
from sqlalchemy import select

from bot.settings import Settings
from bot.webclient import posting_client
from jobs import announce, news, retract, upkeep
from petition import announcements
from petition.keyring import Keyring
from storage.db import Database
from storage.models import Campaign, CampaignStatus

logger = logging.getLogger(__name__)

ANNOUNCE_JOB_ID = announce.ANNOUNCE_JOB_ID
CLOSE_JOB_PREFIX = "close:"
CLOSE_CHECK_JOB_ID = "close-check"
CLOSE_CHECK_SECONDS = 60
# A run may start this late (a busy machine, a suspended laptop) and still run,
# once: coalesce=True folds any backlog into one run.
MISFIRE_GRACE_SECONDS = 3600
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS}


def build_scheduler(settings: Settings) -> BackgroundScheduler:
    return BackgroundScheduler(timezone=settings.timezone, job_defaults=dict(JOB_DEFAULTS))


def job_client(settings: Settings) -> WebClient:
    """The scheduler's client for posts (announcements, news): no blind retries."""
    if not settings.slack_bot_token:
        raise ValueError("the scheduler needs SLACK_BOT_TOKEN")
    return posting_client(settings.slack_api_url, settings.slack_bot_token)


def announce_trigger(settings: Settings) -> CronTrigger:
    return CronTrigger.from_crontab(settings.announce_schedule, timezone=settings.timezone)


def missed_announcement(settings: Settings, last_run: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a scheduled run fell between the last run and now."""
    if last_run is None:
        return False
    due = announce_trigger(settings).get_next_fire_time(
        None, last_run.astimezone(settings.timezone)
    )
    return due is not None and due <= now


def schedule_announcements(
    scheduler: BackgroundScheduler,
    settings: Settings,
    db: Database,
    client: WebClient,
    now: dt.datetime | None = None,
) -> bool:
    """Add the announcement job; run it once now if runs were missed. Returns
    whether a catch-up run was scheduled."""
    now = now or announcements.utcnow()
    with db.read() as session:
        last = announcements.last_run(session, ANNOUNCE_JOB_ID)
    if last is None:
        # First start: nothing can have been missed; count from now.
        with db.write() as session:
            announcements.record_run(session, ANNOUNCE_JOB_ID, now)
    catch_up = missed_announcement(settings, last, now)
    extra = {"next_run_time": now} if catch_up else {}
    scheduler.add_job(
        announce.announce_job,
        trigger=announce_trigger(settings),
        args=(db, client, settings.timezone.key),
        id=ANNOUNCE_JOB_ID,
        name="announce milestones",
        replace_existing=True,
        **extra,
    )
    if catch_up:
        logger.info("announcement runs were missed while the bot was down: catching up once now")
    return catch_up


def reconcile_closing_jobs(
    scheduler: BackgroundScheduler,
    db: Database,
    client: WebClient,
    now: dt.datetime | None = None,
) -> list[str]:
    """One date job per open campaign with a closing date; none for the others.

    Safe to call again after campaigns change. A date already past runs at once.
    Returns the slugs that have a closing job.
    """
    now = now or announcements.utcnow()
    with db.read() as session:
        rows = session.execute(
            select(Campaign.slug, Campaign.closes_at).where(
                Campaign.status == CampaignStatus.OPEN, Campaign.closes_at.is_not(None)
            )
        ).all()
    wanted: dict[str, dt.datetime] = {row.slug: row.closes_at for row in rows}
    for job in scheduler.get_jobs():
        if job.id.startswith(CLOSE_JOB_PREFIX) and job.id[len(CLOSE_JOB_PREFIX) :] not in wanted:
            scheduler.remove_job(job.id)
    for slug, closes_at in wanted.items():
        scheduler.add_job(
            announce.close_job,
            trigger=DateTrigger(run_date=max(closes_at, now)),
            args=(db, client, slug),
            id=CLOSE_JOB_PREFIX + slug,
            name=f"close {slug}",
            replace_existing=True,
            # A closing date runs however late it is noticed.
            misfire_grace_time=None,
        )
        if closes_at <= now:
            logger.info("campaign %s passed its closing date while the bot was down", slug)
    return sorted(wanted)


def schedule_close_check(
    scheduler: BackgroundScheduler,
    db: Database,
    client: WebClient,
    every_seconds: int = CLOSE_CHECK_SECONDS,
) -> None:
    """The safety net for closing dates set or moved while the bot runs."""
    scheduler.add_job(
        announce.close_job,
        trigger=IntervalTrigger(seconds=every_seconds),
        args=(db, client),
        id=CLOSE_CHECK_JOB_ID,
        name="close campaigns past their date",
        replace_existing=True,
    )


SCRUB_JOB_ID = "scrub-wal"
SCRUB_SECONDS = 60


def schedule_scrub(
    scheduler: BackgroundScheduler, db: Database, every_seconds: int = SCRUB_SECONDS
) -> None:
    """SQLite only: empty the WAL every minute (jobs/upkeep.scrub_job)."""
    if not db.is_sqlite:
        return
    scheduler.add_job(
        upkeep.scrub_job,
        trigger=IntervalTrigger(seconds=every_seconds),
        args=(db,),
        id=SCRUB_JOB_ID,
        name="empty the WAL",
        replace_existing=True,
    )


COUNTS_JOB_ID = "public-counts"
REWRITE_JOB_ID = "rewrite-signers"
# A quiet hour of the night, in TIMEZONE: the rewrite holds each campaign's
# write lock for as long as it takes to copy its rows.
REWRITE_HOUR, REWRITE_MINUTE = 3, 30


def schedule_privacy_upkeep(
    scheduler: BackgroundScheduler, settings: Settings, db: Database, now: dt.datetime
) -> None:
    """The counts Slack shows, refreshed on the hour (and now, if the hour's
    refresh was missed while the bot was down); the signer rows rewritten in key
    order every night."""
    scheduler.add_job(
        upkeep.refresh_counts_job,
        trigger=CronTrigger(minute=0, timezone=settings.timezone),
        args=(db,),
        id=COUNTS_JOB_ID,
        name="refresh the counts Slack shows",
        replace_existing=True,
        next_run_time=now,
    )
    scheduler.add_job(
        upkeep.rewrite_job,
        trigger=CronTrigger(hour=REWRITE_HOUR, minute=REWRITE_MINUTE, timezone=settings.timezone),
        args=(db,),
        id=REWRITE_JOB_ID,
        name="rewrite signer rows in key order",
        replace_existing=True,
    )


NEWS_JOB_ID = "send-updates"
RETRACT_JOB_ID = "delete-news"
NEWS_SECONDS = 60
FORGET_JOB_ID = "forget-due"
FORGET_SECONDS = 3600


def schedule_upkeep(
    scheduler: BackgroundScheduler, db: Database, client: WebClient, keyring: Keyring | None
) -> None:
    """Resume queued news (after a restart or a pause), and forget campaigns whose
    `forget_after_days` have run out. Both do nothing when there is nothing to do."""
    if keyring is None:
        return
    scheduler.add_job(
        news.send_pending_job,
        trigger=IntervalTrigger(seconds=NEWS_SECONDS),
        args=(db, client, keyring),
        id=NEWS_JOB_ID,
        name="send queued news",
        replace_existing=True,
        next_run_time=announcements.utcnow(),
    )
    scheduler.add_job(
        retract.retract_job,
        trigger=IntervalTrigger(seconds=NEWS_SECONDS),
        args=(db, client, keyring),
        id=RETRACT_JOB_ID,
        name="delete news DMs of people who stopped news",
        replace_existing=True,
    )
    scheduler.add_job(
        upkeep.forget_due_job,
        trigger=IntervalTrigger(seconds=FORGET_SECONDS),
        args=(db, keyring),
        id=FORGET_JOB_ID,
        name="forget campaigns due",
        replace_existing=True,
        next_run_time=announcements.utcnow(),
    )


def start_scheduler(
    settings: Settings,
    db: Database,
    close_check_seconds: int = CLOSE_CHECK_SECONDS,
    client: WebClient | None = None,
    keyring: Keyring | None = None,
) -> BackgroundScheduler:
    """Start paused, reconcile the jobs with the database, then resume.

    `db` and `keyring` are the process's own: the jobs share them with the server.
    """
    client = client or job_client(settings)
    if keyring is None and settings.signer_key:
        keyring = settings.keyring()
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    try:
        schedule_announcements(scheduler, settings, db, client)
        reconcile_closing_jobs(scheduler, db, client)
        schedule_close_check(scheduler, db, client, close_check_seconds)
        schedule_upkeep(scheduler, db, client, keyring)
        schedule_scrub(scheduler, db)
        schedule_privacy_upkeep(scheduler, settings, db, announcements.utcnow())
    except Exception:
        scheduler.shutdown(wait=False)
        raise
    scheduler.resume()
    job = scheduler.get_job(ANNOUNCE_JOB_ID)
    logger.info(
        "announcements scheduled (%s, %s); next run %s",
        settings.announce_schedule,
        settings.timezone.key,
        job.next_run_time if job else None,
    )
    return scheduler
