"""Every destructive operation, run beside bystanders whose rows must survive exactly.

Withdrawing, changing how one signs, stopping news, forgetting a campaign: each
is run on one person (or one campaign) while others have signed the same
campaign in every way, the same person has signed another campaign, and news is
queued and was sent. Afterwards every signer row of every table is compared,
whole, with what it was: exactly the rows of the one person (or campaign) may
have changed. A withdrawal that deleted every signature of its campaign, or
stopping news that stopped everyone's, fails here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from petition.keyring import Keyring
from petition.organizing import (
    CLI_ACTOR,
    Organizers,
    StatusChange,
    change_status,
    forget_campaign,
)
from petition.retractions import record_post
from petition.signatures import Choice, change_choice, remove_signature, signer_status
from petition.subscriptions import Address, subscribe, unsubscribe
from petition.updates import create_update
from storage.db import Database
from storage.models import Campaign, Signature, UpdateKind
from tests.support.running import ALICE, BOB, RunningBot, response_json
from tests.support.signers import expected_value
from tests.support.signing import SLUG, opened_views, sign, stored
from tests.support.world import DAY, make_campaign, person, sign_as, snapshot

A, B = "campaign-a", "campaign-b"
NOBODY = Organizers(frozenset())


@dataclass
class World:
    db: Database
    keyring: Keyring
    ids: dict[str, int]

    def value(self, slug: str, user: str) -> str:
        with self.db.read() as session:
            key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
        return self.keyring.campaign(key_id).signer(person(self.keyring, user))


@pytest.fixture
def world(db: Database, keyring: Keyring) -> World:
    ids = {A: make_campaign(db, A, milestones=[5]), B: make_campaign(db, B)}
    sign_as(db, keyring, A, "U0ALICE", Choice(name="Alice Named"))
    sign_as(db, keyring, A, "U0BOB")
    sign_as(db, keyring, A, "U0CAROL", Choice(name="Carol Maybe", threshold=10))
    sign_as(db, keyring, A, "U0DAVE")
    sign_as(db, keyring, B, "U0ALICE")
    sign_as(db, keyring, B, "U0BOB", Choice(name="Bob Named"))
    with db.write() as session:
        for slug, user in ((A, "U0ALICE"), (A, "U0BOB"), (B, "U0ALICE"), (B, "U0BOB")):
            subscribe(session, slug, person(keyring, user), keyring, Address("T0UNDRSGN", user))
        create_update(session, NOBODY, CLI_ACTOR, A, UpdateKind.NEWS, "News for A")
        create_update(session, NOBODY, CLI_ACTOR, B, UpdateKind.NEWS, "News for B")
    w = World(db, keyring, ids)
    with db.write() as session:
        for slug, user, ts in ((A, "U0ALICE", "1.1"), (A, "U0BOB", "1.2"), (B, "U0ALICE", "1.3")):
            keys = keyring.campaign(_key_id(db, slug))
            record_post(session, keys, ids[slug], w.value(slug, user), f"D{user}", ts)
    return w


def _key_id(db: Database, slug: str) -> str:
    with db.read() as session:
        return session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))


def _without(before: dict, value: str) -> dict:
    """The snapshot with every row keyed by this signer value taken out."""
    return {
        table: {row for row in rows if value not in row} if table != "counts" else rows
        for table, rows in before.items()
    }


def _counts(snap: dict) -> dict[str, int]:
    return dict(snap["counts"])


def test_the_world_has_something_to_lose(world):
    before = snapshot(world.db)
    assert _counts(before) == {A: 4, B: 2}
    assert len(before["signatures"]) == 6
    assert len(before["subscribers"]) == 4
    assert len(before["update_deliveries"]) == 4
    assert len(before["news_posts"]) == 3
    assert before["news_retractions"] == set()


def test_withdrawing_leaves_every_other_row_exactly_as_it_was(world):
    """Planted bug 3 of issue 23 (a withdrawal deleting every signature of the
    campaign) fails here: the other signers' rows must be exactly as they were."""
    before = snapshot(world.db)
    alice_a = world.value(A, "U0ALICE")
    with world.db.write() as session:
        assert remove_signature(session, A, person(world.keyring, "U0ALICE"), world.keyring)
    after = snapshot(world.db)
    expected = _without(before, alice_a)
    for table in ("signatures", "subscribers", "update_deliveries", "news_posts"):
        assert after[table] == expected[table], table
    assert len(before["signatures"]) - len(after["signatures"]) == 1
    # Her one news DM in A is queued to be deleted; nothing else.
    assert len(after["news_retractions"]) == 1
    assert _counts(after) == {A: 3, B: 2}
    # She is still a signer of B, with her news.
    with world.db.read() as session:
        status = signer_status(session, B, person(world.keyring, "U0ALICE"), world.keyring)
    assert status.signed
    assert status.subscribed


def test_withdrawing_twice_or_without_a_signature_changes_nothing(world):
    with world.db.write() as session:
        assert remove_signature(session, A, person(world.keyring, "U0ALICE"), world.keyring)
    before = snapshot(world.db)
    with world.db.write() as session:
        assert not remove_signature(session, A, person(world.keyring, "U0ALICE"), world.keyring)
        assert not remove_signature(session, A, person(world.keyring, "U0ERIN"), world.keyring)
    assert snapshot(world.db) == before


def test_withdrawing_from_a_campaign_nobody_signed_changes_nothing(world):
    make_campaign(world.db, "empty")
    before = snapshot(world.db)
    with world.db.write() as session:
        assert not remove_signature(session, "empty", person(world.keyring, "U0BOB"), world.keyring)
    assert snapshot(world.db) == before


def test_changing_how_one_signs_changes_that_row_only(world):
    before = snapshot(world.db)
    alice_a = world.value(A, "U0ALICE")
    with world.db.write() as session:
        assert change_choice(session, A, person(world.keyring, "U0ALICE"), Choice(), world.keyring)
    after = snapshot(world.db)
    changed = after["signatures"] - before["signatures"]
    gone = before["signatures"] - after["signatures"]
    assert [row[1] for row in changed] == [alice_a]
    assert [row[1] for row in gone] == [alice_a]
    [row] = changed
    assert (row[2], row[4], row[5]) == (False, None, None)  # named, threshold, sealed name
    assert row[3] == DAY  # the day she signed stays
    assert {t: r for t, r in after.items() if t != "signatures"} == {
        t: r for t, r in before.items() if t != "signatures"
    }


def test_changing_without_a_signature_changes_nothing(world):
    before = snapshot(world.db)
    with world.db.write() as session:
        assert not change_choice(
            session, A, person(world.keyring, "U0ERIN"), Choice(name="Erin"), world.keyring
        )
    assert snapshot(world.db) == before


def test_stopping_news_of_one_campaign_leaves_the_rest(world):
    before = snapshot(world.db)
    alice_a = world.value(A, "U0ALICE")
    with world.db.write() as session:
        assert unsubscribe(session, person(world.keyring, "U0ALICE"), world.keyring, A) == 1
    after = snapshot(world.db)
    expected = _without(before, alice_a)
    for table in ("subscribers", "update_deliveries", "news_posts"):
        assert after[table] == expected[table], table
    assert after["signatures"] == before["signatures"]
    assert _counts(after) == _counts(before)
    assert len(after["news_retractions"]) == 1


def test_stopping_all_news_stops_one_persons_news_in_every_campaign(world):
    before = snapshot(world.db)
    with world.db.write() as session:
        assert unsubscribe(session, person(world.keyring, "U0ALICE"), world.keyring) == 2
    after = snapshot(world.db)
    expected = _without(_without(before, world.value(A, "U0ALICE")), world.value(B, "U0ALICE"))
    for table in ("subscribers", "update_deliveries", "news_posts"):
        assert after[table] == expected[table], table
    assert after["signatures"] == before["signatures"]
    assert len(after["news_retractions"]) == 2


def test_forgetting_a_campaign_leaves_the_other_campaign_exactly(world):
    before = snapshot(world.db)
    with world.db.write() as session:
        change_status(session, NOBODY, CLI_ACTOR, B, StatusChange.CLOSE)
    assert forget_campaign(world.db, world.keyring, NOBODY, CLI_ACTOR, B) == 2
    after = snapshot(world.db)
    b_id = world.ids[B]
    with world.db.read() as session:
        b_updates = set(
            session.scalars(
                select(Campaign.id).where(Campaign.id == b_id)  # the campaign stays
            )
        )
    assert b_updates == {b_id}
    a_values = {world.value(A, u) for u in ("U0ALICE", "U0BOB", "U0CAROL", "U0DAVE")}
    for table in ("signatures", "subscribers", "update_deliveries", "news_posts"):
        kept = {row for row in before[table] if a_values & set(row)}
        assert after[table] == kept, table
    assert {row[0] for row in after["signatures"]} == {world.ids[A]}
    # B's count stays (the letter's figure); its rows are gone.
    assert _counts(after) == {A: 4, B: 2}
    assert len(after["news_retractions"]) == 1  # Alice's news DM in B


# -- through Slack ----------------------------------------------------------------


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    running_bot.import_campaign(slug="other", title="Other")
    return running_bot


def _signatures(bot: RunningBot) -> set[tuple]:
    with bot.db.read() as session:
        return {tuple(r) for r in session.execute(select(Signature.__table__))}


def test_a_signature_is_stored_under_the_value_worked_out_by_hand(bot):
    """The workspace and the user both go into the stored value, as computed here
    with hashlib and HMAC, not with the app's code. Catches planted bug 1 of issue
    23 (the signer identity ignoring the workspace id) where a request is identified."""
    sign(bot, ALICE.id)
    sign(bot, BOB.id, how="named", name="Bob Example")
    values = {row.signer_hash for row in stored(bot)}
    assert values == {
        expected_value(bot.db, bot.settings, SLUG, ALICE.id),
        expected_value(bot.db, bot.settings, SLUG, BOB.id),
    }
    # The same user in another workspace would be another person.
    assert expected_value(bot.db, bot.settings, SLUG, ALICE.id, scope="T0ELSEWHERE") not in values


def test_withdrawing_through_slack_leaves_the_other_signer(bot):
    sign(bot, ALICE.id)
    sign(bot, BOB.id, how="named", name="Bob Example")
    before = _signatures(bot)
    assert len(before) == 2
    assert bot.slack.click("withdraw_start", SLUG, user=ALICE.id).status == 200
    withdraw = opened_views(bot)[-1]
    response_json(bot.slack.submit(withdraw, {}, user=ALICE.id))
    after = _signatures(bot)
    bobs = expected_value(bot.db, bot.settings, SLUG, BOB.id)
    assert after == {row for row in before if row[1] == bobs}
    with bot.db.read() as session:
        count = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
    assert count == 1


def test_signing_days_are_kept_whole(world):
    with world.db.read() as session:
        days = set(session.scalars(select(Signature.signed_on)))
    assert days == {DAY}
    assert isinstance(next(iter(days)), dt.date)
