"""The announcement rows, function by function (petition/announcements.py), on a real
database: which rows each step reads, exactly what it writes, and what it leaves.

Posting through Slack is the subject of tests/test_announcements.py and
tests/test_channels.py; here the clock is a fixed instant passed in, rows in
exotic states (a claim at the very end of its lease, an error left by the last
attempt) are written as a crashed or rate-limited run would have left them, and
every test has rows of another campaign or channel that must not move.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select, update

from petition import announcements
from petition.announcements import Due
from storage.db import Database
from storage.models import (
    Announcement,
    AnnouncementKind,
    AnnouncementState,
    Campaign,
    CampaignStatus,
    JobRun,
)
from tests.support.world import make_campaign

NOW = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
LEASE = announcements.LEASE
TICK = dt.timedelta(microseconds=1)
MILESTONE, FINAL = AnnouncementKind.MILESTONE, AnnouncementKind.FINAL
PENDING = AnnouncementState.PENDING
POSTED = AnnouncementState.POSTED
SUPERSEDED = AnnouncementState.SUPERSEDED
MAIN, OTHER, BYSTANDER = "rows", "other", "bystander"


def _campaign(db: Database, slug: str = MAIN, **fields: Any) -> int:
    data: dict[str, Any] = {"milestones": [5, 8, 12], "channel": "C0MAIN"}
    data.update(fields)
    return make_campaign(db, slug, **data)


def _count(db: Database, slug: str, count: int) -> None:
    """The campaign's count, as signatures and withdrawals would have left it
    (announcements read counts only)."""
    with db.write() as session:
        session.execute(update(Campaign).where(Campaign.slug == slug).values(signature_count=count))


def _status(db: Database, slug: str, status: CampaignStatus) -> None:
    with db.write() as session:
        session.execute(update(Campaign).where(Campaign.slug == slug).values(status=status))


def _add(
    db: Database,
    campaign_id: int,
    kind: AnnouncementKind,
    threshold: int,
    channel: str,
    state: AnnouncementState = PENDING,
    **fields: Any,
) -> int:
    """A row as an earlier run left it."""
    with db.write() as session:
        row = Announcement(
            campaign_id=campaign_id,
            kind=kind,
            threshold=threshold,
            channel_id=channel,
            state=state,
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


COLUMNS = (
    "id",
    "campaign_id",
    "kind",
    "threshold",
    "channel_id",
    "state",
    "claim_token",
    "claimed_at",
    "in_doubt_since",
    "last_error",
    "posted_at",
    "message_ts",
)


def _table(db: Database) -> dict[int, dict[str, Any]]:
    """Every announcement row, whole, by id."""
    with db.read() as session:
        return {
            row.id: {c: getattr(row, c) for c in COLUMNS}
            for row in session.scalars(select(Announcement))
        }


def _changed(before: dict, after: dict) -> dict[int, dict[str, Any]]:
    """The columns that changed, by row; new rows whole."""
    out: dict[int, dict[str, Any]] = {}
    for row_id, row in after.items():
        old = before.get(row_id)
        diff = row if old is None else {c: v for c, v in row.items() if old[c] != v}
        if diff:
            out[row_id] = diff
    assert set(before) <= set(after), "a row was deleted"
    return out


# -- job runs -------------------------------------------------------------------------


def test_a_job_run_is_recorded_once_per_job_and_read_back(db):
    with db.read() as session:
        assert announcements.last_run(session, "announce") is None
    with db.write() as session:
        announcements.record_run(session, "announce", NOW)
        announcements.record_run(session, "close", NOW + dt.timedelta(hours=1))
    with db.read() as session:
        assert announcements.last_run(session, "announce") == NOW
        assert announcements.last_run(session, "close") == NOW + dt.timedelta(hours=1)
        assert announcements.last_run(session, "other") is None
    with db.write() as session:
        announcements.record_run(session, "announce", NOW + dt.timedelta(hours=2))
    with db.read() as session:
        runs = set(session.execute(select(JobRun.job_id, JobRun.last_run_at)))
    assert runs == {
        ("announce", NOW + dt.timedelta(hours=2)),
        ("close", NOW + dt.timedelta(hours=1)),
    }


def test_a_job_run_without_a_time_is_recorded_now(db):
    before = announcements.utcnow()
    with db.write() as session:
        announcements.record_run(session, "announce")
    with db.write() as session:
        announcements.record_run(session, "announce")
    after = announcements.utcnow()
    with db.read() as session:
        at = announcements.last_run(session, "announce")
        assert session.scalar(select(JobRun.job_id)) == "announce"
    assert at is not None
    assert before <= at <= after


# -- waiting, for the operator ---------------------------------------------------------


def test_each_waiting_row_says_why(db):
    main = _campaign(db)
    other = _campaign(db, OTHER, channel="C0OTHER")
    _add(db, main, MILESTONE, 5, "C0MAIN")
    # A live claim (its lease ends this very instant) outranks an error.
    _add(
        db,
        main,
        MILESTONE,
        8,
        "C0MAIN",
        claim_token="t1",
        claimed_at=NOW - LEASE,
        last_error="ratelimited",
    )
    _add(db, other, MILESTONE, 5, "C0OTHER")
    # A claim whose lease ran out: the error left by its attempt is the reason.
    _add(
        db,
        main,
        MILESTONE,
        12,
        "C0MAIN",
        claim_token="t2",
        claimed_at=NOW - LEASE - TICK,
        last_error="not_in_channel",
        in_doubt_since=NOW - LEASE,
    )
    _add(db, main, MILESTONE, 20, "C0MAIN", in_doubt_since=NOW - LEASE)
    _add(db, main, FINAL, 0, "C0MAIN")
    _add(db, main, MILESTONE, 5, "C0SIDE", POSTED, message_ts="1.1", posted_at=NOW)
    _add(db, main, MILESTONE, 8, "C0SIDE", SUPERSEDED)
    with db.read() as session:
        assert announcements.waiting(session, NOW) == [
            "rows 5 in C0MAIN (due)",
            "rows 8 in C0MAIN (being posted by another run)",
            "other 5 in C0OTHER (due)",
            "rows 12 in C0MAIN (not_in_channel)",
            "rows 20 in C0MAIN (to look for in the channel first)",
            "rows final count in C0MAIN (due)",
        ]


def test_waiting_without_a_time_reads_the_clock(db):
    main = _campaign(db)
    _add(db, main, MILESTONE, 5, "C0MAIN", claim_token="t", claimed_at=announcements.utcnow())
    expired = announcements.utcnow() - LEASE - dt.timedelta(seconds=1)
    _add(db, main, MILESTONE, 8, "C0MAIN", claim_token="t", claimed_at=expired)
    with db.read() as session:
        assert announcements.waiting(session) == [
            "rows 5 in C0MAIN (being posted by another run)",
            "rows 8 in C0MAIN (due)",
        ]


# -- claimable rows ------------------------------------------------------------------


def test_claimable_rows_come_in_posting_order(db):
    main = _campaign(db)
    other = _campaign(db, OTHER, channel="C0OTHER")
    # Written out of order: other's first, main's highest milestone first.
    o5 = _add(db, other, MILESTONE, 5, "C0OTHER")
    m12 = _add(db, main, MILESTONE, 12, "C0MAIN")
    m5b = _add(db, main, MILESTONE, 5, "C0SIDE")
    mfinal = _add(db, main, FINAL, 0, "C0MAIN")
    m5a = _add(db, main, MILESTONE, 5, "C0MAIN")
    # A claim that expired a tick ago may be taken over; one that ends now may not.
    m8 = _add(db, main, MILESTONE, 8, "C0MAIN", claim_token="t", claimed_at=NOW - LEASE - TICK)
    _add(db, main, MILESTONE, 8, "C0SIDE", claim_token="t", claimed_at=NOW - LEASE)
    _add(db, main, MILESTONE, 20, "C0MAIN", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 30, "C0MAIN", SUPERSEDED)
    with db.read() as session:
        assert announcements.claimable(session, NOW) == [
            (mfinal, "C0MAIN"),
            (m5b, "C0SIDE"),
            (m5a, "C0MAIN"),
            (m8, "C0MAIN"),
            (m12, "C0MAIN"),
            (o5, "C0OTHER"),
        ]
        assert announcements.claimable_ids(session, NOW) == [mfinal, m5b, m5a, m8, m12, o5]
        assert announcements.claimable_ids(session, NOW, (FINAL,)) == [mfinal]
        assert announcements.claimable(session, NOW, (MILESTONE,))[0] == (m5b, "C0SIDE")


def test_claimable_without_a_time_reads_the_clock(db):
    main = _campaign(db)
    _add(db, main, MILESTONE, 5, "C0MAIN", claim_token="t", claimed_at=announcements.utcnow())
    expired = announcements.utcnow() - 2 * LEASE
    m8 = _add(db, main, MILESTONE, 8, "C0MAIN", claim_token="t", claimed_at=expired)
    with db.read() as session:
        assert announcements.claimable_ids(session) == [m8]
        assert announcements.claimable(session) == [(m8, "C0MAIN")]


# -- claiming ----------------------------------------------------------------------------


def _claim(db: Database, row_id: int, now: dt.datetime = NOW) -> announcements.Claimed | None:
    with db.write() as session:
        return announcements.claim(session, row_id, now)


def test_a_claim_carries_the_row_and_the_campaign(db):
    main = _campaign(db, title="Rows and more")
    other = _campaign(db, OTHER, channel="C0OTHER")
    _count(db, MAIN, 9)
    _count(db, OTHER, 40)
    doubt = NOW - dt.timedelta(hours=1)
    row_id = _add(db, main, MILESTONE, 8, "C0MAIN", in_doubt_since=doubt)
    _add(db, other, MILESTONE, 8, "C0OTHER")
    before = _table(db)
    claimed = _claim(db, row_id)
    assert claimed is not None
    assert len(claimed.token) == 32
    int(claimed.token, 16)
    assert claimed == announcements.Claimed(
        id=row_id,
        token=claimed.token,
        slug=MAIN,
        title="Rows and more",
        kind=MILESTONE,
        threshold=8,
        count=9,
        next_milestone=12,
        channel_id="C0MAIN",
        doubt_channel_id="C0MAIN",
        in_doubt_since=doubt,
        moot=None,
    )
    assert _changed(before, _table(db)) == {
        row_id: {"claim_token": claimed.token, "claimed_at": NOW}
    }
    assert claimed.due == Due(MAIN, MILESTONE, 8, "C0MAIN")


@pytest.mark.parametrize(
    ("count", "threshold", "following"),
    [(5, 5, 8), (7, 5, 8), (8, 5, 12), (6, 8, 12), (12, 12, None), (30, 8, None)],
)
def test_the_next_milestone_is_above_the_count_and_the_row(db, count, threshold, following):
    main = _campaign(db)
    _count(db, MAIN, count)
    claimed = _claim(db, _add(db, main, MILESTONE, threshold, "C0MAIN"))
    assert claimed is not None
    assert (claimed.count, claimed.next_milestone) == (count, following)


def test_a_row_that_is_not_pending_or_is_held_is_not_claimed(db):
    main = _campaign(db)
    posted = _add(db, main, MILESTONE, 5, "C0MAIN", POSTED, message_ts="1.1")
    superseded = _add(db, main, MILESTONE, 8, "C0MAIN", SUPERSEDED)
    held = _add(db, main, MILESTONE, 12, "C0MAIN", claim_token="theirs", claimed_at=NOW - LEASE)
    before = _table(db)
    assert _claim(db, posted) is None
    assert _claim(db, superseded) is None
    assert _claim(db, held) is None
    assert _claim(db, 9999) is None
    assert _table(db) == before
    # A tick later their lease has run out: the claim is taken over.
    later = NOW + TICK
    claimed = _claim(db, held, later)
    assert claimed is not None
    assert _changed(before, _table(db)) == {
        held: {"claim_token": claimed.token, "claimed_at": later}
    }


def test_a_claim_without_a_time_reads_the_clock(db):
    main = _campaign(db)
    row_id = _add(db, main, MILESTONE, 5, "C0MAIN")
    start = announcements.utcnow()
    with db.write() as session:
        claimed = announcements.claim(session, row_id)
    assert claimed is not None
    at = _table(db)[row_id]["claimed_at"]
    assert start <= at <= announcements.utcnow()


def test_a_claim_reads_the_row_afresh_in_a_session_that_holds_it(db):
    """One transaction that holds the row (as code listing a campaign's
    announcements would), claims, attempts, releases and claims again: the second
    claim sees the doubt the attempt left, which the session's copy of the row,
    loaded before the attempt's UPDATE, does not."""
    main = _campaign(db)
    row_id = _add(db, main, MILESTONE, 5, "C0MAIN")
    with db.write() as session:
        held = session.get(Announcement, row_id)
        first = announcements.claim(session, row_id, NOW)
        assert first is not None
        assert first.in_doubt_since is None
        assert announcements.begin_attempt(session, first, NOW)
        announcements.release(session, first, posted_maybe=True, error="timeout")
        again = announcements.claim(session, row_id, NOW + TICK)
        assert again is not None
        assert again.in_doubt_since == NOW
        announcements.set_aside(session, again)
        assert announcements.claim(session, row_id, NOW + 2 * TICK) is None
        assert held is not None


# -- why a claimed row is no longer to be posted ------------------------------------------


def _moot(db: Database, row_id: int, now: dt.datetime = NOW) -> str | None:
    claimed = _claim(db, row_id, now)
    assert claimed is not None
    return claimed.moot


def test_a_row_of_a_campaign_without_a_channel_is_moot(db):
    main = _campaign(db, channel=None)
    row_id = _add(db, main, MILESTONE, 5, "C0GONE")
    claimed = _claim(db, row_id)
    assert claimed is not None
    assert (claimed.channel_id, claimed.doubt_channel_id) == (None, "C0GONE")
    assert claimed.moot == "the campaign no longer has a channel"
    assert claimed.due == Due(MAIN, MILESTONE, 5, "C0GONE")


def test_a_row_of_a_corrected_channel_moves_unless_the_new_one_has_its_own(db):
    main = _campaign(db, channel="C0NEW")
    other = _campaign(db, OTHER, channel="C0NEW")
    moving = _add(db, main, MILESTONE, 8, "C0OLD")
    # Rows in the new channel that are not this one's: another threshold, another
    # kind, another campaign.
    _add(db, main, MILESTONE, 5, "C0NEW", POSTED, message_ts="1.1")
    _add(db, main, FINAL, 0, "C0NEW")
    _add(db, other, MILESTONE, 8, "C0NEW")
    _count(db, MAIN, 8)
    claimed = _claim(db, moving)
    assert claimed is not None
    assert (claimed.channel_id, claimed.doubt_channel_id, claimed.moot) == (
        "C0NEW",
        "C0OLD",
        None,
    )
    assert claimed.due == Due(MAIN, MILESTONE, 8, "C0NEW")
    twice = _add(db, main, MILESTONE, 12, "C0OLD")
    _add(db, main, MILESTONE, 12, "C0NEW", POSTED, message_ts="1.2")
    claimed = _claim(db, twice)
    assert claimed is not None
    assert claimed.moot == "its channel was removed from the campaign"
    # Set aside, it is reported where it was meant to go.
    assert claimed.due == Due(MAIN, MILESTONE, 12, "C0OLD")
    final = _add(db, main, FINAL, 0, "C0OLD")
    assert _moot(db, final) == "its channel was removed from the campaign"


def test_a_row_in_a_corrected_channel_that_nothing_overtook_moves(db):
    main = _campaign(db, channel="C0NEW")
    _count(db, MAIN, 12)
    claimed = _claim(db, _add(db, main, MILESTONE, 12, "C0OLD"))
    assert claimed is not None
    assert (claimed.channel_id, claimed.moot) == ("C0NEW", None)
    assert claimed.due == Due(MAIN, MILESTONE, 12, "C0NEW")


def test_a_closed_campaign_posts_its_final_count_only(db):
    main = _campaign(db)
    _status(db, MAIN, CampaignStatus.CLOSED)
    assert _moot(db, _add(db, main, FINAL, 0, "C0MAIN")) is None
    milestone = _add(db, main, MILESTONE, 5, "C0MAIN")
    assert _moot(db, milestone) == "the campaign is closed; its final count says it"


def test_a_removed_milestone_is_moot(db):
    main = _campaign(db)
    assert _moot(db, _add(db, main, MILESTONE, 7, "C0MAIN")) == "the milestone was removed"
    assert _moot(db, _add(db, main, MILESTONE, 8, "C0SIDE")) is None


def test_a_higher_milestone_in_the_same_channel_makes_a_lower_one_moot(db):
    main = _campaign(db, channels=["C0SIDE"])
    other = _campaign(db, OTHER, channel="C0MAIN")
    low = _add(db, main, MILESTONE, 5, "C0MAIN")
    side = _add(db, main, MILESTONE, 8, "C0SIDE")
    # Higher, but not a reason: another campaign's, one set aside, one elsewhere.
    _add(db, other, MILESTONE, 12, "C0MAIN", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 8, "C0MAIN", SUPERSEDED)
    _add(db, main, MILESTONE, 12, "C0SIDE", SUPERSEDED)
    _add(db, main, FINAL, 0, "C0MAIN")
    assert _moot(db, low) is None
    assert _moot(db, side) is None
    # A row of a channel no longer the campaign's belongs to its main channel.
    _add(db, main, MILESTONE, 12, "C0FORMER")
    later = NOW + 2 * LEASE  # the claims above have run out
    assert _moot(db, low, later) == "a higher milestone was reached"
    assert _moot(db, side, later) is None
    _add(db, main, MILESTONE, 20, "C0SIDE", POSTED, message_ts="1.2")
    assert _moot(db, side, later + 2 * LEASE) == "a higher milestone was reached"


# -- an attempt and its outcome ------------------------------------------------------------


def _claimed_row(db: Database, **fields: Any) -> tuple[int, announcements.Claimed, dict]:
    main = _campaign(db, channel=fields.pop("channel", "C0MAIN"))
    other = _campaign(db, OTHER, channel="C0OTHER")
    row_id = _add(db, main, MILESTONE, 5, fields.pop("row_channel", "C0MAIN"), **fields)
    _add(db, main, MILESTONE, 8, "C0MAIN", claim_token="theirs", claimed_at=NOW)
    _add(db, other, MILESTONE, 5, "C0OTHER")
    claimed = _claim(db, row_id)
    assert claimed is not None
    return row_id, claimed, _table(db)


def test_an_attempt_marks_the_row_in_doubt_in_the_channel_used(db):
    row_id, claimed, before = _claimed_row(db, channel="C0NEW", row_channel="C0OLD")
    later = NOW + dt.timedelta(seconds=3)
    with db.write() as session:
        assert announcements.begin_attempt(session, claimed, later) is True
    assert _changed(before, _table(db)) == {
        row_id: {"channel_id": "C0NEW", "in_doubt_since": later}
    }


def test_an_attempt_without_a_time_reads_the_clock(db):
    row_id, claimed, _ = _claimed_row(db)
    start = announcements.utcnow()
    with db.write() as session:
        assert announcements.begin_attempt(session, claimed) is True
    assert start <= _table(db)[row_id]["in_doubt_since"] <= announcements.utcnow()


def test_an_attempt_on_a_lost_claim_changes_nothing(db):
    row_id, claimed, before = _claimed_row(db)
    assert _claim(db, row_id, NOW + LEASE + TICK) is not None  # taken over
    taken = _table(db)
    with db.write() as session:
        assert announcements.begin_attempt(session, claimed, NOW) is False
        announcements.release(session, claimed, posted_maybe=False, error="x")
        announcements.set_aside(session, claimed)
    assert _table(db) == taken
    assert taken != before


def test_an_attempt_into_a_channel_that_has_its_own_row_is_refused(db):
    row_id, claimed, _ = _claimed_row(db, channel="C0NEW", row_channel="C0OLD")
    _add(db, _table(db)[row_id]["campaign_id"], MILESTONE, 5, "C0NEW")
    before = _table(db)
    with db.write() as session:
        assert announcements.begin_attempt(session, claimed, NOW) is False
    assert _table(db) == before


def test_a_post_is_recorded_once_with_everything_cleared(db):
    row_id, claimed, _ = _claimed_row(db, in_doubt_since=NOW, last_error="timeout")
    before = _table(db)
    later = NOW + dt.timedelta(seconds=3)
    with db.write() as session:
        assert announcements.record_posted(session, claimed, "C0FOUND", "1700.1", later) is True
    assert _changed(before, _table(db)) == {
        row_id: {
            "state": POSTED,
            "channel_id": "C0FOUND",
            "message_ts": "1700.1",
            "posted_at": later,
            "claim_token": None,
            "claimed_at": None,
            "in_doubt_since": None,
            "last_error": None,
        }
    }
    after = _table(db)
    with db.write() as session:
        assert announcements.record_posted(session, claimed, "C0MAIN", "1800.1", later) is False
    assert _table(db) == after


def test_a_post_recorded_without_a_time_reads_the_clock(db):
    row_id, claimed, _ = _claimed_row(db)
    start = announcements.utcnow()
    with db.write() as session:
        assert announcements.record_posted(session, claimed, "C0MAIN", "1.1") is True
    assert start <= _table(db)[row_id]["posted_at"] <= announcements.utcnow()


@pytest.mark.parametrize("posted_maybe", [True, False])
def test_a_released_claim_keeps_its_doubt_only_if_the_post_may_be_there(db, posted_maybe):
    row_id, claimed, before = _claimed_row(db, in_doubt_since=NOW - LEASE)
    with db.write() as session:
        announcements.release(session, claimed, posted_maybe=posted_maybe, error="timeout")
    expected: dict[str, Any] = {"claim_token": None, "claimed_at": None, "last_error": "timeout"}
    if not posted_maybe:
        expected["in_doubt_since"] = None
    assert _changed(before, _table(db)) == {row_id: expected}


def test_a_release_without_an_error_clears_the_last_one(db):
    row_id, claimed, before = _claimed_row(db, last_error="ratelimited")
    with db.write() as session:
        announcements.release(session, claimed, posted_maybe=True)
    assert _changed(before, _table(db)) == {
        row_id: {"claim_token": None, "claimed_at": None, "last_error": None}
    }


def test_a_row_set_aside_is_superseded_and_let_go(db):
    row_id, claimed, before = _claimed_row(db, in_doubt_since=NOW, last_error="timeout")
    with db.write() as session:
        announcements.set_aside(session, claimed)
    assert _changed(before, _table(db)) == {
        row_id: {
            "state": SUPERSEDED,
            "claim_token": None,
            "claimed_at": None,
            "in_doubt_since": None,
        }
    }
    after = _table(db)
    with db.write() as session:
        announcements.set_aside(session, claimed)
    assert _table(db) == after


# -- closing -------------------------------------------------------------------------------

CLOSES = dt.date(2027, 3, 1)
# The closing date is the last day to sign: it closes at the midnight after it.
CLOSING = dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)


def _statuses(db: Database) -> dict[str, CampaignStatus]:
    with db.read() as session:
        rows = session.execute(select(Campaign.slug, Campaign.status)).all()
        return {row.slug: row.status for row in rows}


def _closed_at(db: Database) -> dict[str, dt.datetime | None]:
    with db.read() as session:
        rows = session.execute(select(Campaign.slug, Campaign.closed_at)).all()
        return {row.slug: row.closed_at for row in rows}


def _finals(db: Database) -> set[tuple[str, str, AnnouncementState]]:
    with db.read() as session:
        rows = session.execute(
            select(Campaign.slug, Announcement.channel_id, Announcement.state)
            .join(Campaign, Campaign.id == Announcement.campaign_id)
            .where(Announcement.kind == FINAL, Announcement.threshold == 0)
        )
        return set(rows)


def test_open_campaigns_past_their_closing_time_close_and_queue_their_final_count(db):
    _campaign(db, "a-closes", closes=CLOSES)
    _campaign(db, "b-closes", closes=CLOSES, channels=["C0SIDE"])
    _campaign(db, "c-later", closes=dt.date(2027, 4, 1))
    _campaign(db, "d-never")
    _campaign(db, "e-closed", closes=CLOSES)
    _status(db, "e-closed", CampaignStatus.CLOSED)
    _campaign(db, "f-draft", closes=CLOSES)
    _status(db, "f-draft", CampaignStatus.DRAFT)
    before = _statuses(db)
    before_closed_at = _closed_at(db)
    with db.read() as session:
        assert announcements.closing_due(session, CLOSING - TICK) is False
        assert announcements.closing_due(session, CLOSING) is True
        assert announcements.closing_due(session, CLOSING, "a-closes") is True
        assert announcements.closing_due(session, CLOSING, "c-later") is False
        assert announcements.closing_due(session, CLOSING, "e-closed") is False
    with db.write() as session:
        assert announcements.close_due_campaigns(session, CLOSING - TICK) == []
        assert announcements.close_due_campaigns(session, CLOSING, "b-closes") == ["b-closes"]
    assert _finals(db) == {("b-closes", "C0MAIN", PENDING), ("b-closes", "C0SIDE", PENDING)}
    with db.write() as session:
        assert announcements.close_due_campaigns(session, CLOSING) == ["a-closes"]
        assert announcements.close_due_campaigns(session, CLOSING) == []
    closed = {"a-closes": CampaignStatus.CLOSED, "b-closes": CampaignStatus.CLOSED}
    assert _statuses(db) == {**before, **closed}
    # Closed at their closing time (what the letter's period and forgetting count
    # from), not at the moment the scheduler came round; nobody else's changes.
    assert _closed_at(db) == {**before_closed_at, "a-closes": CLOSING, "b-closes": CLOSING}
    assert _finals(db) == {
        ("a-closes", "C0MAIN", PENDING),
        ("b-closes", "C0MAIN", PENDING),
        ("b-closes", "C0SIDE", PENDING),
    }


def test_closing_without_a_time_reads_the_clock(db):
    _campaign(db, "closes", closes=CLOSES)
    _campaign(db, "yesterday", closes=CLOSES)
    with db.write() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.slug == "yesterday")
            .values(closes_at=announcements.utcnow() - dt.timedelta(days=1))
        )
    with db.read() as session:
        assert announcements.closing_due(session) is True
        assert announcements.closing_due(session, slug="closes") is False
    with db.write() as session:
        assert announcements.close_due_campaigns(session) == ["yesterday"]
    with db.read() as session:
        assert announcements.closing_due(session) is False


def test_the_final_count_is_queued_once_in_each_channel(db):
    main = _campaign(db, channels=["C0B", "C0A"])
    _campaign(db, OTHER, channel="C0MAIN")
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is True
    assert _finals(db) == {(MAIN, c, PENDING) for c in ("C0MAIN", "C0A", "C0B")}
    before = _table(db)
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is False
    assert _table(db) == before


def test_a_final_count_queued_before_a_correction_counts_for_the_main_channel(db):
    main = _campaign(db, channel="C0NEW", channels=["C0SIDE"])
    _add(db, main, FINAL, 0, "C0OLD")
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is True
    assert _finals(db) == {(MAIN, "C0OLD", PENDING), (MAIN, "C0SIDE", PENDING)}
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is False


def test_a_final_count_queued_in_another_channel_is_that_channels_only(db):
    main = _campaign(db, channels=["C0SIDE", "C0B"])
    _add(db, main, FINAL, 0, "C0SIDE")
    # Milestone rows are not final counts, wherever they are.
    _add(db, main, MILESTONE, 5, "C0B", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 8, "C0MAIN")
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is True
    assert _finals(db) == {(MAIN, c, PENDING) for c in ("C0MAIN", "C0SIDE", "C0B")}


def test_a_campaign_without_a_channel_queues_no_final_count(db):
    main = _campaign(db, channel=None)
    with db.write() as session:
        assert announcements.queue_final_count(session, main) is False
    assert _table(db) == {}


# -- channels changed ---------------------------------------------------------------------


def _rechannel(db: Database, channel: str | None, channels: list[str], **fields: Any) -> None:
    """The campaign file imported again with other channels (campaigns.upsert_campaign)."""
    _campaign(db, channel=channel, channels=channels, **fields)


@pytest.mark.parametrize(("count", "old_news"), [(7, [5]), (8, [5, 8]), (11, [5, 8])])
def test_a_channel_added_is_spared_what_was_already_reached(db, count, old_news):
    main = _campaign(db)
    # Another campaign's milestones (reached by this count) are not this one's.
    other = _campaign(db, OTHER, channel="C0MAIN", milestones=[6, 10])
    _add(db, other, MILESTONE, 10, "C0MAIN", POSTED, message_ts="1.1")
    _count(db, MAIN, count)
    before = _table(db)
    _rechannel(db, "C0MAIN", ["C0ADDED"])
    new = [
        (r["campaign_id"], r["kind"], r["threshold"], r["channel_id"], r["state"])
        for r in _changed(before, _table(db)).values()
    ]
    assert new == [(main, MILESTONE, t, "C0ADDED", SUPERSEDED) for t in old_news]


def test_a_channel_added_is_spared_what_was_announced_and_the_final_count(db):
    main = _campaign(db, channels=["C0SIDE"])
    # 8 was announced, then withdrawals took the count below it; the campaign
    # closed and its final count waits.
    _add(db, main, MILESTONE, 8, "C0SIDE", POSTED, message_ts="1.1")
    _add(db, main, FINAL, 0, "C0MAIN")
    _count(db, MAIN, 4)
    before = _table(db)
    _rechannel(db, "C0MAIN", ["C0SIDE", "C0ADDED"])
    new = sorted(
        (r["kind"], r["threshold"], r["channel_id"], r["state"])
        for r in _changed(before, _table(db)).values()
    )
    assert new == [(FINAL, 0, "C0ADDED", SUPERSEDED), (MILESTONE, 8, "C0ADDED", SUPERSEDED)]


def test_a_closed_campaigns_added_channel_is_spared_its_final_count(db):
    main = _campaign(db)
    _status(db, MAIN, CampaignStatus.CLOSED)
    before = _table(db)
    _rechannel(db, "C0MAIN", ["C0ADDED"], status="closed")
    new = [
        (r["campaign_id"], r["kind"], r["channel_id"], r["state"])
        for r in _changed(before, _table(db)).values()
    ]
    assert new == [(main, FINAL, "C0ADDED", SUPERSEDED)]


def test_a_corrected_main_channel_is_not_a_channel_added(db):
    main = _campaign(db, channels=["C0SIDE"])
    _count(db, MAIN, 9)
    _add(db, main, MILESTONE, 8, "C0MAIN")
    before = _table(db)
    _rechannel(db, "C0NEW", ["C0SIDE"])
    assert _table(db) == before
    # The former main channel kept as another one: the new main one is added.
    _rechannel(db, "C0NEWER", ["C0NEW", "C0SIDE"])
    new = sorted(
        (r["threshold"], r["channel_id"], r["state"]) for r in _changed(before, _table(db)).values()
    )
    assert new == [(5, "C0NEWER", SUPERSEDED), (8, "C0NEWER", SUPERSEDED)]


def test_a_removed_channel_gives_up_only_what_certainly_never_reached_it(db):
    main = _campaign(db, channels=["C0GONE", "C0KEEP"])
    other = _campaign(db, OTHER, channel="C0OTHER", channels=["C0GONE"])
    plain = _add(db, main, MILESTONE, 5, "C0GONE")
    _add(db, main, MILESTONE, 8, "C0GONE", claim_token="t", claimed_at=NOW)
    _add(db, main, MILESTONE, 12, "C0GONE", in_doubt_since=NOW)
    _add(db, main, FINAL, 0, "C0GONE", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 5, "C0KEEP")
    _add(db, main, MILESTONE, 5, "C0MAIN")
    _add(db, other, MILESTONE, 5, "C0GONE")
    before = _table(db)
    _rechannel(db, "C0MAIN", ["C0KEEP"])
    assert _changed(before, _table(db)) == {plain: {"state": SUPERSEDED}}


# -- planning ---------------------------------------------------------------------------------


def _plan(db: Database) -> announcements.Plan:
    with db.write() as session:
        return announcements.plan_milestones(session)


def _rows(db: Database) -> set[tuple[str, int, str, AnnouncementState]]:
    with db.read() as session:
        rows = session.execute(
            select(
                Campaign.slug, Announcement.threshold, Announcement.channel_id, Announcement.state
            )
            .join(Campaign, Campaign.id == Announcement.campaign_id)
            .where(Announcement.kind == MILESTONE)
        )
        return {tuple(row) for row in rows}


def test_a_plan_says_which_rows_it_wrote_and_set_aside_in_each_channel(db):
    # Made in this order, so that a campaign skipped (closed, nothing passed, no
    # channel) comes before one that is planned.
    _campaign(db, "closed")
    _campaign(db, "nowhere", channel=None)
    _campaign(db, OTHER, channel="C0OTHER", milestones=[5])
    _campaign(db, channels=["C0SIDE"])
    _campaign(db, "draft")
    for slug, count in ((MAIN, 9), (OTHER, 4), ("nowhere", 5), ("closed", 12), ("draft", 12)):
        _count(db, slug, count)
    _status(db, "closed", CampaignStatus.CLOSED)
    _status(db, "draft", CampaignStatus.DRAFT)
    plan = _plan(db)
    assert plan.created == [Due(MAIN, MILESTONE, 8, "C0MAIN"), Due(MAIN, MILESTONE, 8, "C0SIDE")]
    assert plan.superseded == [
        Due(MAIN, MILESTONE, 5, "C0MAIN"),
        Due(MAIN, MILESTONE, 5, "C0SIDE"),
    ]
    assert plan.no_channel == ["nowhere"]
    assert _rows(db) == {
        (MAIN, 8, "C0MAIN", PENDING),
        (MAIN, 8, "C0SIDE", PENDING),
        (MAIN, 5, "C0MAIN", SUPERSEDED),
        (MAIN, 5, "C0SIDE", SUPERSEDED),
    }
    _count(db, OTHER, 5)
    plan = _plan(db)
    assert (plan.created, plan.superseded) == ([Due(OTHER, MILESTONE, 5, "C0OTHER")], [])
    assert plan.no_channel == ["nowhere"]
    assert len(_rows(db)) == 5
    assert (OTHER, 5, "C0OTHER", PENDING) in _rows(db)


def test_each_channel_is_planned_from_its_own_rows(db):
    main = _campaign(db, channels=["C0SIDE"])
    other = _campaign(db, OTHER, channel="C0MAIN")
    _count(db, MAIN, 9)
    # Announced in the side channel only; another campaign's 8 in the main one.
    _add(db, main, MILESTONE, 8, "C0SIDE", POSTED, message_ts="1.1")
    _add(db, other, MILESTONE, 8, "C0MAIN", POSTED, message_ts="1.2")
    plan = _plan(db)
    assert plan.created == [Due(MAIN, MILESTONE, 8, "C0MAIN")]
    assert plan.superseded == [
        Due(MAIN, MILESTONE, 5, "C0MAIN"),
        Due(MAIN, MILESTONE, 5, "C0SIDE"),
    ]
    assert {r for r in _rows(db) if r[0] == MAIN} == {
        (MAIN, 8, "C0MAIN", PENDING),
        (MAIN, 5, "C0MAIN", SUPERSEDED),
        (MAIN, 8, "C0SIDE", POSTED),
        (MAIN, 5, "C0SIDE", SUPERSEDED),
    }


def test_nothing_new_passed_leaves_every_row_to_claim(db):
    """A lower milestone still waiting below one posted (its doubt was cleared
    after the higher one went out) is left for claim() to set aside: planning
    with nothing new passed changes nothing."""
    main = _campaign(db)
    _count(db, MAIN, 12)
    _add(db, main, MILESTONE, 12, "C0MAIN", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 8, "C0MAIN")
    _add(db, main, MILESTONE, 5, "C0MAIN", SUPERSEDED)
    before = _table(db)
    plan = _plan(db)
    assert (plan.created, plan.superseded, plan.no_channel) == ([], [], [])
    assert _table(db) == before


def test_a_higher_milestone_overtakes_what_waits_in_a_side_channel(db):
    main = _campaign(db, channels=["C0SIDE"])
    _count(db, MAIN, 8)
    _add(db, main, MILESTONE, 5, "C0MAIN", POSTED, message_ts="1.1")
    waiting = _add(db, main, MILESTONE, 5, "C0SIDE")
    before = _table(db)
    plan = _plan(db)
    assert plan.created == [Due(MAIN, MILESTONE, 8, "C0MAIN"), Due(MAIN, MILESTONE, 8, "C0SIDE")]
    assert plan.superseded == [Due(MAIN, MILESTONE, 5, "C0SIDE")]
    changed = _changed(before, _table(db))
    assert changed.pop(waiting) == {"state": SUPERSEDED}
    assert sorted((r["channel_id"], r["state"]) for r in changed.values()) == [
        ("C0MAIN", PENDING),
        ("C0SIDE", PENDING),
    ]


def test_a_higher_milestone_overtakes_what_still_waits_in_its_channel_only(db):
    main = _campaign(db, channels=["C0SIDE"])
    other = _campaign(db, OTHER, channel="C0MAIN")
    _count(db, MAIN, 8)
    waiting = _add(db, main, MILESTONE, 8, "C0MAIN")
    former = _add(db, main, MILESTONE, 5, "C0FORMER")  # the main channel's, before a fix
    _add(db, main, MILESTONE, 5, "C0MAIN", SUPERSEDED)
    _add(db, main, MILESTONE, 8, "C0SIDE", claim_token="t", claimed_at=NOW)
    _add(db, main, MILESTONE, 5, "C0SIDE", in_doubt_since=NOW)
    _add(db, other, MILESTONE, 8, "C0MAIN")
    _count(db, MAIN, 12)
    before = _table(db)
    plan = _plan(db)
    assert plan.created == [
        Due(MAIN, MILESTONE, 12, "C0MAIN"),
        Due(MAIN, MILESTONE, 12, "C0SIDE"),
    ]
    assert sorted(plan.superseded, key=lambda d: d.threshold) == [
        Due(MAIN, MILESTONE, 5, "C0FORMER"),
        Due(MAIN, MILESTONE, 8, "C0MAIN"),
    ]
    changed = _changed(before, _table(db))
    assert {k: v for k, v in changed.items() if k in before} == {
        waiting: {"state": SUPERSEDED},
        former: {"state": SUPERSEDED},
    }
    assert len(changed) == 4


def test_a_milestone_added_below_one_announced_is_set_aside(db):
    main = _campaign(db)
    _count(db, MAIN, 12)
    _add(db, main, MILESTONE, 12, "C0MAIN", POSTED, message_ts="1.1")
    _add(db, main, MILESTONE, 8, "C0MAIN", SUPERSEDED)
    _add(db, main, MILESTONE, 5, "C0MAIN", SUPERSEDED)
    _campaign(db, milestones=[5, 8, 10, 12])
    before = _table(db)
    plan = _plan(db)
    assert (plan.created, plan.superseded) == ([], [Due(MAIN, MILESTONE, 10, "C0MAIN")])
    [row] = _changed(before, _table(db)).values()
    assert (row["threshold"], row["channel_id"], row["state"]) == (10, "C0MAIN", SUPERSEDED)


def test_a_milestone_above_one_set_aside_is_announced(db):
    main = _campaign(db)
    _count(db, MAIN, 9)
    _add(db, main, MILESTONE, 12, "C0MAIN", SUPERSEDED)  # set aside when it was a typo
    plan = _plan(db)
    assert plan.created == [Due(MAIN, MILESTONE, 8, "C0MAIN")]
    assert plan.superseded == [Due(MAIN, MILESTONE, 5, "C0MAIN")]
