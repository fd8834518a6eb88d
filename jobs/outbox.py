"""Posting to Slack from a job: one failure classifier, one Retry-After policy, one
way of finding a message of ours that a crash left unrecorded.

Every job that writes to Slack (announcements, campaign cards, news DMs, deleting
news DMs) goes through an `Outbox`. A failed call becomes a `SlackFailure` that
says what the job may assume:
- RATE_LIMITED: Slack refused before acting (HTTP 429); nothing was posted. Its
  Retry-After is honoured within the run's budget, else the channel waits for
  the next run (Slack counts posting limits per channel);
- REFUSED: an error code (`not_in_channel`, `message_not_found`...): certainly
  nothing was posted;
- UNAVAILABLE: a 5xx, a timeout, a dropped connection: the call may have acted,
  so whoever retries looks for its own message first (`find_own`).
The client given to a job makes no automatic retries (bot.webclient.posting_client).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from blocks.limits import retry_after_seconds

logger = logging.getLogger(__name__)

RATE_LIMITED = "rate_limited"
REFUSED = "refused"
UNAVAILABLE = "unavailable"

# A rate limit on a call that names no channel (auth.test) holds back every channel.
EVERY_CHANNEL = "*"
# What a rate limit with no Retry-After is taken to ask for, in seconds.
DEFAULT_RETRY_AFTER = 60
# find_own() read all the pages it may and did not reach the start of the window.
HISTORY_TOO_LONG = "history_too_long"
# What Slack's error codes look like. slack_sdk puts other text in `error` for an
# answer that is not JSON (a proxy's page, its first 100 characters): not kept.
_CODE = re.compile(r"[a-z0-9_]{1,64}")


class SlackFailure(Exception):
    """A Slack call that did not succeed, classified (see the module's docstring)."""

    def __init__(self, kind: str, code: str, retry_after: int | None = None) -> None:
        self.kind = kind
        self.code = code
        self.retry_after = retry_after
        super().__init__(code)


def classify(error: Exception) -> SlackFailure:
    """What a failed Slack call means for the job that made it. Only Slack's error
    code and the exception's type are kept: never a request's text or recipient."""
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        data = getattr(error.response, "data", None)
        code = data.get("error") if isinstance(data, dict) else None
        if status == 429 or code == "ratelimited":
            headers = getattr(error.response, "headers", None)
            return SlackFailure(RATE_LIMITED, "ratelimited", retry_after_seconds(headers))
        if status >= 500:
            return SlackFailure(UNAVAILABLE, f"http_{status}")
        known = isinstance(code, str) and _CODE.fullmatch(code) is not None
        return SlackFailure(REFUSED, code if known else f"http_{status}")
    # Timeouts and connection errors: the request may have arrived.
    return SlackFailure(UNAVAILABLE, type(error).__name__)


class Outbox:
    """The Web API for one run of a job, with a budget of seconds for honouring
    Retry-After. A rate limit that outlasts the budget holds back the channel it
    came from for the rest of the run: one busy channel neither delays nor
    repeats another's post."""

    def __init__(self, client: WebClient, wait_budget: float) -> None:
        self.client = client
        self.wait_budget = wait_budget
        self.rate_limited: set[str] = set()
        self._bot_id: str | None = None

    def held_back(self, *channels: str | None) -> bool:
        if EVERY_CHANNEL in self.rate_limited:
            return True
        return any(c in self.rate_limited for c in channels if c)

    def call(self, method: str, fn: Callable[..., SlackResponse], **kwargs: Any) -> SlackResponse:
        """`fn(**kwargs)`; raises SlackFailure. A rate limit within the budget is
        waited out (no call to Slack before Retry-After has passed) and retried."""
        while True:
            try:
                return fn(**kwargs)
            except (SlackApiError, SlackClientError, OSError) as error:
                failure = classify(error)
            if failure.kind != RATE_LIMITED:
                raise failure
            wait = failure.retry_after or DEFAULT_RETRY_AFTER
            failure.retry_after = wait
            if wait <= self.wait_budget:
                self.wait_budget -= wait
                logger.info("%s rate limited; retrying in %d s", method, wait)
                time.sleep(wait)
                continue
            channel = kwargs.get("channel")
            self.rate_limited.add(channel if isinstance(channel, str) else EVERY_CHANNEL)
            raise failure

    def own_bot_id(self) -> str | None:
        if self._bot_id is None:
            response = self.call("auth.test", self.client.auth_test)
            self._bot_id = response.get("bot_id")
        return self._bot_id


@dataclass(frozen=True)
class Marked:
    """What identifies a post of ours: the metadata event type, and a test of the
    payload (which campaign and milestone, which update)."""

    event_type: str
    matches: Callable[[dict[str, Any]], bool]

    def __call__(self, message: dict[str, Any], bot_id: str | None) -> bool:
        if bot_id is not None and message.get("bot_id") != bot_id:
            return False
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        return metadata.get("event_type") == self.event_type and self.matches(payload)


def find_own(
    outbox: Outbox,
    channel: str,
    oldest: float,
    marked: Marked,
    *,
    pages: int,
    page_size: int,
    bot_id: str | None = None,
) -> str | None:
    """The ts of our post in `channel` since `oldest` (Unix seconds) that `marked`
    recognizes, or None once the channel's history since then has been read to
    the end. Raises SlackFailure if it cannot be (UNAVAILABLE past `pages` pages)."""
    cursor: str | None = None
    for _page in range(pages):
        kwargs: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{oldest:.6f}",
            "limit": page_size,
            "include_all_metadata": True,
        }
        if cursor:
            kwargs["cursor"] = cursor
        response = outbox.call(
            "conversations.history", outbox.client.conversations_history, **kwargs
        )
        for message in response.get("messages") or []:
            if isinstance(message, dict) and marked(message, bot_id):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            return None
    raise SlackFailure(UNAVAILABLE, HISTORY_TOO_LONG)
