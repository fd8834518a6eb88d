"""Conditional names and news subscriptions, end to end through the signing form."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from console.workspace import FakeUser
from petition.letter import build_letter, render
from petition.naming import named_count
from petition.organizing import CLI_ACTOR, Organizers, StatusChange, change_status, forget_campaign
from petition.signatures import _NAMED_COUNT, _THRESHOLDS
from storage.db import Database
from storage.direct import compiled
from storage.models import Campaign, Signature, Subscriber
from tests.support.conditional import sign_as, values
from tests.support.databases import database_bytes, sqlite_only
from tests.support.running import ALICE, RunningBot, response_json
from tests.support.signing import SLUG, ephemerals_to, open_sign_form, opened_views, view_text


def person(bot: RunningBot, n: int) -> str:
    user = FakeUser(f"U0P{n:07d}", f"p{n}", f"Person {n}")
    bot.fake.workspace.add_user(user)
    return user.id


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


@pytest.fixture
def letter(bot: RunningBot):  # type: ignore[no-untyped-def]
    """The names on the letter, as `campaign letter` writes them."""

    def read() -> list[str]:
        with bot.db.write() as session:
            built = build_letter(
                session, Organizers(frozenset()), CLI_ACTOR, SLUG, dt.date.today(), bot.keyring
            )
        return [line[2:] for line in render(built, "md").splitlines() if line.startswith("- ")]

    return read


def test_conditional_signers_are_named_exactly_when_the_rule_says(bot, letter):
    # Three wait for 3 others; one waits for 10. Nobody is named yet.
    waiting = [person(bot, i) for i in range(4)]
    for i, user in enumerate(waiting[:3]):
        answer = sign_as(
            bot, user, how="conditional", name=f"Wait Three {i}", threshold="10", other="3"
        )
        assert "would not appear yet" in view_text(answer["view"])
    sign_as(bot, waiting[3], how="conditional", name="Wait Ten", threshold="10")
    assert letter() == []
    # One public signer: now each of the three has 1 + 2 others = 3. The 10 stays out.
    sign_as(bot, person(bot, 50), how="named", name="Open Signer")
    assert sorted(letter()) == ["Open Signer", "Wait Three 0", "Wait Three 1", "Wait Three 2"]
    assert named_count(1, [3, 3, 3, 10]) == 3
    # status tells each conditional signer where they stand today.
    bot.slack.dm("status", user=waiting[0])
    assert "your name would appear" in view_text(ephemerals_to(bot, waiting[0])[-1])
    bot.slack.dm("status", user=waiting[3])
    assert "would not appear yet" in view_text(ephemerals_to(bot, waiting[3])[-1])


def test_a_conditional_name_is_sealed_in_the_database(bot, database_url):
    user = person(bot, 1)
    sign_as(bot, user, how="conditional", name="Zelda Sealed", threshold="25")
    with bot.db.read() as session:
        [row] = session.scalars(select(Signature)).all()
    assert not row.named
    assert row.name_threshold == 25
    assert row.sealed_name
    raw = database_bytes(database_url)
    assert b"Zelda Sealed" not in raw


def test_the_form_refuses_a_conditional_choice_without_a_number_or_a_name(bot):
    form = open_sign_form(bot)
    answer = response_json(bot.slack.submit(form, values("conditional", name="A")))
    assert "threshold" in answer["errors"]
    answer = response_json(bot.slack.submit(form, values("conditional", threshold="10")))
    assert "name" in answer["errors"]
    answer = response_json(bot.slack.submit(form, values("conditional", "A", other="0")))
    assert "threshold" in answer["errors"]


def test_a_signer_can_change_their_choice_any_time(bot, letter):
    sign_as(bot, ALICE.id, how="anonymous")
    assert letter() == []
    bot.slack.dm("status")
    change = [b for b in ephemerals_to(bot, ALICE.id)[-1]["blocks"] if b["type"] == "actions"]
    assert ("sign_change", SLUG) in [(e["action_id"], e["value"]) for e in change[0]["elements"]]
    bot.slack.click("sign_change", SLUG)
    form = opened_views(bot)[-1]
    assert form["title"]["text"] == "Change how you sign"
    answer = response_json(bot.slack.submit(form, values("named", name="Alice Public")))
    assert "now sign" in view_text(answer["view"])
    assert letter() == ["Alice Public"]
    bot.slack.click("sign_change", SLUG)
    form = opened_views(bot)[-1]
    how = next(b for b in form["blocks"] if b.get("block_id") == "how")
    assert how["element"]["initial_option"]["value"] == "named"
    response_json(bot.slack.submit(form, values("anonymous")))
    assert letter() == []
    with bot.db.read() as session:
        assert session.scalar(select(Signature.sealed_name)) is None


def test_news_opt_in_is_sealed_and_stop_updates_deletes_it(bot, database_url):
    answer = sign_as(bot, ALICE.id, how="anonymous", news=True)
    assert "You will get news" in view_text(answer["view"])
    with bot.db.read() as session:
        [sub] = session.scalars(select(Subscriber)).all()
    assert ALICE.id not in sub.sealed_address
    raw = database_bytes(database_url)
    assert ALICE.id.encode() not in raw
    bot.slack.dm("status")
    assert "You get news" in view_text(ephemerals_to(bot, ALICE.id)[-1])
    bot.slack.dm("stop updates")
    assert "no more news" in ephemerals_to(bot, ALICE.id)[-1]["text"]
    with bot.db.read() as session:
        assert session.scalars(select(Subscriber)).all() == []
    bot.slack.dm("stop updates")
    assert "nothing to stop" in ephemerals_to(bot, ALICE.id)[-1]["text"]


def test_withdrawing_ends_the_subscription(bot):
    sign_as(bot, ALICE.id, how="anonymous", news=True)
    bot.slack.click("withdraw_start", SLUG)
    response_json(bot.slack.submit(opened_views(bot)[-1], {}))
    with bot.db.read() as session:
        assert session.scalars(select(Subscriber)).all() == []


def test_forget_destroys_the_names_with_the_key(bot, letter):
    sign_as(bot, person(bot, 1), how="named", name="Open One")
    sign_as(bot, person(bot, 2), how="conditional", name="Now Named", threshold="10", other="1")
    sign_as(bot, person(bot, 3), how="conditional", name="Never Named", threshold="100", news=True)
    assert sorted(letter()) == ["Now Named", "Open One"]
    with bot.db.read() as session:
        key_id = session.scalar(select(Campaign.key_id))
    assert key_id is not None
    assert bot.keyring.store.exists(key_id)
    operator = Organizers(frozenset())
    with bot.db.write() as session:
        change_status(session, operator, CLI_ACTOR, SLUG, StatusChange.CLOSE)
    assert forget_campaign(bot.db, bot.keyring, operator, CLI_ACTOR, SLUG) == 3
    assert not bot.keyring.store.exists(key_id)
    assert letter() == []
    with bot.db.read() as session:
        assert session.scalars(select(Signature)).all() == []
        assert session.scalars(select(Subscriber)).all() == []
        assert session.scalar(select(Campaign.signature_count)) == 3
        assert session.scalar(select(Campaign.key_id)) is None


@sqlite_only("query plans are SQLite's; PostgreSQL chooses by its statistics")
def test_the_rule_reads_only_named_and_conditional_rows(db: Database) -> None:
    # With a million signatures, reading every one of a campaign's rows for each
    # conditional signer's status took ~0.2 s; partial indexes hold just these.
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, index in (
            (_NAMED_COUNT, "ix_signatures_named"),
            (_THRESHOLDS, "ix_signatures_conditional"),
        ):
            sql = compiled(statement, db.engine.dialect)
            rows = raw.execute("EXPLAIN QUERY PLAN " + sql.sql, sql.parameters({"campaign": 1}))
            plan = " ".join(str(row[-1]) for row in rows)
            assert f"COVERING INDEX {index}" in plan, plan
