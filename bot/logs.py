"""Logging set-up, with a last line of defence against leaking who signed."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

# Slack ids: users U024BE7LH and W012A3CDE, channels C.., G.. and DMs D.., teams
# T.. and organizations E... A DM or channel id can point at a person as surely
# as a user id. Requiring a digit spares ordinary capitalised words (WARNING).
_SLACK_ID = re.compile(r"\b[UWCGDTE](?=[A-Z]*[0-9])[A-Z0-9]{6,}\b")


# A signer's identity value (a hex HMAC), as it would appear in a failed statement.
_SIGNER_VALUE = re.compile(r"\b[0-9a-f]{64}\b")


# PostgreSQL's DETAIL line of a failed statement quotes the row or key it refused
# ("Failing row contains (...)", "Key (...)=(...) already exists"): a name, a
# sealed value, whatever the statement carried. hide_parameters cannot reach it,
# since it is the server's own text inside the driver's exception.
_SERVER_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)


def redact(text: str) -> str:
    # Plain ASCII: under LANG=C a non-ASCII marker would itself break logging.
    text = _SERVER_DETAIL.sub("DETAIL: [withheld: it may quote the row's values]", text)
    return _SIGNER_VALUE.sub("[signer]", _SLACK_ID.sub("[id]", text))


class RedactSlackIds(logging.Filter):
    """Replace anything shaped like a Slack user, channel or team id in a log line.

    Our own log lines never name a person; this catches what libraries might say
    (Bolt's and slack_sdk's debug output includes request bodies).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """Redacts the whole line as written, tracebacks and stack included: an
    exception's text (a failed statement, a library's error) can carry ids that
    the message alone does not. Statement parameters never reach it at all: every
    engine is made with hide_parameters (storage/db.py)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time, not at set-up."""

    # A property where StreamHandler has an attribute: what it is for.
    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str) -> None:
    handler = _StderrHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSlackIds())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library debug output carries whole request and response bodies: names and
    # message text. Keep it out of the logs whatever LOG_LEVEL says.
    for noisy in ("slack_bolt", "slack_sdk", "urllib3", "waitress.queue"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
