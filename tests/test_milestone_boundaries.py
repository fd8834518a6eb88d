"""Thresholds at, below and above: milestones, "fewer than 5", the per-person rate
limit, the closing time. Each is checked one below, at, and one above, so that a
`<` written for a `<=` fails here.

Milestones are planned on a real database with the announcement code's own
functions (petition/announcements.py); what is posted to Slack is the subject of
tests/test_announcements.py.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from petition import announcements
from petition.campaign_spec import SMALL_COUNT
from petition.campaigns import displayed_count, is_open_at
from petition.keyring import Keyring
from petition.ratelimit import RateLimiter
from petition.signatures import remove_signature
from storage.db import Database
from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Campaign,
    CampaignStatus,
)
from tests.support.world import make_campaign, person, sign_as

SLUG = "milestones"


def _signers(db: Database, keyring: Keyring, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        sign_as(db, keyring, SLUG, f"U{n:09d}")


def _plan(db: Database) -> announcements.Plan:
    with db.write() as session:
        return announcements.plan_milestones(session)


def _states(db: Database) -> dict[tuple[int, str], AnnouncementState]:
    with db.read() as session:
        return {
            (a.threshold, a.channel_id): a.state
            for a in session.scalars(
                select(Announcement).where(Announcement.kind == AnnouncementKind.MILESTONE)
            )
        }


@pytest.fixture
def campaign(db: Database) -> int:
    return make_campaign(db, SLUG, milestones=[5, 8, 12], channel="C0ANNOUNCE")


@pytest.mark.parametrize(("count", "due"), [(4, []), (5, [5]), (6, [5])])
def test_a_milestone_is_announced_at_its_threshold(db, keyring, campaign, count, due):
    """One below, at, one above: at the threshold the milestone is reached. Planted
    bug 5 of issue 23 (a milestone counted only above its threshold) fails here."""
    _signers(db, keyring, count)
    assert [d.threshold for d in _plan(db).created] == due
    assert _states(db) == {(t, "C0ANNOUNCE"): AnnouncementState.PENDING for t in due}


def test_each_milestone_at_its_threshold_in_turn(db, keyring, campaign):
    _signers(db, keyring, 7)
    assert [d.threshold for d in _plan(db).created] == [5]
    _signers(db, keyring, 1, start=7)  # 8
    assert [d.threshold for d in _plan(db).created] == [8]
    _signers(db, keyring, 3, start=8)  # 11
    assert _plan(db).created == []
    _signers(db, keyring, 1, start=11)  # 12
    plan = _plan(db)
    assert [(d.slug, d.threshold, d.channel_id) for d in plan.created] == [(SLUG, 12, "C0ANNOUNCE")]
    # Nothing was posted between runs here: 8, still waiting, is overtaken by 12.
    assert [d.threshold for d in plan.superseded] == [8]
    assert _plan(db).created == []


def test_passing_several_at_once_announces_the_highest_and_sets_the_rest_aside(
    db, keyring, campaign
):
    _signers(db, keyring, 8)
    plan = _plan(db)
    assert [d.threshold for d in plan.created] == [8]
    assert [d.threshold for d in plan.superseded] == [5]
    assert _states(db) == {
        (5, "C0ANNOUNCE"): AnnouncementState.SUPERSEDED,
        (8, "C0ANNOUNCE"): AnnouncementState.PENDING,
    }


def test_a_waiting_lower_milestone_is_overtaken_by_a_higher_one(db, keyring, campaign):
    _signers(db, keyring, 5)
    _plan(db)  # 5 waits (say the bot is not in the channel yet)
    _signers(db, keyring, 3, start=5)
    plan = _plan(db)
    assert [d.threshold for d in plan.created] == [8]
    assert [(d.threshold, d.channel_id) for d in plan.superseded] == [(5, "C0ANNOUNCE")]
    assert _states(db)[(5, "C0ANNOUNCE")] is AnnouncementState.SUPERSEDED


def test_a_milestone_is_not_announced_again_after_the_count_dips_and_returns(db, keyring, campaign):
    _signers(db, keyring, 5)
    assert [d.threshold for d in _plan(db).created] == [5]
    with db.write() as session:
        remove_signature(session, SLUG, person(keyring, f"U{0:09d}"), keyring)
    assert _plan(db).created == []
    _signers(db, keyring, 1, start=100)
    assert _plan(db).created == []
    assert list(_states(db)) == [(5, "C0ANNOUNCE")]


def test_a_closed_or_draft_campaign_plans_no_milestone(db, keyring, campaign):
    _signers(db, keyring, 5)
    with db.write() as session:
        session.execute(update(Campaign).values(status=CampaignStatus.CLOSED))
    assert _plan(db).created == []
    with db.write() as session:
        session.execute(update(Campaign).values(status=CampaignStatus.DRAFT))
    assert _plan(db).created == []
    assert _states(db) == {}


def test_a_campaign_without_a_channel_is_reported(db, keyring):
    make_campaign(db, SLUG, milestones=[5], channel=None)
    _signers(db, keyring, 5)
    plan = _plan(db)
    assert plan.created == []
    assert plan.no_channel == [SLUG]


def test_every_channel_hears_the_milestone_once(db, keyring):
    make_campaign(db, SLUG, milestones=[5], channel="C0FIRST", channels=["C0SECOND"])
    _signers(db, keyring, 5)
    assert sorted(d.channel_id for d in _plan(db).created) == ["C0FIRST", "C0SECOND"]
    assert _plan(db).created == []


def test_the_next_milestone_named_in_a_claim(db, keyring, campaign):
    _signers(db, keyring, 5)
    _plan(db)
    with db.write() as session:
        [row_id] = announcements.claimable_ids(session)
        claimed = announcements.claim(session, row_id)
    assert claimed is not None
    assert (claimed.threshold, claimed.count, claimed.next_milestone) == (5, 5, 8)
    assert claimed.moot is None
    assert claimed.channel_id == "C0ANNOUNCE"


# -- "fewer than 5" -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "fewer than 5"), (4, "fewer than 5"), (5, "5"), (6, "6"), (1234, "1,234")],
)
def test_small_counts_are_shown_as_fewer_than_five(count, shown):
    assert SMALL_COUNT == 5
    assert displayed_count(count) == shown


# -- the per-person rate limit ----------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_allows_its_burst_and_not_one_more():
    clock = Clock()
    limiter = RateLimiter(burst=20, refill_seconds=3.0, clock=clock)
    assert [limiter.allow("p") for _ in range(20)] == [True] * 20
    assert not limiter.allow("p")
    # Another person has a bucket of their own.
    assert limiter.allow("q")
    clock.now += 2.999  # not yet a whole token
    assert not limiter.allow("p")
    clock.now += 0.002  # now one
    assert limiter.allow("p")
    assert not limiter.allow("p")


def test_the_rate_limit_refills_to_its_burst_and_no_further():
    clock = Clock()
    limiter = RateLimiter(burst=3, refill_seconds=1.0, clock=clock)
    assert [limiter.allow("p") for _ in range(3)] == [True] * 3
    clock.now += 100.0
    assert [limiter.allow("p") for _ in range(4)] == [True, True, True, False]


# -- the closing time -------------------------------------------------------------------

CLOSES = dt.datetime(2027, 3, 1, 0, 0, tzinfo=dt.UTC)
TICK = dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("now", "open_"), [(CLOSES - TICK, True), (CLOSES, False), (CLOSES + TICK, False)]
)
def test_a_campaign_closes_at_its_closing_time(now, open_):
    assert is_open_at(CampaignStatus.OPEN, CLOSES, now) is open_
    assert is_open_at(CampaignStatus.CLOSED, CLOSES, CLOSES - TICK) is False
    assert is_open_at(CampaignStatus.OPEN, None, now) is True


@pytest.mark.parametrize(
    ("now", "closed"), [(CLOSES - TICK, []), (CLOSES, [SLUG]), (CLOSES + TICK, [SLUG])]
)
def test_closing_is_due_at_the_closing_time(db, now, closed):
    make_campaign(db, SLUG, milestones=[5], closes=CLOSES)
    with db.write() as session:
        session.execute(update(Campaign).values(closes_at=CLOSES))
    with db.read() as session:
        assert announcements.closing_due(session, now) is bool(closed)
    with db.write() as session:
        assert announcements.close_due_campaigns(session, now) == closed
    with db.read() as session:
        status = session.scalar(select(Campaign.status))
        finals = session.scalars(
            select(Announcement.threshold).where(Announcement.kind == AnnouncementKind.FINAL)
        ).all()
    assert status is (CampaignStatus.CLOSED if closed else CampaignStatus.OPEN)
    assert finals == ([announcements.FINAL_THRESHOLD] if closed else [])
    # Closing again (a second scheduler, a later run) queues nothing more.
    later = now + dt.timedelta(days=1)
    with db.write() as session:
        assert announcements.close_due_campaigns(session, later) == ([] if closed else [SLUG])
    with db.write() as session:
        assert announcements.close_due_campaigns(session, later) == []
        assert (
            announcements.queue_final_count(session, session.scalar(select(Campaign.id))) is False
        )
