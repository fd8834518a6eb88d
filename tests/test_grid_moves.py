"""Enterprise Grid as Slack really sends it: one person, one signature, whatever
ids Slack shows, and a workspace's move into a Grid.

Lena was a member of the app's workspace before it joined the organization: she
keeps her local id there (U0LENA0001) and has the organization's id elsewhere
(W0LENA0001). Requests are shaped like the samples in shared/slack: a workspace
outside a Grid, a workspace install inside one (team and enterprise named), an
org-wide install (team null on interactions, authorizations[0].team_id null on
events, the workspace only at the top of the event envelope).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.payloads import app_home_opened_body, message_im_body, view_submission_body
from console.server import FakeSlack, Fault
from console.workspace import TEAM_ID, FakeUser, Grid
from petition.signatures import add_signature, signer_hash
from storage.db import Database
from storage.models import Campaign, Signature
from tests.support.running import (
    SIGNING_SECRET,
    RunningBot,
    SlackDriver,
    make_settings,
    response_json,
)
from tests.support.scheduling import wait_for
from tests.support.signers import expected_value
from tests.support.signing import SLUG, open_by_click, opened_views, sign_values, view_text

ORG = "E0UNDRSGN"
HOME = TEAM_ID  # the workspace the app was installed in before the move
OTHER = "T0WORKSPB"  # another workspace of the organization
LENA = FakeUser(
    "U0LENA0001",
    "lena",
    "Lena Local",
    team_id=HOME,
    enterprise_id=ORG,
    enterprise_user_id="W0LENA0001",
)
WORKSPACE_INSTALL = Grid(enterprise_id=ORG, org_install=False)
ORG_WIDE = Grid(enterprise_id=ORG, org_install=True)


@contextlib.contextmanager
def running(fake: FakeSlack, database_url: str, db: Database, **extra: str) -> Iterator[RunningBot]:
    """The app as one process runs it; leaving the block stops it (a restart is a
    second block on the same database)."""
    settings = make_settings(fake, database_url, **extra)
    app = create_app(settings, db)
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
    try:
        yield RunningBot(settings, db, SlackDriver(server.url, fake), fake)
    finally:
        server.stop()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.workspace.add_user(LENA)
        yield fake


def _local_or_global(grid: Grid | None, team: str) -> str:
    """The id Slack shows Lena by: her local id in her own workspace (the
    translation Slack keeps for an app installed there before the move), the
    organization's id elsewhere and to org-wide installs."""
    if grid is None or (team == HOME and not grid.org_install):
        return LENA.id
    return LENA.global_id


def _click(bot: RunningBot, action: str, team: str, grid: Grid | None) -> dict[str, Any]:
    # What the click opened, followed past "one moment" when it is answered late.
    return open_by_click(bot, action, _local_or_global(grid, team), team_id=team, grid=grid)


def _submit(
    bot: RunningBot, view: dict[str, Any], values: dict[str, Any], team: str, grid: Grid | None
) -> dict[str, Any]:
    body = view_submission_body(view, _local_or_global(grid, team), values, team_id=team, grid=grid)
    return response_json(bot.slack.post(body, "application/x-www-form-urlencoded"))


def _sign(bot: RunningBot, team: str, grid: Grid | None) -> str:
    form = _click(bot, "sign_start", team, grid)
    if form.get("callback_id") != "sign_submit":
        return view_text(form)
    return view_text(_submit(bot, form, sign_values(), team, grid)["view"])


def _withdraw(bot: RunningBot, team: str, grid: Grid | None) -> str:
    form = _click(bot, "withdraw_start", team, grid)
    if form.get("callback_id") != "withdraw_submit":
        return view_text(form)
    return view_text(_submit(bot, form, {}, team, grid)["view"])


def _status(bot: RunningBot, team: str, grid: Grid | None) -> str:
    user = _local_or_global(grid, team)
    body = message_im_body("status", user, team_id=team, grid=grid)
    before = len(bot.fake.calls_to("chat.postEphemeral"))
    assert bot.slack.post(body, "application/json").status == 200
    # An event is acknowledged before it is acted on: the answer follows.
    wait_for(lambda: len(bot.fake.calls_to("chat.postEphemeral")) > before)
    replies = [c.params for c in bot.fake.calls_to("chat.postEphemeral")]
    return json.dumps(replies[-1]["blocks"])


def _home(bot: RunningBot, team: str, grid: Grid | None) -> str:
    user = _local_or_global(grid, team)
    body = app_home_opened_body(user, team_id=team, grid=grid)
    before = len(bot.fake.calls_to("views.publish"))
    assert bot.slack.post(body, "application/json").status == 200
    wait_for(lambda: len(bot.fake.calls_to("views.publish")) > before)
    return view_text(bot.fake.calls_to("views.publish")[-1].params["view"])


def _count(bot: RunningBot) -> int:
    with bot.db.read() as session:
        return session.scalar(select(Campaign.signature_count))


def _rows(bot: RunningBot) -> list[str]:
    with bot.db.read() as session:
        return list(session.scalars(select(Signature.signer_hash)))


@pytest.mark.parametrize(
    "grid", [WORKSPACE_INSTALL, ORG_WIDE], ids=["workspace install", "org-wide"]
)
def test_one_person_with_a_local_and_an_organization_id_signs_once(fake, database_url, db, grid):
    fake.workspace.grid = grid
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        assert "anonymously" in _sign(bot, HOME, grid)
        # Elsewhere in the organization Slack shows her by the organization's id.
        assert "already signed" in _sign(bot, OTHER, grid)
        assert "You have signed" in _status(bot, OTHER, grid)
        assert _count(bot) == 1
        assert _rows(bot) == [expected_value(bot.db, bot.settings, SLUG, LENA.global_id, ORG)]


def test_a_workspace_that_joins_a_grid_keeps_working_without_a_restart(fake, database_url, db):
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        assert "anonymously" in _sign(bot, HOME, None)
        # The workspace joins the organization: auth.test now names it, and so do
        # the requests. The same process goes on answering.
        fake.workspace.grid = WORKSPACE_INSTALL
        answer = response_json(bot.slack.command("", user=LENA.id, grid=WORKSPACE_INSTALL))
        assert answer["blocks"][0]["text"]["text"] == "We won't build it"
        assert "already signed" in _sign(bot, HOME, WORKSPACE_INSTALL)
        assert "already signed" in _sign(bot, OTHER, WORKSPACE_INSTALL)
        assert _count(bot) == 1


def test_a_grid_migration_event_reads_the_installation_again(fake, database_url, db):
    with running(fake, database_url, db) as bot:
        asked = len(fake.calls_to("auth.test"))
        fake.workspace.grid = WORKSPACE_INSTALL
        event = {
            "token": "unused",
            "team_id": HOME,
            "api_app_id": "A0UNDRSGN",
            "event": {"type": "grid_migration_finished", "enterprise_id": ORG},
            "type": "event_callback",
            "event_id": "Ev0GRIDMOVE1",
            "event_time": 1_800_000_000,
        }
        assert bot.slack.event(event).status == 200
        assert len(fake.calls_to("auth.test")) == asked + 1


@pytest.mark.parametrize("surface", ["click", "dm", "home"])
def test_the_move_carries_a_signature_over_once_from_any_surface(fake, database_url, db, surface):
    # Before: the app in Lena's workspace alone, where she signed.
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        assert "anonymously" in _sign(bot, HOME, None)
    # After: the workspace is in the Grid and the app installed org-wide. Lena's
    # first request comes from another workspace, by her organization id.
    fake.workspace.grid = ORG_WIDE
    with running(fake, database_url, db) as bot:
        if surface == "click":
            assert "already signed" in _sign(bot, OTHER, ORG_WIDE)
        elif surface == "dm":
            assert "You have signed" in _status(bot, OTHER, ORG_WIDE)
        else:
            assert "You have signed" in _home(bot, OTHER, ORG_WIDE)
        assert "already signed" in _sign(bot, OTHER, ORG_WIDE)
        assert "already signed" in _sign(bot, HOME, ORG_WIDE)
        assert _count(bot) == 1
        # She withdraws; it stays withdrawn, here and after a restart.
        assert "was deleted" in _withdraw(bot, OTHER, ORG_WIDE)
        assert _count(bot) == 0
        assert "You have not signed" in _status(bot, HOME, ORG_WIDE)
    with running(fake, database_url, db) as bot:
        assert "You have not signed" in _status(bot, HOME, ORG_WIDE)
        assert "You have not signed" in _home(bot, OTHER, ORG_WIDE)
        assert _rows(bot) == []
        assert _count(bot) == 0


@pytest.mark.parametrize("slack", ["busy", "slow"])
def test_a_form_opened_before_a_restart_asks_slack_for_her_in_time(fake, database_url, db, slack):
    # Her form carries our pass, but the process that receives it has never seen
    # her (restarted, no member directory): who she is in the organization is asked
    # of users.info at submission. That must keep Slack's deadline and say when
    # Slack is busy, as every other Slack call does. Before the fix, the queued
    # signing path asked on the request thread: "Something went wrong" when Slack
    # was busy, and an acknowledgement after 3.5 s when it was slow.
    fake.workspace.grid = WORKSPACE_INSTALL
    with running(fake, database_url, db, MEMBER_DIRECTORY="off") as bot:
        bot.import_campaign()
        form = _click(bot, "sign_start", HOME, WORKSPACE_INSTALL)
    with running(fake, database_url, db, MEMBER_DIRECTORY="off") as bot:
        if slack == "busy":
            fake.fail("users.info", Fault(status=429, retry_after=30), times=5)
        else:
            fake.delay("users.info", 3.5)
        body = view_submission_body(
            form, LENA.id, sign_values(), team_id=HOME, grid=WORKSPACE_INSTALL
        )
        started = time.monotonic()
        result = bot.slack.post(body, "application/x-www-form-urlencoded")
        took = time.monotonic() - started
        answer = json.dumps(response_json(result))
        assert took < 3.0, f"acknowledged after {took:.2f} s"
        assert "Something went wrong" not in answer
        if slack == "busy":
            assert "Slack is busy" in answer
            assert _count(bot) == 0
        else:
            assert "nothing is recorded until it does" in answer
            assert wait_for(lambda: _count(bot) == 1)
            assert wait_for(lambda: bot.fake.calls_to("views.update"))
            assert "You signed" in view_text(bot.fake.calls_to("views.update")[-1].params["view"])


def test_someone_slack_will_not_show_is_refused_not_told_slack_is_busy(fake, database_url, db):
    fake.workspace.grid = WORKSPACE_INSTALL
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        body_user = "U0STRANGER"  # users.info: user_not_found (a Slack Connect user, say)
        shown = open_by_click(bot, "sign_start", body_user, team_id=HOME, grid=WORKSPACE_INSTALL)
        text = view_text(shown)
        assert "Slack does not show your account" in text
        assert "busy" not in text
        assert _count(bot) == 0


def test_someone_slack_will_not_show_outside_a_grid_is_refused(fake, database_url, db):
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        assert bot.slack.click("sign_start", SLUG, user="U0STRANGER").status == 200
        text = view_text(opened_views(bot)[-1])
        assert "Slack does not show your account" in text
        assert "busy" not in text


@pytest.mark.parametrize("team", [HOME, OTHER], ids=["from her workspace", "from another"])
def test_a_signature_an_earlier_version_keyed_by_a_local_id_in_the_grid_is_found(
    fake, database_url, db, team
):
    # Before this version a Grid install hashed the id the payload showed: Lena,
    # shown by her local id in her workspace, was keyed (organization, U id).
    fake.workspace.grid = WORKSPACE_INSTALL
    with running(fake, database_url, db) as bot:
        bot.import_campaign()
        key = bot.settings.require_signer_key()
        with bot.db.write() as session:
            add_signature(session, SLUG, signer_hash(key, ORG, LENA.id), keyring=bot.keyring)
    with running(fake, database_url, db) as bot:
        assert "You have signed" in _status(bot, team, WORKSPACE_INSTALL)
        assert "already signed" in _sign(bot, HOME, WORKSPACE_INSTALL)
        assert "already signed" in _sign(bot, OTHER, WORKSPACE_INSTALL)
        assert _count(bot) == 1
        assert _rows(bot) == [expected_value(bot.db, bot.settings, SLUG, LENA.global_id, ORG)]


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_an_uninstall_reads_the_installation_again_and_tells_the_operator(
    fake, database_url, db, caplog, kind
):
    with running(fake, database_url, db) as bot:
        asked = len(fake.calls_to("auth.test"))
        fake.fail("auth.test", Fault(error="account_inactive"))
        event = {
            "token": "unused",
            "team_id": HOME,
            "api_app_id": "A0UNDRSGN",
            "event": {"type": kind},
            "type": "event_callback",
            "event_id": f"Ev0{kind[:8].upper()}",
            "event_time": 1_800_000_000,
        }
        assert bot.slack.event(event).status == 200
        assert len(fake.calls_to("auth.test")) == asked + 1
        assert "SLACK_BOT_TOKEN" in caplog.text
