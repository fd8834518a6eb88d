"""Running the app as Slack drives it: settings, a driver that signs requests, the running bot."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from slack_sdk import WebClient
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bot.settings import Settings, default_key_store, load_settings
from console.payloads import (
    app_home_opened_body,
    block_actions_body,
    message_im_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from console.server import FakeSlack
from console.workspace import FakeUser
from petition import campaign_spec, campaigns
from petition.keyring import Keyring
from storage.db import Database
from storage.models import Campaign
from tests.support.httpclient import HttpResult, post

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
SIGNER_KEY = "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo"
ALICE = FakeUser(id="U0ALICE001", name="alice", real_name="Alice Example")
BOB = FakeUser(id="U0BOB00002", name="bob", real_name="Bob Example")


def newcomer(fake: FakeSlack, user_id: str = "U0NEWCOMER", **fields: Any) -> FakeUser:
    """A colleague who joined after the running app read its member directory, and
    whose `team_join` it missed: it can only learn who they are from users.info."""
    return fake.workspace.add_user(
        FakeUser(user_id, user_id.lower(), f"Newcomer {user_id[-4:]}", **fields)
    )


def key_store_for(database_url: str) -> str:
    """The test database's own key store: beside the SQLite file (the default), or
    a directory named after the PostgreSQL test database."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        return str(default_key_store(database_url))
    return str(Path(tempfile.gettempdir()) / "undersigned-test-keys" / str(parsed.database))


def make_settings(fake: FakeSlack, database_url: str, **extra: str) -> Settings:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": database_url,
        "SIGNER_KEY": SIGNER_KEY,
        "TIMEZONE": "Europe/London",
        "KEY_STORE": key_store_for(database_url),
        **extra,
    }
    return load_settings(env)


def acknowledgement_kind(body: bytes, content_type: str) -> tuple[str, dict[str, Any] | None]:
    """What a request to the app is, as Slack reads the answer: ("command", None),
    ("view_submission", the submitted view), or another kind (answer not read)."""
    if content_type.startswith("application/json"):
        return "event", None
    fields = form(body)
    if "command" in fields:
        return "command", None
    try:
        payload = json.loads(fields.get("payload", ""))
    except ValueError:
        return "unknown", None
    if not isinstance(payload, dict):
        return "unknown", None
    view = payload.get("view") if isinstance(payload.get("view"), dict) else None
    return str(payload.get("type")), view


@dataclass
class SlackDriver:
    """Sends requests to the running app exactly as Slack would."""

    base_url: str
    fake: FakeSlack
    secret: str = SIGNING_SECRET
    # Waits until the app has finished the work a request started. An event's
    # answer (a DM's reply, the Home tab) can follow its acknowledgement on a
    # loaded machine (handlers/intime.py); Slack would show it a moment later, so
    # a test reading what Slack received waits for it as a person would.
    settle: Callable[[], object] | None = None
    # How long a request may wait for its answer. Slack's own limit is three
    # seconds; tests of it time the answer themselves (test_intime.py).
    timeout: float = 10

    def post(
        self,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> HttpResult:
        all_headers = {"Content-Type": content_type, **sign(self.secret, body, timestamp)}
        all_headers.update(headers or {})
        result = post(self.base_url + "/slack/events", body, all_headers, self.timeout)
        if result.status == 200:
            # The acknowledgement goes to Slack too: a slash command's answer, a
            # form's response_action. Slack would refuse it silently; the test must not.
            kind, submitted = acknowledgement_kind(body, content_type)
            problems = self.fake.check_acknowledgement(kind, result.body, submitted)
            assert not problems, f"Slack would refuse this {kind} acknowledgement: {problems}"
        return result

    def command(
        self, text: str = "", user: str = ALICE.id, command: str = "/demands", **fields: Any
    ) -> HttpResult:
        body = slash_command_body(command, text, user, self.fake.response_url(), **fields)
        return self.post(body, "application/x-www-form-urlencoded")

    def click(self, action_id: str, value: str, user: str = ALICE.id, **fields: Any) -> HttpResult:
        fields.setdefault("response_url", self.fake.response_url())
        body = block_actions_body(action_id, value, user, **fields)
        return self.post(body, "application/x-www-form-urlencoded")

    def dm(
        self,
        text: str,
        user: str = ALICE.id,
        headers: dict[str, str] | None = None,
        settled: bool = True,
        **extra: Any,
    ) -> HttpResult:
        """A direct message to the bot; with `settled`, back once its answer is sent."""
        body = message_im_body(text, user, **extra)
        return self._settled(self.post(body, "application/json", headers), settled)

    def open_home(self, user: str = ALICE.id, settled: bool = True) -> HttpResult:
        return self._settled(self.post(app_home_opened_body(user), "application/json"), settled)

    def _settled(self, result: HttpResult, settled: bool) -> HttpResult:
        if settled and self.settle is not None:
            assert self.settle(), "the app's work after an acknowledgement did not finish"
        return result

    def submit(
        self, view: dict[str, Any], values: dict[str, Any], user: str = ALICE.id
    ) -> HttpResult:
        body = view_submission_body(view, user, values)
        return self.post(body, "application/x-www-form-urlencoded")

    def event(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResult:
        return self.post(json.dumps(payload).encode(), "application/json", headers)


@dataclass
class RunningBot:
    settings: Settings
    db: Database
    slack: SlackDriver
    fake: FakeSlack

    @property
    def keyring(self) -> Keyring:
        """A keyring on the bot's key store, for a test's own reads and writes."""
        return self.settings.keyring()

    @property
    def app_client(self) -> WebClient:
        """A Web API client like the app's, for jobs run by the test itself."""
        return WebClient(token="xoxb-test-token", base_url=self.fake.api_url, timeout=10)

    def import_campaign(self, **fields: Any) -> None:
        data = {
            "slug": "wewontbuildit",
            "title": "We won't build it",
            "statement": "We, the undersigned, ask our employer to stop.",
            "demands": ["Cancel the contract", "Publish the terms", "No retaliation"],
            "milestones": [100, 250, 400],
            "channel": "C0ANNOUNCE",
        }
        data.update(fields)
        spec = campaign_spec.parse_campaign(data, self.settings.timezone)
        with self.db.write() as session:
            campaigns.upsert_campaign(session, spec)

    def pass_closing_date(self, slug: str, closes_on: dt.date) -> None:
        """The state a campaign is in once its closing date has gone by."""
        closes_at = dt.datetime.combine(closes_on, dt.time(0, 0), tzinfo=self.settings.timezone)
        with self.db.write() as session:
            session.execute(
                update(Campaign).where(Campaign.slug == slug).values(closes_at=closes_at)
            )


def response_json(result: HttpResult) -> dict[str, Any]:
    assert result.status == 200, (result.status, result.body)
    return json.loads(result.body)


def form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}
