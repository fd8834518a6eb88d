"""Acknowledgements sent as JSON made beforehand.

Some answers are the same for many people (the /demands answer, the confirmation
of a signature), and Bolt would serialize them again on every request: for
/demands that was the largest single cost. These are serialized once and sent as
`ack()` would send them.
"""

from __future__ import annotations

from slack_bolt import Ack, BoltResponse

_JSON = {"content-type": "application/json;charset=utf-8"}


def ack_json(ack: Ack, body: str) -> None:
    """Acknowledge with `body`, a JSON object serialized beforehand."""
    ack.response = BoltResponse(status=200, body=body, headers=_JSON)
