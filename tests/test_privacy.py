"""The privacy promises, each checked where a leak would show: the database file,
the logs, and everything sent to Slack."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from bot.logs import configure_logging
from console.server import Fault
from console.workspace import dm_channel_for
from tests.support.databases import database_bytes, sqlite_only
from tests.support.running import ALICE, BOB, RunningBot, response_json
from tests.support.signing import SLUG, open_sign_form, opened_views, sign, sign_values


@pytest.fixture
def debug_logs() -> Iterator[None]:
    """Production logging at its most verbose, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {n: logging.getLogger(n).level for n in ("slack_bolt", "slack_sdk", "urllib3")}
    configure_logging("DEBUG")
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


def _database_bytes(bot: RunningBot) -> bytes:
    # The SQLite file (with -wal and -shm), or a pg_dump of the PostgreSQL database.
    return database_bytes(bot.settings.database_url)


def _walk(node: Any, keys: set[str]) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                yield value
            yield from _walk(value, keys)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, keys)


def _full_flow(bot: RunningBot) -> None:
    """Every path a signer touches: DM, form, status, Home, withdraw, sign again."""
    bot.slack.dm("sign")
    sign(bot, ALICE.id)
    bot.slack.dm("status")
    bot.slack.open_home()
    bot.slack.dm("withdraw")
    bot.slack.click("withdraw_start", SLUG)
    response_json(bot.slack.submit(opened_views(bot)[-1], {}))
    sign(bot, ALICE.id)
    sign(bot, BOB.id, how="named", name="Bob Publicname")


def test_an_anonymous_signer_is_nowhere_in_the_database_file(bot):
    _full_flow(bot)
    raw = _database_bytes(bot)
    for secret in (ALICE.id, ALICE.real_name, ALICE.name, dm_channel_for(ALICE.id), "T0UNDRSGN"):
        assert secret.encode() not in raw, secret
    # Nor is a public signer's name: it is sealed under the campaign's key. The
    # scan can see text (the campaign's title is there).
    assert b"Bob Publicname" not in raw
    assert b"We won't build it" in raw
    if bot.db.is_sqlite:
        # And nothing is left in the WAL that a checkpoint would reveal.
        with bot.db.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        assert ALICE.id.encode() not in _database_bytes(bot)


def test_logs_never_name_a_signer_even_at_debug(bot, debug_logs, capfd):
    # Failures are where code is tempted to log what it was handling.
    bot.fake.fail("users.info", Fault(status=429, retry_after=3))
    bot.fake.fail("chat.postEphemeral", Fault(error="channel_not_found"))
    bot.slack.click("sign_start", SLUG)
    bot.slack.dm("sign nonexistent-campaign")
    bot.slack.click("sign_start", "nonexistent")
    _full_flow(bot)
    bot.slack.dm("my name is Alice and I hate my boss")
    bot.slack.dm("status", headers={"X-Slack-Retry-Num": "1"})
    out, err = capfd.readouterr()
    logs = out + err
    assert logs, "nothing was logged: the scan would prove nothing"
    for secret in (
        ALICE.id,
        BOB.id,
        ALICE.real_name,
        "Bob Publicname",
        "hate my boss",
        dm_channel_for(ALICE.id),
    ):
        assert secret not in logs, secret


def test_nothing_about_the_signer_travels_in_values_or_metadata(bot):
    _full_flow(bot)
    sent = [call.params for call in bot.fake.calls]
    carried = list(_walk(sent, {"value", "private_metadata", "metadata", "external_id"}))
    assert carried, "no values were sent: the scan would prove nothing"
    for value in carried:
        for secret in (ALICE.id, BOB.id, "Alice", "Bob", "anonymous_signer", "T0UNDRSGN"):
            assert secret not in value, (secret, value)
    # Nothing was ever posted to a channel, and no lasting message was written.
    assert bot.fake.calls_to("chat.postMessage") == []
    assert bot.fake.calls_to("chat.update") == []


def test_signing_times_are_kept_to_the_day(bot):
    sign(bot)
    columns = inspect(bot.db.engine).get_columns("signatures")
    with bot.db.engine.connect() as conn:
        [stored] = conn.execute(text("SELECT signed_on FROM signatures")).all()
    # No column holds a time finer than the day (the sealed name is checked in
    # tests/test_conditional.py and tests/test_signing.py).
    assert {c["name"] for c in columns} == {
        "campaign_id",
        "signer_hash",
        "named",
        "signed_on",
        "name_threshold",
        "sealed_name",
    }
    assert {c["name"]: str(c["type"]) for c in columns}["signed_on"] == "DATE"
    assert len(str(stored.signed_on)) == len("2026-11-28")


@sqlite_only("WITHOUT ROWID is SQLite's; tests/test_postgres.py checks PostgreSQL's table")
def test_signatures_keep_no_order_of_signing(bot):
    with bot.db.engine.connect() as conn:
        [sql] = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'signatures'")).one()
    assert "WITHOUT ROWID" in sql.upper()
    assert "AUTOINCREMENT" not in sql.upper()


def test_the_dm_prompt_is_removed_once_its_button_is_used(bot):
    bot.slack.dm("sign")
    channel = dm_channel_for(ALICE.id)
    open_sign_form(bot, channel_id=channel)
    removals = [c.params for c in bot.fake.calls_to("response_url")]
    assert [r.get("delete_original") for r in removals] == [True]
    # A button under /demands in a channel stays: it is the worker's own reading copy.
    open_sign_form(bot)
    assert len(bot.fake.calls_to("response_url")) == 1


def test_names_are_escaped_wherever_they_are_shown(bot):
    view = open_sign_form(bot)
    evil = "<!channel> & <@U0BOB00002>"
    answer = response_json(bot.slack.submit(view, sign_values("named", evil)))
    assert answer["response_action"] == "update"
    shown = " ".join(_walk(answer, {"text"}))
    assert "<!channel>" not in shown
    assert "<@U0BOB00002>" not in shown


def test_library_log_lines_are_redacted(debug_logs, capfd):
    logging.getLogger("slack_bolt").warning("unhandled request from U0ALICE001 (W012A3CDE)")
    _, err = capfd.readouterr()
    assert "unhandled request from" in err
    assert "U0ALICE001" not in err
    assert "W012A3CDE" not in err


def test_bolt_debug_output_has_every_slack_id_masked(running_bot, debug_logs, capfd):
    # Turn on what configure_logging keeps quiet, and scan what Bolt and the SDK say.
    for name in ("slack_bolt", "slack_sdk"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    running_bot.import_campaign()
    _full_flow(running_bot)
    _, err = capfd.readouterr()
    assert "slack_sdk" in err or "slack_bolt" in err, "library debug output was not on"
    for slack_id in (ALICE.id, BOB.id, dm_channel_for(ALICE.id), "T0UNDRSGN", "C0GENERAL"):
        assert slack_id not in err, slack_id
    assert "[id]" in err


def test_a_failed_statement_logs_neither_its_parameters_nor_ids_in_its_traceback(
    bot, debug_logs, capfd
):
    """A database error logged with its traceback: before, the statement's
    parameters (a name, an identity value) and any Slack id in the exception's
    text reached the log with a timestamp."""
    name, identity = "Zelda Distinctive", "ab" * 32
    with pytest.raises(IntegrityError) as caught, bot.db.write() as session:
        session.execute(
            text(
                "INSERT INTO signatures (campaign_id, signer_hash, sealed_name, signed_on) "
                "VALUES (:campaign, :signer, :name, :day)"
            ),
            {"campaign": 999_999, "signer": identity, "name": name, "day": "2026-01-01"},
        )
    try:
        raise RuntimeError(f"while answering {ALICE.id}") from caught.value
    except RuntimeError:
        logging.getLogger("bot").exception("signing failed")
    _, err = capfd.readouterr()
    assert "signing failed" in err
    assert "Traceback" in err
    assert name not in err
    assert identity not in err
    assert ALICE.id not in err
