"""The server as operators run it: `python -m bot serve` with its scheduler in one
process, and beside it, from a shell or cron, `campaign list`, `campaign import`,
`backup` (pg_dump on PostgreSQL), `announce` and `campaign forget` of other
campaigns, each a process of its own. People sign throughout, through signed HTTP.

Then a clean restart (Ctrl-C), more signing with the same commands running, a
`kill -9` in the middle of it, and another restart. Everyone told "Signed" is
counted and their DM `status` says so; nobody told anything else is counted; the
count `campaign list --json` prints is exactly the number of people who signed.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from console.server import FakeSlack
from console.workspace import FakeChannel, FakeUser
from petition import campaign_spec, campaigns
from storage.db import Database
from storage.migrate import upgrade
from tests.support.databases import ON_POSTGRES, pg_dump_command
from tests.support.processes import ServeProcess, bot_env, run_cli
from tests.support.running import SlackDriver, make_settings

SLUG = "wewontbuildit"
CLOSED = ("closed-one", "closed-two")
CHANNEL = "C0ANNOUNCE"
PER_ROUND = 40
MILESTONES = [10, 20, 30, 40, 50, 60, 70]
# Signing clients at once: enough that writes overlap the operators' commands.
CLIENTS = 8
# What the operator runs in a round: list, import, backup, announce, forget.
COMMANDS = 5

SIGNED, REFUSED, UNKNOWN = "signed", "refused", "unknown"


def _campaign(slug: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": title,
        "statement": "We, the undersigned, ask our employer to stop.",
        "demands": ["Cancel the contract"],
        "milestones": MILESTONES,
        "channel": CHANNEL,
        **extra,
    }


def _write_campaign_file(path: Path, number: int) -> Path:
    path.write_text(
        f'slug = "imported"\ntitle = "Imported, version {number}"\n'
        'statement = "Imported from a file by a cron job."\n'
        'demands = ["One demand"]\nmilestones = [100]\n',
        encoding="utf-8",
    )
    return path


def _opened_by(fake: FakeSlack, trigger: str) -> dict[str, Any] | None:
    for call in fake.calls_to("views.open"):
        if call.params.get("trigger_id") == trigger:
            return call.params["view"]
    return None


def _sign(slack: SlackDriver, user: FakeUser) -> str:
    """What this person was told: Signed, something else, or nothing at all."""
    try:
        trigger = slack.fake.new_trigger(user.id)
        slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger)
        form = _opened_by(slack.fake, trigger)
        if form is None or form.get("callback_id") != "sign_submit":
            return REFUSED
        values = {
            "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "anonymous"}}}
        }
        answer = slack.submit(form, values, user=user.id)
    except (OSError, http.client.HTTPException):
        return UNKNOWN  # the server died under this request
    if answer.status != 200:
        return REFUSED
    try:
        title = json.loads(answer.body)["view"]["title"]["text"]
    except (ValueError, KeyError, TypeError):
        return REFUSED
    return SIGNED if title == "Signed" else REFUSED


def _status_says_signed(slack: SlackDriver, user: FakeUser) -> bool:
    """Ask in the DM, as the person would, and read the answer for this campaign."""
    before = len(slack.fake.workspace.ephemerals_for(user.id))
    assert slack.dm("status", user=user.id).status == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answers = slack.fake.workspace.ephemerals_for(user.id)
        if len(answers) > before:
            for block in answers[-1].get("blocks") or []:
                text = (block.get("text") or {}).get("text", "")
                if f"`{SLUG}`" in text:
                    return "You have signed" in text
            raise AssertionError(f"the status answer did not name {SLUG}: {answers[-1]}")
        time.sleep(0.05)
    raise AssertionError("no answer to `status`")


class Operator:
    """A shell and a cron job, running the operator's commands one after another."""

    def __init__(self, env: dict[str, str], cwd: Path, database_url: str) -> None:
        self.env, self.cwd, self.database_url = env, cwd, database_url
        self.failures: list[str] = []
        self.ran: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._number = 0
        self._progress = threading.Condition()
        self.started = 0  # commands begun since start()
        self.cycle_done = False

    def _backup(self) -> subprocess.CompletedProcess[str]:
        self._number += 1
        if ON_POSTGRES:
            command, env = pg_dump_command(self.database_url)
            return subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        target = self.cwd / f"backup-{self._number}.db"
        return run_cli(self.env, self.cwd, "backup", str(target))

    def _import(self) -> subprocess.CompletedProcess[str]:
        self._number += 1
        path = _write_campaign_file(self.cwd / "imported.toml", self._number)
        return run_cli(self.env, self.cwd, "campaign", "import", str(path))

    def _commands(self, forget: str) -> list[tuple[str, Any]]:
        return [
            (
                "campaign list --json",
                lambda: run_cli(self.env, self.cwd, "campaign", "list", "--json"),
            ),
            ("campaign import", self._import),
            ("backup", self._backup),
            ("announce", lambda: run_cli(self.env, self.cwd, "announce")),
            (
                f"campaign forget {forget}",
                lambda: run_cli(self.env, self.cwd, "campaign", "forget", forget, "--yes"),
            ),
        ]

    def start(self, forget: str) -> None:
        commands = self._commands(forget)

        def loop() -> None:
            done_forgetting = False
            while not self._stop.is_set():
                for name, command in commands:
                    if self._stop.is_set():
                        return
                    if name.startswith("campaign forget"):
                        if done_forgetting:
                            continue
                        done_forgetting = True
                    with self._progress:
                        self.started += 1
                        self._progress.notify_all()
                    result = command()
                    self.ran.append(name)
                    if result.returncode != 0:
                        self.failures.append(f"{name}: {result.returncode}: {result.stderr[-500:]}")
                with self._progress:
                    self.cycle_done = True
                    self._progress.notify_all()

        self._stop.clear()
        with self._progress:
            self.started = 0
            self.cycle_done = False
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def wait_started(self, count: int, timeout: float = 300) -> None:
        with self._progress:
            assert self._progress.wait_for(lambda: self.started >= count, timeout), (
                f"the operator's command {count} never started"
            )

    def wait_cycle(self, timeout: float = 300) -> None:
        """Until each of the commands has run once."""
        with self._progress:
            assert self._progress.wait_for(lambda: self.cycle_done, timeout), (
                "the operator's commands did not all run"
            )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=180)


def _listed_count(env: dict[str, str], cwd: Path) -> int:
    listed = run_cli(env, cwd, "campaign", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["slug"]: row for row in json.loads(listed.stdout)}
    return int(rows[SLUG]["signatures"])


def _integrity(database_url: str) -> None:
    if ON_POSTGRES:
        return
    path = make_url(database_url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _check(
    server: ServeProcess, fake: FakeSlack, env: dict[str, str], cwd: Path, told: dict[str, str]
) -> None:
    """After a restart: the told-signed are signed, the told-otherwise are not, the
    count is exact."""
    slack = SlackDriver(server.url, fake)
    users = {u.id: u for u in fake.workspace.users.values()}
    signed_now = {uid for uid in told if _status_says_signed(slack, users[uid])}
    lost = sorted(
        uid for uid, outcome in told.items() if outcome == SIGNED and uid not in signed_now
    )
    assert lost == [], f"{len(lost)} people told 'Signed' are not signed after the restart"
    refused_but_kept = sorted(uid for uid in signed_now if told[uid] == REFUSED)
    assert refused_but_kept == [], "people told something else were counted"
    assert _listed_count(env, cwd) == len(signed_now)
    _integrity(env["DATABASE_URL"])


def _round(
    slack: SlackDriver,
    users: list[FakeUser],
    operator: Operator,
    commands: int,
    kill: ServeProcess | None = None,
) -> dict[str, str]:
    told: dict[str, str] = {}
    lock = threading.Lock()
    signed = [0]

    def one(user: FakeUser) -> None:
        outcome = _sign(slack, user)
        with lock:
            told[user.id] = outcome
            if outcome == SIGNED:
                signed[0] += 1
                if kill is not None and signed[0] == len(users) // 2:
                    kill.kill_9()

    # Signing keeps in step with the operator's commands, however slow the
    # machine: each person signs once the command whose turn it is has started,
    # so that every command overlaps some signing.
    share = len(users) / commands

    def in_step(numbered: list[tuple[int, FakeUser]]) -> None:
        for number, user in numbered:
            operator.wait_started(int(number / share) + 1)
            one(user)

    numbered = list(enumerate(users))
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(in_step, [numbered[i::CLIENTS] for i in range(CLIENTS)]))
    operator.wait_cycle()
    return told


def test_nothing_acknowledged_is_lost_beside_the_operators_commands(
    fake_slack: FakeSlack, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(fake_slack, database_url)
    db = Database.from_url(database_url)
    upgrade(db.engine)
    with db.write() as session:
        campaigns.upsert_campaign(
            session,
            campaign_spec.parse_campaign(_campaign(SLUG, "We won't build it"), settings.timezone),
        )
        for slug in CLOSED:
            campaigns.upsert_campaign(
                session,
                campaign_spec.parse_campaign(_campaign(slug, f"Old {slug}"), settings.timezone),
            )
    db.dispose()
    fake_slack.workspace.add_channel(FakeChannel(CHANNEL, "announcements"))
    users = [FakeUser(f"U0DEPLOY{i:03d}", f"w{i}", f"Worker {i}") for i in range(2 * PER_ROUND)]
    for user in users:
        fake_slack.workspace.add_user(user)
    env = bot_env(fake_slack, database_url, ANNOUNCE_SCHEDULE="* * * * *")
    operator = Operator(env, tmp_path, database_url)

    first = ServeProcess(env, tmp_path, "first")
    servers = [first]
    try:
        # Signers of the campaigns that the operator will forget, then closed.
        slack = SlackDriver(first.url, fake_slack)
        for slug in CLOSED:
            for user in users[:3]:
                trigger = fake_slack.new_trigger(user.id)
                slack.click("sign_start", slug, user=user.id, trigger_id=trigger)
                form = _opened_by(fake_slack, trigger)
                assert form is not None
                assert form.get("callback_id") == "sign_submit"
                values = {
                    "how": {
                        "choice": {
                            "type": "radio_buttons",
                            "selected_option": {"value": "anonymous"},
                        }
                    }
                }
                assert slack.submit(form, values, user=user.id).status == 200
            assert run_cli(env, tmp_path, "campaign", "close", slug).returncode == 0

        # Round one: signing beside the commands, then a clean restart.
        operator.start(forget=CLOSED[0])
        told = _round(slack, users[:PER_ROUND], operator, COMMANDS)
        operator.stop()
        first.interrupt()
        second = ServeProcess(env, tmp_path, "second")
        servers.append(second)
        _check(second, fake_slack, env, tmp_path, told)

        # Round two: the same, and `kill -9` halfway through.
        operator.start(forget=CLOSED[1])
        told.update(
            _round(
                SlackDriver(second.url, fake_slack),
                users[PER_ROUND:],
                operator,
                COMMANDS,
                kill=second,
            )
        )
        operator.stop()
        third = ServeProcess(env, tmp_path, "third")
        servers.append(third)
        _check(third, fake_slack, env, tmp_path, told)
    finally:
        operator.stop()
        for server in servers:
            server.stop()
    assert operator.failures == []
    assert {"backup", "announce", "campaign list --json", "campaign import"} <= set(operator.ran)
    # Each milestone was announced once, whatever ran it.
    posted = [
        tuple(sorted(m["metadata"]["event_payload"].items()))
        for m in fake_slack.messages_in(CHANNEL)
    ]
    assert posted
    assert len(posted) == len(set(posted))
