"""What the scheduler does besides announcements: resume queued news, forget
campaigns whose time is up; and a campaign closed by hand posts its final count."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select, update

from bot.scheduler import FORGET_JOB_ID, NEWS_JOB_ID
from console.workspace import FakeUser
from jobs.news import EVENT_TYPE
from jobs.upkeep import forget_due_job
from petition import updates
from petition.organizing import (
    CLI_ACTOR,
    Organizers,
    StatusChange,
    change_status,
    forget_due,
)
from petition.signatures import signer_hash, signer_status
from storage.models import AuditEntry, Campaign, UpdateKind
from tests.support.conditional import sign_as
from tests.support.jobs import announce
from tests.support.running import RunningBot
from tests.support.scheduling import NEVER_SOON, start, wait_for
from tests.support.signing import SLUG

OPERATOR = Organizers(frozenset())


@pytest.fixture
def started() -> Iterator[list[BackgroundScheduler]]:
    schedulers: list[BackgroundScheduler] = []
    yield schedulers
    for scheduler in schedulers:
        if scheduler.running:
            scheduler.shutdown(wait=True)


def test_the_scheduler_resumes_queued_news(running_bot: RunningBot, started, database_url):
    from tests.support.running import make_settings

    bot = running_bot
    bot.import_campaign()
    for n in range(3):
        user = FakeUser(f"U0S{n:07d}", f"s{n}", f"Sub {n}")
        bot.fake.workspace.add_user(user)
        sign_as(bot, user.id, how="anonymous", news=True)
    with bot.db.write() as session:
        updates.create_update(session, OPERATOR, CLI_ACTOR, SLUG, UpdateKind.NEWS, "Hello")
    settings = make_settings(bot.fake, database_url, ANNOUNCE_SCHEDULE=NEVER_SOON)
    scheduler = start(settings, bot.db, started)
    news = scheduler.get_job(NEWS_JOB_ID)
    assert news.func.__module__ == "jobs.news"
    assert scheduler.get_job(FORGET_JOB_ID).func.__module__ == "jobs.upkeep"

    def sent() -> int:
        return sum(
            1
            for m in bot.fake.workspace.messages
            if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE
        )

    assert wait_for(lambda: sent() == 3)


def test_closing_by_hand_posts_the_final_count_once(running_bot: RunningBot):
    bot = running_bot
    bot.import_campaign()
    with bot.db.write() as session:
        change_status(session, OPERATOR, CLI_ACTOR, SLUG, StatusChange.CLOSE)
    announce(bot.settings)
    announce(bot.settings)
    posts = [m for m in bot.fake.workspace.messages if m["channel"] == "C0ANNOUNCE"]
    assert len(posts) == 1
    assert "fewer than 5" in str(posts[0]["blocks"])


def test_forget_after_days_forgets_once_the_days_have_passed(running_bot: RunningBot):
    bot = running_bot
    bot.import_campaign(forget_after_days=30)
    user = FakeUser("U0FORGET01", "f", "Forget Me")
    bot.fake.workspace.add_user(user)
    sign_as(bot, user.id, how="anonymous")
    with bot.db.write() as session:
        change_status(session, OPERATOR, CLI_ACTOR, SLUG, StatusChange.CLOSE)
    with bot.db.read() as session:
        closed_at = session.scalar(select(AuditEntry.at).where(AuditEntry.action == "close"))
        assert forget_due(session, closed_at + dt.timedelta(days=29)) == []
        assert forget_due(session, closed_at + dt.timedelta(days=30, seconds=1)) == [SLUG]
    # The scheduler's job forgets what is due (now, long after those 30 days).
    with bot.db.write() as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.action == "close")
            .values(at=closed_at - dt.timedelta(days=31))
        )
    assert forget_due_job(bot.db, bot.keyring) == [SLUG]
    assert forget_due_job(bot.db, bot.keyring) == []
    key = bot.settings.require_signer_key()
    with bot.db.read() as session:
        assert session.scalar(select(Campaign.forgotten_at)) is not None
        assert session.scalar(select(Campaign.signature_count)) == 1
        person = signer_hash(key, "T0UNDRSGN", user.id)
        assert not signer_status(session, SLUG, person, bot.keyring).signed
