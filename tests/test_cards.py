"""The campaign card: an organizer posts it in a channel with `/demands card SLUG`;
it shows the campaign and a "Read and sign privately" button that opens the same
private form as /demands, reveals nothing to the channel, and is kept current on
the announcement schedule."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import blocks
from blocks import limits
from console.slackcheck import message_problems
from console.workspace import FakeUser
from petition.organizing import Organizers
from petition.updates import TEXT_MAX, record_outcome
from storage.models import UpdateKind
from tests.support.counts import next_hour
from tests.support.jobs import announce
from tests.support.organizers import ANNOUNCEMENTS, DANA, ELSEWHERE, SLUG, Organizing
from tests.support.running import ALICE, RunningBot
from tests.support.signing import count, opened_views, sign, stored, view_text

CHANNEL = "C0ANNOUNCE"
EVIL = "Stop <!channel> & <@U0ALICE001> now"


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"ORGANIZERS": DANA.id}


@pytest.fixture
def organizing() -> Organizing:
    return Organizing(
        channels=(ANNOUNCEMENTS, ELSEWHERE),
        campaign={"milestones": [5, 10], "demands": ["Cancel the contract", EVIL]},
    )


def _answer(bot: RunningBot, before: int) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answers = bot.fake.calls_to("response_url")
        if len(answers) > before:
            return str(answers[-1].params.get("text"))
        time.sleep(0.05)
    raise AssertionError("no answer")


def _post_card(bot: RunningBot, user: str = DANA.id, channel: str = CHANNEL) -> str:
    before = len(bot.fake.calls_to("response_url"))
    assert bot.slack.command(f"card {SLUG}", user=user, channel_id=channel).status == 200
    return _answer(bot, before)


def _cards(bot: RunningBot) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.fake.workspace.messages_in(CHANNEL)
        if "Read and sign privately" in json.dumps(m.get("blocks"))
    ]


def test_an_organizer_posts_a_card_that_opens_the_private_form(bot):
    """Before: no card; workers had to know the slash command."""
    said = _post_card(bot)
    assert "Posted a card" in said
    [card] = _cards(bot)
    assert message_problems({"channel": CHANNEL, **card}) == []
    shown = json.dumps(card["blocks"])
    assert "We won't build it" in shown
    assert "Cancel the contract" in shown
    assert "fewer than 5" in shown
    # What the organizer typed is escaped.
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt;" in shown
    quick, button = [e for b in card["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert (quick["action_id"], quick["value"]) == ("sign_quick", SLUG)
    assert (button["action_id"], button["value"]) == ("sign_start", SLUG)
    # A worker clicks it in the channel: the private form opens, for them only,
    # and the channel sees nothing new.
    messages = len(bot.fake.workspace.messages_in(CHANNEL))
    assert bot.slack.click("sign_start", SLUG, user=ALICE.id, channel_id=CHANNEL).status == 200
    deadline = time.monotonic() + 10
    while not opened_views(bot) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened_views(bot), "the signing form did not open"
    assert len(bot.fake.workspace.messages_in(CHANNEL)) == messages
    assert _cards(bot)[0]["blocks"] == card["blocks"]


def test_sign_privately_on_the_card_answers_the_signer_alone(bot):
    """i20's one-click anonymous signature from i19's card: the notice of what is kept
    sits right above the button, Slack's own dialog asks first, and the answer is
    an ephemeral message for the signer (through the click's response URL): the
    card is never replaced, nothing is posted or edited in the channel, and no
    rate-limited Web API call is made for a member the directory knows."""
    _post_card(bot)
    [card] = _cards(bot)
    kinds = [b["type"] for b in card["blocks"]]
    actions = kinds.index("actions")
    assert blocks.SIGNING_NOTICE in view_text({"blocks": [card["blocks"][actions - 1]]})
    # The statement is on the card: one click signs it.
    assert "We, the undersigned" in view_text(card)
    quick = card["blocks"][actions]["elements"][0]
    assert (quick["action_id"], quick["value"]) == (blocks.QUICK_SIGN_ACTION, SLUG)
    confirm = quick["confirm"]
    assert confirm["confirm"]["text"] == "Sign anonymously"
    assert "anonymously" in confirm["text"]["text"]
    assert len(confirm["text"]["text"]) <= limits.CONFIRM_TEXT

    channel_before = json.dumps(bot.fake.workspace.messages_in(CHANNEL), sort_keys=True)
    posts = len(bot.fake.calls_to("chat.postMessage"))
    limited = [c.method for c in bot.fake.calls if c.method in limits.METHOD_TIERS]
    answers = len(bot.fake.calls_to("response_url"))
    # As Slack sends a click on a message everyone in the channel sees.
    container = {
        "type": "message",
        "message_ts": card["ts"],
        "channel_id": CHANNEL,
        "is_ephemeral": False,
    }
    url = bot.fake.response_url(user=ALICE.id, channel=CHANNEL, message=card)
    click = bot.slack.click(
        blocks.QUICK_SIGN_ACTION,
        SLUG,
        user=ALICE.id,
        channel_id=CHANNEL,
        container=container,
        response_url=url,
    )
    assert click.status == 200
    deadline = time.monotonic() + 10
    while len(bot.fake.calls_to("response_url")) == answers and time.monotonic() < deadline:
        time.sleep(0.05)
    [answer] = [c.params for c in bot.fake.calls_to("response_url")][answers:]
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] in (False, "false")
    assert "anonymously" in view_text(answer)
    [shown] = bot.fake.workspace.ephemerals_for(ALICE.id, CHANNEL)
    assert "You signed" in view_text(shown)
    # Nothing about the signer anywhere in the channel: the card as it was, no post,
    # no edit; and the answer names nobody.
    assert json.dumps(bot.fake.workspace.messages_in(CHANNEL), sort_keys=True) == channel_before
    assert len(bot.fake.calls_to("chat.postMessage")) == posts
    assert bot.fake.calls_to("chat.update") == []
    said = json.dumps(answer)
    assert ALICE.id not in said
    assert ALICE.real_name not in said
    assert [c.method for c in bot.fake.calls if c.method in limits.METHOD_TIERS] == limited
    assert count(bot) == 1
    [row] = stored(bot)
    assert row.sealed_name is None


def test_the_card_is_kept_current_on_the_announcement_schedule(bot):
    _post_card(bot)
    for number in range(6):
        user = f"U0CARD{number:04d}"
        bot.fake.workspace.add_user(FakeUser(user, "c", "C"))
        sign(bot, user)
    next_hour(bot.db)
    report = announce(bot.settings)
    assert SLUG in report.cards
    [card] = _cards(bot)
    shown = json.dumps(card["blocks"], ensure_ascii=False)
    assert "Signed so far: *6*" in shown
    assert "Next milestone: 10 signatures, 4 to go" in shown
    # Unchanged: not edited again.
    updates = len(bot.fake.calls_to("chat.update"))
    assert announce(bot.settings).cards == []
    assert len(bot.fake.calls_to("chat.update")) == updates


def test_only_organizers_post_cards(bot):
    assert "organizers" in _post_card(bot, user=ALICE.id).lower()
    assert _cards(bot) == []


def test_a_channel_without_the_bot_gets_a_clear_word(bot):
    said = _post_card(bot, channel="C0NOTIN001")
    assert "/invite @Undersigned" in said


def test_the_card_and_the_preview_of_the_largest_campaign_fit_slack(bot):
    """At the largest a campaign may be, every character one that escaping
    lengthens: Slack (the strict fake) takes the card, its update and the preview."""
    from storage.models import DEMAND_MAX, STATEMENT_MAX, TITLE_MAX

    largest = {
        "title": "<" * TITLE_MAX,
        "statement": "&" * STATEMENT_MAX,
        "demands": ["<" * DEMAND_MAX] * 20,
        "milestones": list(range(5, 25)),
    }
    bot.import_campaign(**largest)
    assert "Posted a card" in _post_card(bot)
    for number in range(6):
        user = f"U0BIG{number:05d}"
        bot.fake.workspace.add_user(FakeUser(user, "b", "B"))
        sign(bot, user)
    next_hour(bot.db)
    assert SLUG in announce(bot.settings).cards
    # Demands of the character that escaping lengthens most take the most sections;
    # at its longest the employer's answer adds five more. Nothing stops an answer
    # being recorded on a draft, and the preview (the notice and what the buttons
    # will be, in one block) must still fit.
    bot.import_campaign(
        slug="big-draft", status="draft", **{**largest, "demands": ["&" * DEMAND_MAX] * 20}
    )
    with bot.db.write() as session:
        record_outcome(
            session,
            Organizers(bot.settings.organizers),
            DANA.id,
            "big-draft",
            UpdateKind.ANSWER,
            "&" * TEXT_MAX,
        )
    preview = bot.slack.command("big-draft", user=DANA.id)
    assert "Preview of a draft" in preview.body
    assert bot.slack.click("preview_sign", "big-draft", user=DANA.id).status == 200
    assert opened_views(bot)[-1]["callback_id"] == "preview_sign_submit"
    assert bot.fake.refusals == []


def test_a_card_is_for_a_channel_not_a_dm(bot):
    said = _post_card(bot, channel="D0DANA0001")
    assert "/demands card SLUG" in said
    assert bot.fake.calls_to("chat.postMessage") == []


def test_a_hostile_slug_in_the_card_command_is_escaped(bot):
    said = _post_card_text(bot, "card <!channel>&<@U0ALICE001>")
    assert "<!channel>" not in said
    assert "<@U0ALICE001>" not in said
    assert _cards(bot) == []


def _post_card_text(bot: RunningBot, text: str) -> str:
    before = len(bot.fake.calls_to("response_url"))
    assert bot.slack.command(text, user=DANA.id, channel_id=CHANNEL).status == 200
    return _answer(bot, before)
