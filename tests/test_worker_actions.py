"""WorkerActions, the calls the worker's listeners make: each returns plain results
(no ORM object outlives its transaction) or raises the domain's error, and does
what the listener used to do itself. The surfaces are tested end to end elsewhere
(test_signing, test_quicksign, test_signer_overview, test_grid, ...); this pins
the calls."""

from __future__ import annotations

import pytest

from petition.errors import CampaignNotFound, NoSignerKey
from petition.keyring import Keyring, person_digest
from petition.signatures import CampaignClosed, Choice, SignOutcome
from petition.subscriptions import Address, NotSigned
from petition.worker_actions import WorkerActions
from storage.db import Database
from tests.support.world import TEAM, make_campaign, person

SLUG, OTHER, CLOSED = "pay", "rota", "shut"
ALICE = Address(TEAM, "U0ALICE")


@pytest.fixture
def worker(db: Database, keyring: Keyring) -> WorkerActions:
    make_campaign(db, SLUG)
    make_campaign(db, OTHER)
    make_campaign(db, CLOSED, status="closed")
    return WorkerActions(db, keyring)


def test_a_person_is_the_keyrings_digest_and_needs_the_key(keyring: Keyring, db: Database):
    worker = WorkerActions(db, keyring)
    assert worker.person(TEAM, "U0ALICE") == person_digest(keyring.signer_key, TEAM, "U0ALICE")
    with pytest.raises(NoSignerKey):
        WorkerActions(db, None).person(TEAM, "U0ALICE")


def test_signing_says_what_the_confirmation_shows(worker: WorkerActions, keyring: Keyring):
    alice = person(keyring, "U0ALICE")
    signed = worker.sign(SLUG, alice, Choice(name="Alice"), ALICE)
    assert signed.outcome is SignOutcome.SIGNED
    assert signed.title == f"Campaign {SLUG}"
    assert signed.status is not None
    assert (signed.status.signed, signed.status.named, signed.status.subscribed) == (
        True,
        True,
        True,
    )
    again = worker.sign(SLUG, alice, Choice())
    assert again.outcome is SignOutcome.ALREADY_SIGNED
    # Read back: still named, still getting news.
    assert again.status == signed.status


def test_the_one_click_asks_for_no_status(worker: WorkerActions, keyring: Keyring):
    bob = person(keyring, "U0BOB")
    first = worker.sign(SLUG, bob, confirm=False)
    assert (first.outcome, first.status) == (SignOutcome.SIGNED, None)
    assert worker.sign(SLUG, bob, confirm=False).outcome is SignOutcome.ALREADY_SIGNED
    standing = worker.standing(SLUG, bob)
    assert (standing.signed, standing.named, standing.subscribed) == (True, False, False)


def test_signing_a_closed_or_unknown_campaign_is_refused(worker: WorkerActions, keyring: Keyring):
    alice = person(keyring, "U0ALICE")
    with pytest.raises(CampaignClosed):
        worker.sign(CLOSED, alice)
    with pytest.raises(CampaignNotFound):
        worker.sign("nope", alice)
    assert not worker.standing(SLUG, alice).signed


def test_changing_needs_a_signature_and_sets_news_either_way(
    worker: WorkerActions, keyring: Keyring
):
    alice = person(keyring, "U0ALICE")
    with pytest.raises(NotSigned):
        worker.change(SLUG, alice, Choice(name="Alice"), ALICE)
    worker.sign(SLUG, alice, Choice(), ALICE)
    changed = worker.change(SLUG, alice, Choice(name="Alice", threshold=5))
    assert changed.outcome is SignOutcome.SIGNED
    assert changed.status is not None
    assert (changed.status.threshold, changed.status.subscribed) == (5, False)
    mine = worker.signature(SLUG, alice)
    assert (mine.status.threshold, mine.name) == (5, "Alice")


def test_withdrawing_says_whether_there_was_a_signature(worker: WorkerActions, keyring: Keyring):
    alice = person(keyring, "U0ALICE")
    worker.sign(SLUG, alice, Choice(name="Alice"))
    first = worker.withdraw(SLUG, alice)
    assert (first.had_signed, first.title) == (True, f"Campaign {SLUG}")
    assert not worker.withdraw(SLUG, alice).had_signed
    assert worker.signature(SLUG, alice).name is None
    with pytest.raises(CampaignNotFound):
        worker.withdraw("nope", alice)


def test_status_lists_open_campaigns_and_those_still_signed(
    worker: WorkerActions, keyring: Keyring
):
    alice = person(keyring, "U0ALICE")
    worker.sign(OTHER, alice, Choice())
    lines = {view.slug: status.signed for view, status in worker.status(alice)}
    # The closed campaign she never signed is not hers to see in her status.
    assert lines == {SLUG: False, OTHER: True}


def test_news_is_followed_once_and_stopped_everywhere(worker: WorkerActions, keyring: Keyring):
    carol = person(keyring, "U0CAROL")
    followed = worker.follow(SLUG, carol, Address(TEAM, "U0CAROL"))
    assert (followed.new, followed.title) == (True, f"Campaign {SLUG}")
    assert not worker.follow(SLUG, carol, Address(TEAM, "U0CAROL")).new
    worker.follow(OTHER, carol, Address(TEAM, "U0CAROL"))
    assert worker.stop_news(carol) == 2
    assert worker.stop_news(carol) == 0


def test_adopting_moves_a_former_identity(worker: WorkerActions, keyring: Keyring):
    former, current = person(keyring, "U0LENA"), person(keyring, "W0LENA", "E0ORG")
    worker.sign(SLUG, former, Choice(name="Lena"))
    worker.adopt(current, [former])
    assert worker.signature(SLUG, current).name == "Lena"
    assert not worker.standing(SLUG, former).signed


def test_a_pass_holds_for_whom_it_was_issued(worker: WorkerActions):
    token = worker.issue_pass("E0ORG", TEAM, "U0ALICE", SLUG)
    assert worker.pass_holds(token, "E0ORG", TEAM, "U0ALICE", SLUG)
    assert not worker.pass_holds(token, "E0ORG", TEAM, "U0BOB", SLUG)
    assert not worker.pass_holds(None, "E0ORG", TEAM, "U0ALICE", SLUG)
