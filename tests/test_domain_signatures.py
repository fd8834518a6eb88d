"""Signing and withdrawing as plain domain functions on a real database, each
beside a second signer whose row must survive, with what is stored read back.

Catches planted bug 3 of issue 23 (a withdrawal deleting every signature of its
campaign), which once passed the signing, conditional and privacy tests because
no withdrawal test had a second signer.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from petition.errors import CampaignNotFound, DomainError
from petition.keyring import Keyring, name_context
from petition.signatures import (
    CampaignClosed,
    Choice,
    InvalidName,
    SignerStatus,
    SignOutcome,
    campaign_keys,
    change_choice,
    clean_name,
    current_name,
    remove_signature,
    sign,
    signer_status,
    status_after_signing,
)
from storage.db import Database
from storage.models import Campaign, CampaignStatus, Signature
from tests.support.world import DAY, make_campaign, person

SLUG, OTHER = "domain", "domain-other"


def _rows(db: Database, slug: str = SLUG) -> dict[str, Signature]:
    with db.read() as session:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.slug == slug))
        return {
            row.signer_hash: row
            for row in session.scalars(
                select(Signature).where(Signature.campaign_id == campaign_id)
            )
        }


def _count(db: Database, slug: str = SLUG) -> int:
    with db.read() as session:
        return session.scalar(select(Campaign.signature_count).where(Campaign.slug == slug))


def _sign(db: Database, keyring: Keyring, user: str, choice: Choice | None = None, slug=SLUG):
    with db.write() as session:
        return sign(session, slug, person(keyring, user), choice or Choice(), keyring, DAY)


def _value(db: Database, keyring: Keyring, user: str, slug: str = SLUG) -> str:
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
    return keyring.campaign(key_id).signer(person(keyring, user))


@pytest.fixture
def two(db: Database, keyring: Keyring) -> Database:
    """Two campaigns; Alice and Bob signed the first, Alice the second."""
    make_campaign(db, SLUG)
    make_campaign(db, OTHER)
    _sign(db, keyring, "U0ALICE", Choice(name="Alice Named"))
    _sign(db, keyring, "U0BOB")
    _sign(db, keyring, "U0ALICE", slug=OTHER)
    return db


def test_remove_signature_removes_one_row(two: Database, keyring: Keyring):
    """Planted bug 3 (a withdrawal deleting every signature of the campaign) fails
    here: Bob's row, and Alice's in the other campaign, must stay as they were."""
    bob = _value(two, keyring, "U0BOB")
    before, other_before = _rows(two), _rows(two, OTHER)
    with two.write() as session:
        assert remove_signature(session, SLUG, person(keyring, "U0ALICE"), keyring) is True
    after = _rows(two)
    assert set(after) == {bob}
    assert (after[bob].named, after[bob].sealed_name) == (
        before[bob].named,
        before[bob].sealed_name,
    )
    assert _count(two) == 1
    assert set(_rows(two, OTHER)) == set(other_before)
    assert _count(two, OTHER) == 1
    # Twice, or by someone who never signed: nothing more goes.
    with two.write() as session:
        assert remove_signature(session, SLUG, person(keyring, "U0ALICE"), keyring) is False
        assert remove_signature(session, SLUG, person(keyring, "U0CAROL"), keyring) is False
    assert set(_rows(two)) == {bob}
    assert _count(two) == 1


def test_withdrawing_where_nobody_signed_changes_nothing(db: Database, keyring: Keyring):
    make_campaign(db, SLUG)
    with db.write() as session:
        assert remove_signature(session, SLUG, person(keyring, "U0ALICE"), keyring) is False
        assert change_choice(session, SLUG, person(keyring, "U0ALICE"), Choice(), keyring) is False
        assert current_name(session, SLUG, person(keyring, "U0ALICE"), keyring) is None
        assert signer_status(session, SLUG, person(keyring, "U0ALICE"), keyring).signed is False
    with db.write() as session, pytest.raises(CampaignNotFound):
        remove_signature(session, "no-such", person(keyring, "U0ALICE"), keyring)


def test_signing_stores_one_row_under_the_campaign_value(two: Database, keyring: Keyring):
    alice, bob = _value(two, keyring, "U0ALICE"), _value(two, keyring, "U0BOB")
    rows = _rows(two)
    assert set(rows) == {alice, bob}
    assert rows[alice].signed_on == DAY
    assert (rows[alice].named, rows[alice].name_threshold) == (True, None)
    assert (rows[bob].named, rows[bob].name_threshold, rows[bob].sealed_name) == (
        False,
        None,
        None,
    )
    assert _value(two, keyring, "U0ALICE", OTHER) not in rows, "no value is shared"
    assert _count(two) == 2
    # Signing again changes nothing, whatever the choice.
    signing = _sign(two, keyring, "U0BOB", Choice(name="Bob Later"))
    assert signing.outcome is SignOutcome.ALREADY_SIGNED
    assert _rows(two)[bob].sealed_name is None
    assert _count(two) == 2
    signing = _sign(two, keyring, "U0CAROL")
    assert (signing.outcome, signing.title) == (SignOutcome.SIGNED, f"Campaign {SLUG}")
    assert _count(two) == 3


def test_a_name_is_stored_sealed_for_its_campaign_and_opened_for_its_signer(
    two: Database, keyring: Keyring
):
    rows = _rows(two)
    sealed = rows[_value(two, keyring, "U0ALICE")].sealed_name
    assert sealed is not None
    assert "Alice" not in sealed
    with two.read() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        assert keyring.campaign(campaign.key_id).open(sealed, name_context(campaign.id)) == (
            "Alice Named"
        )
        assert current_name(session, SLUG, person(keyring, "U0ALICE"), keyring) == "Alice Named"
        assert current_name(session, SLUG, person(keyring, "U0BOB"), keyring) is None


def test_changing_a_choice_changes_that_row_only(two: Database, keyring: Keyring):
    alice, bob = _value(two, keyring, "U0ALICE"), _value(two, keyring, "U0BOB")
    before = _rows(two)
    with two.write() as session:
        changed = change_choice(
            session, SLUG, person(keyring, "U0BOB"), Choice(name="Bob", threshold=7), keyring
        )
        assert changed is True
    after = _rows(two)
    assert (after[bob].named, after[bob].name_threshold) == (False, 7)
    assert after[bob].sealed_name is not None
    assert after[alice].sealed_name == before[alice].sealed_name
    with two.read() as session:
        status = signer_status(session, SLUG, person(keyring, "U0BOB"), keyring)
        assert (status.signed, status.named, status.threshold) == (True, False, 7)
        # One named signer so far: a rule of 7 does not name Bob today.
        assert status.named_today is False
        assert current_name(session, SLUG, person(keyring, "U0BOB"), keyring) == "Bob"
    with two.write() as session:
        assert change_choice(session, SLUG, person(keyring, "U0BOB"), Choice(), keyring)
    assert _rows(two)[bob].sealed_name is None
    assert _count(two) == 2


@pytest.mark.parametrize("threshold", [1, 100_000])
def test_a_conditional_threshold_from_1_to_100000_is_taken(
    db: Database, keyring: Keyring, threshold: int
):
    make_campaign(db, SLUG)
    _sign(db, keyring, "U0ALICE", Choice(name="Alice", threshold=threshold))
    [row] = _rows(db).values()
    assert (row.named, row.name_threshold) == (False, threshold)


@pytest.mark.parametrize("threshold", [0, 100_001])
def test_a_conditional_threshold_outside_1_to_100000_is_refused(
    db: Database, keyring: Keyring, threshold: int
):
    make_campaign(db, SLUG)
    with pytest.raises(InvalidName, match=r"^Choose a number from 1 to 100,000\.$"):
        _sign(db, keyring, "U0ALICE", Choice(name="Alice", threshold=threshold))
    with pytest.raises(DomainError, match="needs a name"):
        _sign(db, keyring, "U0ALICE", Choice(threshold=5))
    assert _rows(db) == {}
    assert _count(db) == 0


def test_a_name_of_80_four_byte_characters_is_sealed_and_81_is_refused(
    db: Database, keyring: Keyring
):
    """Found by hypothesis on PostgreSQL: a name past 80 characters of emoji given
    to the domain directly (not through the form's clean_name) overflowed the
    sealed name's room with a ValueError instead of a refusal."""
    make_campaign(db, SLUG)
    longest = "\U0001f642" * 80  # 320 bytes in UTF-8: the whole room
    _sign(db, keyring, "U0ALICE", Choice(name=longest))
    with pytest.raises(InvalidName, match=r"^Please keep the name under 80 characters\.$"):
        _sign(db, keyring, "U0BOB", Choice(name=longest + "\U0001f642"))
    assert _count(db) == 1
    with db.read() as session:
        assert current_name(session, SLUG, person(keyring, "U0ALICE"), keyring) == longest
        assert current_name(session, SLUG, person(keyring, "U0BOB"), keyring) is None


def test_a_closed_campaign_or_an_unknown_one_takes_no_signature(db: Database, keyring: Keyring):
    make_campaign(db, SLUG)
    with db.write() as session:
        session.execute(
            update(Campaign).where(Campaign.slug == SLUG).values(status=CampaignStatus.CLOSED)
        )
    with pytest.raises(CampaignClosed):
        _sign(db, keyring, "U0ALICE")
    with pytest.raises(CampaignNotFound):
        _sign(db, keyring, "U0ALICE", slug="no-such")
    assert _rows(db) == {}


def test_a_campaign_takes_signatures_until_its_closing_time(db: Database, keyring: Keyring):
    make_campaign(db, SLUG, closes=dt.date(2099, 3, 1))
    # The closing date is the last day to sign: it closes at the midnight after it,
    # in the campaign's time zone. The stored moment is the boundary.
    with db.read() as session:
        closing = session.scalar(select(Campaign.closes_at).where(Campaign.slug == SLUG))
    assert closing is not None
    assert closing.date() >= dt.date(2099, 3, 1)
    if closing.tzinfo is None:
        closing = closing.replace(tzinfo=dt.UTC)
    with db.write() as session, pytest.raises(CampaignClosed):
        sign(session, SLUG, person(keyring, "U0ALICE"), Choice(), keyring, DAY, closing)
    with db.write() as session:
        signing = sign(
            session,
            SLUG,
            person(keyring, "U0ALICE"),
            Choice(),
            keyring,
            DAY,
            closing - dt.timedelta(seconds=1),
        )
    assert signing.outcome is SignOutcome.SIGNED


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Alice   Named ", "Alice Named"),
        ("Alice\nNamed", "Alice Named"),
        ("Alice\u202eNamed\u200b", "Alice Named"),
        ("x" * 80, "x" * 80),
    ],
)
def test_clean_name_makes_one_trimmed_line(raw: str, clean: str):
    assert clean_name(raw) == clean


@pytest.mark.parametrize("raw", [None, "", " \n\t", "\u200b"])
def test_clean_name_refuses_no_name(raw: str | None):
    with pytest.raises(InvalidName, match="Type the name to put on the letter"):
        clean_name(raw)


def test_clean_name_refuses_a_name_past_80_characters():
    with pytest.raises(InvalidName, match=r"^Please keep the name under 80 characters\.$"):
        clean_name("x" * 81)


def test_refusals_say_what_and_which(db: Database, keyring: Keyring):
    make_campaign(db, SLUG)
    for call in (
        lambda s: sign(s, "no-such", person(keyring, "U0ALICE"), Choice(), keyring, DAY),
        lambda s: remove_signature(s, "no-such", person(keyring, "U0ALICE"), keyring),
    ):
        with db.write() as session, pytest.raises(CampaignNotFound) as missing:
            call(session)
        assert (missing.value.slug, missing.value.known) == ("no-such", [])
    with pytest.raises(DomainError, match=r"^a conditional signature needs a name$"):
        _sign(db, keyring, "U0ALICE", Choice(threshold=5))
    with db.write() as session:
        session.execute(
            update(Campaign).where(Campaign.slug == SLUG).values(status=CampaignStatus.CLOSED)
        )
    with pytest.raises(
        CampaignClosed, match=r"^this campaign is closed and no longer takes signatures$"
    ):
        _sign(db, keyring, "U0ALICE")


def test_a_campaign_keeps_the_key_it_was_first_signed_under(two: Database, keyring: Keyring):
    """A caller that read the campaign before its first signature (key_id None)
    gets the key now stored, not a new one."""
    with two.write() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
        stored = campaign.key_id
        keys = campaign_keys(session, keyring, campaign.id, None)
    assert stored is not None
    assert keys.key_id == stored
    assert keys.signer(person(keyring, "U0BOB")) == _value(two, keyring, "U0BOB")


@pytest.mark.parametrize(
    ("choice", "named", "threshold"),
    [(Choice(), False, None), (Choice(name="A"), True, None), (Choice("A", 2), False, 2)],
    ids=["anonymous", "named", "conditional"],
)
def test_the_status_after_signing_is_the_status_read_back(
    two: Database, keyring: Keyring, choice: Choice, named: bool, threshold: int | None
):
    signing = _sign(two, keyring, "U0CAROL", choice)
    with two.read() as session:
        after = status_after_signing(session, signing.campaign_id, choice, subscribed=True)
        read = signer_status(session, SLUG, person(keyring, "U0CAROL"), keyring)
    assert (after.signed, after.named, after.threshold, after.subscribed) == (
        True,
        named,
        threshold,
        True,
    )
    # Alice signed with her name: a rule of 2 names nobody yet, of 1 would.
    assert after.named_today is False
    assert (read.signed, read.named, read.threshold) == (True, named, threshold)
    with two.read() as session:
        assert status_after_signing(session, signing.campaign_id, choice, False).subscribed is False


def test_a_conditional_signer_is_named_once_enough_others_are(two: Database, keyring: Keyring):
    signing = _sign(two, keyring, "U0CAROL", Choice("Carol", 1))
    with two.read() as session:
        assert status_after_signing(session, signing.campaign_id, Choice("Carol", 1), False) == (
            SignerStatus(signed=True, named=False, threshold=1, named_today=True)
        )
        status = signer_status(session, SLUG, person(keyring, "U0CAROL"), keyring)
    assert status == SignerStatus(signed=True, named=False, threshold=1, named_today=True)
