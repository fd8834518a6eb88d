"""Cross-cutting request handling."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse

logger = logging.getLogger(__name__)


def skip_event_retries(
    request: BoltRequest, body: dict, next: Callable[[], BoltResponse]
) -> BoltResponse:
    """Answer Slack's redeliveries of an event without acting on them again.

    Every listener runs to completion before Slack gets its answer and failures
    are answered with 200, so a retry means the first delivery was slow, not
    lost: acting again would send the signer a second reply.
    """
    if body.get("type") == "event_callback" and request.headers.get("x-slack-retry-num"):
        logger.info(
            "ignored a redelivered event (retry %s)", request.headers["x-slack-retry-num"][0]
        )
        return BoltResponse(status=200, body="")
    return next()


def register(app: App) -> None:
    app.middleware(skip_event_retries)
