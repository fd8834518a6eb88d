"""The fake workspace shows what a Slack client would: response URLs, modal stacks,
channels. The console relies on these, so they are tested like any behaviour."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from console.server import FakeSlack
from console.workspace import FakeChannel, FakeUser

ALICE = FakeUser("U0ALICE001", "alice", "Alice Example")
BOB = FakeUser("U0BOB00002", "bob", "Bob Example")
GENERAL = FakeChannel("C0GENERAL", "general")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.workspace.add_user(ALICE)
        fake.workspace.add_user(BOB)
        fake.workspace.add_channel(GENERAL)
        yield fake


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(base_url=fake.api_url, token="xoxb-test")


def respond(url: str, **payload: object) -> None:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def kinds(fake: FakeSlack) -> list[str]:
    return [change.kind for change in fake.workspace.changes]


def test_a_response_url_post_is_a_new_ephemeral_for_the_person(fake):
    respond(fake.response_url(ALICE.id, GENERAL.id), text="hello")
    [message] = fake.workspace.ephemerals_for(ALICE.id, GENERAL.id)
    assert message["text"] == "hello"
    assert fake.workspace.ephemerals_for(BOB.id) == []
    assert kinds(fake) == ["ephemeral"]


def test_replace_and_delete_original_act_on_the_clicked_message(fake, client):
    client.chat_postEphemeral(channel=GENERAL.id, user=ALICE.id, text="first")
    [original] = fake.workspace.ephemerals_for(ALICE.id)
    respond(fake.response_url(ALICE.id, GENERAL.id, original), text="second", replace_original=True)
    assert fake.workspace.ephemerals_for(ALICE.id) == [original]
    assert original["text"] == "second"
    respond(fake.response_url(ALICE.id, GENERAL.id, original), delete_original=True)
    assert fake.workspace.ephemerals_for(ALICE.id) == []
    assert kinds(fake) == ["ephemeral", "updated", "deleted"]


def test_an_in_channel_response_is_a_channel_message(fake):
    respond(fake.response_url(ALICE.id, GENERAL.id), text="for all", response_type="in_channel")
    [message] = fake.workspace.messages_in(GENERAL.id)
    assert message["text"] == "for all"
    assert fake.workspace.ephemerals == []


def test_a_response_url_without_a_person_is_only_recorded(fake):
    respond(fake.response_url(), text="hello")
    assert fake.workspace.responses == [{"text": "hello"}]
    assert fake.workspace.ephemerals == []
    assert len(fake.calls_to("response_url")) == 1


def test_a_command_answer_is_shown_ephemerally(fake):
    message = fake.show_command_answer(ALICE.id, GENERAL.id, {"text": "only you"})
    assert fake.workspace.ephemerals_for(ALICE.id) == [message]
    assert fake.show_command_answer(ALICE.id, GENERAL.id, {}) is None


def modal(title: str) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": title}}],
    }


HOME = {"type": "home", "blocks": [{"type": "divider"}]}


def test_views_open_on_a_persons_trigger_goes_on_their_screen(fake, client):
    opened = client.views_open(trigger_id=fake.new_trigger(ALICE.id), view=modal("One"))
    view_id = opened["view"]["id"]
    assert fake.workspace.view_stacks[ALICE.id] == [view_id]
    assert fake.workspace.modal_of(ALICE.id)["title"]["text"] == "One"
    assert fake.workspace.modal_of(BOB.id) is None
    pushed = client.views_push(trigger_id=fake.new_trigger(ALICE.id), view=modal("Two"))
    assert fake.workspace.view_stacks[ALICE.id] == [view_id, pushed["view"]["id"]]
    client.views_update(view_id=view_id, view=modal("One again"))
    assert fake.workspace.views[view_id]["title"]["text"] == "One again"
    # A new views.open replaces the whole stack.
    again = client.views_open(trigger_id=fake.new_trigger(ALICE.id), view=modal("Three"))
    assert fake.workspace.view_stacks[ALICE.id] == [again["view"]["id"]]
    assert kinds(fake) == ["opened", "pushed", "updated_view", "opened"]


def test_a_trigger_nobody_was_given_opens_no_screen(fake, client):
    client.views_open(trigger_id="1.2.unknown", view=modal("One"))
    assert fake.workspace.view_stacks == {}
    assert len(fake.workspace.views) == 1


def test_view_submission_answers_act_on_the_stack(fake, client):
    form = {
        **modal("Form"),
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [
            {
                "type": "input",
                "block_id": "name",
                "label": {"type": "plain_text", "text": "Name"},
                "element": {"type": "plain_text_input", "action_id": "name"},
            }
        ],
    }
    root = client.views_open(trigger_id=fake.new_trigger(ALICE.id), view=form)
    root_id = root["view"]["id"]
    errors = fake.apply_view_response(
        ALICE.id, root_id, {"response_action": "errors", "errors": {"name": "Too long"}}
    )
    assert errors == {"name": "Too long"}
    assert fake.workspace.view_stacks[ALICE.id] == [root_id]
    fake.apply_view_response(ALICE.id, root_id, {"response_action": "update", "view": modal("Ok")})
    assert fake.workspace.modal_of(ALICE.id)["title"]["text"] == "Ok"
    assert fake.workspace.modal_of(ALICE.id)["id"] == root_id
    fake.apply_view_response(ALICE.id, root_id, {"response_action": "push", "view": modal("Top")})
    assert len(fake.workspace.view_stacks[ALICE.id]) == 2
    top_id = fake.workspace.view_stacks[ALICE.id][-1]
    # An empty answer closes the submitted view only; clear closes them all.
    fake.apply_view_response(ALICE.id, top_id, {})
    assert fake.workspace.view_stacks[ALICE.id] == [root_id]
    fake.apply_view_response(ALICE.id, root_id, {"response_action": "push", "view": modal("T")})
    fake.apply_view_response(ALICE.id, root_id, {"response_action": "clear"})
    assert fake.workspace.modal_of(ALICE.id) is None


def test_closing_a_view_takes_it_off_the_screen(fake, client):
    opened = client.views_open(trigger_id=fake.new_trigger(ALICE.id), view=modal("One"))
    fake.close_view(ALICE.id, opened["view"]["id"])
    assert fake.workspace.modal_of(ALICE.id) is None
    assert kinds(fake)[-1] == "closed"


def test_the_home_tab_keeps_its_id_across_publishes(fake, client):
    first = client.views_publish(user_id=ALICE.id, view=HOME)
    second = client.views_publish(user_id=ALICE.id, view=HOME)
    assert first["view"]["id"] == second["view"]["id"]
    assert fake.workspace.home_views[ALICE.id]["id"] == first["view"]["id"]


def test_channels_have_names_and_can_be_looked_up(fake, client):
    info = client.conversations_info(channel=GENERAL.id)
    assert info["channel"]["name"] == "general"
    assert info["channel"]["is_member"] is True
    with pytest.raises(SlackApiError) as missing:
        client.conversations_info(channel="C0NOWHERE")
    assert missing.value.response["error"] == "channel_not_found"
    assert fake.workspace.channel_named("#general") is fake.workspace.channels[GENERAL.id]
    assert fake.workspace.user_named("@bob") is fake.workspace.users[BOB.id]
    assert fake.workspace.user_named("nobody") is None


# -- as strict as Slack ------------------------------------------------------------------


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_a_message_past_slacks_limits_is_refused_with_the_reasons(fake, client):
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=GENERAL.id, text="x", blocks=[section("x")] * 51)
    answer = refused.value.response
    assert answer["error"] == "invalid_blocks"
    assert "must be at most 50 items (is 51) [json-pointer:/blocks]" in answer["errors"]
    assert fake.workspace.messages == []
    [refusal] = fake.refusals
    assert (refusal.method, refusal.error) == ("chat.postMessage", "invalid_blocks")
    # The same 50 blocks go through.
    client.chat_postMessage(channel=GENERAL.id, text="x", blocks=[section("x")] * 50)
    assert len(fake.workspace.messages) == 1


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"title": {"type": "plain_text", "text": "t" * 25}}, "/view/title/text"),
        ({"title": {"type": "mrkdwn", "text": "t"}}, "/view/title/type"),
        ({"private_metadata": "m" * 3001}, "/view/private_metadata"),
        ({"blocks": [section("x")] * 101}, "/view/blocks"),
        (
            {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]},
            "/view/blocks/0/text/text",
        ),
        ({"blocks": [section("x" * 3001)]}, "/view/blocks/0/text/text"),
        (
            {"blocks": [{**section("a"), "block_id": "b"}, {**section("b"), "block_id": "b"}]},
            "/view/blocks/1/block_id",
        ),
    ],
)
def test_a_view_past_slacks_limits_is_refused(fake, client, change, pointer):
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id=fake.new_trigger(ALICE.id), view={**modal("M"), **change})
    answer = refused.value.response
    assert answer["error"] == "invalid_arguments"
    assert any(pointer in m for m in answer["response_metadata"]["messages"])
    assert fake.workspace.modal_of(ALICE.id) is None


def test_an_input_view_needs_a_submit_button_and_input_within_max_length(fake, client):
    element = {
        "type": "plain_text_input",
        "action_id": "t",
        "max_length": 10,
        "initial_value": "x" * 11,
    }
    field = {
        "type": "input",
        "block_id": "t",
        "label": {"type": "plain_text", "text": "T"},
        "element": element,
    }
    with pytest.raises(SlackApiError) as refused:
        client.views_open(
            trigger_id=fake.new_trigger(ALICE.id), view={**modal("M"), "blocks": [field]}
        )
    messages = " ".join(refused.value.response["response_metadata"]["messages"])
    assert "/view/submit" in messages
    assert "/view/blocks/0/element/initial_value" in messages


def test_options_are_checked_as_slack_checks_them(fake, client):
    def option(n: int, description: str = "") -> dict:
        found = {"text": {"type": "mrkdwn", "text": f"*{n}*"}, "value": str(n)}
        if description:
            found["description"] = {"type": "mrkdwn", "text": description}
        return found

    radio = {"type": "radio_buttons", "action_id": "r", "options": [option(n) for n in range(11)]}
    menu = {
        "type": "static_select",
        "action_id": "s",
        "options": [{"text": {"type": "mrkdwn", "text": "m"}, "value": "v"}],
    }
    described = {"type": "checkboxes", "action_id": "c", "options": [option(1, "d" * 76)]}
    for element, pointer in (
        (radio, "/blocks/0/elements/0/options"),
        (menu, "/blocks/0/elements/0/options/0/text/type"),
        (described, "/blocks/0/elements/0/options/0/description/text"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postEphemeral(
                channel=GENERAL.id,
                user=ALICE.id,
                text="x",
                blocks=[{"type": "actions", "elements": [element]}],
            )
        assert any(pointer in e for e in refused.value.response["errors"]), element["type"]


def test_a_response_url_post_past_the_limits_is_a_400(fake):
    request = urllib.request.Request(
        fake.response_url(ALICE.id, GENERAL.id),
        json.dumps({"text": "x", "blocks": [section("x")] * 51}).encode(),
        {"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 400
    assert refused.value.read() == b"invalid_blocks"
    assert fake.workspace.ephemerals == []
    assert [r.method for r in fake.refusals] == ["response_url"]


def test_acknowledgements_are_checked_with_the_same_rules(fake):
    assert fake.check_acknowledgement("command", json.dumps({"text": "ok"})) == []
    too_many = json.dumps({"text": "x", "blocks": [section("x")] * 51})
    assert fake.check_acknowledgement("command", too_many)
    form = {**modal("F"), "blocks": [{"type": "input", "block_id": "name"}]}
    errors = {"response_action": "errors", "errors": {"other": "No"}}
    assert fake.check_acknowledgement("view_submission", errors, form)
    bad_update = {
        "response_action": "update",
        "view": {**modal("M"), "title": {"type": "plain_text", "text": "t" * 30}},
    }
    assert fake.check_acknowledgement("view_submission", bad_update)
    # Slack reads nothing from a click's or an event's acknowledgement.
    assert fake.check_acknowledgement("block_actions", too_many) == []
    assert len(fake.refusals) == 3


def test_a_method_past_its_tier_is_rate_limited_until_time_passes():
    now = [1000.0]
    with FakeSlack(clock=lambda: now[0]) as fake:
        fake.workspace.add_user(ALICE)
        client = WebClient(base_url=fake.api_url, token="xoxb-test")
        for _ in range(100):  # Tier 4: 100 a minute, all at once if need be
            client.users_info(user=ALICE.id)
        with pytest.raises(SlackApiError) as limited:
            client.users_info(user=ALICE.id)
        assert limited.value.response.status_code == 429
        assert limited.value.response["error"] == "ratelimited"
        assert limited.value.response.headers["Retry-After"] == "1"
        # Another method has its own allowance; and a second later users.info has one.
        client.chat_postEphemeral(channel=GENERAL.id, user=ALICE.id, text="x")
        now[0] += 1.0
        client.users_info(user=ALICE.id)
        assert len(fake.rate_limited) == 1


def test_chat_post_message_is_limited_per_channel():
    now = [0.0]
    with FakeSlack(clock=lambda: now[0]) as fake:
        client = WebClient(base_url=fake.api_url, token="xoxb-test")
        for _ in range(5):
            client.chat_postMessage(channel="C0ONE", text="x")
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="C0ONE", text="x")
        client.chat_postMessage(channel="C0TWO", text="x")


def test_tiers_can_be_turned_off_for_a_test_that_is_not_about_them():
    with FakeSlack(tiers=False) as fake:
        fake.workspace.add_user(ALICE)
        client = WebClient(base_url=fake.api_url, token="xoxb-test")
        for _ in range(150):
            client.users_info(user=ALICE.id)
        assert fake.rate_limited == []


def test_a_request_cut_off_mid_body_is_not_acted_on(fake):
    """A server killed while sending a call: the fake, as any HTTP server, acts on
    no part of the request (it once recorded a refused views.open from one)."""
    body = json.dumps({"trigger_id": "T1", "view": {"type": "modal", "title": "x" * 50}})
    port = int(fake.api_url.split(":")[2].split("/")[0])
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(
            b"POST /api/views.open HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Authorization: Bearer xoxb-test-token\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2].encode()
        )
    time.sleep(0.3)
    assert fake.calls_to("views.open") == []
    assert fake.refusals == []
