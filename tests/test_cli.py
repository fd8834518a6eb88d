"""The command line as operators use it: real subprocesses, real SQLite files, and
the real HTTP server talking to a fake Slack."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import load_settings
from console.payloads import sign, slash_command_body
from console.server import FakeSlack
from petition.signatures import add_signature, signer_hash
from storage.db import Database
from tests.support.cli import Cli
from tests.support.databases import ON_POSTGRES
from tests.support.httpclient import get, post
from tests.support.running import ALICE, SIGNER_KEY, SIGNING_SECRET

CAMPAIGN = """\
slug = "wewontbuildit"
title = "We won't build it"
statement = \"\"\"We, the undersigned, ask our employer to stop.\"\"\"
demands = ["Cancel the contract", "Publish the terms", "No retaliation"]
milestones = [100, 250, 400]
channel = "C0123456789"
closes = 2099-03-01
"""


@pytest.fixture
def cli(tmp_path: Path, request: pytest.FixtureRequest) -> Cli:
    url = request.getfixturevalue("database_url") if ON_POSTGRES else None
    return Cli(tmp_path, tmp_path / "data" / "undersigned.db", url)


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """On a SQLite file whatever the suite runs on: which file appears tells
    which setting won."""
    return Cli(tmp_path, tmp_path / "data" / "undersigned.db")


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- campaign import / list ---------------------------------------------------


def test_importing_twice_changes_nothing_the_second_time(cli):
    path = cli.write("campaign.toml", CAMPAIGN)
    assert cli.ok("campaign", "import", str(path)).strip() == "imported: wewontbuildit"
    assert cli.ok("campaign", "import", str(path)).strip() == "unchanged: wewontbuildit"
    [campaign] = cli.campaigns()
    assert campaign["slug"] == "wewontbuildit"
    assert campaign["title"] == "We won't build it"
    assert campaign["status"] == "open"
    assert campaign["signatures"] == 0
    assert type(campaign["signatures"]) is int


def test_importing_an_edited_file_updates_the_campaign(cli):
    path = cli.write("campaign.toml", CAMPAIGN)
    cli.ok("campaign", "import", str(path))
    cli.write("campaign.toml", CAMPAIGN.replace("We won't build it", "We still won't build it"))
    assert cli.ok("campaign", "import", str(path)).strip() != "unchanged: wewontbuildit"
    [campaign] = cli.campaigns()
    assert campaign["title"] == "We still won't build it"
    assert cli.ok("campaign", "import", str(path)).strip() == "unchanged: wewontbuildit"


def test_list_reports_exact_counts(cli):
    cli.ok("campaign", "import", str(cli.write("a.toml", CAMPAIGN)))
    other = CAMPAIGN.replace('"wewontbuildit"', '"fair-pay"').replace(
        "We won't build it", "Fair pay now"
    )
    cli.ok("campaign", "import", str(cli.write("b.toml", other)))

    settings = load_settings({"SIGNER_KEY": SIGNER_KEY, "DATABASE_URL": cli.url})
    key, keyring = settings.require_signer_key(), settings.keyring()
    db = Database.from_url(cli.url)
    try:
        with db.write() as session:
            for i in range(7):
                person = signer_hash(key, "T0TEST", f"U{i:09d}")
                add_signature(session, "wewontbuildit", person, keyring=keyring)
    finally:
        db.dispose()

    counts = {c["slug"]: c["signatures"] for c in cli.campaigns()}
    # Exact for operators, even below the threshold at which workers see "fewer than 5".
    assert counts == {"wewontbuildit": 7, "fair-pay": 0}


def test_list_without_campaigns_is_an_empty_json_list(cli):
    assert cli.campaigns() == []


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (CAMPAIGN.replace('title = "We won\'t build it"\n', ""), "title"),
        (CAMPAIGN.replace("[100, 250, 400]", "[3, 100]"), "milestones"),
        (CAMPAIGN.replace('"wewontbuildit"', '"Bad Slug!"'), "slug"),
        (CAMPAIGN.replace('"C0123456789"', '"#general"'), "channel"),
        (CAMPAIGN + "title = [unclosed\n", "TOML"),
        (CAMPAIGN + 'colour = "red"\n', "colour"),
    ],
    ids=["missing-title", "milestone-3", "bad-slug", "bad-channel", "invalid-toml", "unknown-key"],
)
def test_an_invalid_campaign_file_is_refused_and_creates_nothing(cli, content, named):
    path = cli.write("campaign.toml", content)
    done = cli.run("campaign", "import", str(path))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert named in _error_line(done)
    assert done.stdout == ""
    assert cli.holds_nothing()


def test_an_invalid_file_leaves_an_existing_campaign_alone(cli):
    path = cli.write("campaign.toml", CAMPAIGN)
    cli.ok("campaign", "import", str(path))
    cli.write("campaign.toml", CAMPAIGN.replace("[100, 250, 400]", "[3]"))
    assert cli.run("campaign", "import", str(path)).returncode == 2
    [campaign] = cli.campaigns()
    assert campaign["title"] == "We won't build it"


def test_a_missing_campaign_file_is_a_usage_error(cli):
    done = cli.run("campaign", "import", str(cli.cwd / "nope.toml"))
    assert done.returncode == 2
    assert "no such file" in _error_line(done)


# -- start-up without or with bad settings ------------------------------------


def test_run_without_tokens_starts_the_console_and_says_what_to_set(sqlite_cli):
    # The console keeps a rehearsal key beside a SQLite file; on PostgreSQL it needs
    # SIGNER_KEY (bot/rehearsal.py).
    done = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        cwd=sqlite_cli.cwd,
        env=sqlite_cli.env,
        input="quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Undersigned console" in done.stdout
    assert "SLACK_BOT_TOKEN" in done.stderr
    assert "SLACK_APP_TOKEN" in done.stderr
    assert "SLACK_SIGNING_SECRET" in done.stderr


def test_serve_without_tokens_names_the_bot_token(cli):
    done = cli.run("serve")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in _error_line(done)


def test_serve_without_a_signer_key_names_it(cli):
    done = cli.run("serve", SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SIGNING_SECRET)
    assert done.returncode == 2
    assert "SIGNER_KEY" in _error_line(done)


@pytest.mark.parametrize("command", [("run",), ("serve",), ("campaign", "list", "--json")])
def test_a_malformed_setting_stops_start_up_with_one_line(cli, command):
    done = cli.run(*command, TIMEZONE="Nowhere/Land")
    assert done.returncode == 2
    line = _error_line(done)
    assert "TIMEZONE" in line
    assert "Traceback" not in done.stderr


def test_a_secret_in_a_malformed_setting_is_not_printed(cli):
    done = cli.run("campaign", "list", SLACK_BOT_TOKEN="xoxp-SECRET-USER-TOKEN")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in _error_line(done)
    assert "SECRET-USER-TOKEN" not in done.stderr + done.stdout


# -- .env -------------------------------------------------------------------


def test_dotenv_in_the_working_directory_is_read(sqlite_cli):
    env_db = sqlite_cli.cwd / "from-dotenv.db"
    sqlite_cli.write(".env", f"DATABASE_URL=sqlite:///{env_db}\n")
    del sqlite_cli.env["DATABASE_URL"]
    assert sqlite_cli.campaigns() == []
    assert env_db.exists()
    assert not sqlite_cli.db_path.exists()
    sqlite_cli.ok("campaign", "import", str(sqlite_cli.write("campaign.toml", CAMPAIGN)))
    assert [c["slug"] for c in sqlite_cli.campaigns()] == ["wewontbuildit"]


def test_the_environment_wins_over_dotenv(sqlite_cli):
    env_db = sqlite_cli.cwd / "from-dotenv.db"
    sqlite_cli.write(".env", f"DATABASE_URL=sqlite:///{env_db}\n")
    assert sqlite_cli.campaigns() == []
    assert sqlite_cli.db_path.exists()
    assert not env_db.exists()


# -- the real server ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake_slack:
        yield fake_slack


def test_serve_answers_a_signed_slash_command_end_to_end(cli, fake):
    cli.ok("campaign", "import", str(cli.write("campaign.toml", CAMPAIGN)))
    port = _free_port()
    env = {
        **cli.env,
        "SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SIGNER_KEY": SIGNER_KEY,
    }
    log = (cli.cwd / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=cli.cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        healthy = False
        while time.monotonic() < deadline and process.poll() is None:
            try:
                healthy = get(base + "/healthz").status == 200
            except OSError:
                healthy = False
            if healthy:
                break
            time.sleep(0.1)
        assert healthy, (cli.cwd / "serve.log").read_text()

        body = slash_command_body("/demands", "", ALICE.id, fake.response_url())
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        result = post(base + "/slack/events", body, {**headers, **sign(SIGNING_SECRET, body)})
        assert result.status == 200, result.body
        answer = json.loads(result.body)
        assert answer["response_type"] == "ephemeral"
        assert answer["blocks"][0]["text"]["text"] == "We won't build it"

        forged = post(base + "/slack/events", body, {**headers, **sign("wrong", body)})
        assert forged.status == 401
        assert fake.calls_to("auth.test")
        assert fake.calls_to("auth.test")[0].token == "xoxb-test-token"

        # Ctrl-C (what an operator or a process manager's SIGINT does) exits cleanly.
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=60)
        log.close()
