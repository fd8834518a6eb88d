"""The bot as operators run it: `python -m bot ...` in processes of its own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from console.server import FakeSlack
from tests.support.httpclient import get
from tests.support.running import key_store_for

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
SIGNER_KEY = "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo"
BOT_TOKEN = "xoxb-test-token"


def bot_env(fake: FakeSlack, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a bot process talking to this fake Slack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        DATABASE_URL=database_url,
        SIGNER_KEY=SIGNER_KEY,
        KEY_STORE=key_store_for(database_url),
        TIMEZONE="Europe/London",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(
    env: dict[str, str], cwd: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """One `python -m bot ...` command, as a shell or a cron job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


class ServeProcess:
    """`python -m bot serve` on a free port, with its scheduler, as an operator runs it."""

    def __init__(self, env: dict[str, str], cwd: Path, name: str, threads: int = 32) -> None:
        self.port = free_port()
        self.log_path = cwd / f"{name}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bot",
                    "serve",
                    "--port",
                    str(self.port),
                    "--threads",
                    str(threads),
                ],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if get(self.url + "/healthz").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError("the server did not start:\n" + self.log())

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthy(self) -> int:
        return get(self.url + "/healthz").status

    def kill_9(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def interrupt(self) -> None:
        """Ctrl-C, the clean way an operator stops it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
