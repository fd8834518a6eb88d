"""Fair turns at Slack's rate limits (handlers/pacing.py): once Slack refuses, whoever
asked first goes first, and nobody who arrived later gets through before them;
calls that can wait are sent in arrival order once Slack allows."""

from __future__ import annotations

import threading

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from handlers.pacing import TURN_KEPT_SECONDS, Later, Turns


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def rate_limited(retry_after: int) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postEphemeral",
        req_args={},
        data={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": str(retry_after)},
        status_code=429,
    )
    return SlackApiError("ratelimited", response)


def test_nobody_waits_while_slack_refuses_nothing():
    turns = Turns("users.info", Clock())
    assert [turns.ask(f"p{n}") for n in range(5)] == [0] * 5


def test_the_person_refused_first_goes_first():
    clock = Clock()
    turns = Turns("users.info", clock)
    assert turns.ask("first") == 0
    assert turns.refused("first", 10) == 10
    # Someone arriving later is given a turn after theirs.
    later = turns.ask("later")
    assert later > 10
    # At the first person's turn, the later one is still held back...
    clock.now += 10
    assert turns.ask("later") > 0
    # ...and the first goes through.
    assert turns.ask("first") == 0
    # Then, at their own turn, the later one does.
    clock.now += later
    assert turns.ask("later") == 0


def test_a_turn_nobody_comes_back_for_is_given_up():
    clock = Clock()
    turns = Turns("users.info", clock)
    turns.refused("gone", 5)
    assert turns.ask("next") > 0
    clock.now += 5 + TURN_KEPT_SECONDS + 1
    assert turns.ask("next") == 0
    assert turns.waiting == 0


def test_calls_held_back_are_sent_in_the_order_they_came():
    clock = Clock()
    later = Later(clock)
    sent: list[str] = []
    refusals = [rate_limited(2)]
    lock = threading.Lock()

    def call(name: str):
        def send() -> None:
            with lock:
                if refusals:
                    raise refusals.pop()
                sent.append(name)

        return send

    assert later.call("chat.postEphemeral", call("a")) is False  # refused: queued
    assert later.call("chat.postEphemeral", call("b")) is False  # queued behind it
    assert later.call("chat.postEphemeral", call("c")) is False
    assert sent == []
    clock.now += 3
    assert later.settle(10)
    assert sent == ["a", "b", "c"]
    # Nothing waiting: the next call goes at once.
    assert later.call("chat.postEphemeral", call("d")) is True
    assert sent[-1] == "d"
