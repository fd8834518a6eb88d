"""The HTTP edge of the app, driven through the real waitress server: signatures,
malformed bodies, size limits, routes, and Slack's own signing test vector."""

from __future__ import annotations

import http.client
import json
import logging
import time
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bot.health import database_problem
from console.payloads import sign, slash_command_body, view_submission_body
from storage.db import Database, sqlite_path
from storage.models import Campaign
from tests.support.databases import sqlite_only
from tests.support.httpclient import HttpResult, get, post, request
from tests.support.running import ALICE, SIGNING_SECRET, RunningBot, response_json
from tests.support.signing import open_by_click

SLACK_SAMPLES = Path("/work/shared/slack")
FORM = "application/x-www-form-urlencoded"
TITLE = "We won't build it"


def _demands_body(bot: RunningBot, command: str = "/demands", text: str = "") -> bytes:
    return slash_command_body(command, text, ALICE.id, bot.fake.response_url())


def _assert_demands_still_work(bot: RunningBot) -> None:
    answer = response_json(bot.slack.command(""))
    assert answer["response_type"] == "ephemeral"
    assert answer["blocks"][0]["text"]["text"] == TITLE


def _assert_refused(result: HttpResult) -> None:
    assert result.status == 401, (result.status, result.body)
    assert json.loads(result.body) == {"error": "invalid request"}


def _events_url(bot: RunningBot) -> str:
    return bot.slack.base_url + "/slack/events"


# -- signatures ---------------------------------------------------------------


def test_a_signature_made_with_the_wrong_secret_is_refused(running_bot):
    running_bot.import_campaign()
    body = _demands_body(running_bot)
    headers = {"Content-Type": FORM, **sign("not-the-signing-secret", body)}
    _assert_refused(post(_events_url(running_bot), body, headers))
    _assert_demands_still_work(running_bot)


@pytest.mark.parametrize("offset", [-600, 600], ids=["ten-minutes-old", "ten-minutes-ahead"])
def test_a_request_signed_outside_the_five_minute_window_is_refused(running_bot, offset):
    running_bot.import_campaign()
    stale = int(time.time()) + offset
    _assert_refused(running_bot.slack.post(_demands_body(running_bot), FORM, timestamp=stale))
    _assert_demands_still_work(running_bot)


@pytest.mark.parametrize(
    "missing",
    [
        ("X-Slack-Signature", "X-Slack-Request-Timestamp"),
        ("X-Slack-Signature",),
        ("X-Slack-Request-Timestamp",),
    ],
    ids=["both", "signature", "timestamp"],
)
def test_a_request_without_signature_headers_is_refused(running_bot, missing):
    running_bot.import_campaign()
    body = _demands_body(running_bot)
    headers = {"Content-Type": FORM, **sign(SIGNING_SECRET, body)}
    for name in missing:
        del headers[name]
    _assert_refused(post(_events_url(running_bot), body, headers))
    _assert_demands_still_work(running_bot)


def test_a_signature_over_a_different_body_is_refused(running_bot):
    running_bot.import_campaign()
    signed = _demands_body(running_bot, text="help")
    sent = _demands_body(running_bot, text="wewontbuildit")
    headers = {"Content-Type": FORM, **sign(SIGNING_SECRET, signed)}
    _assert_refused(post(_events_url(running_bot), sent, headers))
    _assert_demands_still_work(running_bot)


@pytest.mark.parametrize("timestamp", ["not-a-number", "", "1.5e9"])
def test_a_garbled_timestamp_header_is_refused_not_a_server_error(running_bot, timestamp):
    # Anyone on the internet can send this: it must be a 401, never a 500.
    running_bot.import_campaign()
    body = _demands_body(running_bot)
    headers = {"Content-Type": FORM, **sign(SIGNING_SECRET, body)}
    headers["X-Slack-Request-Timestamp"] = timestamp
    _assert_refused(post(_events_url(running_bot), body, headers))
    _assert_demands_still_work(running_bot)


def test_an_unsigned_non_utf8_body_is_refused_not_a_server_error(running_bot):
    running_bot.import_campaign()
    body = b"command=%2Fdemands&text=\xff\xfe\xfd"
    headers = {"Content-Type": FORM, **sign("not-the-signing-secret", b"anything")}
    _assert_refused(post(_events_url(running_bot), body, headers))
    _assert_demands_still_work(running_bot)


# -- malformed bodies under a valid signature ----------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"type": "event_callback", "event": {', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b"payload=%7Bnot+json", FORM),
        (b"payload=%5B1%2C2%5D", FORM),
        (b"command=%2Fdemands&text=\xff\xfe\xfd", FORM),
        (b'{"text": "\xff\xfe"}', "application/json"),
        (b"", FORM),
        (b"", "application/json"),
    ],
    ids=[
        "invalid-json",
        "json-list",
        "json-string",
        "json-null",
        "payload-invalid-json",
        "payload-json-list",
        "non-utf8-form",
        "non-utf8-json",
        "empty-form",
        "empty-json",
    ],
)
def test_a_signed_malformed_body_gets_a_client_error_and_the_next_request_works(
    running_bot, body, content_type
):
    running_bot.import_campaign()
    result = running_bot.slack.post(body, content_type)
    assert 400 <= result.status < 500, (result.status, result.body)
    _assert_demands_still_work(running_bot)


def test_a_body_over_one_mebibyte_is_refused_with_413(running_bot):
    running_bot.import_campaign()
    body = b"x" * (1024 * 1024 + 1)
    result = running_bot.slack.post(body, FORM)
    assert result.status == 413, (result.status, result.body)
    _assert_demands_still_work(running_bot)


def test_a_chunked_body_over_one_mebibyte_is_refused_with_413(running_bot):
    running_bot.import_campaign()
    body = b"x" * (1024 * 1024 + 1)
    headers = {"Content-Type": FORM, **sign(SIGNING_SECRET, body)}
    port = int(running_bot.slack.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        conn.request("POST", "/slack/events", body=chunks, headers=headers, encode_chunked=True)
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status == 413
    _assert_demands_still_work(running_bot)


def test_a_body_of_exactly_one_mebibyte_is_accepted(running_bot):
    running_bot.import_campaign()
    command = _demands_body(running_bot) + b"&padding="
    body = command + b"x" * (1024 * 1024 - len(command))
    assert len(body) == 1024 * 1024
    answer = response_json(running_bot.slack.post(body, FORM))
    assert answer["blocks"][0]["text"]["text"] == TITLE


# -- routes -------------------------------------------------------------------


def test_healthz_answers_ok(running_bot):
    result = get(running_bot.slack.base_url + "/healthz")
    assert result.status == 200
    assert json.loads(result.body) == {"status": "ok"}
    assert result.headers["content-type"] == "application/json"


@sqlite_only("a deleted database file is SQLite's way of being gone")
def test_healthz_answers_503_when_the_database_file_is_deleted(running_bot, database_url):
    path = sqlite_path(database_url)
    assert path is not None
    path.unlink()
    result = get(running_bot.slack.base_url + "/healthz")
    assert result.status == 503
    status = json.loads(result.body)["status"]
    assert status.startswith("the database file(s) undersigned.db were deleted or replaced")


def test_a_database_that_does_not_answer_is_a_problem_for_healthz():
    """What /healthz answers 503 with when the server cannot be reached (nothing
    listens on port 9, the discard port)."""
    gone = Database.from_url("postgresql+psycopg://nobody@127.0.0.1:9/undersigned")
    try:
        assert gone.ping() is False
        assert database_problem(gone) == "the database does not answer"
    finally:
        gone.dispose()


@pytest.mark.parametrize("path", ["/", "/nope", "/slack/events/extra", "/healthz/x"])
def test_an_unknown_path_is_404(running_bot, path):
    result = get(running_bot.slack.base_url + path)
    assert result.status == 404
    assert json.loads(result.body) == {"error": "not found"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_the_events_path_takes_only_post(running_bot, method):
    result = request(method, _events_url(running_bot))
    assert result.status == 405


def test_url_verification_echoes_the_challenge(running_bot):
    event = json.loads((SLACK_SAMPLES / "event.url_verification.json").read_text())
    result = running_bot.slack.event(event)
    assert result.status == 200, (result.status, result.body)
    assert json.loads(result.body) == {"challenge": event["challenge"]}


def test_url_verification_with_a_forged_signature_is_refused(running_bot):
    event = json.loads((SLACK_SAMPLES / "event.url_verification.json").read_text())
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", **sign("wrong-secret", body)}
    result = post(_events_url(running_bot), body, headers)
    _assert_refused(result)
    assert event["challenge"] not in result.body


def test_an_unknown_slash_command_is_not_a_server_error(running_bot):
    running_bot.import_campaign()
    result = running_bot.slack.command("", command="/other")
    assert result.status < 500, (result.status, result.body)
    _assert_demands_still_work(running_bot)


# -- signing as Slack signs ---------------------------------------------------


def test_fakeslack_signs_exactly_as_slack_does():
    vector = json.loads((SLACK_SAMPLES / "signing_test_vector.json").read_text())
    headers = sign(vector["signing_secret"], vector["body"].encode(), int(vector["timestamp"]))
    assert headers["X-Slack-Signature"] == vector["expected_signature"]
    assert headers == vector["headers"]


def test_the_servers_verifier_accepts_slacks_test_vector():
    vector = json.loads((SLACK_SAMPLES / "signing_test_vector.json").read_text())

    class FrozenClock:
        def now(self) -> float:
            return float(vector["mock_clock_now"])

    verifier = SignatureVerifier(vector["signing_secret"], clock=FrozenClock())
    assert verifier.is_valid_request(vector["body"].encode(), vector["headers"])
    tampered = vector["body"].replace("roadrunner", "coyote").encode()
    assert not verifier.is_valid_request(tampered, vector["headers"])


def test_a_replayed_signed_request_is_not_acted_on(running_bot, caplog):
    """A withdrawal captured and sent again within Slack's five minutes used to undo
    a signature made since. The replay is refused; the signature stays."""
    bot = running_bot
    bot.import_campaign()
    slug = "wewontbuildit"

    def signed(body: bytes) -> dict[str, str]:
        return {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}

    def form_of(action: str) -> dict:
        # A late click (a loaded machine) opens "one moment" after its
        # acknowledgement, then the form: open_by_click follows it.
        return open_by_click(bot, action)

    sign_form = form_of("sign_start")
    how = {"how": {"choice": {"type": "radio_buttons", "selected_option": {"value": "anonymous"}}}}
    assert bot.slack.submit(sign_form, how).status == 200
    withdrawal = view_submission_body(form_of("withdraw_start"), ALICE.id, {})
    headers = signed(withdrawal)
    url = bot.slack.base_url + "/slack/events"
    assert post(url, withdrawal, headers).status == 200
    assert bot.slack.submit(form_of("sign_start"), how).status == 200
    with caplog.at_level(logging.WARNING):
        replayed = post(url, withdrawal, headers)
    assert replayed.status == 401
    assert "a replay" in caplog.text
    with bot.db.read() as session:
        assert session.scalar(select(Campaign.signature_count).where(Campaign.slug == slug)) == 1


def test_a_request_replayed_to_another_replica_is_refused_too(running_bot, caplog):
    """Two replicas on one PostgreSQL database: what one accepted, the other
    refuses (SQLite runs one server process, whose memory is enough)."""
    from bot.app import create_app
    from bot.server import BackgroundServer, SlackWSGI
    from tests.support.databases import ON_POSTGRES

    if not ON_POSTGRES:
        pytest.skip("several replicas need PostgreSQL")
    bot = running_bot
    bot.import_campaign()
    other = BackgroundServer(
        SlackWSGI(create_app(bot.settings, bot.db), bot.db, SIGNING_SECRET)
    ).start()
    try:
        body = slash_command_body("/demands", "", ALICE.id, bot.fake.response_url())
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **sign(SIGNING_SECRET, body),
        }
        assert post(bot.slack.base_url + "/slack/events", body, headers).status == 200
        with caplog.at_level(logging.WARNING):
            assert post(other.url + "/slack/events", body, headers).status == 401
        assert "a replay" in caplog.text
    finally:
        other.stop()
