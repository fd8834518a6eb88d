"""Fixtures that run the app as Slack drives it: a fake Slack Web API on loopback,
the real WSGI app served by waitress on a free port, real SQLite files and real
migrations."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from slack_sdk import WebClient
from sqlalchemy import update
from sqlalchemy.engine import make_url

from bot import campaigns
from bot.app import create_app
from bot.fakeslack import (
    FakeSlack,
    FakeUser,
    app_home_opened_body,
    block_actions_body,
    message_im_body,
    sign,
    slash_command_body,
    view_submission_body,
)
from bot.keyring import Keyring, KeyStore
from bot.server import BackgroundServer, SlackWSGI
from bot.settings import Settings, default_key_store, load_settings
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Campaign
from tests.databases import ON_POSTGRES, PG_URL, PG_URL_ENV, PostgresServer
from tests.httpclient import HttpResult, post

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
SIGNER_KEY = "dGhpcy1pcy1hLXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbmctZW5vdWdo"

ALICE = FakeUser(id="U0ALICE001", name="alice", real_name="Alice Example")
BOB = FakeUser(id="U0BOB00002", name="bob", real_name="Bob Example")


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of UNDERSIGNED_TEST_PG_URL; skips the test without one."""
    if PG_URL is None:
        pytest.skip(f"needs a PostgreSQL server: set {PG_URL_ENV}")
    server = PostgresServer(PG_URL)
    yield server
    server.close()


@pytest.fixture
def database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this test's own, migrated to head on PostgreSQL (see
    tests/databases.py); a new SQLite file, which the app migrates, by default."""
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'undersigned.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    yield url
    server.drop(url)


@pytest.fixture
def slack_tiers() -> bool:
    """Whether the fake Slack rate limits each method at its documented tier (on, as
    Slack does). A test module whose subject is not Slack's rate limits, but which
    drives more people through one workspace than the tiers allow in its few
    seconds, overrides this to False and says why."""
    return True


@pytest.fixture
def fake_slack(slack_tiers: bool) -> Iterator[FakeSlack]:
    with FakeSlack(tiers=slack_tiers) as fake:
        fake.workspace.add_user(ALICE)
        fake.workspace.add_user(BOB)
        yield fake
        # Whatever the test was about, real Slack would have taken everything sent.
        assert_nothing_refused(fake)


def newcomer(fake: FakeSlack, user_id: str = "U0NEWCOMER", **fields: Any) -> FakeUser:
    """A colleague who joined after the running app read its member directory, and
    whose `team_join` it missed: it can only learn who they are from users.info."""
    return fake.workspace.add_user(
        FakeUser(user_id, user_id.lower(), f"Newcomer {user_id[-4:]}", **fields)
    )


def assert_nothing_refused(fake: FakeSlack) -> None:
    """Slack (the strict fake) refused nothing the app sent: no invalid blocks or
    views, no acknowledgement Slack could not show."""
    assert fake.refusals == [], "\n".join(
        f"{r.method}: {r.error}: {'; '.join(r.problems[:5])}" for r in fake.refusals
    )


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


@pytest.fixture
def keyring(database_url: str) -> Keyring:
    """A keyring on this test database's key store, as the bot's settings make it."""
    key = load_settings({"SIGNER_KEY": SIGNER_KEY}).require_signer_key()
    return Keyring(key, KeyStore(Path(key_store_for(database_url)), key))


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database.from_url(database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


@dataclass
class SlackDriver:
    """Sends requests to the running app exactly as Slack would."""

    base_url: str
    fake: FakeSlack
    secret: str = SIGNING_SECRET

    def post(
        self,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> HttpResult:
        all_headers = {"Content-Type": content_type, **sign(self.secret, body, timestamp)}
        all_headers.update(headers or {})
        result = post(self.base_url + "/slack/events", body, all_headers)
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
        self, text: str, user: str = ALICE.id, headers: dict[str, str] | None = None, **extra: Any
    ) -> HttpResult:
        body = message_im_body(text, user, **extra)
        return self.post(body, "application/json", headers)

    def open_home(self, user: str = ALICE.id) -> HttpResult:
        return self.post(app_home_opened_body(user), "application/json")

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
        spec = campaigns.parse_campaign(data, self.settings.timezone)
        with self.db.write() as session:
            campaigns.upsert_campaign(session, spec)

    def pass_closing_date(self, slug: str, closes_on: dt.date) -> None:
        """The state a campaign is in once its closing date has gone by."""
        closes_at = dt.datetime.combine(closes_on, dt.time(0, 0), tzinfo=self.settings.timezone)
        with self.db.write() as session:
            session.execute(
                update(Campaign).where(Campaign.slug == slug).values(closes_at=closes_at)
            )


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """Settings a test module adds to the running bot's (override to change)."""
    return {}


@pytest.fixture
def running_bot(
    fake_slack: FakeSlack, db: Database, database_url: str, extra_settings: dict[str, str]
) -> Iterator[RunningBot]:
    settings = make_settings(fake_slack, database_url, **extra_settings)
    app = create_app(settings, db)
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
    try:
        yield RunningBot(settings, db, SlackDriver(server.url, fake_slack), fake_slack)
    finally:
        server.stop()


def response_json(result: HttpResult) -> dict[str, Any]:
    assert result.status == 200, (result.status, result.body)
    return json.loads(result.body)


def form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode()).items()}


__all__ = [
    "ALICE",
    "BOB",
    "RunningBot",
    "SlackDriver",
    "form",
    "newcomer",
    "response_json",
    "urlencode",
]
