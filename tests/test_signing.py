"""Private signing end to end: buttons, modals, DMs and App Home, driven through
signed HTTP requests, with what Slack received and what was stored checked."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

import blocks
from console.payloads import message_im_body
from console.server import Fault
from console.workspace import FakeUser, dm_channel_for
from storage.models import Signature
from tests.support.running import ALICE, BOB, RunningBot, newcomer, response_json
from tests.support.scheduling import wait_for
from tests.support.signers import expected_value, opened_name
from tests.support.signing import (
    SLUG,
    count,
    ephemerals_to,
    open_sign_form,
    opened_views,
    sign,
    sign_values,
    stored,
    view_text,
)

# -- helpers -------------------------------------------------------------------


def name_of(bot: RunningBot, row: Signature) -> str | None:
    return opened_name(bot.db, bot.settings, SLUG, row.sealed_name)


@pytest.fixture
def bot(running_bot: RunningBot) -> RunningBot:
    running_bot.import_campaign()
    return running_bot


# -- signing ---------------------------------------------------------------------


def test_the_form_explains_everything_before_anything_is_recorded(bot):
    view = open_sign_form(bot)
    text = view_text(view)
    assert "*1.* Cancel the contract" in text
    assert "We, the undersigned" in text
    assert "never stores" in text
    assert "exported by workspace owners" in text
    assert "not kept as messages" in text
    assert "personal device" in text
    how = next(b for b in view["blocks"] if b.get("block_id") == "how")
    assert how["element"]["initial_option"]["value"] == "anonymous"
    name = next(b for b in view["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "Alice Example"
    assert name["element"]["max_length"] == 80
    assert stored(bot) == []
    assert count(bot) == 0


def test_sign_anonymously(bot):
    answer = sign(bot)
    assert answer["response_action"] == "update"
    assert "anonymously" in view_text(answer["view"])
    [row] = stored(bot)
    assert not row.named
    assert row.sealed_name is None
    assert row.signed_on == dt.date.today()
    assert row.signer_hash == expected_value(bot.db, bot.settings, SLUG, ALICE.id)
    assert count(bot) == 1


def test_sign_with_a_name(bot):
    answer = sign(bot, how="named", name="  Alice   Q. Example ")
    assert "with your name" in view_text(answer["view"])
    [row] = stored(bot)
    assert row.named
    assert name_of(bot, row) == "Alice Q. Example"


def test_a_named_signature_needs_a_name(bot):
    view = open_sign_form(bot)
    answer = response_json(bot.slack.submit(view, sign_values("named", "   ")))
    assert answer["response_action"] == "errors"
    assert "name" in answer["errors"]
    answer = response_json(bot.slack.submit(view, sign_values("named", "x" * 81)))
    assert answer["response_action"] == "errors"
    assert "80" in answer["errors"]["name"]
    assert stored(bot) == []


def test_an_anonymous_signature_ignores_the_prefilled_name(bot):
    view = open_sign_form(bot)
    response_json(bot.slack.submit(view, sign_values("anonymous", "Alice Example")))
    [row] = stored(bot)
    assert not row.named
    assert row.sealed_name is None


def test_a_forged_choice_is_refused(bot):
    view = open_sign_form(bot)
    answer = response_json(bot.slack.submit(view, sign_values("everyone", None)))
    assert answer["response_action"] == "errors"
    assert stored(bot) == []


def test_signing_twice_keeps_one_signature(bot):
    sign(bot)
    # A second click on the button says so instead of opening the form.
    view = open_sign_form(bot)
    assert "already signed" in view_text(view)
    assert "callback_id" not in view
    assert count(bot) == 1


def test_a_double_submission_keeps_one_signature(bot):
    view = open_sign_form(bot)
    first = response_json(bot.slack.submit(view, sign_values()))
    second = response_json(bot.slack.submit(view, sign_values()))
    assert "anonymously" in view_text(first["view"])
    assert "already signed" in view_text(second["view"])
    assert len(stored(bot)) == 1
    assert count(bot) == 1


def test_signatures_from_different_people_are_counted_separately(bot):
    sign(bot, ALICE.id)
    sign(bot, BOB.id, how="named", name="Bob")
    assert count(bot) == 2
    assert sorted(name_of(bot, r) or "" for r in stored(bot)) == ["", "Bob"]


# -- eligibility -------------------------------------------------------------------

INELIGIBLE = {
    "bot": (FakeUser("U0ROBOT001", "robot", "Robot", is_bot=True), "Bots"),
    "deleted": (FakeUser("U0GONE0001", "gone", "Gone", deleted=True), "deactivated"),
    "multi-channel guest": (FakeUser("U0GUEST001", "g1", "Guest", is_restricted=True), "Guest"),
    "single-channel guest": (
        FakeUser("U0GUEST002", "g2", "Guest", is_restricted=True, is_ultra_restricted=True),
        "Guest",
    ),
    "slack connect": (
        FakeUser("U0EXTERN01", "ext", "Ext", is_stranger=True),
        "another organization",
    ),
    "other workspace": (
        FakeUser("U0EXTERN02", "ext", "Ext", team_id="T0OTHERORG"),
        "another organization",
    ),
}


@pytest.mark.parametrize("kind", list(INELIGIBLE))
def test_ineligible_accounts_are_refused_politely(bot, kind):
    user, words = INELIGIBLE[kind]
    bot.fake.workspace.add_user(user)
    view = open_sign_form(bot, user.id)
    assert "callback_id" not in view
    assert words in view_text(view)
    # A submission of a form they never got is refused too.
    forged = {"callback_id": "sign_submit", "private_metadata": json.dumps({"slug": SLUG})}
    answer = response_json(bot.slack.submit(forged, sign_values(), user=user.id))
    assert answer["response_action"] == "update"
    assert words in view_text(answer["view"])
    assert stored(bot) == []


def test_users_info_rate_limit_asks_to_try_again_and_stores_nothing(bot):
    # Someone the member directory does not know yet is asked of users.info.
    late = newcomer(bot.fake).id
    bot.fake.fail("users.info", Fault(status=429, retry_after=7))
    view = open_sign_form(bot, late)
    assert "try again in 7 seconds" in view_text(view)
    assert stored(bot) == []
    assert len(bot.fake.calls_to("users.info")) == 1


def test_someone_looked_up_once_is_not_asked_about_again(bot):
    late = newcomer(bot.fake).id
    form = open_sign_form(bot, late)
    # Without a fresh eligibility pass (opened too long ago, say) the submission
    # is checked again; the member directory learned the newcomer when the form
    # opened, so Slack failing now changes nothing.
    metadata = json.loads(form["private_metadata"])
    del metadata["pass"]
    form["private_metadata"] = json.dumps(metadata)
    bot.fake.fail("users.info", Fault(status=500))
    answer = response_json(bot.slack.submit(form, sign_values(), user=late))
    assert "anonymously" in view_text(answer["view"])
    assert count(bot) == 1


def test_users_info_error_code_is_a_try_again_too(bot):
    late = newcomer(bot.fake).id
    bot.fake.fail("users.info", Fault(error="internal_error"))
    assert "try again" in view_text(open_sign_form(bot, late))
    assert stored(bot) == []


# -- closed campaigns ----------------------------------------------------------------


def test_a_closed_campaign_refuses_signatures_but_allows_withdrawal(bot):
    sign(bot, BOB.id)
    form = open_sign_form(bot)
    bot.pass_closing_date(SLUG, dt.date(2020, 1, 1))
    view = open_sign_form(bot)
    assert "closed" in view_text(view)
    answer = response_json(bot.slack.submit(form, sign_values()))
    assert "closed" in view_text(answer["view"])
    assert "Nothing was recorded" in view_text(answer["view"])
    assert count(bot) == 1
    # Bob can still take his signature back.
    assert bot.slack.click("withdraw_start", SLUG, user=BOB.id).status == 200
    confirm = opened_views(bot)[-1]
    assert confirm["callback_id"] == "withdraw_submit"
    response_json(bot.slack.submit(confirm, {}, user=BOB.id))
    assert count(bot) == 0


def test_a_button_on_an_old_message_for_a_removed_campaign_says_so(bot):
    assert bot.slack.click("sign_start", "gone-campaign").status == 200
    view = opened_views(bot)[-1]
    assert "no campaign called `gone-campaign`" in view_text(view)


# -- the DM ---------------------------------------------------------------------------


def buttons_of(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def test_dm_sign_shows_the_campaign_and_its_signing_buttons_ephemerally(bot):
    assert bot.slack.dm("sign").status == 200
    [reply] = ephemerals_to(bot, ALICE.id)
    assert reply["channel"] == dm_channel_for(ALICE.id)
    # The demands and the notice, then *Sign privately* and the form, as under /demands.
    text = view_text(reply)
    assert "*1.* Cancel the contract" in text
    assert blocks.SIGNING_NOTICE in text
    assert buttons_of(reply) == [("sign_quick", SLUG), ("sign_start", SLUG), ("news_follow", SLUG)]
    # Nothing was posted as a lasting message.
    assert bot.fake.calls_to("chat.postMessage") == []


def test_dm_sign_with_a_slug_and_with_several_campaigns(bot):
    bot.import_campaign(slug="fair-pay", title="Fair pay now")
    bot.slack.dm("sign")
    choice = ephemerals_to(bot, ALICE.id)[-1]
    read = [b["accessory"] for b in choice["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in read] == [
        ("campaign_show", SLUG),
        ("campaign_show", "fair-pay"),
    ]
    bot.slack.dm("sign fair-pay")
    one = ephemerals_to(bot, ALICE.id)[-1]
    assert buttons_of(one) == [
        ("sign_quick", "fair-pay"),
        ("sign_start", "fair-pay"),
        ("news_follow", "fair-pay"),
    ]
    bot.slack.dm("sign nope")
    assert "no campaign called `nope`" in ephemerals_to(bot, ALICE.id)[-1]["text"]


def test_dm_status_says_whether_and_how_one_signed(bot):
    bot.import_campaign(slug="fair-pay", title="Fair pay now")
    bot.slack.dm("status")
    text = view_text(ephemerals_to(bot, ALICE.id)[-1])
    assert text.count("You have not signed.") == 2
    sign(bot)
    bot.slack.dm("Status")
    text = view_text(ephemerals_to(bot, ALICE.id)[-1])
    assert "You have signed anonymously." in text
    assert "You have not signed." in text
    bot.slack.dm("status", user=BOB.id)
    assert view_text(ephemerals_to(bot, BOB.id)[-1]).count("You have not signed.") == 2


def test_dm_withdraw_confirms_then_deletes(bot):
    sign(bot, how="named", name="Alice")
    bot.slack.dm("withdraw")
    reply = ephemerals_to(bot, ALICE.id)[-1]
    button = reply["blocks"][0]["accessory"]
    assert (button["action_id"], button["value"]) == ("withdraw_start", SLUG)
    assert count(bot) == 1  # nothing happens before the confirmation
    bot.slack.click("withdraw_start", SLUG, container={"type": "message", "is_ephemeral": True})
    confirm = opened_views(bot)[-1]
    assert "deleted" in view_text(confirm)
    answer = response_json(bot.slack.submit(confirm, {}))
    assert "was deleted" in view_text(answer["view"])
    assert stored(bot) == []
    assert count(bot) == 0
    # Withdrawing again finds nothing and changes nothing.
    bot.slack.dm("withdraw")
    assert "nothing to withdraw" in ephemerals_to(bot, ALICE.id)[-1]["text"]
    again = response_json(bot.slack.submit(confirm, {}))
    assert "nothing to withdraw" in view_text(again["view"])
    assert count(bot) == 0


@pytest.mark.parametrize("text", ["hello", "", "   ", "sing", "🙂" * 10, "x" * 5000, "<!channel>"])
def test_dm_garbled_text_gets_help(bot, text):
    bot.slack.dm(text)
    # The answer may follow the acknowledgement (handlers/intime.py) on a loaded machine.
    wait_for(lambda: ephemerals_to(bot, ALICE.id))
    [reply] = ephemerals_to(bot, ALICE.id)
    assert "What you can send me" in reply["text"]


def test_bot_messages_and_edits_are_ignored(bot):
    bot.slack.dm("sign", bot_id="B0OTHERBOT", subtype="bot_message")
    bot.slack.dm("sign", subtype="message_changed")
    assert bot.fake.calls_to("chat.postEphemeral") == []


def test_a_slack_retry_of_a_dm_does_not_answer_twice(bot):
    body = message_im_body("sign", ALICE.id)
    bot.slack.post(body, "application/json")
    # The same event again (its event_id too), as Slack redelivers it.
    retried = bot.slack.post(
        body,
        "application/json",
        {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retried.status == 200
    assert len(ephemerals_to(bot, ALICE.id)) == 1


def test_a_retry_whose_first_delivery_never_arrived_is_answered(bot):
    retried = bot.slack.dm(
        "sign", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert retried.status == 200
    assert len(ephemerals_to(bot, ALICE.id)) == 1


def test_a_rate_limited_ephemeral_reply_is_retried_and_the_server_goes_on(bot):
    bot.fake.fail("chat.postEphemeral", Fault(status=429, retry_after=1))
    assert bot.slack.dm("status").status == 200
    assert bot.slack.dm("status").status == 200
    # Three calls: the refused one, its retry after Retry-After, the second answer
    # (answers come after the acknowledgement).
    deadline = time.monotonic() + 10
    while len(bot.fake.workspace.ephemerals_for(ALICE.id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bot.fake.workspace.ephemerals_for(ALICE.id)) == 2
    assert len(ephemerals_to(bot, ALICE.id)) == 3


# -- App Home ----------------------------------------------------------------------------


def home_of(bot: RunningBot, user: str = ALICE.id) -> dict[str, Any]:
    calls = [c for c in bot.fake.calls_to("views.publish") if c.params["user_id"] == user]
    assert calls, "no Home view was published"
    return calls[-1].params["view"]


def test_app_home_shows_campaigns_status_and_buttons(bot):
    assert bot.slack.open_home().status == 200
    home = home_of(bot)
    assert "We won't build it" in view_text(home)
    assert "You have not signed." in view_text(home)
    # A campaign one may sign is shown whole, with the notice and both ways to sign.
    assert "*1.* Cancel the contract" in view_text(home)
    assert view_text(home).count(blocks.SIGNING_NOTICE) == 1
    assert buttons_of(home) == [("sign_quick", SLUG), ("sign_start", SLUG)]


def test_signing_from_app_home_refreshes_it(bot):
    bot.slack.open_home()
    home_container = {"type": "view", "view_id": "VHOME"}
    view = open_sign_form(
        bot,
        container=home_container,
        view={"type": "home", "id": "VHOME"},
        response_url=None,
        channel_id=None,
    )
    response_json(bot.slack.submit(view, sign_values()))
    home = home_of(bot)
    assert "You have signed anonymously." in view_text(home)
    buttons = [e for b in home["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("sign_change", SLUG),
        ("withdraw_start", SLUG),
    ]


def test_the_messages_tab_does_not_publish_a_home(bot):
    from console.payloads import app_home_opened_body

    bot.slack.post(app_home_opened_body(ALICE.id, tab="messages"), "application/json")
    assert bot.fake.calls_to("views.publish") == []
