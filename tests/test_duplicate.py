"""Starting a campaign from an old one (`campaign duplicate`), and putting a
closed one away (`campaign archive`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Cli

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
