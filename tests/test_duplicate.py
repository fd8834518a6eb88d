"""Starting a campaign from an old one (`campaign duplicate`), and putting a
closed one away (`campaign archive`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from console.workspace import FakeChannel
from storage.models import Campaign
from tests.support.cli import Cli
from tests.support.organizers import DANA, SLUG, open_editor
from tests.support.running import response_json
from tests.support.signing import view_text

CAMPAIGN = """\
slug = "wewontbuildit"
title = "We won't build it"
addressee = "The Board of Acme"
statement = \"\"\"We, the undersigned, ask our employer to stop.\"\"\"
demands = ["Cancel the contract", "Publish the terms"]
milestones = [100, 250]
channel = "C0123456789"
closes = 2099-03-01
"""


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, tmp_path / "data" / "undersigned.db")


def test_duplicate_makes_a_draft_from_an_old_campaign(cli):
    cli.ok("campaign", "import", str(cli.write("c.toml", CAMPAIGN)))
    cli.ok("campaign", "close", "wewontbuildit")
    done = cli.run("campaign", "duplicate", "wewontbuildit", "second-round")
    assert done.returncode == 0, done.stderr
    copy = {c["slug"]: c for c in cli.campaigns()}["second-round"]
    assert copy["status"] == "draft"
    assert copy["title"] == "We won't build it"
    assert copy["signatures"] == 0
    assert copy["closes_at"] is None  # a new campaign needs its own closing date
    # The same name twice, or a bad one: one clear line each.
    again = cli.run("campaign", "duplicate", "wewontbuildit", "second-round")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    bad = cli.run("campaign", "duplicate", "wewontbuildit", "Not A Slug")
    assert bad.returncode == 2
    assert "short name" in bad.stderr
    assert "Traceback" not in again.stderr + bad.stderr


def test_archive_puts_a_closed_campaign_away_and_refuses_an_open_one(cli):
    cli.ok("campaign", "import", str(cli.write("c.toml", CAMPAIGN)))
    refused = cli.run("campaign", "archive", "wewontbuildit")
    assert refused.returncode == 2
    assert "closed" in refused.stderr
    cli.ok("campaign", "close", "wewontbuildit")
    assert "archived" in cli.ok("campaign", "archive", "wewontbuildit")


def test_duplicate_from_the_organizer_view_fills_a_new_campaigns_form(running_bot):
    """Before: only a blank form; an old campaign had to be typed in again."""

    bot = running_bot
    bot.fake.workspace.add_user(DANA)
    bot.fake.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    bot.import_campaign(addressee="The Board of Acme")
    form = open_editor(bot, "admin_duplicate", SLUG, user=DANA.id)
    fields = {b["block_id"]: b["element"] for b in form["blocks"] if b["type"] == "input"}
    assert fields["slug"].get("initial_value", "") == ""
    assert fields["title"]["initial_value"] == "We won't build it"
    assert fields["addressee"]["initial_value"] == "The Board of Acme"
    assert fields["demand_1"]["initial_value"] == "Cancel the contract"
    values = {
        b: {b: {"type": "plain_text_input", "value": e.get("initial_value", "")}}
        for b, e in fields.items()
        if e["type"] == "plain_text_input"
    }
    values["slug"] = {"slug": {"type": "plain_text_input", "value": "second-round"}}
    values["channel"] = {
        "channel": {"type": "conversations_select", "selected_conversation": "C0ANNOUNCE"}
    }
    answer = response_json(bot.slack.submit(form, values, user=DANA.id))
    assert "Created `second-round` as a *draft*" in view_text(answer["view"])
    with bot.db.read() as session:
        copy = session.scalar(select(Campaign).where(Campaign.slug == "second-round"))
        assert copy is not None
        assert [d.text for d in copy.demands] == [
            "Cancel the contract",
            "Publish the terms",
            "No retaliation",
        ]
        assert copy.addressee == "The Board of Acme"
