"""The fake workspace shows what a Slack client would: response URLs, modal stacks,
channels. The console relies on these, so they are tested like any behaviour."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.fakeslack import FakeChannel, FakeSlack, FakeUser

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
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": []}


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
    root = client.views_open(trigger_id=fake.new_trigger(ALICE.id), view=modal("Form"))
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
    first = client.views_publish(user_id=ALICE.id, view={"type": "home", "blocks": []})
    second = client.views_publish(user_id=ALICE.id, view={"type": "home", "blocks": []})
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
