"""The benchmark script runs end to end on a tiny load and writes its report where
it is told. No timings are asserted: they belong to bench/RESULTS.md, not to CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from console.server import FakeSlack
from petition import eligibility

REPO = Path(__file__).resolve().parent.parent


def test_the_benchmark_runs_on_a_tiny_load_and_writes_its_report(tmp_path: Path):
    report = tmp_path / "results.md"
    report.write_text("# Notes kept across runs\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n")
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--quick",
            "--requests",
            "6",
            "--clients",
            "1,2",
            "--bulk",
            "1000",
            "--output",
            str(report),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    text = report.read_text()
    assert text.startswith("# Notes kept across runs")
    assert "old" not in text
    assert text.count("<!-- bench:begin -->") == 1
    for expected in (
        "### Beside a bare Bolt app",
        "### `status` beside a bare Bolt app that answers",
        "| demands | 2 |",
        "| sign | 1 |",
        "| status | 2 |",
        "### A campaign with 1,000 signatures",
        "### `announce` with 1,000 signatures",
        "### Targets (issue 7)",
        "CPUs",
        "commit ",
    ):
        assert expected in text, expected
    assert "ratio project/bare" in done.stdout
    # Every request was answered as expected, by both servers.
    assert "| 0 / 0 |" in text
    assert "| no errors | 0 | yes |" in text


def test_the_fake_can_treat_any_unknown_user_as_a_member():
    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.api_url)
        with pytest.raises(SlackApiError, match="user_not_found"):
            client.users_info(user="U0NOBODY01")
        fake.workspace.anyone_is_member = True
        user = client.users_info(user="U0NOBODY01")["user"]
        assert user["id"] == "U0NOBODY01"
        assert user["team_id"] == "T0UNDRSGN"
        assert eligibility.refusal(user, "T0UNDRSGN") is None
