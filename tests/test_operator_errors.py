"""What an operator sees when a setting or an argument is wrong: one clear line and
exit status 2, never a traceback, never a password; and quiet commands, so that a
cron job mails nothing when nothing went wrong."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.cli import Cli
from tests.support.running import SIGNER_KEY

CAMPAIGN = """\
slug = "wewontbuildit"
title = "We won't build it"
statement = \"\"\"We, the undersigned, ask our employer to stop.\"\"\"
demands = ["Cancel the contract", "Publish the terms", "No retaliation"]
milestones = [100, 250, 400]
channel = "C0123456789"
"""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, tmp_path / "data" / "undersigned.db")


def _one_clear_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "command", [("campaign", "list"), ("campaign", "letter", "x"), ("console",)]
)
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://someone@localhost/undersigned", "not a database this bot can use"),
        ("sqlite:///{tmp}", "cannot open the database"),
        ("postgresql+psycopg://bot:hunter2secret@127.0.0.1:{port}/db", "cannot open"),
        ("postgresql+psycopg://bot:hunter2secret@127.0.0.1:54x/db", "not a database"),
    ],
    ids=["driver-not-installed", "a-directory", "server-not-answering", "port-not-a-number"],
)
def test_a_database_that_cannot_be_opened_is_one_line(cli, command, url, said):
    """Before: a traceback for each of these (ModuleNotFoundError, OperationalError)."""
    url = url.format(tmp=cli.cwd, port=_closed_port())
    done = cli.run(*command, DATABASE_URL=url, SIGNER_KEY=SIGNER_KEY)
    line = _one_clear_line(done)
    assert said in line
    assert "DATABASE_URL" in line
    assert "hunter2secret" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    "url", ['"sqlite:///quoted.db"', "postgresql+psycopg://bot:hunter2secret@127.0.0.1:54x/db"]
)
def test_a_url_that_is_not_one_is_one_line_for_the_console_without_a_key(cli, url):
    """Before: ArgumentError or ValueError, and a traceback, when SIGNER_KEY is unset."""
    done = cli.run("console", DATABASE_URL=url)
    line = _one_clear_line(done)
    assert "not a database this bot can use" in line
    assert "hunter2secret" not in done.stderr + done.stdout


def test_a_directory_given_to_import_is_one_line(cli):
    """Before: IsADirectoryError and its traceback."""
    line = _one_clear_line(cli.run("campaign", "import", str(cli.cwd)))
    assert "a directory" in line


def test_a_huge_milestone_in_a_file_is_a_clear_error(cli):
    """Before: OverflowError from the database driver, and its traceback."""
    path = cli.write("c.toml", CAMPAIGN.replace("[100, 250, 400]", "[100, 1000000000000000000000]"))
    line = _one_clear_line(cli.run("campaign", "import", str(path)))
    assert "Milestones can be at most 1,000,000" in line
    assert cli.holds_nothing()


def test_every_problem_of_a_file_is_reported_at_once(cli):
    """Before: only the first problem, one import per mistake."""
    broken = (
        CAMPAIGN.replace('"wewontbuildit"', '"Bad Slug!"')
        .replace("[100, 250, 400]", "[3]")
        .replace('"C0123456789"', '"#general"')
    )
    done = cli.run("campaign", "import", str(cli.write("c.toml", broken)))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    said = done.stderr
    assert "short name" in said
    assert "Milestones below 5" in said
    assert "announcement channel" in said
    assert "3 problems; nothing was changed" in said
    # No internal field name appears in the message itself.
    assert "channel_id" not in said


def test_a_closing_date_of_today_is_accepted(cli):
    """Before: "`closes` is in the past" for today's date, the last day to sign."""
    today = dt.datetime.now(ZoneInfo("Europe/London")).date()
    path = cli.write("c.toml", CAMPAIGN + f"closes = {today.isoformat()}\n")
    done = cli.run("campaign", "import", str(path), TIMEZONE="Europe/London")
    assert done.returncode == 0, done.stderr
    [campaign] = cli.campaigns()
    assert campaign["status"] == "open"


def test_commands_are_quiet_once_the_database_is_migrated(cli):
    """Before: every command printed alembic's INFO lines (Context impl ..., Will
    assume ...), which a cron job mails."""
    cli.ok("campaign", "list")  # creates and migrates the database
    again = cli.run("campaign", "list", "--json")
    assert again.returncode == 0
    assert again.stderr == ""
    letter = cli.run("campaign", "letter", "nothing-here")
    assert "alembic" not in letter.stderr
    assert "INFO" not in letter.stderr


def test_env_example_says_what_run_does_without_tokens():
    """Before: it said `run` without tokens "prints what to set and exits"; it starts
    the console (tests/test_cli.py checks that)."""
    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    [line] = [line for line in example.splitlines() if line.startswith("#   neither")]
    assert "console" in line
    assert "exits" not in line
