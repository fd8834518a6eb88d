"""Logging set-up, with a last line of defence against leaking who signed."""

from __future__ import annotations

import logging
import re
import sys

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
        # Plain ASCII: under LANG=C a non-ASCII marker would itself break logging.
        redacted = _SLACK_USER_ID.sub("[user]", message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time, not at set-up."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # type: ignore[no-untyped-def]
        pass


def configure_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactUserIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library debug output carries whole request and response bodies: names and
    # message text. Keep it out of the logs whatever LOG_LEVEL says.
    for noisy in ("slack_bolt", "slack_sdk", "urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
