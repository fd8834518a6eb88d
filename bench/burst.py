"""Benchmark: a viral hour. Many people arriving within minutes in one workspace,
each signing through one path, against the strict fake Slack with its rate-limit
tiers and a latency on every Web API call.

    python bench/burst.py                                   # 1,000 in 120 s, /demands
    python bench/burst.py --path dm --people 1000 --window 120
    python bench/burst.py --path demands --people 5000 --window 600
    python bench/burst.py --quick                           # 60 people in 10 s

Paths (what a person does, as Slack's client would send it):
  demands  `/demands` in a channel, then *Sign privately* (confirmed in Slack's
           dialog) on the ephemeral answer: the answer comes through the response URL
  dm       `sign` in the DM, then *Sign privately* on the ephemeral reply
  home     open the Home tab, then *Sign privately* there
  form     *Sign with my name…* on the /demands answer: the form (views.open), then
           submitting it
  card     *Sign privately* on the campaign's card, a message everyone in #general
           sees (an organizer posts it first with `/demands card`): the answer must
           come as a new ephemeral message through the response URL, never by
           replacing the card, and nothing may be posted or edited in the channel
Anyone told to try again (in the answer they are looking at) waits what they were
told and tries again; anyone with no answer after --give-up seconds is counted.

The app runs as deployed (`python -m bot serve`, its own process, waitress threads);
the fake Slack runs in this process (console.server.FakeSlack, tiers on, Block Kit
checks on) with --latency seconds added to every Web API call. A share of the
people (--newcomers) joined after the app read its member directory, so users.info
is asked about them. Results are printed as a Markdown table row set; paste them
into bench/RESULTS.md.

A little past 500 lines, as bench/run.py and for its reason: a script, whose
people, paths and report are read together.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blocks import limits  # noqa: E402
from console.payloads import (  # noqa: E402
    app_home_opened_body,
    block_actions_body,
    message_im_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from console.server import Call, FakeSlack  # noqa: E402
from console.workspace import FakeChannel, FakeUser, dm_channel_for  # noqa: E402

HOST = "127.0.0.1"
SECRET = "burst-signing-secret-" + secrets.token_hex(8)
SLUG = "viral"
CAMPAIGN = """slug = "viral"
title = "We won't build it"
statement = "We, the undersigned, ask our employer to cancel the contract."
demands = ["Cancel the contract.", "No retaliation.", "An elected ethics board."]
milestones = [100, 1000, 5000]
channel = "C0ANNOUNCE"
"""
QUICK, FORM = "sign_quick", "sign_start"
# The card path: who posts the card, and where.
ORGANIZER, CARD_CHANNEL = "U0BORGANIZ", "C0GENERAL"
RETRY = re.compile(r"again in (?:(\d+) seconds?|a second|a minute|(\d+) minutes?)")
SIGNED = ("anonymously", "already signed", "You have signed", "You signed")


class BurstSlack(FakeSlack):
    """The strict fake, telling waiting clients about what the app sent each person."""

    def __init__(self, latency: float) -> None:
        super().__init__(tiers=True, checks=True)
        self.workspace.anyone_is_member = True
        self.latency = latency
        self.mail: dict[str, list[dict[str, Any]]] = {}
        self.arrived = threading.Condition()
        self.counts: Counter[str] = Counter()

    def post_for(self, key: str, params: dict[str, Any]) -> None:
        with self.arrived:
            self.mail.setdefault(key, []).append(params)
            self.arrived.notify_all()

    def wait_mail(self, key: str, seen: int, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.mail.get(key, ())) <= seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.arrived.wait(left)
            return self.mail[key][seen]

    def _record(self, call: Call) -> None:
        with self._lock:
            self.counts[call.method] += 1

    def _answer(
        self, path: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, Any, dict]:
        if not path.startswith("/response/") and self.latency:
            time.sleep(self.latency)  # every Web API call answers this late
        answer = super()._answer(path, params, token)
        status, data = answer[0], answer[1]
        if path.startswith("/response/"):
            if status == 200:
                self.post_for(path, params)
            return answer
        # Only what Slack took reaches the person: a call refused (429, invalid
        # blocks) shows nothing.
        if status != 200 or not isinstance(data, dict) or not data.get("ok"):
            return answer
        method = path.removeprefix("/api/")
        if method == "chat.postEphemeral":
            self.post_for(f"eph:{params.get('user')}", params)
        elif method == "views.publish":
            self.post_for(f"home:{params.get('user_id')}", params)
        elif method == "views.open":
            self.post_for(f"open:{params.get('trigger_id')}", params)
        return answer


def text_of(message: dict[str, Any]) -> str:
    parts = [str(message.get("text") or "")]
    for block in message.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"].get("text", ""))
        for element in block.get("elements") or []:
            if isinstance(element.get("text"), str):
                parts.append(element["text"])
    return "\n".join(parts)


def retry_seconds(text: str) -> int | None:
    found = RETRY.search(text)
    if not found:
        return None
    if found.group(1):
        return int(found.group(1))
    if found.group(2):
        return 60 * int(found.group(2))
    return 1 if "a second" in found.group(0) else 60


@dataclass
class Person:
    user: str
    arrives: float
    acks: list[float] = field(default_factory=list)
    retries: int = 0
    waited: float = 0.0
    signed_at: float | None = None
    answered: bool = False
    error: str | None = None


class Driver:
    def __init__(self, port: int, fake: BurstSlack, give_up: float) -> None:
        self.port = port
        self.fake = fake
        self.give_up = give_up
        self._ids = iter(range(1, 10**9))
        self._lock = threading.Lock()
        # The card's message, once posted (the card path), and answers to a click on
        # it that were not a new ephemeral message (each would show in the channel).
        self.card_ts = ""
        self.card_answers_shown = 0

    def _next(self) -> int:
        with self._lock:
            return next(self._ids)

    def post(self, person: Person, body: bytes, content_type: str) -> tuple[int, bytes]:
        headers = {"Content-Type": content_type, **sign(SECRET, body)}
        started = time.monotonic()
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            conn.request("POST", "/slack/events", body, headers)
            answer = conn.getresponse()
            data = answer.read()
        finally:
            conn.close()
        person.acks.append(time.monotonic() - started)
        return answer.status, data

    def response_url(self) -> tuple[str, str]:
        url = self.fake.response_url()
        return url, urlparse(url).path

    def outcome(self, person: Person, text: str) -> int | None:
        """Seconds to wait before trying again, or None if this answer ends it."""
        if any(word in text for word in SIGNED):
            person.signed_at = time.monotonic()
            person.answered = True
            return None
        wait = retry_seconds(text)
        if wait is None:
            person.answered = True
            person.error = text[:120]
            return None
        person.retries += 1
        person.waited += wait
        return wait

    def quick_click(self, person: Person, **fields: Any) -> str | None:
        """*Sign privately* on a message: the answer through its response URL."""
        answer = self._quick_answer(person, **fields)
        return text_of(answer) if answer is not None else None

    def _quick_answer(self, person: Person, **fields: Any) -> dict[str, Any] | None:
        url, path = self.response_url()
        body = block_actions_body(QUICK, SLUG, person.user, url, **fields)
        status, _ = self.post(person, body, "application/x-www-form-urlencoded")
        if status != 200:
            return {"text": f"status {status}"}
        return self.fake.wait_mail(path, 0, self.give_up)

    def post_card(self) -> None:
        """The organizer types `/demands card SLUG` in the channel, before the burst."""
        someone = Person(ORGANIZER, 0.0)
        url, _ = self.response_url()
        body = slash_command_body(
            "/demands", f"card {SLUG}", ORGANIZER, url, channel_id=CARD_CHANNEL
        )
        status, _ = self.post(someone, body, "application/x-www-form-urlencoded")
        deadline = time.monotonic() + 30
        while status == 200 and time.monotonic() < deadline:
            posted = self.fake.workspace.messages_in(CARD_CHANNEL)
            if posted:
                self.card_ts = str(posted[-1]["ts"])
                return
            time.sleep(0.1)
        raise RuntimeError(f"the card was not posted (status {status})")

    def card(self, person: Person) -> str | None:
        container = {
            "type": "message",
            "message_ts": self.card_ts,
            "channel_id": CARD_CHANNEL,
            "is_ephemeral": False,
        }
        answer = self._quick_answer(person, channel_id=CARD_CHANNEL, container=container)
        if answer is None:
            return None
        replaced = str(answer.get("replace_original")).lower() == "true"
        if answer.get("response_type") != "ephemeral" or replaced:
            with self._lock:
                self.card_answers_shown += 1
        return text_of(answer)

    def demands(self, person: Person) -> str | None:
        url, _ = self.response_url()
        body = slash_command_body("/demands", SLUG, person.user, url)
        status, data = self.post(person, body, "application/x-www-form-urlencoded")
        if status != 200 or QUICK.encode() not in data:
            return f"/demands: status {status}"
        return self.quick_click(person)

    def dm(self, person: Person) -> str | None:
        key = f"eph:{person.user}"
        seen = len(self.fake.mail.get(key, ()))
        status, _ = self.post(
            person, message_im_body(f"sign {SLUG}", person.user), "application/json"
        )
        if status != 200:
            return f"dm: status {status}"
        reply = self.fake.wait_mail(key, seen, self.give_up)
        if reply is None:
            return None
        if QUICK not in json.dumps(reply.get("blocks")):
            return text_of(reply)  # told to wait, say
        return self.quick_click(person, channel_id=dm_channel_for(person.user))

    def home(self, person: Person) -> str | None:
        key = f"home:{person.user}"
        seen = len(self.fake.mail.get(key, ()))
        status, _ = self.post(person, app_home_opened_body(person.user), "application/json")
        if status != 200:
            return f"home: status {status}"
        tab = self.fake.wait_mail(key, seen, self.give_up)
        if tab is None:
            return None
        view = tab["view"]
        metadata = view.get("private_metadata", "")
        container = {"type": "view", "view_id": "V0HOME"}
        clicked = {"id": "V0HOME", "type": "home", "private_metadata": metadata}
        body = block_actions_body(
            QUICK, SLUG, person.user, None, channel_id=None, container=container, view=clicked
        )
        status, _ = self.post(person, body, "application/x-www-form-urlencoded")
        if status != 200:
            return f"home click: status {status}"
        tab = self.fake.wait_mail(key, seen + 1, self.give_up)
        return text_of(tab["view"]) if tab is not None else None

    def form(self, person: Person) -> str | None:
        url, path = self.response_url()
        trigger = self.fake.new_trigger(person.user)
        body = block_actions_body(FORM, SLUG, person.user, url, trigger_id=trigger)
        status, _ = self.post(person, body, "application/x-www-form-urlencoded")
        if status != 200:
            return f"form click: status {status}"
        opened = self.fake.wait_mail(f"open:{trigger}", 0, 4.0)
        if opened is None:
            said = self.fake.wait_mail(path, 0, self.give_up)
            return text_of(said) if said is not None else None
        view = opened["view"]
        if view.get("callback_id") != "sign_submit":
            # "One moment", or a notice: the form replaces it, or the notice says why.
            for _ in range(100):
                with self.fake._lock:
                    shown = self.fake.workspace.modal_of(person.user)
                if shown and shown.get("callback_id") == "sign_submit":
                    view = shown
                    break
                if shown and "again in" in text_of(shown):
                    return text_of(shown)
                time.sleep(0.1)
            else:
                return None
        values = {
            "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "named"}}},
            "name": {"name": {"type": "plain_text_input", "value": f"Person {person.user[-5:]}"}},
        }
        status, data = self.post(
            person,
            view_submission_body(view, person.user, values),
            "application/x-www-form-urlencoded",
        )
        if status != 200:
            return f"submit: status {status}"
        answer = json.loads(data or b"{}")
        if answer.get("response_action") == "errors":
            return " ".join(answer.get("errors", {}).values())
        if answer.get("response_action") in ("update", "push"):
            return text_of(answer["view"])
        shown = self.fake.workspace.modal_of(person.user)
        return text_of(shown) if shown else None


def run_person(driver: Driver, path: str, person: Person, start: float, give_up: float) -> None:
    step = getattr(driver, path)
    time.sleep(max(0.0, start + person.arrives - time.monotonic()))
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        try:
            text = step(person)
        except Exception as error:  # the person saw nothing: counted, not fatal
            person.error = type(error).__name__
            return
        if text is None:
            return  # no answer
        wait = driver.outcome(person, text)
        if wait is None:
            return
        time.sleep(wait + random.random())


def start_server(
    workdir: Path, api_url: str, threads: int, organizers: str = ""
) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    env.update(
        SLACK_BOT_TOKEN="xoxb-burst-token",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=api_url,
        DATABASE_URL=f"sqlite:///{workdir / 'undersigned.db'}",
        SIGNER_KEY=subprocess.check_output(
            [sys.executable, "-m", "bot", "keygen"], cwd=ROOT, env=env, text=True
        )
        .strip()
        .removeprefix("SIGNER_KEY="),
        ORGANIZERS=organizers,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    (workdir / "campaign.toml").write_text(CAMPAIGN)
    subprocess.run(
        [sys.executable, "-m", "bot", "campaign", "import", str(workdir / "campaign.toml")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), "--threads", str(threads)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server, port
        except OSError:
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start; see " + str(workdir / "server.log"))


def signature_count(workdir: Path) -> int:
    import sqlite3

    with sqlite3.connect(workdir / "undersigned.db") as conn:
        row = conn.execute("SELECT signature_count FROM campaigns WHERE slug = ?", (SLUG,))
        return int(row.fetchone()[0])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--path", choices=("demands", "dm", "home", "form", "card"), default="demands"
    )
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--window", type=float, default=120.0, help="seconds of arrivals")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per Web API call")
    parser.add_argument("--newcomers", type=float, default=0.02, help="share not in the directory")
    parser.add_argument("--threads", type=int, default=16, help="the server's worker threads")
    parser.add_argument("--give-up", type=float, default=900.0, help="seconds with no answer")
    parser.add_argument("--quick", action="store_true", help="60 people in 10 s")
    options = parser.parse_args(argv)
    if options.quick:
        options.people, options.window = 60, 10.0

    rng = random.Random(20)
    people = [Person(f"U0B{n:07d}", rng.uniform(0, options.window)) for n in range(options.people)]
    newcomers = set(rng.sample(range(options.people), int(options.people * options.newcomers)))
    with tempfile.TemporaryDirectory() as tmp, BurstSlack(options.latency) as fake:
        workdir = Path(tmp)
        fake.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
        fake.workspace.add_channel(FakeChannel(CARD_CHANNEL, "general"))
        fake.workspace.add_user(FakeUser(ORGANIZER, "organizer", "An Organizer"))
        for n, person in enumerate(people):
            if n not in newcomers:
                fake.workspace.add_user(FakeUser(person.user, f"p{n}", f"Person {n}"))
        organizers = ORGANIZER if options.path == "card" else ""
        server, port = start_server(workdir, fake.api_url, options.threads, organizers)
        try:
            for n in newcomers:  # joined after the directory was read
                fake.workspace.add_user(FakeUser(people[n].user, f"p{n}", f"Person {n}"))
            startup = Counter(fake.counts)
            driver = Driver(port, fake, options.give_up)
            if options.path == "card":
                driver.post_card()
            before = Counter(fake.counts)
            start = time.monotonic()
            with ThreadPoolExecutor(max_workers=min(options.people, 1500)) as pool:
                for person in people:
                    pool.submit(run_person, driver, options.path, person, start, options.give_up)
            ended = time.monotonic()
            calls = Counter(fake.counts)
            calls.subtract(before)
            stored = signature_count(workdir)
        finally:
            server.terminate()
            server.wait(timeout=20)
        limited = {m: n for m, n in calls.items() if m in limits.METHOD_TIERS and n > 0}
        refused_429 = len(fake.rate_limited)
        problems = [f"{r.method}: {r.error}" for r in fake.refusals]

    signed = [p for p in people if p.signed_at is not None]
    acks = [a for p in people for a in p.acks]
    last = max((p.signed_at - start for p in signed), default=float("nan"))
    retried = [p for p in people if p.retries]
    unanswered = [p for p in people if not p.answered and p.signed_at is None]
    per_sig = sum(limited.values()) / max(1, stored)
    report = {
        "path": options.path,
        "people": options.people,
        "window_s": options.window,
        "latency_ms": round(options.latency * 1000),
        "newcomers": len(newcomers),
        "signed (stored)": stored,
        "signed (told)": len(signed),
        "last signature after s": round(last, 1),
        "signatures per minute": round(len(signed) / (last / 60), 1) if signed else 0,
        "start-up calls (directory)": {m: n for m, n in startup.items() if n},
        "limited calls": dict(sorted(limited.items())),
        "limited calls per signature": round(per_sig, 3),
        "429s from Slack": refused_429,
        "ack p50 ms": round(statistics.median(acks) * 1000) if acks else None,
        "ack p99 ms": round(percentile(acks, 0.99) * 1000) if acks else None,
        "ack max ms": round(max(acks) * 1000) if acks else None,
        "told to retry": len(retried),
        "retries": sum(p.retries for p in people),
        "longest wait told s": max((p.waited for p in retried), default=0),
        "left with no answer": len(unanswered),
        # A signature must never show in a channel: posts and edits made while the
        # people arrived (none on any path), and, on the card path, answers to a
        # click that were not a new ephemeral message.
        "channel posts and edits": calls["chat.postMessage"] + calls["chat.update"],
        "card answers not ephemeral": driver.card_answers_shown,
        "other answers": Counter(p.error for p in people if p.error).most_common(3),
        "refused by the strict fake": problems[:5],
        "wall s": round(ended - start, 1),
    }
    print(json.dumps(report, indent=2))
    shown = report["channel posts and edits"] or report["card answers not ephemeral"]
    return 0 if not unanswered and not problems and not shown else 1


if __name__ == "__main__":
    sys.exit(main())
