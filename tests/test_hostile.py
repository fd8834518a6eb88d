"""Hostile input, generated with hypothesis: correctly signed requests whose bodies
are wrong in every way Slack's never are (wrong types, missing fields, huge
strings, deep JSON, unicode and control characters, unknown action ids, forged
private_metadata, other workspaces), and the domain functions fed the same.

Whatever arrives: never a 5xx, never a traceback or a crash ("something went
wrong") in any answer or in anything sent to Slack, and nothing stored that a
complete, valid flow would not have stored."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote_plus, urlencode
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.payloads import (
    app_home_opened_body,
    block_actions_body,
    message_im_body,
    slash_command_body,
    view_submission_body,
)
from console.server import FakeSlack
from console.workspace import TEAM_ID, FakeUser
from handlers.campaign_form import spec_from_form
from petition import campaign_spec, campaigns, lengths
from petition.errors import DomainError, InvalidCampaign
from petition.keyring import Keyring, KeyStore, name_context
from petition.ratelimit import RateLimiter
from petition.signatures import InvalidName, add_signature, clean_name, signer_hash
from storage.db import Database
from storage.migrate import upgrade
from storage.models import NAME_MAX, AuditEntry, Campaign, Signature
from tests.support.httpclient import HttpResult
from tests.support.running import ALICE, BOB, SIGNING_SECRET, RunningBot, SlackDriver, make_settings
from tests.support.signing import sign_values

DANA = FakeUser("U0DANA0001", "dana", "Dana Organizer")
GUEST = FakeUser("U0GUEST001", "guest", "Guest", is_restricted=True)
OUTSIDER = FakeUser("U0OUTSIDE1", "outsider", "Outsider", team_id="T0OTHERORG")
SLUGS = ["wewontbuildit", "closed-one", "draft-one"]
# Who may end up on a campaign: eligible members of the installed workspace.
ELIGIBLE = [ALICE.id, BOB.id, DANA.id]
ACTIONS = [
    "sign_start",
    "sign_change",
    "withdraw_start",
    "campaign_show",
    "admin_new",
    "admin_edit",
    "admin_open",
    "admin_close",
    "admin_reopen",
    "admin_history",
    "admin_letter_md",
    "admin_letter_html",
    "admin_forget",
    "admin_update",
]
VIEWS = [
    "sign_submit",
    "withdraw_submit",
    "admin_save",
    "admin_forget_confirm",
    "admin_update_preview",
    "admin_update_send",
]
# A traceback, or the generic answer of handlers/errors.py, which means a crash.
CRASHES = ("Traceback", 'File "', "went wrong")

# Bounded so that the suite stays quick; HOSTILE_EXAMPLES=2000 for a long hunt.
HTTP_EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "120"))
DOMAIN_EXAMPLES = max(100, HTTP_EXAMPLES)

# -- strategies --------------------------------------------------------------------

# Replaced by one of the fake Slack's response URLs as each body is sent, so that
# whatever the bot says through it is seen and checked.
RESPONSE_URL = "https://hooks.slack.invalid/placeholder"

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e\u2066",
            "<!channel> <@U0ALICE001>",
            "x" * 5000,
            "²",
            "٣",
            "𝟙𝟚",
            "1e9",
            "-1",
            "99999999999999999999",
            "null",
            "{}",
            '{"slug": "wewontbuildit", "from": "home", "mode": "edit"}',
            "\r\n\t",
            "%00%0a",
            "🙂" * 300,
        ]
    ),
)
junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text, inner, max_size=3),
    max_leaves=8,
)
user_ids = st.one_of(
    st.sampled_from([ALICE.id, BOB.id, DANA.id, GUEST.id, OUTSIDER.id]),
    st.from_regex(r"\A[UW][A-Z0-9]{2,10}\Z"),
    nasty_text,
)
team_ids = st.one_of(st.just(TEAM_ID), st.just(TEAM_ID), st.just("T0OTHERORG"), nasty_text)
slugs = st.one_of(st.sampled_from(SLUGS), nasty_text)


def _radio(value: Any) -> dict[str, Any]:
    return {"type": "radio_buttons", "selected_option": {"value": value}}


def _typed(value: Any) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


@st.composite
def form_states(draw: st.DrawFn) -> dict[str, Any]:
    """Modal state: the blocks our forms have, filled with anything, plus junk."""
    values: dict[str, Any] = {}
    if draw(st.booleans()):
        values["how"] = {
            "choice": _radio(
                draw(st.sampled_from(["anonymous", "named", "conditional"]) | nasty_text)
            )
        }
    if draw(st.booleans()):
        values["name"] = {"name": _typed(draw(nasty_text | st.none()))}
    if draw(st.booleans()):
        values["threshold"] = {"threshold": _radio(draw(nasty_text))}
    if draw(st.booleans()):
        values["threshold_other"] = {"threshold_other": _typed(draw(nasty_text))}
    if draw(st.booleans()):
        news = [{"value": draw(st.just("news") | nasty_text)}]
        values["updates"] = {"updates": {"type": "checkboxes", "selected_options": news}}
    for block in draw(
        st.lists(
            st.sampled_from(
                [
                    "slug",
                    "title",
                    "statement",
                    "demand_1",
                    "demand_20",
                    "milestones",
                    "forget_after_days",
                    "confirm",
                    "text",
                ]
            ),
            max_size=4,
        )
    ):
        values[block] = {block: _typed(draw(nasty_text))}
    if draw(st.booleans()):
        values["channel"] = {
            "channel": {"type": "conversations_select", "selected_conversation": draw(nasty_text)}
        }
    if draw(st.booleans()):
        values["closes"] = {"closes": {"type": "datepicker", "selected_date": draw(nasty_text)}}
    if draw(st.booleans()):
        values["kind"] = {
            "kind": _radio(draw(st.sampled_from(["news", "delivered", "answer"]) | nasty_text))
        }
    if draw(st.booleans()):
        values[draw(nasty_text)] = draw(junk)
    return values


@st.composite
def metadata(draw: st.DrawFn) -> str:
    forged = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "slug": slugs | junk,
                "from": st.sampled_from(["home", "message"]) | junk,
                "mode": st.sampled_from(["create", "edit", "change"]) | junk,
                "kind": junk,
                "text": nasty_text,
            },
        )
    )
    # The update preview's form: one line of JSON, then the text as it is.
    update = st.builds(
        lambda head, text: json.dumps(head) + "\n" + text,
        st.tuples(slugs | junk, st.sampled_from(["news", "delivered", "answer"]) | junk, junk),
        nasty_text,
    )
    return draw(st.just(json.dumps(forged)) | nasty_text | junk.map(json.dumps) | update)


def _paths(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> dict[str, Any]:
    """A real payload with a few fields deleted or replaced by junk."""
    data = copy.deepcopy(template)
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(data))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(junk)
    return data


def _payload_of(body: bytes) -> dict[str, Any]:
    return json.loads(parse_qs(body.decode())["payload"][0])


@st.composite
def interactive_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    user, team = draw(user_ids), draw(team_ids)
    if draw(st.booleans()):
        action = draw(st.sampled_from(ACTIONS) | nasty_text)
        container = draw(
            st.sampled_from(
                [
                    None,
                    {"type": "view", "view_id": "VHOME"},
                    {"type": "message", "message_ts": "1.2", "is_ephemeral": True},
                ]
            )
        )
        template = _payload_of(
            block_actions_body(
                action,
                draw(slugs),
                user,
                RESPONSE_URL,
                channel_id=draw(st.sampled_from(["C0GENERAL", "D0ALICE001", None])),
                container=container,
                view={"type": "home", "id": "VHOME"} if container else None,
                team_id=team,
            )
        )
    else:
        view = {
            "id": "V0HOSTILE",
            "callback_id": draw(st.sampled_from(VIEWS) | nasty_text),
            "private_metadata": draw(metadata()),
            "blocks": [
                {"type": "input", "block_id": b}
                for b in ("how", "name", "title", "channel", "confirm", "text")
            ],
        }
        template = _payload_of(view_submission_body(view, user, {}, team_id=team))
        template["view"]["state"]["values"] = draw(form_states())
    payload = draw(mutated(template))
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


@st.composite
def command_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    fields = dict(
        parse_qsl(
            slash_command_body(
                draw(st.sampled_from(["/demands", "/other"]) | nasty_text),
                draw(st.sampled_from(["", "admin", "help", "wewontbuildit"]) | nasty_text),
                draw(user_ids),
                RESPONSE_URL,
                team_id=draw(team_ids),
            ).decode(),
            keep_blank_values=True,
        )
    )
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del fields[key]
        else:
            fields[key] = draw(nasty_text)
    return urlencode(fields).encode(), "application/x-www-form-urlencoded"


@st.composite
def event_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    user, team = draw(user_ids), draw(team_ids)
    if draw(st.booleans()):
        raw = message_im_body(
            draw(st.sampled_from(["sign", "withdraw", "status", "stop updates"]) | nasty_text),
            user,
            team,
        )
    else:
        raw = app_home_opened_body(
            user, team, draw(st.sampled_from(["home", "messages"]) | nasty_text)
        )
    envelope = draw(mutated(json.loads(raw)))
    return json.dumps(envelope).encode(), "application/json"


raw_bodies = st.one_of(
    junk.map(lambda j: (json.dumps(j).encode(), "application/json")),
    junk.map(
        lambda j: (
            urlencode({"payload": json.dumps(j)}).encode(),
            "application/x-www-form-urlencoded",
        )
    ),
    nasty_text.map(
        lambda t: (t.encode("utf-8", "surrogatepass"), "application/x-www-form-urlencoded")
    ),
    st.binary(max_size=200).map(lambda b: (b, "application/json")),
)


# -- the bot under attack ------------------------------------------------------------


class _Catcher(logging.Handler):
    """Collects what the error handler logs: each one is a crash in a listener."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


class Hostile:
    """One bot for the whole module (hypothesis runs many examples per test)."""

    def __init__(self, root: Path) -> None:
        self.fake = FakeSlack().start()
        for user in (ALICE, BOB, DANA, GUEST, OUTSIDER):
            self.fake.workspace.add_user(user)
        url = f"sqlite:///{root / 'hostile.db'}"
        self.db = Database.from_url(url)
        upgrade(self.db.engine)
        self.settings = make_settings(self.fake, url, ORGANIZERS=DANA.id)
        # The per-person limit (tests/test_guards.py) would soon answer every
        # example from a known person with "slow down" and hide the paths behind it.
        app = create_app(self.settings, self.db, limiter=RateLimiter(burst=10**9))
        self.server = BackgroundServer(SlackWSGI(app, self.db, SIGNING_SECRET)).start()
        self.slack = SlackDriver(self.server.url, self.fake)
        running = RunningBot(self.settings, self.db, self.slack, self.fake)
        running.import_campaign()
        running.import_campaign(slug="closed-one", title="Closed", status="closed")
        running.import_campaign(slug="draft-one", title="Draft", status="draft")
        key = self.settings.require_signer_key()
        self.people = {signer_hash(key, TEAM_ID, user) for user in ELIGIBLE}
        self.keyring = self.settings.keyring()
        self.crashes: list[str] = []
        self.sent = 0
        self._catcher = _Catcher(self.crashes)
        logging.getLogger("handlers.errors").addHandler(self._catcher)

    def send(self, body: bytes, content_type: str) -> HttpResult:
        url = self.fake.response_url()
        body = body.replace(quote_plus(RESPONSE_URL).encode(), quote_plus(url).encode())
        body = body.replace(RESPONSE_URL.encode(), url.encode())
        before, crashed = len(self.fake.calls), len(self.crashes)
        # A timestamp of its own for each request (within Slack's five minutes): the
        # same body sent twice in one second would otherwise carry the same signature
        # and be refused as a replay, which would hide what the body itself gets.
        self.sent += 1
        timestamp = int(time.time()) - self.sent % 240
        result = self.slack.post(body, content_type, timestamp=timestamp)
        assert result.status < 500, (result.status, result.body)
        sent = json.dumps([c.params for c in self.fake.calls[before:]], default=str)
        for crash in CRASHES:
            assert crash not in result.body, result.body
            assert crash not in sent, sent
        # The error handler answers politely; for hostile input it should not be needed.
        assert self.crashes[crashed:] == []
        self.check_storage()
        return result

    def check_storage(self) -> None:
        with self.db.read() as session:
            for campaign in session.scalars(select(Campaign)):
                rows = session.scalars(
                    select(Signature).where(Signature.campaign_id == campaign.id)
                ).all()
                assert len(rows) == campaign.signature_count, campaign.slug
                if campaign.forgotten_at is None and campaign.key_id is not None:
                    keys = self.keyring.campaign(campaign.key_id)
                    allowed = {keys.signer(person) for person in self.people}
                    assert {r.signer_hash for r in rows} <= allowed, campaign.slug
                    for row in rows:
                        name = (
                            keys.open(row.sealed_name, name_context(campaign.id))
                            if row.sealed_name
                            else None
                        )
                        assert name is None or clean_name(name) == name
            actors = set(session.scalars(select(AuditEntry.actor)))
            assert actors <= {DANA.id, "cli"}, actors

    def stop(self) -> None:
        logging.getLogger("handlers.errors").removeHandler(self._catcher)
        self.server.stop()
        self.fake.stop()
        self.db.dispose()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    target = Hostile(tmp_path_factory.mktemp("hostile"))
    try:
        yield target
    finally:
        target.stop()


HTTP_SETTINGS = settings(
    max_examples=HTTP_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@HTTP_SETTINGS
@given(interactive_bodies())
def test_hostile_clicks_and_form_submissions(hostile, body):
    hostile.send(*body)


@HTTP_SETTINGS
@given(command_bodies() | event_bodies())
def test_hostile_commands_and_events(hostile, body):
    hostile.send(*body)


@settings(max_examples=HTTP_EXAMPLES // 2, deadline=None)
@given(raw_bodies)
def test_hostile_raw_bodies(hostile, body):
    result = hostile.send(*body)
    answer = (result.status, json.loads(result.body).get("error"))
    assert answer in _raw_answers(*body), (body, result)


def _raw_answers(body: bytes, content_type: str) -> set[tuple[int, str]]:
    """What a signed body that is not one of Slack's may be answered, worked out from
    the body alone: never 200 (nothing was done), never 5xx."""
    malformed = (400, "malformed body")
    unhandled = (404, "unhandled request")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        # The signature check reads the body as UTF-8, which Slack's always is.
        return {(401, "invalid request")}
    if not text:
        return {unhandled}  # Bolt reads an empty body as an empty request
    if content_type == "application/json":
        try:
            parsed = json.loads(text)
        except ValueError:
            return {malformed}
    else:
        fields = dict(parse_qsl(text, keep_blank_values=True))
        if "payload" not in fields:
            # Read as a slash command's fields: no command of ours, or not shaped.
            return {malformed, unhandled}
        try:
            parsed = json.loads(fields["payload"])
        except ValueError:
            return {malformed}
    if not isinstance(parsed, dict):
        return {malformed}
    return {malformed, unhandled}


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
@pytest.mark.parametrize("as_form", [False, True])
def test_deeply_nested_json_is_refused_not_a_crash(hostile, depth, as_form):
    deep = "[" * depth + "]" * depth
    if as_form:
        hostile.send(urlencode({"payload": deep}).encode(), "application/x-www-form-urlencoded")
    else:
        hostile.send(deep.encode(), "application/json")
    # And the next ordinary request is served.
    assert hostile.slack.command("").status == 200


def test_after_the_attack_a_real_signature_still_works(hostile):
    before = _count(hostile)
    assert hostile.slack.click("sign_start", "wewontbuildit", user=BOB.id).status == 200
    form = hostile.fake.calls_to("views.open")[-1].params["view"]
    answer = json.loads(hostile.slack.submit(form, sign_values(), user=BOB.id).body)
    assert answer["view"]["title"]["text"] in {"Signed", "Already signed"}
    assert _count(hostile) in {before, before + 1}
    hostile.check_storage()


def _count(hostile: Hostile) -> int:
    with hostile.db.read() as session:
        return session.scalar(select(func.count()).select_from(Signature))


# -- the domain functions ------------------------------------------------------------

TZ = ZoneInfo("Europe/London")
# A valid value for each field a campaign file may have, written by hand.
_GOOD_FIELDS: dict[str, Any] = {
    "slug": "ok-slug",
    "title": "A title",
    "statement": "A statement.",
    "demands": ["A demand"],
    "milestones": [10, 50],
    "channel": "C0123456789",
    "closes": dt.date.today() + dt.timedelta(days=60),
    "status": "open",
    "organizers": ["U0123ABCD"],
    "forget_after_days": 30,
}


# What each field of a campaign file may be given instead of a good value; _ABSENT
# leaves the field out.
_ABSENT = object()
_HOSTILE_FIELDS = {
    "slug": st.sampled_from(["ok-slug", "a"]) | nasty_text | junk,
    "title": nasty_text | junk,
    "statement": nasty_text | junk,
    "demands": st.lists(nasty_text, max_size=4) | junk,
    "milestones": st.lists(st.integers(-5, 10**12), max_size=4) | junk,
    "channel": st.sampled_from(["C0123456789"]) | nasty_text | junk,
    "closes": st.dates() | st.datetimes() | nasty_text | junk,
    "status": st.sampled_from(["draft", "open", "closed"]) | junk,
    "organizers": st.lists(user_ids, max_size=3) | junk,
    "forget_after_days": st.integers(-5, 10**6) | junk,
    "surprise": junk,
}


@st.composite
def campaign_fields(draw: st.DrawFn) -> dict[str, Any]:
    """A good campaign with up to three fields made hostile or left out: most
    examples then differ from a valid campaign in a field or two, so both what is
    refused and what is taken are exercised."""
    data = dict(_GOOD_FIELDS)
    for key in draw(st.lists(st.sampled_from(sorted(_HOSTILE_FIELDS)), max_size=3, unique=True)):
        value = draw(_HOSTILE_FIELDS[key] | st.just(_ABSENT))
        if value is _ABSENT:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@settings(max_examples=DOMAIN_EXAMPLES, deadline=None)
@given(campaign_fields())
def test_parse_campaign_accepts_or_names_the_problem(data):
    try:
        spec = campaign_spec.parse_campaign(data, TZ)
    except InvalidCampaign as refused:
        # Every problem is named at once, each by its field (None: a key that is no
        # field): putting right exactly the fields named makes the campaign valid.
        named = [field for field, _ in refused.problems]
        assert all(field is None or field in _GOOD_FIELDS for field in named), named
        mended = {
            key: _GOOD_FIELDS[key] if key in named else value
            for key, value in data.items()
            if key in _GOOD_FIELDS
        }
        mended.update({field: _GOOD_FIELDS[field] for field in named if field})
        campaign_spec.parse_campaign(mended, TZ)
        return
    assert spec.slug == data["slug"]
    assert all(isinstance(d, str) and d.strip() == d and d for d in spec.demands)
    # What was taken is what a campaign may hold, whatever the parser let through.
    for text, limit in (
        (spec.title, lengths.TITLE_MAX),
        (spec.statement, lengths.STATEMENT_MAX),
    ):
        assert isinstance(text, str)
        assert text
        assert text == text.strip()
        assert len(text) <= limit
    assert spec.title == data["title"].strip()
    assert spec.statement == data["statement"].strip()
    assert list(spec.milestones) == sorted(set(spec.milestones))
    assert all(isinstance(m, int) and m > 0 for m in spec.milestones)
    # A past date is refused when a campaign is saved (an unchanged one may stay), not here.
    if spec.closes_at is not None:
        assert dt.datetime(1999, 12, 31, tzinfo=dt.UTC) < spec.closes_at
        assert spec.closes_at < dt.datetime.now(
            dt.UTC
        ) + campaign_spec.MAX_CLOSES_AHEAD + dt.timedelta(days=2)


@settings(max_examples=DOMAIN_EXAMPLES, deadline=None)
@given(st.one_of(st.none(), nasty_text, st.text(st.characters(codec="utf-8"), max_size=200)))
def test_clean_name_gives_a_clean_name_or_says_why(raw):
    try:
        name = clean_name(raw)
    except InvalidName:
        return
    assert name == name.strip()
    assert 0 < len(name) <= NAME_MAX
    assert "\n" not in name
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name)
    assert clean_name(name) == name


@settings(max_examples=DOMAIN_EXAMPLES, deadline=None)
@given(form_states(), st.booleans())
def test_spec_from_form_accepts_or_names_the_field(state, with_slug):
    view = {"state": {"values": state}}
    if with_slug:
        state.setdefault("slug", {"slug": _typed("fair-pay")})
    try:
        spec = spec_from_form(view, None, TZ)
    except InvalidCampaign:
        return
    assert spec.status.value == "draft"


@pytest.fixture(scope="module")
def domain_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database.from_url(f"sqlite:///{tmp_path_factory.mktemp('domain') / 'domain.db'}")
    upgrade(db.engine)
    for slug, status in (
        ("wewontbuildit", "open"),
        ("closed-one", "closed"),
        ("draft-one", "draft"),
    ):
        spec = campaign_spec.parse_campaign(
            {"slug": slug, "title": "T", "statement": "S", "demands": ["D"], "status": status}, TZ
        )
        with db.write() as session:
            campaigns.upsert_campaign(session, spec)
    yield db
    db.dispose()


@pytest.fixture(scope="module")
def domain_keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    key = bytes(range(32))
    return Keyring(key, KeyStore(tmp_path_factory.mktemp("keys"), key))


@settings(max_examples=DOMAIN_EXAMPLES, deadline=None)
@given(slugs, nasty_text, st.none() | nasty_text)
def test_add_signature_stores_only_what_it_should(domain_db, domain_keyring, slug, signer, name):
    try:
        with domain_db.write() as session:
            add_signature(session, slug, signer, name, keyring=domain_keyring)
    except DomainError:
        pass
    with domain_db.read() as session:
        for campaign in session.scalars(select(Campaign)):
            rows = session.scalar(
                select(func.count())
                .select_from(Signature)
                .where(Signature.campaign_id == campaign.id)
            )
            assert rows == campaign.signature_count
            if campaign.slug != "wewontbuildit":
                assert rows == 0, campaign.slug
