"""News DMs keep going past one person's trouble: a DM whose history is too long to
search, a key file that cannot be read. Both were handled by bot/update_sender.py
and lost in the move to jobs/news.py (found by review; each test fails on 5dffc4b)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select, update

from console.workspace import FakeUser, dm_channel_for
from jobs.news import EVENT_TYPE, send_pending
from petition import updates
from petition.organizing import CLI_ACTOR, Organizers
from storage.models import UpdateDelivery, UpdateKind
from tests.support.conditional import sign_as
from tests.support.organizers import DANA
from tests.support.running import RunningBot
from tests.support.signing import SLUG


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


def _person(bot: RunningBot, n: int) -> str:
    user = FakeUser(f"U0R{n:07d}", f"r{n}", f"Review {n}")
    bot.fake.workspace.add_user(user)
    sign_as(bot, user.id, how="anonymous", news=True)
    return user.id


def _queue(bot: RunningBot, text: str) -> None:
    with bot.db.write() as session:
        updates.create_update(
            session, Organizers(frozenset()), CLI_ACTOR, SLUG, UpdateKind.NEWS, text
        )


def _received(bot: RunningBot) -> Counter[str]:
    counts: Counter[str] = Counter()
    for message in bot.fake.workspace.messages:
        if (message.get("metadata") or {}).get("event_type") == EVENT_TYPE:
            counts[message["channel"]] += 1
    return counts


def test_a_long_dm_history_in_doubt_does_not_stall_all_news(bot):
    """A DM in doubt whose history since the attempt runs past the pages searched is
    taken as not delivered (posted; at worst a second copy to that one person).
    Refusing it instead released the row, claimed first again at every run
    (claim_next goes by update), and nobody got news any more."""
    alice = _person(bot, 1)
    _queue(bot, "First news.")  # update 1: alice only
    bob = _person(bot, 2)
    _queue(bot, "Second news.")  # update 2: alice and bob
    since = updates.utcnow() - dt.timedelta(hours=1)
    with bot.db.write() as session:
        session.execute(
            update(UpdateDelivery)
            .where(UpdateDelivery.update_id == 1)
            .values(in_doubt_since=since)
            .execution_options(synchronize_session=False)
        )
    # alice chatted with the app: 1,001 messages in her DM since the attempt.
    base = since.timestamp() + 60
    dm = dm_channel_for(alice)
    for i in range(1001):
        bot.fake.workspace.messages.append(
            {"type": "message", "channel": dm, "user": alice, "text": "hi", "ts": f"{base + i:.6f}"}
        )
    reports = [
        send_pending(bot.db, bot.app_client, bot.keyring, pace_seconds=0, sleep=lambda s: None)
        for _ in range(3)
    ]
    assert sum(r.sent for r in reports) == 3, [(r.sent, r.stopped_by) for r in reports]
    assert _received(bot)[dm_channel_for(bob)] == 1


def test_a_key_file_that_cannot_be_read_pauses_news_and_releases_the_claim(bot):
    """The key store is read from disk when a subscriber's address is opened: an
    OSError there (EACCES, EIO...) pauses the run with the claim given back at once,
    not left to its five-minute lease, and the job does not raise."""
    _person(bot, 1)
    _queue(bot, "News.")
    [key_file] = list(bot.settings.key_store.glob("*.key"))
    key_file.unlink()
    key_file.mkdir()  # read_bytes() on it raises IsADirectoryError, an OSError
    report = send_pending(bot.db, bot.app_client, bot.keyring, pace_seconds=0)
    assert report.stopped_by == "IsADirectoryError"
    assert report.sent == 0
    with bot.db.read() as session:
        [row] = session.scalars(select(UpdateDelivery)).all()
    assert row.claim_token is None
