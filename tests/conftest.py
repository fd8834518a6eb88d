"""Fixtures that run the app as Slack drives it: a fake Slack Web API on loopback,
the real WSGI app served by waitress on a free port, real SQLite files and real
migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from bot.settings import load_settings
from console.server import FakeSlack
from handlers.intime import InTime
from petition.keyring import Keyring, KeyStore
from storage.db import Database
from storage.migrate import upgrade
from tests.support.databases import ON_POSTGRES, PG_URL, PG_URL_ENV, PostgresServer

# Fixtures kept in tests/support, handed to every test module from here.
from tests.support.organizers import bot, organizing
from tests.support.running import (
    ALICE,
    BOB,
    SIGNER_KEY,
    SIGNING_SECRET,
    RunningBot,
    SlackDriver,
    form,
    key_store_for,
    make_settings,
    response_json,
)


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
    tests/support/databases.py); a new SQLite file, which the app migrates, by default."""
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


def assert_nothing_refused(fake: FakeSlack) -> None:
    """Slack (the strict fake) refused nothing the app sent: no invalid blocks or
    views, no acknowledgement Slack could not show."""
    assert fake.refusals == [], "\n".join(
        f"{r.method}: {r.error}: {'; '.join(r.problems[:5])}" for r in fake.refusals
    )


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


@pytest.fixture
def extra_settings() -> dict[str, str]:
    """Settings a test module adds to the running bot's (override to change)."""
    return {}


@pytest.fixture
def running_bot(
    fake_slack: FakeSlack, db: Database, database_url: str, extra_settings: dict[str, str]
) -> Iterator[RunningBot]:
    settings = make_settings(fake_slack, database_url, **extra_settings)
    in_time = InTime()
    app = create_app(settings, db, in_time=in_time)
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
    driver = SlackDriver(server.url, fake_slack, settle=in_time.settle)
    try:
        yield RunningBot(settings, db, driver, fake_slack)
    finally:
        server.stop()
        in_time.shutdown()


__all__ = [
    "ALICE",
    "BOB",
    "RunningBot",
    "SlackDriver",
    "bot",
    "form",
    "organizing",
    "response_json",
    "urlencode",
]
