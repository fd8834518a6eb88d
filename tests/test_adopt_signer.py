"""A workspace joins a Grid: every row of the person moves to their new identity,
exactly, and nobody else's moves.

Lena signed, subscribed and was sent news under her former identity (her home
workspace and local id). After the move she is known by the organization and
her organization id. `adopt_signer` must carry each of her rows over, once, in
every campaign, keeping everything but the signer value; where her new identity
already has a row of the same kind (she also signed from another workspace), the
former row is a duplicate and goes, and the campaign's count drops by one. Bob
signed beside her everywhere; his rows, and the campaigns Lena never touched,
must be exactly as they were.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from petition.keyring import Keyring
from petition.organizing import CLI_ACTOR, Organizers
from petition.retractions import record_post
from petition.signatures import Choice, adopt_signer, sign, signer_status
from petition.subscriptions import Address, subscribe
from petition.updates import create_update
from storage.db import Database
from storage.models import Campaign, DeliveryState, UpdateDelivery, UpdateKind
from tests.support.world import make_campaign, person, sign_as, snapshot

NOBODY = Organizers(frozenset())
HOME, ORG = "T0UNDRSGN", "E0UNDRSGN"
# A: Lena signed under her former identity only. B: she signed under both. C: as
# A (a second move, so the count of moves is not just "some"). D: Bob alone.
# E: nobody signed (no key).
A, B, C, D, E = "move-a", "move-b", "move-c", "move-d", "move-e"


def former(keyring: Keyring) -> str:
    return person(keyring, "U0LENA0001", HOME)


def current(keyring: Keyring) -> str:
    return person(keyring, "W0LENA0001", ORG)


def bob(keyring: Keyring) -> str:
    return person(keyring, "U0BOB")


def value(db: Database, keyring: Keyring, slug: str, who: str) -> str:
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
    return keyring.campaign(key_id).signer(who)


def _subscribe(db: Database, keyring: Keyring, slug: str, who: str, user: str) -> None:
    with db.write() as session:
        assert subscribe(session, slug, who, keyring, Address(HOME, user))


def _news(db: Database, slug: str, text: str) -> int:
    with db.write() as session:
        return create_update(session, NOBODY, CLI_ACTOR, slug, UpdateKind.NEWS, text).id


@pytest.fixture
def world(db: Database, keyring: Keyring) -> dict[str, Any]:
    for slug in (A, B, C, D, E):
        make_campaign(db, slug)
    old, new, bobs = former(keyring), current(keyring), bob(keyring)
    with db.write() as session:
        # Through sign() with the digests themselves: sign_as takes a user id.
        sign(session, A, old, Choice(name="Lena Local", threshold=3), keyring)
        sign(session, B, old, Choice(), keyring)
        sign(session, B, new, Choice(name="Lena Grid"), keyring)
        sign(session, C, old, Choice(name="Lena Named"), keyring)
    for slug in (A, B, C, D):
        sign_as(db, keyring, slug, "U0BOB", Choice(name="Bob Named"))
    _subscribe(db, keyring, A, old, "U0LENA0001")
    _subscribe(db, keyring, A, bobs, "U0BOB")
    _subscribe(db, keyring, B, old, "U0LENA0001")
    _subscribe(db, keyring, B, bobs, "U0BOB")
    updates = {"a": _news(db, A, "News for A"), "b1": _news(db, B, "First news for B")}
    # Her new identity subscribes to B after its first news: that update is queued
    # for her former identity only, the next one for both.
    _subscribe(db, keyring, B, new, "W0LENA0001")
    updates["b2"] = _news(db, B, "Second news for B")
    _subscribe(db, keyring, D, bobs, "U0BOB")
    updates["d"] = _news(db, D, "News for D")
    # C's news is queued for her alone: no other row leads to that update.
    _subscribe(db, keyring, C, old, "U0LENA0001")
    updates["c"] = _news(db, C, "News for C")
    with db.write() as session:
        # Her news in A went out already (a sent row stays until all have gone).
        session.execute(
            update(UpdateDelivery)
            .where(
                UpdateDelivery.update_id == updates["a"],
                UpdateDelivery.signer_hash == value(db, keyring, A, old),
            )
            .values(state=DeliveryState.SENT, attempts=1)
        )
        for slug, who, ts in ((A, old, "1.1"), (A, bobs, "1.2"), (B, old, "1.3"), (D, bobs, "1.4")):
            keys = keyring.campaign(_key_id(db, slug))
            record_post(session, keys, _id(db, slug), value(db, keyring, slug, who), "D1", ts)
    return updates


def _key_id(db: Database, slug: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))


def _id(db: Database, slug: str) -> int:
    with db.read() as session:
        return session.scalar(select(Campaign.id).where(Campaign.slug == slug))


def _moved(rows: set[tuple], old: str, new: str) -> set[tuple]:
    """The rows with the signer value `old` given the value `new`, nothing else
    changed (every signer table keeps the value in its second column)."""
    out = set()
    for row in rows:
        if old in row:
            assert row[1] == old
            row = (row[0], new, *row[2:])
        out.add(row)
    return out


def _drop(rows: set[tuple], value_: str, first: Any = None) -> set[tuple]:
    """The rows without those of this signer value (in one update or campaign, if given)."""
    return {r for r in rows if not (r[1] == value_ and (first is None or r[0] == first))}


def test_the_world_before_the_move(db, keyring, world):
    before = snapshot(db)
    assert before["counts"] == {(A, 2), (B, 3), (C, 2), (D, 1), (E, 0)}
    assert len(before["signatures"]) == 8
    assert len(before["subscribers"]) == 7
    # a: Lena (sent), Bob; b1: Lena's former, Bob; b2: both of hers, Bob; c: Lena; d: Bob.
    assert len(before["update_deliveries"]) == 9
    assert len(before["news_posts"]) == 4
    assert _key_id(db, E) is None


def test_every_row_of_hers_moves_once_and_nothing_else_changes(db, keyring, world):
    before = snapshot(db)
    old, new = former(keyring), current(keyring)
    olds = {slug: value(db, keyring, slug, old) for slug in (A, B, C, D)}
    news = {slug: value(db, keyring, slug, new) for slug in (A, B, C, D)}
    with db.write() as session:
        assert adopt_signer(session, new, old, keyring) == 2  # A and C; B was a duplicate
    after = snapshot(db)

    # Signatures: A and C move whole (name, threshold, day); B's former row goes.
    expected = _drop(before["signatures"], olds[B])
    expected = _moved(_moved(expected, olds[A], news[A]), olds[C], news[C])
    assert after["signatures"] == expected
    assert after["counts"] == {(A, 2), (B, 2), (C, 2), (D, 1), (E, 0)}
    # Subscribers: A's and C's move; in B the new identity is subscribed already.
    expected = _drop(before["subscribers"], olds[B])
    expected = _moved(_moved(expected, olds[A], news[A]), olds[C], news[C])
    assert after["subscribers"] == expected
    # Deliveries: a's sent row moves, state and attempts kept; b1's and c's move;
    # b2's former row is a duplicate of the new one and goes.
    deliveries = _drop(before["update_deliveries"], olds[B], world["b2"])
    deliveries = _moved(_moved(deliveries, olds[A], news[A]), olds[B], news[B])
    deliveries = _moved(deliveries, olds[C], news[C])
    assert after["update_deliveries"] == deliveries
    moved_sent = [r for r in after["update_deliveries"] if r[1] == news[A]]
    assert [(r[0], r[2], r[6]) for r in moved_sent] == [(world["a"], DeliveryState.SENT, 1)]
    # News posts (to delete from Slack later) follow her in A and B.
    posts = _moved(_moved(before["news_posts"], olds[A], news[A]), olds[B], news[B])
    assert after["news_posts"] == posts
    assert after["news_retractions"] == before["news_retractions"]
    # Nothing of her former identity is left anywhere.
    for table in ("signatures", "subscribers", "update_deliveries", "news_posts"):
        assert not {r for r in after[table] if set(olds.values()) & set(r)}, table


def test_she_is_found_by_her_new_identity_afterwards(db, keyring, world):
    old, new = former(keyring), current(keyring)
    with db.write() as session:
        adopt_signer(session, new, old, keyring)
    with db.read() as session:
        for slug, named, threshold in ((A, False, 3), (B, True, None), (C, True, None)):
            status = signer_status(session, slug, new, keyring)
            assert (status.signed, status.named, status.threshold) == (True, named, threshold)
            assert not signer_status(session, slug, old, keyring).signed
        assert signer_status(session, A, new, keyring).subscribed
        assert signer_status(session, B, new, keyring).subscribed
        assert signer_status(session, C, new, keyring).subscribed
        assert not signer_status(session, D, new, keyring).signed


def test_moving_again_changes_nothing(db, keyring, world):
    old, new = former(keyring), current(keyring)
    with db.write() as session:
        adopt_signer(session, new, old, keyring)
    before = snapshot(db)
    with db.write() as session:
        assert adopt_signer(session, new, old, keyring) == 0
    assert snapshot(db) == before


def test_a_person_without_rows_moves_nothing(db, keyring, world):
    before = snapshot(db)
    with db.write() as session:
        erin = person(keyring, "U0ERIN")
        assert adopt_signer(session, person(keyring, "W0ERIN", ORG), erin, keyring) == 0
    assert snapshot(db) == before
