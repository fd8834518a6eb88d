"""*Sign privately* in one click: the notice is shown with the button, Slack's own
confirmation dialog asks before anything is recorded, and the answer goes back
through the click's response URL (or the Home tab): no rate-limited Web API call
for anyone the member directory knows, and nothing said in a channel."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import blocks
from blocks import limits
from console.server import FakeSlack, Fault
from console.slackcheck import Refused, check_message
from console.workspace import dm_channel_for
from storage.models import DEMAND_MAX, STATEMENT_MAX, TITLE_MAX
from tests.support.running import ALICE, BOB, RunningBot, newcomer, response_json
from tests.support.signing import SLUG, count, ephemerals_to, open_sign_form, stored, view_text

QUICK = blocks.QUICK_SIGN_ACTION


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


def quick_button(message: dict[str, Any]) -> dict[str, Any]:
    [button] = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == QUICK
    ]
    return button


def limited_calls(fake: FakeSlack) -> list[str]:
    """Web API calls that count against a rate-limit tier (a response URL does not)."""
    return [c.method for c in fake.calls if c.method in limits.METHOD_TIERS]


def responses(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("response_url")]


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_demands_answer_shows_the_notice_above_a_confirmed_button(bot):
    answer = response_json(bot.slack.command(""))
    text = view_text(answer)
    assert blocks.SIGNING_NOTICE in text
    button = quick_button(answer)
    assert button["value"] == SLUG
    # The notice comes before the button, and Slack's client asks before the click counts.
    kinds = [b["type"] for b in answer["blocks"]]
    notice_at = next(
        i
        for i, block in enumerate(answer["blocks"])
        if blocks.SIGNING_NOTICE in view_text({"blocks": [block]})
    )
    assert kinds[notice_at + 1] == "actions"
    confirm = button["confirm"]
    assert "anonymously" in confirm["text"]["text"]
    assert len(confirm["title"]["text"]) <= limits.CONFIRM_TITLE
    assert len(confirm["text"]["text"]) <= limits.CONFIRM_TEXT
    assert max(len(confirm["confirm"]["text"]), len(confirm["deny"]["text"])) <= (
        limits.CONFIRM_BUTTON
    )


def test_a_confirm_dialog_past_slacks_limits_is_refused_by_the_fake():
    button = {
        "type": "button",
        "action_id": QUICK,
        "value": SLUG,
        "text": {"type": "plain_text", "text": "Sign privately"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Sign?"},
            "text": {"type": "plain_text", "text": "x" * (limits.CONFIRM_TEXT + 1)},
            "confirm": {"type": "plain_text", "text": "y" * (limits.CONFIRM_BUTTON + 1)},
            "deny": {"type": "plain_text", "text": "Not now"},
        },
    }
    with pytest.raises(Refused) as refused:
        check_message({"text": "t", "blocks": [{"type": "actions", "elements": [button]}]})
    problems = " ".join(refused.value.problems)
    assert "confirm/text" in problems
    assert "confirm/confirm" in problems


def test_the_longest_title_still_fits_the_confirm_dialog(bot):
    title = "T" * 150
    bot.import_campaign(slug="long-title", title=title)
    answer = response_json(bot.slack.command("long-title"))
    confirm = quick_button(answer)["confirm"]
    assert len(confirm["text"]["text"]) <= limits.CONFIRM_TEXT
    # The strict fake (checked after every test) took the answer as it is.


def test_sign_privately_from_demands_signs_with_no_rate_limited_call(bot):
    before = limited_calls(bot.fake)
    assert bot.slack.click(QUICK, SLUG).status == 200
    assert wait_for(lambda: responses(bot.fake))
    assert count(bot) == 1
    [row] = stored(bot)
    assert row.sealed_name is None
    assert limited_calls(bot.fake) == before, "a rate-limited call was made to sign"
    [answer] = responses(bot.fake)
    # The /demands answer (ephemeral) is replaced, for the signer only.
    assert answer["replace_original"] in (True, "true")
    assert answer.get("response_type") != "in_channel"
    assert "anonymously" in view_text(answer)
    # Clicking again records nothing more and says so.
    assert bot.slack.click(QUICK, SLUG).status == 200
    assert wait_for(lambda: len(responses(bot.fake)) == 2)
    assert count(bot) == 1
    assert "already" in view_text(responses(bot.fake)[-1]).lower()


def test_sign_privately_on_a_channel_message_answers_the_signer_alone(bot):
    # A message everyone in the channel sees (not ephemeral): it is never replaced.
    container = {"type": "message", "message_ts": "1700000000.000200", "is_ephemeral": False}
    assert bot.slack.click(QUICK, SLUG, user=BOB.id, container=container).status == 200
    assert wait_for(lambda: responses(bot.fake))
    [answer] = responses(bot.fake)
    assert answer["response_type"] == "ephemeral"
    assert answer["replace_original"] in (False, "false")
    assert bot.fake.calls_to("chat.postMessage") == []
    assert bot.fake.calls_to("chat.update") == []
    assert count(bot) == 1


def test_sign_privately_from_the_dm_answer(bot):
    assert bot.slack.dm("sign").status == 200
    [offer] = ephemerals_to(bot, ALICE.id)
    assert offer["channel"] == dm_channel_for(ALICE.id)
    assert blocks.SIGNING_NOTICE in view_text(offer)
    assert quick_button(offer)["confirm"]
    before = limited_calls(bot.fake)
    assert bot.slack.click(QUICK, SLUG, channel_id=dm_channel_for(ALICE.id)).status == 200
    assert wait_for(lambda: responses(bot.fake))
    assert count(bot) == 1
    assert limited_calls(bot.fake) == before
    assert responses(bot.fake)[-1]["replace_original"] in (True, "true")


def test_sign_privately_from_home_says_so_at_the_top_of_the_tab(bot):
    assert bot.slack.open_home().status == 200
    home = bot.fake.calls_to("views.publish")[-1].params["view"]
    assert blocks.SIGNING_NOTICE in view_text(home)
    assert quick_button(home)["confirm"]
    view = {"id": "V0HOME", "type": "home", "private_metadata": home["private_metadata"]}
    container = {"type": "view", "view_id": "V0HOME"}
    published = len(bot.fake.calls_to("views.publish"))
    click = bot.slack.click(
        QUICK, SLUG, container=container, view=view, response_url=None, channel_id=None
    )
    assert click.status == 200
    assert wait_for(lambda: len(bot.fake.calls_to("views.publish")) > published)
    assert count(bot) == 1
    tab = bot.fake.calls_to("views.publish")[-1].params["view"]
    assert "anonymously" in view_text(tab)
    assert "You have signed" in view_text(tab)
    assert responses(bot.fake) == []


def test_someone_the_directory_has_not_seen_is_asked_of_slack_once(bot):
    late = newcomer(bot.fake).id
    assert bot.slack.click(QUICK, SLUG, user=late).status == 200
    assert wait_for(lambda: responses(bot.fake))
    assert count(bot) == 1
    assert len(bot.fake.calls_to("users.info")) == 1
    # Known from then on.
    bot.import_campaign(slug="fair-pay", title="Fair pay now")
    assert bot.slack.click(QUICK, "fair-pay", user=late).status == 200
    assert wait_for(lambda: len(responses(bot.fake)) == 2)
    assert len(bot.fake.calls_to("users.info")) == 1


def test_a_guest_is_refused_and_nothing_is_stored(bot):
    guest = newcomer(bot.fake, "U0GUEST001", is_restricted=True).id
    assert bot.slack.click(QUICK, SLUG, user=guest).status == 200
    assert wait_for(lambda: responses(bot.fake))
    assert stored(bot) == []
    assert "guest" in view_text(responses(bot.fake)[-1]).lower()


def test_slack_busy_says_when_to_click_again_and_stores_nothing(bot):
    late = newcomer(bot.fake).id
    bot.fake.fail("users.info", Fault(status=429, retry_after=7))
    assert bot.slack.click(QUICK, SLUG, user=late).status == 200
    assert wait_for(lambda: responses(bot.fake))
    said = view_text(responses(bot.fake)[-1])
    assert "Nothing was recorded" in said
    assert "7 seconds" in said
    assert stored(bot) == []


def test_the_notice_before_signing_is_the_same_on_every_path(bot):
    demands = response_json(bot.slack.command(""))
    bot.slack.dm("sign")
    [dm] = ephemerals_to(bot, ALICE.id)
    bot.slack.open_home()
    home = bot.fake.calls_to("views.publish")[-1].params["view"]
    form = open_sign_form(bot)
    for surface in (demands, dm, home, form):
        assert view_text(surface).count(blocks.SIGNING_NOTICE) == 1


def test_the_largest_campaign_signs_privately_on_every_surface(bot):
    # The longest title (of characters that grow when escaped), statement and twenty
    # longest demands: every surface with the notice and Sign privately is one
    # Slack accepts (the strict fake checks each, and the test's end asserts it
    # refused nothing), and the click is answered.
    demands = [f"{i:02d} " + "&" * (DEMAND_MAX - 3) for i in range(20)]
    bot.import_campaign(
        title="<&>" * (TITLE_MAX // 3), statement="&" * STATEMENT_MAX, demands=demands
    )
    assert quick_button(response_json(bot.slack.command("")))["confirm"]
    bot.slack.dm("sign")
    assert quick_button(ephemerals_to(bot, ALICE.id)[-1])["confirm"]
    bot.slack.open_home()
    home = bot.fake.calls_to("views.publish")[-1].params["view"]
    assert blocks.SIGNING_NOTICE in view_text(home)
    assert bot.slack.click(QUICK, SLUG).status == 200
    assert wait_for(lambda: responses(bot.fake))
    assert count(bot) == 1
    assert bot.fake.refusals == []


def test_an_answer_slack_held_back_says_so_when_it_comes(bot):
    # Slack refuses the DM's answer (the client's own wait, then once more): the
    # bot sends it once Slack allows, and says it was held back.
    bot.fake.fail("chat.postEphemeral", Fault(status=429, retry_after=1), times=2)
    assert bot.slack.dm("sign").status == 200
    # The fake records refused calls too: the third is the one Slack took.
    assert wait_for(lambda: len(ephemerals_to(bot, ALICE.id)) == 3, timeout=15)
    answer = ephemerals_to(bot, ALICE.id)[-1]
    assert blocks.HELD_BACK_TEXT in view_text(answer)
    assert quick_button(answer)["confirm"]


def test_a_home_tab_slack_held_back_says_so_when_it_comes(bot):
    bot.fake.fail("views.publish", Fault(status=429, retry_after=1), times=2)
    assert bot.slack.open_home().status == 200
    # The fake records refused calls too: the third is the one Slack took.
    assert wait_for(lambda: len(bot.fake.calls_to("views.publish")) == 3, timeout=15)
    home = bot.fake.calls_to("views.publish")[-1].params["view"]
    assert blocks.HELD_BACK_TEXT in view_text(home)
    assert blocks.SIGNING_NOTICE in view_text(home)
