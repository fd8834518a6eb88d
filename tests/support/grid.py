"""An Enterprise Grid organization and its people."""

from __future__ import annotations

from typing import Any

from console.payloads import view_submission_body
from console.workspace import FakeUser, Grid
from tests.support.running import RunningBot, response_json
from tests.support.signing import SLUG, opened_views

ORG = "E0UNDRSGN"
WORKSPACE_A = "T0WORKSPA"
WORKSPACE_B = "T0WORKSPB"
WENDY = FakeUser("W0WENDY001", "wendy", "Wendy Grid", team_id=WORKSPACE_A, enterprise_id=ORG)


def grid_click(bot: RunningBot, action: str, user: str, team: str, grid: Grid) -> dict[str, Any]:
    assert bot.slack.click(action, SLUG, user=user, team_id=team, grid=grid).status == 200
    return opened_views(bot)[-1]


def grid_submit(
    bot: RunningBot, view: dict[str, Any], values: dict[str, Any], user: str, team: str, grid: Grid
) -> dict[str, Any]:
    body = view_submission_body(view, user, values, team_id=team, grid=grid)
    return response_json(bot.slack.post(body, "application/x-www-form-urlencoded"))
