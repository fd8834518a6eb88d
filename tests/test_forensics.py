"""The files read as a forensic copy would read them.

People sign two campaigns, by name and anonymously; one changes how she signs,
one withdraws, one asks for news then stops, and one campaign is forgotten. Then
the raw bytes of the database (SQLite: the file, its -wal and -shm, a backup;
PostgreSQL: a pg_dump and, where the data directory is readable, the table
files), and the logs, are searched: for any name, any Slack id, any person
digest, any value that links a signer across campaigns, and what withdrawing,
changing and forgetting should have removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.logs import configure_logging
from console.workspace import FakeUser, dm_channel_for
from jobs.upkeep import scrub_job
from petition.keyring import KeyMissing
from petition.organizing import CLI_ACTOR, Organizers, StatusChange, change_status, forget_campaign
from storage.models import Campaign, Signature, Subscriber
from tests.support.databases import ON_POSTGRES, PG_DATA, database_bytes
from tests.support.running import RunningBot, response_json
from tests.support.signers import person, stored_value

A, B = "wewontbuildit", "fair-pay"
PEOPLE = {
    "xylia": FakeUser("U0XYLIA001", "xylia", "Xylia Forensic"),
    "quentin": FakeUser("U0QUENTIN1", "quentin", "Quentin Change"),
    "wilma": FakeUser("U0WILMA001", "wilma", "Wilma Withdrawn"),
    "cora": FakeUser("U0CORA0001", "cora", "Cora Conditional"),
    "nils": FakeUser("U0NILS0001", "nils", "Nils Newsman"),
}
NAMES = [user.real_name for user in PEOPLE.values()]


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Production logging at its most verbose, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("DEBUG")
    yield capfd
    root.handlers[:], root.level = saved


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    running_bot.import_campaign(slug=B, title="Fair pay")
    for user in PEOPLE.values():
        running_bot.fake.workspace.add_user(user)
    return running_bot


def _form(bot: RunningBot, action: str, slug: str, user: FakeUser) -> dict[str, Any]:
    trigger = bot.fake.new_trigger(user.id)
    bot.slack.click(action, slug, user=user.id, trigger_id=trigger)
    [view] = [
        c.params["view"]
        for c in bot.fake.calls_to("views.open")
        if c.params.get("trigger_id") == trigger
    ]
    return view


def _values(how: str, name: str | None = None, news: bool = False, threshold: str = "") -> dict:
    values: dict[str, Any] = {
        "how": {"choice": {"type": "radio_buttons", "selected_option": {"value": how}}},
        "name": {"name": {"type": "plain_text_input", "value": name}},
    }
    if threshold:
        values["threshold"] = {
            "threshold": {"type": "static_select", "selected_option": {"value": threshold}}
        }
    if news:
        values["updates"] = {
            "updates": {"type": "checkboxes", "selected_options": [{"value": "news"}]}
        }
    return values


def _sign(bot: RunningBot, slug: str, who: str, how: str = "anonymous", **more: Any) -> None:
    user = PEOPLE[who]
    name = user.real_name if how != "anonymous" else None
    view = _form(bot, "sign_start", slug, user)
    answer = response_json(bot.slack.submit(view, _values(how, name, **more), user=user.id))
    assert answer.get("response_action") == "update", answer


def _change(bot: RunningBot, slug: str, who: str, how: str) -> None:
    user = PEOPLE[who]
    name = user.real_name if how != "anonymous" else None
    view = _form(bot, "sign_change", slug, user)
    response_json(bot.slack.submit(view, _values(how, name), user=user.id))


def _withdraw(bot: RunningBot, slug: str, who: str) -> None:
    user = PEOPLE[who]
    response_json(bot.slack.submit(_form(bot, "withdraw_start", slug, user), {}, user=user.id))


def _stored(bot: RunningBot, slug: str) -> list[Signature]:
    with bot.db.read() as session:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.slug == slug))
        return list(session.scalars(select(Signature).where(Signature.campaign_id == campaign_id)))


def _row(bot: RunningBot, slug: str, who: str) -> Signature:
    value = stored_value(bot.db, bot.settings, slug, PEOPLE[who].id)
    [row] = [r for r in _stored(bot, slug) if r.signer_hash == value]
    return row


def _files(bot: RunningBot, tmp_path: Path) -> bytes:
    """Everything a copy of the server would hold: the database as stored (SQLite:
    file, -wal, -shm; PostgreSQL: pg_dump, and the table files if readable), and a
    backup taken now."""
    url = bot.settings.database_url
    raw = database_bytes(url)
    if ON_POSTGRES:
        if PG_DATA is not None:
            raw += _pg_table_files(bot) + _pg_server_files()
        return raw
    backup = tmp_path / f"backup-{len(list(tmp_path.glob('backup-*')))}.db"
    bot.db.backup(backup)
    return raw + backup.read_bytes()


def _pg_table_files(bot: RunningBot) -> bytes:
    from sqlalchemy import text

    raw = b""
    with bot.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
        for relation in ("signatures", "pk_signatures", "subscribers", "pk_subscribers"):
            path = conn.execute(
                text("SELECT pg_relation_filepath(:r)"), {"r": relation}
            ).scalar_one()
            base = Path(str(PG_DATA)) / path
            for segment in sorted(base.parent.glob(base.name + "*")):
                raw += segment.read_bytes()
    return raw


def _pg_server_files() -> bytes:
    """The server's WAL segments and its log (.ci/postgres writes it beside the
    data directory): what a copy of the database server holds besides tables."""
    data = Path(str(PG_DATA))
    raw = b"".join(f.read_bytes() for f in sorted((data / "pg_wal").glob("0*")) if f.is_file())
    for log in (data.parent / "server.log", *sorted((data / "log").glob("*"))):
        if log.is_file():
            raw += log.read_bytes()
    return raw


def _never_anywhere(raw: bytes, bot: RunningBot) -> None:
    for name in NAMES:
        assert name.encode() not in raw, name
    for user in PEOPLE.values():
        for secret in (user.id, dm_channel_for(user.id), person(bot.settings, user.id)):
            assert secret.encode() not in raw, secret


@pytest.fixture(params=["stock settings", "log_statement=mod"])
def server_settings(request: pytest.FixtureRequest, bot: RunningBot) -> str:
    """On PostgreSQL, also with a setting operators use that logs every statement:
    even then, the server's log holds no name and nothing linkable."""
    if request.param != "stock settings":
        if not ON_POSTGRES:
            pytest.skip("a PostgreSQL server setting")
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        name = bot.db.engine.url.database
        try:
            with bot.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text(f"ALTER DATABASE \"{name}\" SET log_statement = 'mod'"))
        except DBAPIError:
            pytest.fail("the test role may not set log_statement (.ci/postgres grants it)")
        bot.db.engine.dispose()  # new connections take the setting
    return str(request.param)


def test_a_copy_of_the_server_links_orders_and_names_nobody(bot, tmp_path, logs, server_settings):
    _sign(bot, A, "xylia", "named")
    _sign(bot, B, "xylia")
    _sign(bot, A, "quentin")
    _change(bot, A, "quentin", "named")
    quentin_named = _row(bot, A, "quentin").sealed_name
    _change(bot, A, "quentin", "anonymous")
    _sign(bot, A, "wilma", "named")
    wilma = _row(bot, A, "wilma")
    wilma_value, wilma_name = wilma.signer_hash, wilma.sealed_name
    _withdraw(bot, A, "wilma")
    _sign(bot, A, "cora", "conditional", threshold="10")
    _sign(bot, B, "nils", news=True)
    with bot.db.read() as session:
        [address] = session.scalars(select(Subscriber.sealed_address))
    bot.slack.dm("stop updates", user=PEOPLE["nils"].id)
    # Something the operator hears about (a click naming no campaign), so that
    # the log scan below has lines to read.
    bot.slack.click("sign_start", "no-such-campaign", user=PEOPLE["wilma"].id)

    # While the server runs, within the minute's scrub.
    scrub_job(bot.db)
    raw = _files(bot, tmp_path)
    assert b"We won't build it" in raw, "the scan would prove nothing"
    _never_anywhere(raw, bot)
    a_values = {r.signer_hash for r in _stored(bot, A)}
    b_values = {r.signer_hash for r in _stored(bot, B)}
    assert a_values
    assert b_values
    assert all(v.encode() in raw for v in a_values | b_values), "the scan would prove nothing"
    # Xylia is in both campaigns: nothing stored for one matches the other.
    assert a_values.isdisjoint(b_values)
    if not ON_POSTGRES:
        # What withdrawing, changing and stopping news removed is gone from every
        # file (PostgreSQL keeps dead rows until their space is reused: sealed
        # under the campaign key, and unlinkable once it is forgotten).
        for gone in (wilma_value, wilma_name, quentin_named, address):
            assert gone.encode() not in raw, gone

    # Forgetting B: its key goes, and with it any way to link what the files hold.
    with bot.db.write() as session:
        change_status(session, Organizers(frozenset()), CLI_ACTOR, B, StatusChange.CLOSE)
        b_key = session.scalar(select(Campaign.key_id).where(Campaign.slug == B))
    assert forget_campaign(bot.db, bot.keyring, Organizers(frozenset()), CLI_ACTOR, B) == 2
    with pytest.raises(KeyMissing):
        bot.settings.keyring().campaign(b_key)
    raw = _files(bot, tmp_path)
    _never_anywhere(raw, bot)
    if not ON_POSTGRES:
        assert [v for v in b_values if v.encode() in raw] == []

    # After the server stops: the same, and the logs say nothing of anyone.
    bot.db.dispose()
    _never_anywhere(database_bytes(bot.settings.database_url), bot)
    out, err = logs.readouterr()
    assert out + err, "nothing was logged: the scan would prove nothing"
    _never_anywhere((out + err).encode(), bot)
    for value in a_values | b_values:
        assert value not in out + err
