"""The small print of signing: what each entry point returns and refuses, exactly.

What `sign` says the second time, what `add_signature` does with its name, day
and time, what `signer_status` says where nobody signed or the campaign does
not exist, and the words of a refused name (a signer reads them in the form).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from petition.errors import CampaignNotFound
from petition.keyring import Keyring, name_context
from petition.signatures import (
    CampaignClosed,
    Choice,
    InvalidName,
    SignerStatus,
    Signing,
    SignOutcome,
    add_signature,
    clean_name,
    sign,
    signer_status,
)
from storage.db import Database
from storage.models import Campaign, Signature
from tests.support.world import DAY, make_campaign, person, sign_as

SLUG = "details"
CLOSES = dt.date(2027, 3, 1)
# The closing date is the last day to sign: it closes at the midnight after it.
AFTER_CLOSING = dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)
BEFORE_CLOSING = AFTER_CLOSING - dt.timedelta(microseconds=1)


@pytest.fixture
def campaign(db: Database) -> int:
    make_campaign(db, "bystander")
    return make_campaign(db, SLUG, title="The details", closes=CLOSES)


def _rows(db: Database) -> list[tuple]:
    with db.read() as session:
        return [tuple(r) for r in session.execute(select(Signature.__table__))]


def _count(db: Database, slug: str = SLUG) -> int:
    with db.read() as session:
        return session.scalar(select(Campaign.signature_count).where(Campaign.slug == slug))


def test_signing_twice_says_so_and_names_the_campaign_both_times(db, keyring, campaign):
    lena = person(keyring, "U0LENA")
    with db.write() as session:
        first = sign(session, SLUG, lena, Choice(), keyring, DAY)
    with db.write() as session:
        second = sign(session, SLUG, lena, Choice(name="Lena Later"), keyring, DAY)
    assert first == Signing(SignOutcome.SIGNED, campaign, "The details")
    assert second == Signing(SignOutcome.ALREADY_SIGNED, campaign, "The details")
    assert _count(db) == 1
    [row] = _rows(db)
    assert row[2:] == (False, DAY, None, None)  # the first choice stands


def test_add_signature_stores_its_name_and_day(db, keyring, campaign):
    lena = person(keyring, "U0LENA")
    with db.write() as session:
        outcome = add_signature(
            session, SLUG, lena, "Lena Named", today=DAY, now=BEFORE_CLOSING, keyring=keyring
        )
        again = add_signature(session, SLUG, lena, keyring=keyring)
    assert (outcome, again) == (SignOutcome.SIGNED, SignOutcome.ALREADY_SIGNED)
    [row] = _rows(db)
    assert row[:5] == (campaign, _value(db, keyring, lena), True, DAY, None)
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == SLUG))
    assert keyring.campaign(key_id).open(row[5], name_context(campaign)) == "Lena Named"


def test_add_signature_without_a_day_signs_today(db, keyring, campaign):
    with db.write() as session:
        add_signature(session, SLUG, person(keyring, "U0LENA"), keyring=keyring)
    [row] = _rows(db)
    assert row[2:] == (False, dt.date.today(), None, None)


def test_add_signature_is_refused_at_the_closing_time_it_is_given(db, keyring, campaign):
    with db.write() as session, pytest.raises(CampaignClosed) as closed:
        add_signature(session, SLUG, person(keyring, "U0LENA"), now=AFTER_CLOSING, keyring=keyring)
    assert str(closed.value) == "this campaign is closed and no longer takes signatures"
    assert _rows(db) == []
    assert _count(db) == 0


def test_add_signature_takes_a_choice_over_a_name(db, keyring, campaign):
    with db.write() as session:
        add_signature(
            session,
            SLUG,
            person(keyring, "U0LENA"),
            "Ignored",
            DAY,
            keyring=keyring,
            choice=Choice(name="Lena Maybe", threshold=3),
        )
    [row] = _rows(db)
    assert row[2:5] == (False, DAY, 3)


def _value(db: Database, keyring: Keyring, who: str) -> str:
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == SLUG))
    return keyring.campaign(key_id).signer(who)


def test_status_where_nobody_signed_or_the_person_did_not(db, keyring, campaign):
    lena = person(keyring, "U0LENA")
    with db.read() as session:
        # Nobody has signed: the campaign has no key, so nobody has a value in it.
        assert signer_status(session, SLUG, lena, keyring) == SignerStatus(False, False)
    sign_as(db, keyring, SLUG, "U0BOB", Choice(name="Bob Named"))
    with db.read() as session:
        assert signer_status(session, SLUG, lena, keyring) == SignerStatus(False, False)
        assert signer_status(session, SLUG, person(keyring, "U0BOB"), keyring) == SignerStatus(
            signed=True, named=True
        )


def test_status_of_a_campaign_that_does_not_exist_names_it(db, keyring, campaign):
    with db.read() as session, pytest.raises(CampaignNotFound) as missing:
        signer_status(session, "no-such-slug", person(keyring, "U0LENA"), keyring)
    assert (missing.value.slug, missing.value.known) == ("no-such-slug", [])


ASK_FOR_A_NAME = "Type the name to put on the letter, or choose to sign anonymously."


@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b\u202e\t\n"])
def test_a_missing_name_is_asked_for_in_so_many_words(raw):
    with pytest.raises(InvalidName) as refused:
        clean_name(raw)
    assert str(refused.value) == ASK_FOR_A_NAME
