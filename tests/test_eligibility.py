"""Who may sign, from users.info's `user` object as Slack sends it: full members
of the workspace (or, in an Enterprise Grid, of the organization), nobody else;
a missing or malformed flag never lets anyone through."""

from __future__ import annotations

from typing import Any

import pytest

from petition.eligibility import BOT, DEACTIVATED, EXTERNAL, GUEST, refusal, suggested_name

TEAM, ORG = "T0UNDRSGN", "E0ORGANIZ"


def _member(**more: Any) -> dict[str, Any]:
    return {"id": "U0MEMBER01", "team_id": TEAM, **more}


def test_the_refusals_say_who_may_sign():
    assert GUEST.startswith("Only full members of this workspace can sign.")
    assert EXTERNAL.startswith("Only members of this organization can sign.")
    assert BOT == "Bots and apps cannot sign."
    assert DEACTIVATED == "This account is deactivated and cannot sign."


@pytest.mark.parametrize(
    ("user", "why"),
    [
        (_member(), None),
        (_member(is_bot=False, deleted=False, is_restricted=False), None),
        ({"team_id": TEAM}, GUEST),  # no id
        (_member(id=""), GUEST),
        ("U0MEMBER01", GUEST),  # not an object at all
        (_member(is_bot=True), BOT),
        (_member(is_workflow_bot=True), BOT),
        (_member(id="USLACKBOT"), BOT),
        (_member(deleted=True), DEACTIVATED),
        (_member(is_bot=True, deleted=True), BOT),  # a deleted bot is a bot
        (_member(deleted=True, is_stranger=True), DEACTIVATED),
        (_member(is_stranger=True), EXTERNAL),
        (_member(team_id="T0ELSEWHERE"), EXTERNAL),
        (_member(team_id=None), None),  # no team said: judged by the other flags
        (_member(is_restricted=True), GUEST),
        (_member(is_ultra_restricted=True), GUEST),
        (_member(is_invited_user=True), GUEST),
        (_member(is_stranger=True, is_restricted=True), EXTERNAL),
        (_member(team_id="T0ELSEWHERE", is_restricted=True), EXTERNAL),
    ],
)
def test_who_may_sign_in_a_workspace(user: Any, why: str | None):
    assert refusal(user, TEAM) == why


def test_without_a_workspace_to_compare_any_member_may_sign():
    assert refusal(_member(team_id="T0ELSEWHERE"), None) is None


@pytest.mark.parametrize(
    ("user", "why"),
    [
        # Any workspace of the organization: the user's team_id does not matter.
        (_member(team_id="T0OTHERWS", enterprise_user={"enterprise_id": ORG}), None),
        (_member(enterprise_user={"enterprise_id": "E0ELSEWHE"}), EXTERNAL),
        (_member(), EXTERNAL),  # no enterprise_user at all
        (_member(enterprise_user="E0ORGANIZ"), EXTERNAL),  # malformed
        (_member(enterprise_user={"enterprise_id": ORG}, is_restricted=True), GUEST),
        (_member(enterprise_user={"enterprise_id": ORG}, is_stranger=True), EXTERNAL),
    ],
)
def test_who_may_sign_in_an_enterprise_grid(user: dict[str, Any], why: str | None):
    assert refusal(user, TEAM, ORG) == why


@pytest.mark.parametrize(
    ("user", "name"),
    [
        ({"profile": {"real_name": " Ada Lovelace ", "display_name": "ada"}}, "Ada Lovelace"),
        ({"real_name": "Ada L", "profile": {"display_name": "ada"}}, "Ada L"),
        ({"profile": {"real_name": "  ", "display_name": "ada"}}, "ada"),
        ({"real_name": "Ada L", "profile": "not an object"}, "Ada L"),
        ({"profile": {"real_name": 7, "display_name": ""}}, None),
        ({}, None),
    ],
)
def test_the_suggested_name_is_what_colleagues_know_them_by(user: dict[str, Any], name):
    assert suggested_name(user) == name
