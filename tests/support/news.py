"""News posts to signers, and waiting for them."""

from __future__ import annotations

import time
from typing import Any

from jobs.news import EVENT_TYPE
from tests.support.running import RunningBot


def news_posts(bot: RunningBot) -> list[dict[str, Any]]:
    return [
        c.params
        for c in bot.fake.calls_to("chat.postMessage")
        if (c.params.get("metadata") or {}).get("event_type") == EVENT_TYPE
    ]


def wait_until(condition, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
