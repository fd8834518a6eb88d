"""News queued for someone who withdraws or stops news: every row of theirs goes,
each update's tally says what they will not get, and everyone else's news stays.

Campaign A has three subscribers, Lena, Bob and Carol, and three news updates:
the first waits for all three; the second went out to Bob and Carol and waits
for Lena alone; the third went out to Lena and waits for Bob and Carol. When Lena
goes, her rows go; the news she will no longer get counts as failed (not sent);
the second update, left with nobody to send to, is finished and its rows (keyed by
signers) go too. Campaign B, where Lena also subscribed, keeps all of hers.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from petition.keyring import Keyring
from petition.organizing import CLI_ACTOR, Organizers
from petition.retractions import record_post
from petition.signatures import Choice, remove_signature
from petition.subscriptions import Address, subscribe, unsubscribe
from petition.updates import create_update
from storage.db import Database
from storage.models import Campaign, DeliveryState, Update, UpdateDelivery, UpdateKind
from tests.support.world import TEAM, make_campaign, person, sign_as, snapshot

NOBODY = Organizers(frozenset())
A, B = "news-a", "news-b"
USERS = ("U0LENA", "U0BOB", "U0CAROL")


def value(db: Database, keyring: Keyring, slug: str, user: str) -> str:
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
    return keyring.campaign(key_id).signer(person(keyring, user))


def _sent(db: Database, keyring: Keyring, update_id: int, users: tuple[str, ...]) -> None:
    """These deliveries went out (as petition/updates.finish records it)."""
    with db.write() as session:
        for user in users:
            session.execute(
                update(UpdateDelivery)
                .where(
                    UpdateDelivery.update_id == update_id,
                    UpdateDelivery.signer_hash == value(db, keyring, A, user),
                )
                .values(state=DeliveryState.SENT, attempts=1)
            )
        session.execute(
            update(Update).where(Update.id == update_id).values(sent=Update.sent + len(users))
        )


@pytest.fixture
def world(db: Database, keyring: Keyring) -> dict[str, Any]:
    ids = {A: make_campaign(db, A), B: make_campaign(db, B)}
    for user in (*USERS, "U0DAVE"):
        sign_as(db, keyring, A, user, Choice(name=f"{user} Named"))
    for user in ("U0LENA", "U0BOB"):
        sign_as(db, keyring, B, user)
    with db.write() as session:
        for user in USERS:
            subscribe(session, A, person(keyring, user), keyring, Address(TEAM, user))
        for user in ("U0LENA", "U0BOB"):
            subscribe(session, B, person(keyring, user), keyring, Address(TEAM, user))
        made = [
            create_update(session, NOBODY, CLI_ACTOR, slug, UpdateKind.NEWS, f"News {n}").id
            for n, slug in enumerate((A, A, A, B), 1)
        ]
    u1, u2, u3, u4 = made
    _sent(db, keyring, u2, ("U0BOB", "U0CAROL"))
    _sent(db, keyring, u3, ("U0LENA",))
    with db.write() as session:
        for slug, user, ts in (
            (A, "U0LENA", "1.1"),
            (A, "U0LENA", "1.2"),
            (A, "U0BOB", "1.3"),
            (B, "U0LENA", "1.4"),
        ):
            keys = keyring.campaign(
                session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
            )
            record_post(session, keys, ids[slug], value(db, keyring, slug, user), "D1", ts)
    return {"ids": ids, "u1": u1, "u2": u2, "u3": u3, "u4": u4}


def _tallies(db: Database) -> dict[int, tuple[int, int, int]]:
    with db.read() as session:
        rows = session.execute(select(Update.id, Update.recipients, Update.sent, Update.failed))
        return {row[0]: tuple(row[1:]) for row in rows}


def _deliveries(db: Database, keyring: Keyring) -> set[tuple[int, str, str]]:
    """(update, whose, state) of every delivery row, by user id."""
    names = {value(db, keyring, slug, u): u for slug in (A, B) for u in (*USERS, "U0DAVE")}
    with db.read() as session:
        rows = session.execute(
            select(UpdateDelivery.update_id, UpdateDelivery.signer_hash, UpdateDelivery.state)
        )
        return {(u, names[s], str(state)) for u, s, state in rows}


def test_the_world_before(db, keyring, world):
    u1, u2, u3, u4 = (world[k] for k in ("u1", "u2", "u3", "u4"))
    assert _tallies(db) == {u1: (3, 0, 0), u2: (3, 2, 0), u3: (3, 1, 0), u4: (2, 0, 0)}
    assert _deliveries(db, keyring) == {
        (u1, "U0LENA", "pending"),
        (u1, "U0BOB", "pending"),
        (u1, "U0CAROL", "pending"),
        (u2, "U0LENA", "pending"),
        (u2, "U0BOB", "sent"),
        (u2, "U0CAROL", "sent"),
        (u3, "U0LENA", "sent"),
        (u3, "U0BOB", "pending"),
        (u3, "U0CAROL", "pending"),
        (u4, "U0LENA", "pending"),
        (u4, "U0BOB", "pending"),
    }


def _after_lena_goes(db: Database, keyring: Keyring, world: dict[str, Any]) -> None:
    u1, u2, u3, u4 = (world[k] for k in ("u1", "u2", "u3", "u4"))
    # u1 and u2 will not reach her: one failed each. u2 is finished: its rows go.
    # u3 reached her: its tally stays, her row goes.
    assert _tallies(db) == {u1: (3, 0, 1), u2: (3, 2, 1), u3: (3, 1, 0), u4: (2, 0, 0)}
    assert _deliveries(db, keyring) == {
        (u1, "U0BOB", "pending"),
        (u1, "U0CAROL", "pending"),
        (u3, "U0BOB", "pending"),
        (u3, "U0CAROL", "pending"),
        (u4, "U0LENA", "pending"),
        (u4, "U0BOB", "pending"),
    }


@pytest.mark.parametrize("how", ["withdraw", "stop news"])
def test_her_news_goes_and_the_tallies_say_so(db, keyring, world, how):
    before = snapshot(db)
    lena_a = value(db, keyring, A, "U0LENA")
    with db.write() as session:
        if how == "withdraw":
            assert remove_signature(session, A, person(keyring, "U0LENA"), keyring) is True
        else:
            assert unsubscribe(session, person(keyring, "U0LENA"), keyring, A) == 1
    _after_lena_goes(db, keyring, world)
    after = snapshot(db)
    assert after["subscribers"] == {r for r in before["subscribers"] if r[1] != lena_a}
    # Her two news DMs in A are queued to be deleted from Slack; Bob's and her
    # DM in B stay recorded.
    assert after["news_posts"] == {r for r in before["news_posts"] if r[1] != lena_a}
    assert len(after["news_posts"]) == 2
    assert len(after["news_retractions"]) == 2
    if how == "withdraw":
        assert after["signatures"] == {r for r in before["signatures"] if r[1] != lena_a}
        assert after["counts"] == {(A, 3), (B, 2)}
    else:
        assert after["signatures"] == before["signatures"]
        assert after["counts"] == before["counts"]


def test_a_signer_without_news_withdraws_and_nobodys_news_changes(db, keyring, world):
    before = snapshot(db)
    tallies = _tallies(db)
    with db.write() as session:
        assert unsubscribe(session, person(keyring, "U0DAVE"), keyring, A) == 0
    assert snapshot(db) == before
    with db.write() as session:
        assert remove_signature(session, A, person(keyring, "U0DAVE"), keyring) is True
    assert _tallies(db) == tallies
    after = snapshot(db)
    for table in ("subscribers", "update_deliveries", "news_posts", "news_retractions"):
        assert after[table] == before[table], table
    assert after["counts"] == {(A, 3), (B, 2)}


def test_the_last_one_waiting_going_finishes_the_update(db, keyring, world):
    """When everyone an update still waits for goes, it is finished: no row keyed
    by a signer is left for it, and each of them counts as failed."""
    u1 = world["u1"]
    with db.write() as session:
        for user in USERS:
            assert unsubscribe(session, person(keyring, user), keyring, A) == 1
    tallies = _tallies(db)
    assert tallies[u1] == (3, 0, 3)
    assert tallies[world["u3"]] == (3, 1, 2)
    assert {row[0] for row in _deliveries(db, keyring)} == {world["u4"]}
