"""Slack's Events API deliveries, acted on once.

Slack delivers an event again when it did not get the acknowledgement in time
(a lost HTTP response, a Socket Mode connection dropped mid-frame). Every
delivery, the first (Socket Mode marks it `retry_attempt: 0`) as well as a
redelivery, is claimed by its event id in the database before it is acted on:
the first claim wins, on this process or on any replica sharing the database,
and a redelivery of an event already taken on is acknowledged and left alone.
A redelivery of an event whose first delivery never arrived finds no claim and
is acted on.
"""

from __future__ import annotations

import time

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.direct import DirectCursor
from storage.models import EventReceipt

# Slack retries an event three times within a few minutes (at once, after a
# minute, after five): receipts are kept well past that, then deleted.
KEEP_MINUTES = 30
EVENT_ID_MAX = 64

_R = EventReceipt.__table__.c
_VALUES = {"event_id": bindparam("event_id"), "minute": bindparam("minute")}
# INSERT ... ON CONFLICT DO NOTHING: atomic on both backends, and its row count
# says whether this delivery is the first to claim the event.
_CLAIM = {
    "sqlite": sqlite.insert(EventReceipt.__table__).values(_VALUES).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(EventReceipt.__table__)
    .values(_VALUES)
    .on_conflict_do_nothing(),
}
_PRUNE = delete(EventReceipt.__table__).where(_R.minute < bindparam("before"))


def current_minute(now: float | None = None) -> int:
    return int(time.time() if now is None else now) // 60


def claim_event(work: DirectCursor, event_id: str, minute: int, prune: bool = False) -> bool:
    """True if this delivery is the first to claim `event_id`: act on it. False if
    the event was claimed already: it is a redelivery of something taken on.

    With `prune`, receipts older than KEEP_MINUTES go in the same transaction.
    """
    was_a_change = work.wrote
    if prune:
        work.run(_PRUNE, before=minute - KEEP_MINUTES)
    claimed = work.run(_CLAIM[work.dialect_name], event_id=event_id[:EVENT_ID_MAX], minute=minute)
    # A receipt is not campaign data: caches of what campaigns hold (the public
    # snapshot /demands answers from) need not be refreshed for it.
    work.wrote = was_a_change
    return claimed > 0


class Receipts:
    """Claims event deliveries in the database, pruning old receipts about once a
    minute per process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pruned_at = -1

    def claim(self, event_id: str, now: float | None = None) -> bool:
        minute = current_minute(now)
        prune = minute != self._pruned_at
        self._pruned_at = minute

        def work(cursor: DirectCursor) -> bool:
            return claim_event(cursor, event_id, minute, prune)

        return self._db.direct.write_batched(work)
