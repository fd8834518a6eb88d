"""Slack's Web API misbehaving on every call the bot makes: rate limits with
Retry-After, server errors, timeouts, a refused connection and error codes such as
`invalid_blocks`. The person gets a clear "try again" where it matters, nothing
half-done is stored, and the server keeps serving.

Each test walks through every fault on one running bot, with a different person
for each, and checks that the next request after each fault works."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import pytest
from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.server import BackgroundServer, SlackWSGI
from console.server import FakeSlack, Fault
from console.workspace import FakeChannel, FakeUser, dm_channel_for
from handlers.pacing import Pacing
from jobs.announce import run_announcements
from storage.db import Database
from storage.models import Campaign, Signature
from tests.support.announcing import add_signers
from tests.support.news import wait_until
from tests.support.organizers import DANA, NEW_CAMPAIGN, editor_values, open_editor
from tests.support.running import (
    ALICE,
    SIGNING_SECRET,
    RunningBot,
    SlackDriver,
    make_settings,
    newcomer,
)
from tests.support.signing import SLUG, open_sign_form, sign_values, view_text

# The bot's Web API client gives up after this long here (5 s in production), so
# that a timeout costs the suite little.
CLIENT_TIMEOUT = 0.5

FAULTS = {
    "rate limited": Fault(status=429, retry_after=30),
    "server error": Fault(status=500),
    "timeout": Fault(delay=CLIENT_TIMEOUT + 0.5),
    "invalid_blocks": Fault(error="invalid_blocks"),
}


class Clock:
    """The time the app's pacing (handlers/pacing.py) goes by: each person below
    comes a minute after the one before, past any Retry-After a fault gave."""

    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


def a_minute_later() -> None:
    CLOCK.now += 60


@pytest.fixture
def app_and_bot(
    fake_slack: FakeSlack, db: Database, database_url: str
) -> Iterator[tuple[App, RunningBot]]:
    settings = make_settings(fake_slack, database_url, ORGANIZERS=DANA.id)
    client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=CLIENT_TIMEOUT
    )
    app = create_app(settings, db, client=client, pacing=Pacing(CLOCK))
    server = BackgroundServer(SlackWSGI(app, db, SIGNING_SECRET)).start()
    fake_slack.workspace.add_user(DANA)
    fake_slack.workspace.add_channel(FakeChannel("C0ANNOUNCE", "announcements"))
    bot = RunningBot(settings, db, SlackDriver(server.url, fake_slack), fake_slack)
    bot.import_campaign()
    try:
        yield app, bot
    finally:
        server.stop()


@pytest.fixture
def bot(app_and_bot: tuple[App, RunningBot]) -> RunningBot:
    return app_and_bot[1]


def people(bot: RunningBot, prefix: str) -> Iterator[tuple[str, Fault, str]]:
    """Each fault, with a person of its own (the per-person rate limit stays out of
    it), each a minute after the one before. They joined after the app read its
    member directory: users.info is asked about them."""
    for number, (name, fault) in enumerate(FAULTS.items()):
        user = FakeUser(f"U0{prefix}{number:04d}", f"p{number}", f"Person {number}")
        bot.fake.workspace.add_user(user)
        yield name, fault, user.id
        a_minute_later()


def eventually(condition: Callable[[], bool], timeout: float = 20) -> bool:
    """For what the bot does after acknowledging (handlers/intime.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def shown_to(bot: RunningBot, user: str) -> str:
    """What reached this person through response URLs (the clicks carry none else)."""
    return json.dumps([c.params for c in bot.fake.calls_to("response_url")] + [user])


def signatures(bot: RunningBot) -> tuple[int, int]:
    """Rows, and the count kept beside them: they must always agree."""
    with bot.db.read() as session:
        rows = session.scalar(select(func.count()).select_from(Signature))
        kept = session.scalar(select(Campaign.signature_count).where(Campaign.slug == SLUG))
    return rows, kept


def no_tracebacks(bot: RunningBot) -> None:
    sent = json.dumps([c.params for c in bot.fake.calls])
    assert "Traceback" not in sent
    assert "Something went wrong" not in sent, "a fault reached the generic error handler"


def signs_normally(bot: RunningBot, user: str = ALICE.id, **click: object) -> None:
    form = open_sign_form(bot, user, **click)
    answer = json.loads(bot.slack.submit(form, sign_values(), user=user).body)
    assert answer["view"]["title"]["text"] == "Signed", answer


# -- signing --------------------------------------------------------------------------


def test_users_info_failing_on_the_sign_button_says_try_again(bot):
    for name, fault, user in people(bot, "UIB"):
        bot.fake.fail("users.info", fault)
        view = open_sign_form(bot, user)
        assert "try again" in view_text(view), name
        assert "callback_id" not in view, name
        assert signatures(bot) == (0, 0), name
    for _, _, user in people(bot, "UIB"):
        signs_normally(bot, user)
    assert signatures(bot) == (len(FAULTS), len(FAULTS))
    no_tracebacks(bot)


def _without_pass(form: dict) -> dict:
    # A form whose eligibility pass is missing or stale is checked with users.info
    # on submit (a fresh one is not: tests/test_form_pass.py).
    metadata = json.loads(form["private_metadata"])
    metadata.pop("pass", None)
    return {**form, "private_metadata": json.dumps(metadata)}


def test_users_info_failing_on_submit_says_try_again_and_records_nothing(bot):
    forms = {}
    # A form without a pass (opened long ago), submitted by people the app has not
    # looked up yet.
    stale = _without_pass(open_sign_form(bot))
    for name, fault, user in people(bot, "UIS"):
        form = forms[user] = stale
        bot.fake.fail("users.info", fault)
        result = bot.slack.submit(form, sign_values(), user=user)
        assert result.status == 200, name
        answer = json.loads(result.body)
        assert answer["response_action"] == "errors", name
        assert "try again" in answer["errors"]["how"], name
        assert signatures(bot) == (0, 0), name
    # The same forms, submitted again once Slack answers, sign once each.
    for user, form in forms.items():
        answer = json.loads(bot.slack.submit(form, sign_values(), user=user).body)
        assert answer["view"]["title"]["text"] == "Signed"
    assert signatures(bot) == (len(FAULTS), len(FAULTS))
    no_tracebacks(bot)


@pytest.mark.parametrize("action", ["sign_start", "withdraw_start"])
def test_a_form_slack_would_not_open_gets_a_try_again(bot, action):
    for name, fault, user in people(bot, "VO" + action[0].upper()):
        if action == "withdraw_start":
            signs_normally(bot, user)
        before = signatures(bot)
        bot.fake.fail("views.open", fault)
        assert bot.slack.click(action, SLUG, user=user).status == 200, name
        assert "click the button again" in shown_to(bot, user), name
        assert signatures(bot) == before, name
        # The button works once Slack does (after any Retry-After).
        a_minute_later()
        assert bot.slack.click(action, SLUG, user=user).status == 200
        assert bot.fake.calls_to("views.open")[-1].params["view"].get("callback_id"), name
    no_tracebacks(bot)


def test_a_dm_prompt_whose_form_did_not_open_stays_to_be_clicked_again(bot):
    dm = dm_channel_for(ALICE.id)
    bot.slack.dm("sign")
    bot.fake.fail("views.open", Fault(status=500))
    bot.slack.click("sign_start", SLUG, channel_id=dm)
    sent = [c.params for c in bot.fake.calls_to("response_url")]
    assert not any(p.get("delete_original") for p in sent)
    assert "click the button again" in json.dumps(sent)
    # Once the form opens, the prompt is removed as usual.
    open_sign_form(bot, channel_id=dm)
    assert bot.fake.calls_to("response_url")[-1].params.get("delete_original") is True


def test_a_home_tab_that_cannot_be_refreshed_still_signs(bot):
    from_home = {
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {"type": "home", "id": "VHOME"},
        "response_url": None,
        "channel_id": None,
    }
    for name, fault, user in people(bot, "HOM"):
        form = open_sign_form(bot, user, **from_home)
        bot.fake.fail("views.publish", fault)
        answer = json.loads(bot.slack.submit(form, sign_values(), user=user).body)
        # The signature is committed before the answer; the tab is only a mirror.
        assert answer["view"]["title"]["text"] == "Signed", name
        assert bot.slack.open_home(user).status == 200
        home_view = bot.fake.calls_to("views.publish")[-1].params["view"]
        assert "You have signed" in view_text(home_view), name
    assert signatures(bot) == (len(FAULTS), len(FAULTS))
    no_tracebacks(bot)


def _answers_to(bot: RunningBot, user: str) -> list[str]:
    return [
        c.params["text"]
        for c in bot.fake.calls_to("chat.postEphemeral")
        if c.params["user"] == user
    ]


def test_dm_replies_that_fail_do_not_stop_the_next_one(bot):
    for name, fault, user in people(bot, "DMR"):
        bot.fake.fail("chat.postEphemeral", fault)
        assert bot.slack.dm("status", user=user).status == 200, name
        a_minute_later()
        assert bot.slack.dm("help", user=user).status == 200, name
        assert eventually(lambda user=user: "What you can send me" in _answers_to(bot, user)[-1]), (
            name
        )
    # The answer Slack held back (429) was sent once it allowed.
    rate_limited = "U0DMR0000"
    assert [t for t in _answers_to(bot, rate_limited) if t == "Your signatures"] == [
        "Your signatures",
        "Your signatures",
    ]
    no_tracebacks(bot)


def test_a_response_url_that_fails_does_not_stop_the_next_click(bot):
    bot.import_campaign(slug="fair-pay", title="Fair pay")
    for name, fault, user in people(bot, "RSP"):
        bot.fake.fail("response_url", fault)
        assert bot.slack.click("campaign_show", SLUG, user=user).status == 200, name
        assert bot.slack.click("campaign_show", "fair-pay", user=user).status == 200, name
        assert "Fair pay" in json.dumps(bot.fake.calls_to("response_url")[-1].params), name
    no_tracebacks(bot)


# -- organizers -----------------------------------------------------------------------


def test_a_channel_check_that_fails_says_try_again_and_creates_nothing(bot):
    def created() -> bool:
        with bot.db.read() as session:
            return session.scalar(select(Campaign).where(Campaign.slug == "fair-pay")) is not None

    form = open_editor(bot, "admin_new", "new")
    for name, fault in FAULTS.items():
        bot.fake.fail("conversations.info", fault)
        result = bot.slack.submit(form, editor_values(**NEW_CAMPAIGN), user=DANA.id)
        answer = json.loads(result.body)
        assert answer["response_action"] == "errors", name
        assert "try again" in answer["errors"]["channel"], name
        assert not created(), name
    answer = json.loads(bot.slack.submit(form, editor_values(**NEW_CAMPAIGN), user=DANA.id).body)
    assert answer["response_action"] == "update"
    assert created()
    no_tracebacks(bot)


@pytest.mark.parametrize(
    "method", ["conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"]
)
def test_a_letter_that_cannot_be_delivered_says_try_again(bot, method):
    for name, fault in FAULTS.items():
        bot.fake.fail(method, fault)
        answers = len(bot.fake.calls_to("response_url"))
        assert bot.slack.click("admin_letter_md", SLUG, user=DANA.id).status == 200, name
        # The answer follows the acknowledgement (handlers/intime.py): a slow fault
        # can hold it past the click's own response.
        wait_until(lambda seen=answers: len(bot.fake.calls_to("response_url")) > seen)
        last = bot.fake.calls_to("response_url")[-1].params
        assert "try again" in last["text"], name
        assert bot.fake.workspace.files == [], name
    assert bot.slack.click("admin_letter_md", SLUG, user=DANA.id).status == 200
    wait_until(lambda: bool(bot.fake.workspace.files))
    [letter] = bot.fake.workspace.files
    assert "We won't build it" in letter["content"]
    no_tracebacks(bot)


# -- announcements --------------------------------------------------------------------


def test_an_announcement_survives_every_fault_and_posts_each_milestone_once(bot):
    thresholds = [5 * (n + 1) for n in range(len(FAULTS))]
    bot.import_campaign(milestones=thresholds)
    api = bot.fake.api_url
    client = WebClient(token="xoxb-test", base_url=api, timeout=CLIENT_TIMEOUT, retry_handlers=[])
    for number, (name, fault) in enumerate(FAULTS.items()):
        add_signers(bot.db, bot.settings, 5, start=5 * number)
        bot.fake.fail("chat.postMessage", fault)
        assert run_announcements(bot.db, client).posted == [], name
        assert len(bot.fake.messages_in("C0ANNOUNCE")) == number, name
        # The next run posts it, after looking in the channel if the post may have landed.
        report = run_announcements(bot.db, client)
        assert [d.threshold for d in report.posted] == [thresholds[number]], name
    run_announcements(bot.db, client)
    posts = bot.fake.messages_in("C0ANNOUNCE")
    assert [m["metadata"]["event_payload"]["threshold"] for m in posts] == thresholds


# -- a connection refused ---------------------------------------------------------------


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed now: nothing listens there, so a connection is refused at once.
    return f"http://127.0.0.1:{port}/api/"


def test_slack_unreachable_says_try_again_and_the_server_keeps_serving(app_and_bot):
    app, bot = app_and_bot
    working = app.client.base_url
    # As if SLACK_API_URL named a closed port from here on (the bot was built
    # while Slack answered, as it must be: the app checks its token at start).
    app.client.base_url = _closed_port_url()
    try:
        form = {
            "id": "V0UNREACH1",
            "callback_id": "sign_submit",
            "private_metadata": json.dumps({"slug": SLUG}),
        }
        # Alice is in the member directory: checking her needs no call to Slack, so
        # her signature is recorded even now.
        answer = json.loads(bot.slack.submit(form, sign_values()).body)
        assert answer["view"]["title"]["text"] == "Signed", answer
        # Someone the directory does not know yet must be asked of Slack.
        late = newcomer(bot.fake, "U0UNREACH1").id
        answer = json.loads(bot.slack.submit(form, sign_values(), user=late).body)
        if answer["response_action"] == "errors":
            assert "try again" in answer["errors"]["how"]
        else:
            # Failing calls took longer than the bot waits before answering (its
            # retries back off): "one moment", then the outcome, which Slack,
            # unreachable from the bot, cannot show; nothing is recorded.
            assert "nothing is recorded until it does" in json.dumps(answer["view"])
        # The button cannot open a form: the click's response URL says so (once
        # the bot has given up on Slack, which may be after acknowledging).
        assert bot.slack.click("sign_start", SLUG, user=late).status == 200
        assert eventually(lambda: "click the button again" in shown_to(bot, late))
        # What needs no Web API call still works.
        answer = json.loads(bot.slack.command("").body)
        assert "We won't build it" in answer["text"]
        assert bot.slack.dm("status").status == 200
        assert signatures(bot) == (1, 1)
    finally:
        app.client.base_url = working
    a_minute_later()
    signs_normally(bot, late)
    assert signatures(bot) == (2, 2)
    no_tracebacks(bot)


def test_announcements_with_slack_unreachable_post_once_when_it_is_back(bot):
    bot.import_campaign(milestones=[5])
    add_signers(bot.db, bot.settings, 5)
    unreachable = WebClient(token="xoxb-test", base_url=_closed_port_url(), retry_handlers=[])
    assert run_announcements(bot.db, unreachable).posted == []
    reachable = WebClient(token="xoxb-test", base_url=bot.fake.api_url, retry_handlers=[])
    assert [d.threshold for d in run_announcements(bot.db, reachable).posted] == [5]
    run_announcements(bot.db, reachable)
    assert len(bot.fake.messages_in("C0ANNOUNCE")) == 1


@pytest.mark.parametrize(
    ("action", "value"), [("admin_new", "new"), ("admin_edit", SLUG), ("admin_history", SLUG)]
)
def test_an_organizer_form_slack_would_not_open_gets_a_try_again(bot, action, value):
    for name, fault in FAULTS.items():
        before = len(bot.fake.calls_to("response_url"))
        bot.fake.fail("views.open", fault)
        assert bot.slack.click(action, value, user=DANA.id).status == 200, name
        said = json.dumps([c.params for c in bot.fake.calls_to("response_url")[before:]])
        assert "click the button again" in said, name
    # Once Slack opens it, the form shows and nothing more is said.
    before = len(bot.fake.calls_to("response_url"))
    opened = len(bot.fake.calls_to("views.open"))
    assert bot.slack.click(action, value, user=DANA.id).status == 200
    assert len(bot.fake.calls_to("views.open")) == opened + 1
    assert len(bot.fake.calls_to("response_url")) == before
    no_tracebacks(bot)
