"""Benchmark: Undersigned beside a bare Bolt app, and a campaign of a million signers.

    python bench/run.py            # the full run (a few minutes), writes bench/RESULTS.md
    python bench/run.py --quick    # a smoke run of a few seconds

Starts the real `python -m bot serve` on a temporary SQLite file, and a bare
slack_bolt App whose listeners only acknowledge (bench/bare_app.py) on the same
WSGI wrapper and waitress server (and, beside `status`, the same bare app answering
each DM with one Web API call), all against a fake Slack Web API in its own
process (bench/fake_api.py). Keep-alive clients, one thread and one connection
each, send signed requests as Slack does:
  demands  the slash command `/demands`
  sign     the final signing confirmation (view_submission), each from a new person
  status   `status` in a direct message (event message.im)
and the figures are written to the report with the machine, the date and the commit.
Then a campaign with a million signatures: demands, sign and status again, and the
announcement job timed in-process and as `python -m bot announce`.

Every loop is bounded in count and in time, and everything listens on 127.0.0.1.

One file past 500 lines on purpose: it is a script run as `python bench/run.py`,
not part of the product, and its parts (processes, load, report) change together
whenever a figure is added; a reader follows one measurement from the load that
makes it to the line that reports it without leaving the file.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import http.client
import itertools
import json
import os
import platform
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.payloads import message_im_body, sign, slash_command_body, view_submission_body
from console.workspace import TEAM_ID
from petition import eligibility

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
HOST = "127.0.0.1"
SECRET = "bench-signing-secret-" + secrets.token_hex(8)
BOT_TOKEN = "xoxb-bench-token"
SLUG = "bench"
CHANNEL = "C0ANNOUNCE"
MILESTONES = [100, 1_000, 10_000, 100_000, 1_000_000]
SCENARIOS = ("demands", "sign", "status")
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# People who send /demands and status: enough that nobody reaches the per-person
# rate limit (a burst of 20, then one every 3 s) at any throughput seen here.
POOL = 4096
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 60.0

CAMPAIGN = {
    "slug": SLUG,
    "title": "We won't build it",
    "statement": "We, the undersigned, ask our employer to cancel the contract.",
    "demands": [
        "Cancel the contract and publish its terms.",
        "No retaliation against anyone who signs or speaks up.",
        "An elected ethics board with a veto over defence work.",
    ],
    "milestones": MILESTONES,
    "channel": CHANNEL,
}


# -- requests, as Slack sends them ---------------------------------------------------


def response_url(fake_api_url: str, n: int) -> str:
    return fake_api_url.removesuffix("api/") + f"response/{n}"


def sign_form_view(user: str, signer_key: bytes | None) -> dict[str, Any]:
    """The form as the app opened it (handlers/signing.py): the callback, and in
    private_metadata the campaign, where it was opened from, and the pass that
    says its signer was found eligible a moment ago (petition/eligibility.py)."""
    metadata = {"slug": SLUG, "from": "message", "mode": "sign"}
    issue_pass = getattr(eligibility, "issue_pass", None)  # absent before it existed
    if issue_pass is not None and signer_key is not None:
        metadata["pass"] = issue_pass(signer_key, TEAM_ID, TEAM_ID, user, SLUG)
    return {
        "id": "V0BENCH0001",
        "callback_id": "sign_submit",
        "private_metadata": json.dumps(metadata),
        "title": {"type": "plain_text", "text": "Sign"},
        "blocks": [],
    }


SIGN_VALUES = {
    "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "anonymous"}}},
    "name": {"name": {"type": "plain_text_input", "value": None}},
}


@dataclass
class Load:
    """How to make the nth request of a scenario, and whether its answer is right."""

    build: Callable[[int], tuple[bytes, str]]
    check: Callable[[int, bytes], bool]


def make_load(
    scenario: str,
    target: str,
    fake_api_url: str,
    signers: Iterator[int],
    signer_key: bytes | None = None,
) -> Load:
    bare = target == "bare"
    if scenario == "demands":

        def build(n: int) -> tuple[bytes, str]:
            user = f"UP{n % POOL:08d}"
            body = slash_command_body("/demands", "", user, response_url(fake_api_url, n))
            return body, "application/x-www-form-urlencoded"

        def check(status: int, data: bytes) -> bool:
            return status == 200 and (bare or b'"blocks"' in data)

        return Load(build, check)
    if scenario == "sign":

        def build(n: int) -> tuple[bytes, str]:
            # Every confirmation comes from somebody new: each one is a new signature.
            user = f"US{next(signers):08d}"
            view = sign_form_view(user, signer_key)
            return view_submission_body(
                view, user, SIGN_VALUES
            ), "application/x-www-form-urlencoded"

        def check(status: int, data: bytes) -> bool:
            return status == 200 and (bare or (b"Thank you" in data and b'"errors"' not in data))

        return Load(build, check)

    def build_dm(n: int) -> tuple[bytes, str]:
        return message_im_body("status", f"UP{n % POOL:08d}"), "application/json"

    return Load(build_dm, lambda status, data: status == 200)


# -- the servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Proc:
    """A server in a child process, with its peak memory and CPU time from /proc:
    its own and its children's (the SQLite writer process of `serve`), summed, so
    that work moved to another process is still counted."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, log: Path):
        self.name = name
        self.port = port
        self._log = log.open("wb")
        self.popen = subprocess.Popen(
            args, env=env, cwd=log.parent, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.peak_kb = 0  # over the whole life of the process

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up; see {self._log.name}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz in {START_TIMEOUT:.0f} s")

    def family(self) -> list[int]:
        """The server and its child processes."""
        pids = [self.pid]
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                pids += [int(child) for child in (task / "children").read_text().split()]
        return pids

    @staticmethod
    def _kb(path: str, key: str) -> int:
        with contextlib.suppress(OSError):
            found = re.search(rf"^{key}:\s+(\d+) kB", Path(path).read_text(), re.M)
            return int(found.group(1)) if found else 0
        return 0

    def _status(self, key: str) -> int:
        """`key` of /proc/PID/status, for the server and its children together. A
        child's shared pages are resident once on the machine: those of shared
        libraries (clean: libpython, SQLite's, OpenSSL's), and, for a child forked
        from the server, the server's memory it has not written to since (dirty:
        the imported modules). They are counted with the server's, not again with
        the child's."""
        server, *children = self.family()
        total = self._kb(f"/proc/{server}/status", key)
        for pid in children:
            rollup = f"/proc/{pid}/smaps_rollup"
            shared = self._kb(rollup, "Shared_Clean") + self._kb(rollup, "Shared_Dirty")
            total += max(0, self._kb(f"/proc/{pid}/status", key) - shared)
        return total

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS (Linux 4.0+), for a per-phase peak."""
        self.peak_kb = max(self.peak_kb, self._status("VmHWM"))
        try:
            for pid in self.family():
                Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def phase_peak_kb(self) -> int:
        peak = self._status("VmHWM")
        self.peak_kb = max(self.peak_kb, peak)
        return peak

    def cpu_seconds(self) -> float:
        ticks = 0
        for pid in self.family():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


class FakeSlackProcess:
    """bench/fake_api.py: the fake Slack Web API, in its own process."""

    def __init__(self, workdir: Path) -> None:
        self._log = (workdir / "fake-slack.log").open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, str(BENCH_DIR / "fake_api.py"), "--channel", CHANNEL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self.api_url = self._line()

    def _line(self) -> str:
        assert self.popen.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self.popen.stdout.readline()))
        reader.daemon = True
        reader.start()
        reader.join(START_TIMEOUT)
        if not ready or not ready[0].strip():
            raise RuntimeError("the fake Slack did not start; see fake-slack.log")
        return ready[0].strip()

    def counts(self) -> dict[str, int]:
        assert self.popen.stdin is not None
        self.popen.stdin.write("counts\n")
        self.popen.stdin.flush()
        return json.loads(self._line())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.popen.stdin is not None
            self.popen.stdin.write("quit\n")
            self.popen.stdin.close()
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self._log.close()


def server_env(fake_api_url: str, database_url: str, signer_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake_api_url,
        DATABASE_URL=database_url,
        SIGNER_KEY=signer_key,
        ORGANIZERS="",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_project(workdir: Path, env: dict[str, str], threads: int, tag: str) -> Proc:
    port = free_port()
    args = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--threads", str(threads)]
    proc = Proc(f"project ({tag})", args, env, port, workdir / f"project-{tag}.log")
    proc.wait_healthy()
    return proc


def start_bare(workdir: Path, env: dict[str, str], threads: int, answering: bool = False) -> Proc:
    port = free_port()
    tag = "answering" if answering else "bare"
    args = [
        sys.executable,
        str(BENCH_DIR / "bare_app.py"),
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--database-url",
        f"sqlite:///{workdir / f'{tag}-health.db'}",
        *(["--answer-dms"] if answering else []),
    ]
    name = "bare Bolt answering DMs" if answering else "bare Bolt"
    proc = Proc(name, args, env, port, workdir / f"{tag}.log")
    proc.wait_healthy()
    return proc


# -- the load ------------------------------------------------------------------------


@dataclass
class Phase:
    database: str
    scenario: str
    target: str
    clients: int
    done: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list, repr=False)
    peak_kb: int = 0
    cpu_seconds: float = 0.0
    first_error: str = ""

    @property
    def throughput(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile, in milliseconds."""
        if not self.latencies:
            return float("nan")
        rank = max(1, min(len(self.latencies), round(p / 100 * len(self.latencies) + 0.5)))
        return self.latencies[rank - 1] * 1000

    @property
    def worst(self) -> float:
        return self.latencies[-1] * 1000 if self.latencies else float("nan")

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.done if self.done else float("nan")


def run_phase(
    proc: Proc,
    phase: Phase,
    load: Load,
    max_requests: int,
    max_seconds: float,
    warmup: int = 2,
) -> Phase:
    """`phase.clients` threads, each on its own keep-alive connection, send requests
    back to back until `max_requests` are done or `max_seconds` have passed."""
    numbers = itertools.count()  # next() on a count is atomic in CPython
    warm_numbers = itertools.count(10_000_000)
    lock = threading.Lock()
    ready = threading.Barrier(phase.clients + 1, timeout=START_TIMEOUT)
    go = threading.Event()
    deadline = [0.0]
    ends: list[float] = []

    def one(conn: http.client.HTTPConnection, n: int) -> tuple[float, bool, str]:
        body, content_type = load.build(n)
        headers = {"Content-Type": content_type, **sign(SECRET, body)}
        started = time.perf_counter()
        try:
            conn.request("POST", "/slack/events", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            conn.close()  # http.client reconnects on the next request
            return time.perf_counter() - started, False, type(error).__name__
        took = time.perf_counter() - started
        if load.check(response.status, data):
            return took, True, ""
        return took, False, f"{response.status} {data[:300]!r}"

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, proc.port, timeout=REQUEST_TIMEOUT)
        mine: list[float] = []
        errors = 0
        first = ""
        try:
            for _ in range(warmup):
                one(conn, next(warm_numbers))
            ready.wait()
            go.wait(START_TIMEOUT)
            while True:
                n = next(numbers)
                if n >= max_requests or time.perf_counter() >= deadline[0]:
                    break
                took, ok, why = one(conn, n)
                mine.append(took)
                if not ok:
                    errors += 1
                    first = first or why
        finally:
            conn.close()
            with lock:
                ends.append(time.perf_counter())
                phase.latencies.extend(mine)
                phase.errors += errors
                phase.first_error = phase.first_error or first

    threads = [threading.Thread(target=client, daemon=True) for _ in range(phase.clients)]
    for thread in threads:
        thread.start()
    ready.wait()  # every client has connected and warmed up
    proc.reset_peak()
    cpu_before = proc.cpu_seconds()
    started = time.perf_counter()
    deadline[0] = started + max_seconds
    go.set()
    for thread in threads:
        thread.join(max_seconds + REQUEST_TIMEOUT + 5)
    # Added to what earlier rounds of the same phase measured.
    phase.elapsed += (max(ends) if ends else time.perf_counter()) - started
    phase.cpu_seconds += proc.cpu_seconds() - cpu_before
    phase.peak_kb = max(phase.peak_kb, proc.phase_peak_kb())
    phase.latencies.sort()
    phase.done = len(phase.latencies)
    return phase


# -- the database --------------------------------------------------------------------


def prepare_database(path: Path, tz_name: str = "UTC") -> str:
    """Migrated, with the benchmark's campaign in it; returns the database URL."""
    from zoneinfo import ZoneInfo

    from petition import campaign_spec, campaigns
    from storage.db import Database
    from storage.migrate import upgrade

    url = f"sqlite:///{path}"
    db = Database.from_url(url)
    try:
        upgrade(db.engine)
        spec = campaign_spec.parse_campaign(dict(CAMPAIGN), ZoneInfo(tz_name))
        with db.write() as session:
            campaigns.upsert_campaign(session, spec)
    finally:
        db.dispose()
    return url


def bulk_sign(path: Path, count: int) -> float:
    """Add `count` signatures to the campaign in one INSERT ... SELECT over a
    recursive CTE, sorted by hash so that the b-tree is written in order, and set
    the kept count to match. Returns the seconds it took."""
    started = time.perf_counter()
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.create_function(
            "bench_hash",
            1,
            lambda i: hashlib.sha256(b"bench-signer:%d" % i).hexdigest(),
            deterministic=True,
        )
        con.execute("PRAGMA cache_size=-262144")  # 256 MiB for this one connection
        con.execute("BEGIN IMMEDIATE")
        (campaign_id,) = con.execute("SELECT id FROM campaigns WHERE slug = ?", (SLUG,)).fetchone()
        con.execute(
            """
            INSERT INTO signatures (campaign_id, signer_hash, named, sealed_name, signed_on)
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            SELECT ?, bench_hash(i),
                   i % 20 = 0,
                   CASE WHEN i % 20 = 0 THEN printf('%.552c', 'x') END,
                   date('now', '-' || (i % 90) || ' days')
            FROM n ORDER BY 2
            """,
            (count, campaign_id),
        )
        con.execute(
            "UPDATE campaigns SET signature_count = "
            "(SELECT count(*) FROM signatures WHERE campaign_id = ?) WHERE id = ?",
            (campaign_id, campaign_id),
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return time.perf_counter() - started


def signature_count(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            "SELECT signature_count FROM campaigns WHERE slug = ?", (SLUG,)
        ).fetchone()[0]
    finally:
        con.close()


def query_plans(database_url: str, signer_key: bytes) -> list[tuple[str, str, str]]:
    """Run what /demands, signing and status ask of the database, capture each SQL
    statement, and return (request, statement, plan) for every one that scans the
    signatures table instead of searching it by key."""
    from sqlalchemy import event

    from bot.settings import default_key_store
    from petition import campaigns
    from petition.keyring import Keyring, KeyStore
    from petition.signatures import add_signature, signer_hash, signer_overview, signer_status
    from storage.db import Database

    db = Database.from_url(database_url)
    keyring = Keyring(signer_key, KeyStore(default_key_store(database_url), signer_key))
    captured: list[tuple[str, str, Any]] = []
    current = [""]

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            captured.append((current[0], statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    signer = signer_hash(signer_key, "T0UNDRSGN", "U0PLANCHECK")
    try:
        current[0] = "demands"
        with db.read() as session:
            campaigns.public_campaigns(session)
            campaigns.find_public_campaign(session, SLUG)
        current[0] = "sign"
        with db.write() as session:
            add_signature(session, SLUG, signer, keyring=keyring)
            signer_status(session, SLUG, signer, keyring)
            # What the confirmation reads; older commits read the whole campaign.
            title = getattr(campaigns, "public_title", campaigns.find_public_campaign)
            title(session, SLUG)
            # status, for somebody who has signed (rolled back below)
            current[0] = "status"
            views = campaigns.public_campaigns(session)
            signer_overview(session, signer, keyring)
            signer_overview(session, signer, keyring, views=views)
            session.rollback()
        event.remove(db.engine, "before_cursor_execute", capture)
        scans = []
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            for request, statement, parameters in captured:
                rows = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
                plan = "; ".join(str(row[-1]) for row in rows)
                if re.search(r"\bSCAN signatures\b", plan):
                    scans.append((request, " ".join(statement.split()), plan))
        return scans
    finally:
        db.dispose()


# -- the announcement job ------------------------------------------------------------


@dataclass
class AnnounceTiming:
    job_seconds: list[float] = field(default_factory=list)
    job_summary: list[str] = field(default_factory=list)
    cli_seconds: float | None = None
    cli_note: str = ""
    startup_seconds: float | None = None


def _forget_announcements(path: Path) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("DELETE FROM announcements")
        con.execute("DELETE FROM job_runs")
    finally:
        con.close()


def time_announce(path: Path, env: dict[str, str], runs: int) -> AnnounceTiming:
    """The job in this process (on one engine and client, as the scheduler runs it),
    then `python -m bot announce` as a whole, each with the milestone still to post."""
    from bot.webclient import posting_client
    from jobs.announce import announce_job
    from storage.db import Database

    timing = AnnounceTiming()
    db = Database.from_url(env["DATABASE_URL"])
    client = posting_client(env["SLACK_API_URL"], BOT_TOKEN)
    try:
        for _ in range(runs):
            _forget_announcements(path)
            started = time.perf_counter()
            report = announce_job(db, client)
            timing.job_seconds.append(time.perf_counter() - started)
            timing.job_summary = report.summary()
    finally:
        db.dispose()
    started = time.perf_counter()
    helped = subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        env=env,
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    timing.startup_seconds = time.perf_counter() - started
    if not re.search(r"^\s+announce\b", helped.stdout, re.M):
        timing.cli_note = "`python -m bot announce` is not in this commit's CLI yet"
        return timing
    _forget_announcements(path)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "announce"],
        env=env,
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    timing.cli_seconds = time.perf_counter() - started
    if done.returncode != 0:
        timing.cli_note = f"exit status {done.returncode}: {done.stderr.strip()[-300:]}"
    return timing


# -- the report ----------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return out.stdout.strip()


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    memory = ""
    with contextlib.suppress(OSError):
        found = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        memory = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else ""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    versions = []
    for name in ("slack_bolt", "slack_sdk", "sqlalchemy", "waitress"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions.append(f"{name} {version(name)}")
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "versions": ", ".join(versions),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def _ms(value: float) -> str:
    return "n/a" if value != value else f"{value:.1f}"


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


@dataclass
class Results:
    options: argparse.Namespace
    machine: dict[str, str]
    phases: list[Phase] = field(default_factory=list)
    bulk_count: int = 0
    bulk_seconds: float = 0.0
    announce: AnnounceTiming | None = None
    scans: list[tuple[str, str, str]] | None = None
    fake_calls: dict[str, int] = field(default_factory=dict)
    peaks: dict[str, int] = field(default_factory=dict)

    def find(self, database: str, scenario: str, target: str, clients: int) -> Phase | None:
        for phase in self.phases:
            if (phase.database, phase.scenario, phase.target, phase.clients) == (
                database,
                scenario,
                target,
                clients,
            ):
                return phase
        return None


def ratio(project: Phase | None, bare: Phase | None) -> float:
    if not project or not bare or not bare.throughput:
        return float("nan")
    return project.throughput / bare.throughput


TARGET_RATIOS = {"sign": 0.6, "demands": 0.8, "status": 0.8}


def targets(results: Results) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each of issue 7's targets that this run measured."""
    rows: list[tuple[str, str, bool | None]] = []
    top = max(results.options.clients)
    for scenario, wanted in TARGET_RATIOS.items():
        r = ratio(
            results.find("empty", scenario, "project", top),
            results.find("empty", scenario, "bare", top),
        )
        rows.append(
            (
                f"{scenario} throughput >= {wanted} of bare Bolt at {top} clients",
                f"{r:.2f}",
                r >= wanted,
            )
        )
    p99s = [
        p.percentile(99)
        for p in results.phases
        if p.target == "project" and p.clients == top and p.database == "empty"
    ]
    if p99s:
        rows.append(
            (
                f"p99 ack < 100 ms at {top} clients",
                f"{max(p99s):.1f} ms (worst scenario)",
                max(p99s) < 100,
            )
        )
    worst = max((p.worst for p in results.phases if p.target == "project"), default=float("nan"))
    rows.append(("no ack over 3 s", f"slowest {worst:.0f} ms", worst < 3000))
    errors = sum(p.errors for p in results.phases if p.target == "project")
    rows.append(("no errors", str(errors), errors == 0))
    if results.bulk_count:
        label = f"{results.bulk_count:,}"
        for scenario in ("demands", "sign"):
            empty = results.find("empty", scenario, "project", top)
            big = results.find("bulk", scenario, "project", top)
            if empty and big:
                change = big.percentile(99) / empty.percentile(99) - 1
                measured = f"{big.percentile(99):.1f} vs {empty.percentile(99):.1f} ms"
                rows.append(
                    (
                        f"{scenario} p99 with {label} signatures within 20% of the empty campaign",
                        f"{measured} ({change:+.0%})",
                        change <= 0.2,
                    )
                )
        if results.announce and results.announce.job_seconds:
            best = min(results.announce.job_seconds)
            rows.append(
                (f"announce < 1 s with {label} signatures", f"{best * 1000:.0f} ms (job)", best < 1)
            )
    peak = results.peaks.get("project", 0)
    rows.append(
        (
            "server peak memory < 150 MB (with its writer process; shared libraries once)",
            f"{_mb(peak)} MB",
            peak < 150 * 1024,
        )
    )
    return rows


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _latency(phase: Phase, worst: bool = True) -> str:
    cells = [_ms(phase.percentile(p)) for p in (50, 95, 99)]
    if worst:
        cells.append(_ms(phase.worst))
    return " / ".join(cells)


def _p99_change(big: Phase, empty: Phase | None) -> str:
    if not empty:
        return "n/a"
    return f"{big.percentile(99) / empty.percentile(99) - 1:+.0%}"


def render(results: Results) -> str:
    o, m = results.options, results.machine
    command = " ".join(["python", "bench/run.py", *o.argv])
    out = [
        BEGIN,
        f"## Latest run: {m['date']}",
        "",
        f"- commit {m['commit']}; Python {m['python']}, SQLite {m['sqlite']}; {m['versions']}",
        f"- machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']} memory; "
        f"load average at the end {m['load']}",
        f"- each phase: up to {o.requests:,} requests or {o.duration:g} s per server, "
        f"after {o.warmup} unmeasured requests per client, in {o.rounds} turns with "
        f"the servers (bare, empty, large campaign; beside `status`, a bare app that "
        f"answers) running side by side and alternating; every server: waitress, "
        f"{o.threads} threads; `{command}`",
        "",
        "### Beside a bare Bolt app (empty campaign)",
        "",
        "Throughput in requests per second; acknowledgement latency in ms; the server's "
        "CPU time per request in ms; its peak resident memory during the phase in MB. "
        "The server's figures include its SQLite writer process's (storage/writerprocess.py): "
        "its CPU time, and its memory but for the shared libraries' pages, resident once.",
        "",
        _row(
            "scenario",
            "clients",
            "project req/s",
            "bare req/s",
            "ratio",
            "project p50 / p95 / p99 / max",
            "bare p50 / p95 / p99",
            "errors project / bare",
            "CPU ms/req project / bare",
            "peak MB project / bare",
        ),
        "|---|---:|---:|---:|---:|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        for clients in o.clients:
            p = results.find("empty", scenario, "project", clients)
            b = results.find("empty", scenario, "bare", clients)
            if not p or not b:
                continue
            out.append(
                _row(
                    scenario,
                    clients,
                    f"{p.throughput:.0f}",
                    f"{b.throughput:.0f}",
                    f"{ratio(p, b):.2f}",
                    _latency(p),
                    _latency(b, worst=False),
                    f"{p.errors} / {b.errors}",
                    f"{_ms(p.cpu_ms_per_request)} / {_ms(b.cpu_ms_per_request)}",
                    f"{_mb(p.peak_kb)} / {_mb(b.peak_kb)}",
                )
            )
    out += _render_answering(results)
    if results.bulk_count:
        out += [
            "",
            f"### A campaign with {results.bulk_count:,} signatures",
            "",
            f"Loaded in {results.bulk_seconds:.1f} s (one INSERT ... SELECT over a recursive "
            "CTE). The p99 change is against the same scenario on the empty campaign.",
            "",
            _row(
                "scenario",
                "clients",
                "req/s",
                "p50 / p95 / p99 / max",
                "p99 change",
                "errors",
                "CPU ms/req",
                "peak MB",
            ),
            "|---|---:|---:|---|---:|---:|---:|---:|",
        ]
        for scenario in SCENARIOS:
            for clients in o.clients:
                p = results.find("bulk", scenario, "project", clients)
                if not p:
                    continue
                out.append(
                    _row(
                        scenario,
                        clients,
                        f"{p.throughput:.0f}",
                        _latency(p),
                        _p99_change(p, results.find("empty", scenario, "project", clients)),
                        p.errors,
                        _ms(p.cpu_ms_per_request),
                        _mb(p.peak_kb),
                    )
                )
    out += _render_announce(results)
    if results.scans is not None:
        out += ["", "### Query plans on the large campaign", ""]
        if results.scans:
            out.append("Statements that scan the signatures table:")
            out += [f"- {req}: `{stmt}` -> {plan}" for req, stmt, plan in results.scans]
        else:
            out.append(
                "`EXPLAIN QUERY PLAN` of every statement that /demands, signing and status "
                "run: none scans the signatures table."
            )
    out += ["", "### Targets (issue 7)", "", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(results):
        out.append(_row(name, measured, "yes" if met else "NO"))
    if results.fake_calls:
        calls = ", ".join(f"{k} {v:,}" for k, v in sorted(results.fake_calls.items()))
        out += ["", f"Web API calls the fake Slack answered during the run: {calls}."]
    out.append(END)
    return "\n".join(out) + "\n"


def _render_answering(results: Results) -> list[str]:
    rows = []
    for clients in results.options.clients:
        p = results.find("empty", "status", "project", clients)
        a = results.find("empty", "status", "answering", clients)
        b = results.find("empty", "status", "bare", clients)
        if p and a and b:
            rows.append(
                _row(
                    clients,
                    f"{p.throughput:.0f}",
                    f"{a.throughput:.0f}",
                    f"{ratio(p, a):.2f}",
                    f"{ratio(a, b):.2f}",
                    _latency(a, worst=False),
                    f"{_ms(p.cpu_ms_per_request)} / {_ms(a.cpu_ms_per_request)}",
                )
            )
    if not rows:
        return []
    return [
        "",
        "### `status` beside a bare Bolt app that answers",
        "",
        "Not one of issue 7's targets, which compare with a bare app that only "
        "acknowledges: the answer to a DM is a Web API call, and this bare app makes "
        "that one call (a `chat.postEphemeral`, with Bolt's own client) and nothing "
        "else. The last ratio is what that one call costs any Bolt app.",
        "",
        _row(
            "clients",
            "project req/s",
            "answering bare req/s",
            "project / answering bare",
            "answering bare / bare",
            "answering bare p50 / p95 / p99",
            "CPU ms/req project / answering bare",
        ),
        "|---:|---:|---:|---:|---:|---|---|",
        *rows,
    ]


def _render_announce(results: Results) -> list[str]:
    a = results.announce
    if not a:
        return []
    job = ", ".join(f"{s * 1000:.0f} ms" for s in a.job_seconds)
    out = [
        "",
        f"### `announce` with {results.bulk_count:,} signatures",
        "",
        "- the job in-process (`jobs.announce.announce_job` on one engine and client, "
        f"a milestone to post each time): {job}",
    ]
    if a.cli_seconds is not None:
        out.append(f"- `python -m bot announce`, wall time: {a.cli_seconds * 1000:.0f} ms")
    if a.startup_seconds is not None:
        out.append(
            "- Python start-up and imports alone (`python -m bot --help`): "
            f"{a.startup_seconds * 1000:.0f} ms"
        )
    if a.cli_note:
        out.append(f"- note: {a.cli_note}")
    out.append(f"- what it did: {'; '.join(a.job_summary)}")
    return out


HEADER = """# Benchmark results

Written by `python bench/run.py` (see ENGINEERING.md, "Benchmark"). The
section between the bench markers is replaced on every run; notes outside it stay.

"""


def write_report(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].removeprefix("\n")
        text = head + section + tail
    else:
        text = (text or HEADER) + ("\n" if text and not text.endswith("\n") else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- the run -------------------------------------------------------------------------


def say(text: str) -> None:
    print(text, flush=True)


def describe(phase: Phase, bare: Phase | None = None) -> str:
    line = (
        f"{phase.database:5} {phase.scenario:7} {phase.target:9} c={phase.clients:<3} "
        f"{phase.throughput:7.0f} req/s  p50/p95/p99/max {_latency(phase)} ms  "
        f"errors {phase.errors}  cpu {_ms(phase.cpu_ms_per_request)} ms/req  "
        f"peak {_mb(phase.peak_kb)} MB"
    )
    if bare is not None:
        line += f"  ratio {phase.target}/bare {ratio(phase, bare):.2f}"
    if phase.first_error:
        line += f"\n      first error: {phase.first_error}"
    return line


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: few requests, 1 and 2 clients, 1,000 signatures",
    )
    parser.add_argument(
        "--clients", help="concurrent clients per phase, comma separated (default 1,4,16)"
    )
    parser.add_argument("--requests", type=int, help="most requests per phase (default 30000)")
    parser.add_argument("--duration", type=float, help="most seconds per phase (default 9)")
    parser.add_argument(
        "--bulk", type=int, help="signatures in the large campaign (default 1000000; 0 skips it)"
    )
    parser.add_argument(
        "--scenarios", help=f"which scenarios, comma separated (default {','.join(SCENARIOS)})"
    )
    parser.add_argument(
        "--threads", type=int, default=16, help="waitress threads in both servers (default 16)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="unmeasured requests per client first (default 3)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=(
            "turns each server takes per phase, sharing its requests and time (default"
            " 9: short turns, so that drift on a shared machine falls on every server alike)"
        ),
    )
    parser.add_argument(
        "--announce-runs", type=int, default=3, help="in-process announce runs (default 3)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=BENCH_DIR / "RESULTS.md",
        help="report file (default bench/RESULTS.md)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the working directory (databases and logs)"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.clients = [int(c) for c in (args.clients or ("1,2" if quick else "1,4,16")).split(",")]
    if any(c < 1 or c > 64 for c in args.clients):
        parser.error("--clients must be between 1 and 64")
    args.scenarios = (args.scenarios or ",".join(SCENARIOS)).split(",")
    if set(args.scenarios) - set(SCENARIOS):
        parser.error(f"--scenarios takes {', '.join(SCENARIOS)}")
    args.requests = args.requests or (10 if quick else 30_000)
    args.duration = args.duration or (5.0 if quick else 9.0)
    args.bulk = (1_000 if quick else 1_000_000) if args.bulk is None else args.bulk
    args.warmup = 1 if quick and args.warmup == 3 else args.warmup
    args.rounds = max(1, args.rounds or (1 if quick else 9))
    args.announce_runs = 1 if quick and args.announce_runs == 3 else args.announce_runs
    args.argv = argv
    return args


# The bare Bolt app that answers DMs (bench/bare_app.py --answer-dms) runs beside
# `status` only: for the other scenarios it is the bare app.
ANSWERING = ("empty", "answering")


def _targets(options: argparse.Namespace) -> list[tuple[str, str]]:
    """(database, target) of each server, in the order they first go."""
    targets = [("empty", "bare"), ("empty", "project")]
    if options.bulk:
        targets.append(("bulk", "project"))
    if "status" in options.scenarios:
        targets.append(ANSWERING)
    return targets


def _measure(
    options: argparse.Namespace,
    servers: dict[tuple[str, str], Proc],
    fake_api_url: str,
    key: bytes,
    results: Results,
) -> None:
    """Every scenario at every number of clients on every server. The servers run
    side by side and take turns, `--rounds` times per phase with the order rotated,
    so that drift on a shared machine falls on all of them alike."""
    signers = {target: itertools.count() for target in servers}
    for clients in options.clients:
        for i, scenario in enumerate(options.scenarios):
            targets = [t for t in servers if t != ANSWERING or scenario == "status"]
            phases = {t: Phase(t[0], scenario, t[1], clients) for t in targets}
            loads = {t: make_load(scenario, t[1], fake_api_url, signers[t], key) for t in targets}
            for round_ in range(options.rounds):
                turn = (i + clients + round_) % len(targets)
                for t in targets[turn:] + targets[:turn]:
                    run_phase(
                        servers[t],
                        phases[t],
                        loads[t],
                        max(1, options.requests // options.rounds),
                        options.duration / options.rounds,
                        options.warmup if round_ == 0 else 0,
                    )
            results.phases.extend(phases.values())
            bare = phases[("empty", "bare")]
            say(describe(bare))
            for t in targets[1:]:
                say(describe(phases[t], bare))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="undersigned-bench-"))
    key = secrets.token_bytes(32)
    signer_key = base64.urlsafe_b64encode(key).decode().rstrip("=")
    results = Results(options, machine())
    servers: dict[tuple[str, str], Proc] = {}
    fake = FakeSlackProcess(workdir)
    try:
        say(f"fake Slack at {fake.api_url}; working in {workdir}")
        urls = {"empty": prepare_database(workdir / "empty.db")}
        if options.bulk:
            path = workdir / "bulk.db"
            urls["bulk"] = prepare_database(path)
            results.bulk_count = options.bulk
            results.bulk_seconds = bulk_sign(path, options.bulk)
            say(f"loaded {signature_count(path):,} signatures in {results.bulk_seconds:.1f} s")
            results.scans = query_plans(urls["bulk"], key)
        for database, target in _targets(options):
            env = server_env(fake.api_url, urls[database], signer_key)
            if target in ("bare", "answering"):
                servers[(database, target)] = start_bare(
                    workdir, env, options.threads, answering=target == "answering"
                )
            else:
                servers[(database, target)] = start_project(workdir, env, options.threads, database)
        _measure(options, servers, fake.api_url, key, results)
        for (_, target), proc in servers.items():
            proc.stop()
            results.peaks[target] = max(results.peaks.get(target, 0), proc.peak_kb)
        servers.clear()
        if options.bulk:
            env = server_env(fake.api_url, urls["bulk"], signer_key)
            results.announce = time_announce(workdir / "bulk.db", env, options.announce_runs)
            say("\n".join(_render_announce(results)).strip())
        results.fake_calls = fake.counts()
    finally:
        for proc in servers.values():
            proc.stop()
        fake.stop()
        if not options.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    section = render(results)
    write_report(options.output, section)
    say("")
    for name, measured, met in targets(results):
        say(f"{'ok  ' if met else 'MISS'} {name}: {measured}")
    say(f"wrote {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
