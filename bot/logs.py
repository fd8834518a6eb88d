"""Logging set-up, with a last line of defence against leaking who signed."""

from __future__ import annotations

import logging
import re

# Slack user and enterprise user ids look like U024BE7LH or W012A3CDE; requiring
# a digit spares ordinary capitalised words such as WARNING.
_SLACK_USER_ID = re.compile(r"\b[UW](?=[A-Z]*[0-9])[A-Z0-9]{6,}\b")


class RedactUserIds(logging.Filter):
    """Replace anything shaped like a Slack user id in a formatted log line.

    Our own log lines never name a person; this catches what libraries might say
    (Bolt's and slack_sdk's debug output includes request bodies).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SLACK_USER_ID.sub("U…", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactUserIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library debug output carries whole request and response bodies: names and
    # message text. Keep it out of the logs whatever LOG_LEVEL says.
    for noisy in ("slack_bolt", "slack_sdk", "urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
