"""The organizer's use cases as listeners call them (petition/organizer_actions.py):
each refuses someone who does not manage the campaign, opens its own transaction
and hands back results that outlive it. And the home workspaces, recorded
through the process's keyring (petition/workspaces.py)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from petition.campaign_spec import parse_campaign
from petition.errors import CampaignIsDraft, CampaignNotFound, NotAnOrganizer
from petition.keyring import Keyring
from petition.kinds import CampaignStatus, UpdateKind
from petition.organizer_actions import OrganizerActions
from petition.organizing import Organizers, StatusChange
from petition.workspaces import HomeWorkspaces
from storage.db import Database
from storage.models import HomeWorkspace

TZ = ZoneInfo("Europe/London")
BOSS = "U0BOSS0001"  # in ORGANIZERS: may create and manage everything
LOCAL = "U0LOCAL001"  # an organizer of the one campaign only
STRANGER = "U0STRANG01"


@pytest.fixture
def organizer(db: Database, keyring: Keyring) -> OrganizerActions:
    actions = OrganizerActions(db, keyring, Organizers(frozenset({BOSS})), TZ)
    spec = parse_campaign(
        {
            "slug": "fair-pay",
            "title": "Fair pay",
            "statement": "We ask for fair pay.",
            "demands": ["A raise"],
            "organizers": [LOCAL],
            "status": "draft",
        },
        TZ,
    )
    actions.save(BOSS, spec, creating=True)
    return actions


CALLS: dict[str, Callable[[OrganizerActions, str], object]] = {
    "manageable": lambda o, who: o.manageable(who),
    "row": lambda o, who: o.row(who, "fair-pay"),
    "editing": lambda o, who: o.editing(who, "fair-pay"),
    "history": lambda o, who: o.history(who, "fair-pay"),
    "audience": lambda o, who: o.audience(who, "fair-pay"),
    "card_view": lambda o, who: o.card_view(who, "fair-pay"),
    "change_status": lambda o, who: o.change_status(who, "fair-pay", StatusChange.OPEN),
    "set_archived": lambda o, who: o.set_archived(who, "fair-pay", True),
    "letter": lambda o, who: o.letter(who, "fair-pay"),
    "forget": lambda o, who: o.forget(who, "fair-pay"),
    "send_news": lambda o, who: o.send_news(who, "fair-pay", UpdateKind.NEWS, "Hello", True),
    "record_card": lambda o, who: o.record_card(who, "fair-pay", "C0CHAN0001", "1.2", "x"),
    "require_creator": lambda o, who: o.require_creator(who),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_call_refuses_someone_who_organizes_nothing(organizer, call):
    with pytest.raises(NotAnOrganizer):
        CALLS[call](organizer, STRANGER)


def test_a_campaign_organizer_manages_it_but_may_not_create(organizer):
    rows = organizer.manageable(LOCAL)
    assert [r.slug for r in rows.rows] == ["fair-pay"]
    assert not rows.may_create
    assert organizer.manageable(BOSS).may_create
    with pytest.raises(NotAnOrganizer):
        organizer.require_creator(LOCAL)


def test_results_outlive_their_transaction(organizer):
    # Read after each call's session closed: nothing in them is loaded lazily.
    editing = organizer.editing(LOCAL, "fair-pay")
    assert editing.spec.demands == ("A raise",)
    assert editing.spec.organizers == (LOCAL,)
    assert not editing.locked
    history = organizer.history(LOCAL, "fair-pay")
    assert history.row.status == "draft"
    assert [line.action for line in history.audit] == ["create"]
    assert history.audit[0].actor == BOSS
    assert organizer.audience(LOCAL, "fair-pay").subscribers == 0


def test_a_draft_exists_for_its_organizers_only(organizer):
    view = organizer.draft_view(LOCAL, "fair-pay")
    assert view is not None
    assert view.status is CampaignStatus.DRAFT
    # Someone else's draft and a campaign that does not exist look the same.
    assert organizer.draft_view(STRANGER, "fair-pay") is None
    assert organizer.draft_view(LOCAL, "no-such") is None
    assert organizer.draft_view("", "fair-pay") is None
    with pytest.raises(CampaignIsDraft, match="`fair-pay` is a draft"):
        organizer.card_view(LOCAL, "fair-pay")
    organizer.change_status(LOCAL, "fair-pay", StatusChange.OPEN)
    assert organizer.draft_view(LOCAL, "fair-pay") is None
    assert organizer.card_view(LOCAL, "fair-pay").slug == "fair-pay"


def test_an_unknown_campaign_names_the_known_ones(organizer):
    with pytest.raises(CampaignNotFound) as missing:
        organizer.row(BOSS, "fair-pai")
    assert missing.value.known == ["fair-pay"]


def test_a_home_workspace_is_recorded_once_and_read_back(db, keyring):
    homes = HomeWorkspaces(db, keyring)
    assert homes.all() == ()
    homes.record("T0TEAM")
    homes.record("T0TEAM")
    # A second process (another HomeWorkspaces) reads what the first recorded.
    assert HomeWorkspaces(db, keyring).all() == ("T0TEAM",)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(HomeWorkspace)) == 1
        sealed = session.scalar(select(HomeWorkspace.sealed_team))
    assert sealed is not None
    assert "T0TEAM" not in sealed
