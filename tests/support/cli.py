"""The command line, run as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Campaign

REPO = Path(__file__).resolve().parents[2]  # tests/support/cli.py -> the checkout


def base_env() -> dict[str, str]:
    """The test process's environment without any Undersigned setting in it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SLACK_")
        and k
        not in {
            "DATABASE_URL",
            "SIGNER_KEY",
            "ORGANIZERS",
            "PORT",
            "ANNOUNCE_SCHEDULE",
            "TIMEZONE",
            "LOG_LEVEL",
        }
    }
    # The subprocess runs from tmp_path; make sure it imports this checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_bot(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` as an operator runs it, with no terminal; a traceback on
    stderr fails the test."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


class Cli:
    def __init__(self, cwd: Path, db_path: Path, url: str | None = None) -> None:
        self.cwd = cwd
        self.db_path = db_path
        # A SQLite file at db_path, or the PostgreSQL database of the test.
        self.url = url or f"sqlite:///{db_path}"
        self.env = {**base_env(), "DATABASE_URL": self.url}

    def holds_nothing(self) -> bool:
        """No database file was made, or (PostgreSQL) no campaign is in it."""
        if self.url.startswith("sqlite"):
            return not self.db_path.exists()
        db = Database.from_url(self.url)
        try:
            with db.read() as session:
                return not session.scalar(select(func.count()).select_from(Campaign))
        finally:
            db.dispose()

    def run(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.cwd,
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def campaigns(self) -> list[dict[str, Any]]:
        return json.loads(self.ok("campaign", "list", "--json"))

    def write(self, name: str, content: str) -> Path:
        path = self.cwd / name
        path.write_text(content, encoding="utf-8")
        return path
