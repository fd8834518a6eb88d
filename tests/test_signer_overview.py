"""A signer's overview (the App Home): every open campaign, and every other one
they are still on, each with their exact status, and nobody else's.

Lena has signed an open campaign (named, with news), a closed one
(conditionally) and one that has passed its closing time. Bob has signed others.
Whether a campaign is listed depends on Lena's rows and on whether it is open at
the time asked; a copy of the campaigns made before a campaign's first signature
still finds that signature.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from petition.campaigns import PUBLIC_CAMPAIGNS, campaign_view
from petition.keyring import Keyring
from petition.signatures import Choice, SignerStatus, signer_overview
from petition.subscriptions import Address, subscribe
from storage.db import Database
from storage.models import Campaign, CampaignStatus
from tests.support.world import TEAM, make_campaign, person, sign_as

CLOSES = dt.date(2027, 3, 1)
BEFORE_CLOSING = dt.datetime(2027, 2, 28, 23, 59, tzinfo=dt.UTC)
# The closing date is the last day to sign: it closes at the midnight after it.
AFTER_CLOSING = dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)
NOT_SIGNED = SignerStatus(signed=False, named=False)


@pytest.fixture
def world(db: Database, keyring: Keyring) -> None:
    for slug in ("signed", "nobody", "bobs", "closed", "closed-bobs", "closing", "draft"):
        make_campaign(db, slug, closes=CLOSES if slug == "closing" else None)
    sign_as(db, keyring, "signed", "U0LENA", Choice(name="Lena Named"))
    sign_as(db, keyring, "signed", "U0BOB")
    sign_as(db, keyring, "bobs", "U0BOB", Choice(name="Bob Named"))
    sign_as(db, keyring, "closed", "U0BOB", Choice(name="Bob Named"))
    sign_as(db, keyring, "closed", "U0LENA", Choice(name="Lena Maybe", threshold=1))
    sign_as(db, keyring, "closed-bobs", "U0BOB")
    sign_as(db, keyring, "closing", "U0LENA")
    with db.write() as session:
        subscribe(session, "signed", person(keyring, "U0LENA"), keyring, Address(TEAM, "U0LENA"))
        subscribe(session, "bobs", person(keyring, "U0BOB"), keyring, Address(TEAM, "U0BOB"))
        for slug, status in (("closed", CampaignStatus.CLOSED), ("closed-bobs", "closed")):
            session.execute(update(Campaign).where(Campaign.slug == slug).values(status=status))
        session.execute(
            update(Campaign).where(Campaign.slug == "draft").values(status=CampaignStatus.DRAFT)
        )


def _overview(
    db: Database, keyring: Keyring, user: str, now: dt.datetime | None
) -> list[tuple[str, bool, SignerStatus]]:
    with db.read() as session:
        rows = signer_overview(session, person(keyring, user), keyring, now)
    return [(view.slug, view.is_open, status) for view, status in rows]


LENA_SIGNED = SignerStatus(signed=True, named=True, subscribed=True)
LENA_CLOSED = SignerStatus(signed=True, named=False, threshold=1, named_today=True)
LENA_CLOSING = SignerStatus(signed=True, named=False)


def test_lena_sees_the_open_campaigns_and_those_she_is_on(db, keyring, world):
    assert _overview(db, keyring, "U0LENA", BEFORE_CLOSING) == [
        ("signed", True, LENA_SIGNED),
        ("nobody", True, NOT_SIGNED),
        ("bobs", True, NOT_SIGNED),
        ("closed", False, LENA_CLOSED),
        ("closing", True, LENA_CLOSING),
    ]
    # Past its closing time the campaign is listed as closed: she is still on it.
    assert _overview(db, keyring, "U0LENA", AFTER_CLOSING)[-1] == ("closing", False, LENA_CLOSING)


def test_a_person_who_signed_nothing_sees_what_is_open_at_the_time_asked(db, keyring, world):
    open_now = [
        ("signed", True, NOT_SIGNED),
        ("nobody", True, NOT_SIGNED),
        ("bobs", True, NOT_SIGNED),
        ("closing", True, NOT_SIGNED),
    ]
    assert _overview(db, keyring, "U0ERIN", BEFORE_CLOSING) == open_now
    assert _overview(db, keyring, "U0ERIN", AFTER_CLOSING) == open_now[:3]
    # Without a time: now (before the closing date, which is in the future).
    assert _overview(db, keyring, "U0ERIN", None) == open_now


def test_bob_sees_his_own_statuses_not_lenas(db, keyring, world):
    assert _overview(db, keyring, "U0BOB", AFTER_CLOSING) == [
        ("signed", True, SignerStatus(signed=True, named=False)),
        ("nobody", True, NOT_SIGNED),
        ("bobs", True, SignerStatus(signed=True, named=True, subscribed=True)),
        ("closed", False, SignerStatus(signed=True, named=True)),
        ("closed-bobs", False, SignerStatus(signed=True, named=False)),
    ]


def test_a_copy_made_before_the_first_signature_still_finds_it(db, keyring, world):
    with db.read() as session:
        views = [campaign_view(c, BEFORE_CLOSING) for c in session.scalars(PUBLIC_CAMPAIGNS)]
    nobody = next(view for view in views if view.slug == "nobody")
    assert nobody.key_id is None
    sign_as(db, keyring, "nobody", "U0LENA", Choice(name="Lena First"))
    with db.read() as session:
        assert session.scalar(select(Campaign.key_id).where(Campaign.slug == "nobody"))
        rows = signer_overview(session, person(keyring, "U0LENA"), keyring, views=views)
        others = signer_overview(session, person(keyring, "U0ERIN"), keyring, views=views)
    assert [(view.slug, status) for view, status in rows] == [
        ("signed", LENA_SIGNED),
        ("nobody", SignerStatus(signed=True, named=True)),
        ("bobs", NOT_SIGNED),
        ("closed", LENA_CLOSED),
        ("closing", LENA_CLOSING),
    ]
    assert [(view.slug, status) for view, status in others] == [
        (slug, NOT_SIGNED) for slug in ("signed", "nobody", "bobs", "closing")
    ]
