"""Settings: defaults, one clear line per malformed setting, secrets never echoed."""

from __future__ import annotations

import subprocess
import sys

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.settings import (
    DEFAULT_ANNOUNCE_SCHEDULE,
    SIGNER_KEY_MIN_BYTES,
    Settings,
    SettingsError,
    load_settings,
)
from tests.support.running import SIGNER_KEY

BOT_TOKEN = "xoxb-1111-2222-SECRETBOTTOKEN"
APP_TOKEN = "xapp-1-A111-SECRETAPPTOKEN"
SIGNING_SECRET = "secret-signing-value-9f8e7d6c"
DB_PASSWORD = "hunter2-db-password"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, SIGNER_KEY, DB_PASSWORD)


def _full_env(**overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SIGNER_KEY": SIGNER_KEY,
        "DATABASE_URL": f"postgresql+psycopg://app:{DB_PASSWORD}@db.internal/undersigned",
        "ORGANIZERS": "U0ALICE001, W0BOB00002",
        "PORT": "8080",
        "TIMEZONE": "Europe/Berlin",
        "ANNOUNCE_SCHEDULE": "0 9 * * mon",
        "LOG_LEVEL": "debug",
        "SLACK_API_URL": "http://127.0.0.1:9999/api",
        "MEMBER_DIRECTORY": "OFF",
    }
    env.update(overrides)
    return env


def _error(env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    return str(caught.value)


def test_defaults():
    settings = load_settings({})
    assert settings.database_url == "sqlite:///undersigned.db"
    assert settings.timezone.key == "UTC"
    assert settings.port == 3000
    assert settings.log_level == "INFO"
    assert settings.announce_schedule == DEFAULT_ANNOUNCE_SCHEDULE
    CronTrigger.from_crontab(settings.announce_schedule, timezone=settings.timezone)
    assert settings.slack_api_url.startswith("https://")
    assert settings.slack_api_url.endswith("/")
    assert settings.organizers == frozenset()
    assert settings.slack_bot_token is None
    assert settings.slack_signing_secret is None
    assert settings.slack_app_token is None
    assert settings.signer_key is None
    assert settings.mode == "none"
    assert settings.member_directory is True


def test_every_setting_is_read():
    settings = load_settings(_full_env())
    assert settings.slack_bot_token == BOT_TOKEN
    assert settings.slack_app_token == APP_TOKEN
    assert settings.slack_signing_secret == SIGNING_SECRET
    assert settings.signer_key is not None
    assert len(settings.signer_key) >= SIGNER_KEY_MIN_BYTES
    assert settings.organizers == frozenset({"U0ALICE001", "W0BOB00002"})
    assert settings.port == 8080
    assert settings.timezone.key == "Europe/Berlin"
    assert settings.announce_schedule == "0 9 * * mon"
    assert settings.log_level == "DEBUG"
    # A base URL without its trailing slash still joins with method names.
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.member_directory is False


def test_blank_values_count_as_unset():
    settings = load_settings({"SLACK_BOT_TOKEN": "  ", "PORT": "", "TIMEZONE": " "})
    assert settings.slack_bot_token is None
    assert settings.port == 3000
    assert settings.timezone.key == "UTC"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token-SECRETBOTTOKEN"),
        ("SLACK_BOT_TOKEN", "SECRETBOTTOKEN"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token-SECRETAPPTOKEN"),
        ("SIGNER_KEY", "c2hvcnQta2V5"),
        ("SIGNER_KEY", "!!!! not base64 at all, not even close !!!!"),
        ("SIGNER_KEY", "é" * 60),
        ("ORGANIZERS", "U0ALICE001, alice"),
        ("ORGANIZERS", "u0lowercase"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("PORT", "abc"),
        ("PORT", "-1"),
        ("TIMEZONE", "Mars/Base"),
        ("TIMEZONE", "../../etc/passwd"),
        ("ANNOUNCE_SCHEDULE", "garbage"),
        ("ANNOUNCE_SCHEDULE", "61 25 * * *"),
        ("LOG_LEVEL", "loud"),
        ("SLACK_API_URL", "ftp://x"),
        ("SLACK_API_URL", "slack.com/api"),
        ("DATABASE_URL", "undersigned.db"),
        ("MEMBER_DIRECTORY", "disk"),
    ],
)
def test_a_malformed_setting_is_named_on_one_line(name, value):
    message = _error(_full_env(**{name: value}))
    assert name in message
    assert "\n" not in message
    assert "malformed" in message
    for secret in (*SECRETS, "SECRETBOTTOKEN", "SECRETAPPTOKEN"):
        assert secret not in message
    if name in {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SIGNER_KEY", "ORGANIZERS"}:
        # Secrets, and people's ids, are never echoed back.
        assert value not in message
        assert "alice" not in message


def test_a_database_url_error_does_not_echo_the_url():
    message = _error({"DATABASE_URL": f"app:{DB_PASSWORD}@db.internal"})
    assert "DATABASE_URL" in message
    assert DB_PASSWORD not in message


def test_secrets_never_appear_in_repr():
    settings = load_settings(_full_env())
    text = repr(settings)
    for secret in SECRETS:
        assert secret not in text
    assert repr(settings.signer_key) not in text
    # The non-secret settings are still there, so repr stays useful in a log line.
    assert "8080" in text
    assert "Europe/Berlin" in text


def test_require_http_names_what_is_missing():
    key = load_settings({"SIGNER_KEY": SIGNER_KEY}).signer_key
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        Settings(slack_signing_secret=SIGNING_SECRET, signer_key=key).require_http()
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        Settings(slack_bot_token=BOT_TOKEN, signer_key=key).require_http()
    with pytest.raises(SettingsError, match="SIGNER_KEY") as caught:
        Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET).require_http()
    assert "keygen" in str(caught.value)
    Settings(
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, signer_key=key
    ).require_http()


def test_require_socket_names_what_is_missing():
    key = load_settings({"SIGNER_KEY": SIGNER_KEY}).signer_key
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        Settings(slack_app_token=APP_TOKEN, signer_key=key).require_socket()
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN"):
        Settings(slack_bot_token=BOT_TOKEN, signer_key=key).require_socket()
    with pytest.raises(SettingsError, match="SIGNER_KEY"):
        Settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN).require_socket()
    Settings(slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN, signer_key=key).require_socket()


def test_require_errors_never_echo_secrets():
    for settings, check in (
        (Settings(slack_signing_secret=SIGNING_SECRET), Settings.require_http),
        (Settings(slack_bot_token=BOT_TOKEN), Settings.require_http),
        (Settings(slack_bot_token=BOT_TOKEN), Settings.require_socket),
        (Settings(slack_app_token=APP_TOKEN), Settings.require_socket),
    ):
        with pytest.raises(SettingsError) as caught:
            check(settings)
        message = str(caught.value)
        assert "\n" not in message
        for secret in SECRETS:
            assert secret not in message


@pytest.mark.parametrize(
    ("tokens", "mode"),
    [
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}, "socket"),
        (
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_APP_TOKEN": APP_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            },
            "socket",
        ),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, "http"),
        # DESIGN.md: Socket Mode whenever SLACK_APP_TOKEN is set, so that a missing bot
        # token is reported by require_socket() instead of silently falling back.
        ({"SLACK_APP_TOKEN": APP_TOKEN}, "socket"),
        ({"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}, "socket"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "none"),
        ({"SLACK_SIGNING_SECRET": SIGNING_SECRET}, "none"),
        ({}, "none"),
    ],
)
def test_mode_follows_the_tokens(tokens, mode):
    assert load_settings(tokens).mode == mode


def test_socket_mode_with_only_an_app_token_names_the_missing_bot_token():
    settings = load_settings({"SLACK_APP_TOKEN": APP_TOKEN, "SIGNER_KEY": SIGNER_KEY})
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        settings.require_socket()


def _keygen() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "keygen"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    name, _, value = lines[0].partition("=")
    assert name == "SIGNER_KEY"
    return value


def test_keygen_prints_a_valid_fresh_signer_key():
    first, second = _keygen(), _keygen()
    assert first != second
    for value in (first, second):
        key = load_settings({"SIGNER_KEY": value}).signer_key
        assert key is not None
        assert len(key) >= SIGNER_KEY_MIN_BYTES
    assert (
        load_settings({"SIGNER_KEY": first}).signer_key
        != load_settings({"SIGNER_KEY": second}).signer_key
    )


def test_a_port_of_non_ascii_digits_is_malformed_not_a_crash():
    with pytest.raises(SettingsError, match="PORT"):
        load_settings({"PORT": "²"})
