"""The one classifier of a failed Slack call that every job uses (jobs/outbox.py):
what each failure lets the job assume, and how Retry-After is honoured."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import SlackResponse

from jobs.outbox import (
    EVERY_CHANNEL,
    RATE_LIMITED,
    REFUSED,
    UNAVAILABLE,
    Outbox,
    SlackFailure,
    classify,
)


def slack_error(status: int, data: dict[str, Any], headers: dict[str, Any] | None = None):
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data=data,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("refused", response)


@pytest.mark.parametrize(
    ("error", "kind", "code", "retry_after"),
    [
        (
            slack_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
            RATE_LIMITED,
            "ratelimited",
            7,
        ),
        (slack_error(429, {"ok": False}, {"retry-after": ["3"]}), RATE_LIMITED, "ratelimited", 3),
        (
            slack_error(200, {"ok": False, "error": "ratelimited"}),
            RATE_LIMITED,
            "ratelimited",
            None,
        ),
        (
            slack_error(200, {"ok": False, "error": "not_in_channel"}),
            REFUSED,
            "not_in_channel",
            None,
        ),
        (slack_error(404, {}), REFUSED, "http_404", None),
        # slack_sdk's text for an answer that is not JSON is not a code: not kept.
        (
            slack_error(
                403, {"ok": False, "error": "Received a response in a non-JSON format: <html>"}
            ),
            REFUSED,
            "http_403",
            None,
        ),
        (slack_error(503, {"ok": False, "error": "fatal_error"}), UNAVAILABLE, "http_503", None),
        (TimeoutError("timed out"), UNAVAILABLE, "TimeoutError", None),
        (socket.gaierror("no such host"), UNAVAILABLE, "gaierror", None),
        (SlackRequestError("bad"), UNAVAILABLE, "SlackRequestError", None),
    ],
)
def test_each_failure_says_what_the_job_may_assume(error, kind, code, retry_after):
    failure = classify(error)
    assert (failure.kind, failure.code, failure.retry_after) == (kind, code, retry_after)


class Calls:
    """A Slack method that fails as told, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.made = 0

    def __call__(self, **kwargs: Any) -> SlackResponse:
        self.made += 1
        if self.failures:
            raise self.failures.pop(0)
        return slack_error(200, {"ok": True, "ts": "1.2"}).response


def rate_limited(seconds: int) -> SlackApiError:
    return slack_error(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(seconds)})


def test_a_rate_limit_within_the_budget_is_waited_out_and_retried(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr("jobs.outbox.time.sleep", slept.append)
    outbox = Outbox(client=None, wait_budget=10)  # type: ignore[arg-type]  # not called
    method = Calls(rate_limited(4), rate_limited(5))
    response = outbox.call("chat.postMessage", method, channel="C1")
    assert response.get("ts") == "1.2"
    assert (method.made, slept, outbox.wait_budget) == (3, [4, 5], 1)
    assert not outbox.held_back("C1")


def test_a_rate_limit_past_the_budget_holds_back_its_channel_only(monkeypatch):
    monkeypatch.setattr("jobs.outbox.time.sleep", pytest.fail)
    outbox = Outbox(client=None, wait_budget=10)  # type: ignore[arg-type]  # not called
    with pytest.raises(SlackFailure) as raised:
        outbox.call("chat.postMessage", Calls(rate_limited(30)), channel="C1")
    assert (raised.value.kind, raised.value.retry_after) == (RATE_LIMITED, 30)
    assert outbox.held_back("C1")
    assert not outbox.held_back("C2")
    # A method that names no channel holds back every channel.
    with pytest.raises(SlackFailure):
        outbox.call("auth.test", Calls(slack_error(429, {"ok": False})))
    assert outbox.rate_limited == {"C1", EVERY_CHANNEL}
    assert outbox.held_back("C2")


def test_anything_but_a_rate_limit_is_raised_at_once():
    outbox = Outbox(client=None, wait_budget=60)  # type: ignore[arg-type]  # not called
    method = Calls(slack_error(503, {}))
    with pytest.raises(SlackFailure) as raised:
        outbox.call("chat.postMessage", method, channel="C1")
    assert (raised.value.kind, method.made) == (UNAVAILABLE, 1)
    assert not outbox.held_back("C1")
