"""Enterprise Grid: one signer across the organization's workspaces, org-wide and
workspace installs, Slack Connect users refused, other organizations refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.server import FakeSlack
from console.workspace import FakeUser, Grid
from storage.db import Database
from storage.models import Campaign, Signature
from tests.support.grid import ORG, WENDY, WORKSPACE_A, WORKSPACE_B, grid_click, grid_submit
from tests.support.running import (
    SIGNING_SECRET,
    RunningBot,
    SlackDriver,
    make_settings,
    response_json,
)
from tests.support.signing import SLUG, ephemerals_to, sign_values, view_text

OUTSIDER = FakeUser(
    "W0OUTSID01", "out", "Outside Org", team_id="T0OTHER01", enterprise_id="E0OTHERORG"
)


def _start(
    fake: FakeSlack, database_url: str, db: Database, *, with_campaign: bool = True
) -> Iterator[RunningBot]:
    settings = make_settings(fake, database_url)
    app = create_app(settings, db)
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
    bot = RunningBot(settings, db, SlackDriver(server.url, fake), fake)
    if with_campaign:
        bot.import_campaign()
    try:
        yield bot
    finally:
        server.stop()


@pytest.fixture(params=[True, False], ids=["org-wide install", "workspace install in a Grid"])
def grid(request: pytest.FixtureRequest) -> Grid:
    return Grid(enterprise_id=ORG, org_install=request.param)


@pytest.fixture
def grid_bot(grid: Grid, database_url: str, db: Database) -> Iterator[RunningBot]:
    with FakeSlack() as fake:
        fake.workspace.grid = grid
        fake.workspace.add_user(WENDY)
        fake.workspace.add_user(OUTSIDER)
        yield from _start(fake, database_url, db)


def _count(bot: RunningBot) -> int:
    with bot.db.read() as session:
        return session.scalar(select(Campaign.signature_count))


def test_one_signer_across_the_organizations_workspaces(grid_bot, grid):
    bot = grid_bot
    form = grid_click(bot, "sign_start", WENDY.id, WORKSPACE_A, grid)
    answer = grid_submit(bot, form, sign_values(), WENDY.id, WORKSPACE_A, grid)
    assert "anonymously" in view_text(answer["view"])
    assert _count(bot) == 1
    # From a second workspace of the same organization: already signed.
    again = grid_click(bot, "sign_start", WENDY.id, WORKSPACE_B, grid)
    assert "already signed" in view_text(again)
    bot.slack.dm("status", user=WENDY.id, team_id=WORKSPACE_B, grid=grid)
    assert "You have signed anonymously." in view_text(ephemerals_to(bot, WENDY.id)[-1])
    # Withdraw from the second workspace.
    confirm = grid_click(bot, "withdraw_start", WENDY.id, WORKSPACE_B, grid)
    done = grid_submit(bot, confirm, {}, WENDY.id, WORKSPACE_B, grid)
    assert "was deleted" in view_text(done["view"])
    assert _count(bot) == 0
    with bot.db.read() as session:
        assert session.scalars(select(Signature)).all() == []


def test_the_form_pass_opened_by_a_click_holds_at_submission(grid_bot, grid):
    # Org-wide: the click says the person's workspace (user.team_id), the
    # submission the installed one (view.app_installed_team_id); Bolt reads the
    # team from each, so a pass tied to Bolt's team id never held and every
    # submission asked users.info again inside Slack's 3 seconds.
    bot = grid_bot
    form = grid_click(bot, "sign_start", WENDY.id, WORKSPACE_A, grid)
    asked = len(bot.fake.calls_to("users.info"))
    answer = grid_submit(bot, form, sign_values(), WENDY.id, WORKSPACE_A, grid)
    assert "anonymously" in view_text(answer["view"])
    assert len(bot.fake.calls_to("users.info")) == asked
    assert _count(bot) == 1


def test_slash_commands_and_home_work_in_grid_shapes(grid_bot, grid):
    bot = grid_bot
    answer = response_json(bot.slack.command("", user=WENDY.id, team_id=WORKSPACE_B, grid=grid))
    assert answer["blocks"][0]["text"]["text"] == "We won't build it"
    from console.payloads import app_home_opened_body

    bot.slack.post(
        app_home_opened_body(WENDY.id, team_id=WORKSPACE_A, grid=grid), "application/json"
    )
    [published] = bot.fake.calls_to("views.publish")
    assert "You have not signed." in view_text(published.params["view"])


def test_a_slack_connect_user_is_refused(grid_bot, grid):
    bot = grid_bot
    form = grid_click(bot, "sign_start", OUTSIDER.id, WORKSPACE_A, grid)
    assert "another organization" in view_text(form)
    forged = {"callback_id": "sign_submit", "private_metadata": json.dumps({"slug": SLUG})}
    answer = grid_submit(bot, forged, sign_values(), OUTSIDER.id, WORKSPACE_A, grid)
    assert "another organization" in view_text(answer["view"])
    assert _count(bot) == 0


def test_requests_from_another_organization_are_refused(grid_bot, grid):
    bot = grid_bot
    other = Grid(enterprise_id="E0OTHERORG", org_install=grid.org_install)
    answer = response_json(bot.slack.command("", user=WENDY.id, team_id="T0OTHER01", grid=other))
    assert "not installed in your workspace" in answer["text"]
    # And a plain workspace request, naming no organization, is not ours either.
    answer = response_json(bot.slack.command("", user=WENDY.id, team_id="T0LONELY1"))
    assert "not installed in your workspace" in answer["text"]
