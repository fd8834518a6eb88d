"""Slack's Events API deliveries, acted on once.

Slack delivers an event again when it did not get the acknowledgement in time
(a lost HTTP response, a Socket Mode connection dropped mid-frame). Every
delivery, the first (Socket Mode marks it `retry_attempt: 0`) as well as a
redelivery, is claimed by its event id in the database before it is acted on:
the first claim wins, on this process or on any replica sharing the database,
and a redelivery of an event already taken on is acknowledged and left alone.
A redelivery of an event whose first delivery never arrived finds no claim and
is acted on.

Over HTTP, Slack marks every redelivery with `X-Slack-Retry-Num`; a delivery
without it is an event's first, and its claim cannot fail (a replay of it is
refused before this, bot/replay.py). On SQLite its receipt is therefore queued
for the writer thread and the event acted on at once, instead of waiting for the
commit (a hand-over to the writer and back on every DM and Home tab). Until the
receipt is committed this process remembers it, and a redelivery is claimed
after it in the writer's order either way, so it is still left alone. Only if
the process dies in the moment between the two, or the write fails (logged),
would a redelivery be acted on again. Redeliveries, Socket Mode (whose first
deliveries say `retry_attempt: 0`, as a redelivery may too) and PostgreSQL
(replicas, another process's claim) claim before acting, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import BindParameter, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.direct import DirectCursor
from storage.models import EventReceipt, table

# Slack retries an event three times within a few minutes (at once, after a
# minute, after five): receipts are kept well past that, then deleted.
KEEP_MINUTES = 30
EVENT_ID_MAX = 64

logger = logging.getLogger(__name__)

_R = table(EventReceipt).c
_VALUES: dict[str, BindParameter[Any]] = {
    "event_id": bindparam("event_id"),
    "minute": bindparam("minute"),
}
# INSERT ... ON CONFLICT DO NOTHING: atomic on both backends, and its row count
# says whether this delivery is the first to claim the event.
_CLAIM = {
    "sqlite": sqlite.insert(table(EventReceipt)).values(_VALUES).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(table(EventReceipt)).values(_VALUES).on_conflict_do_nothing(),
}
_PRUNE = delete(table(EventReceipt)).where(_R.minute < bindparam("before"))


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


def record_first_deliveries(work: DirectCursor, receipts: list[tuple[str, int]]) -> int:
    """Write the receipts of first deliveries (event id, minute) in one statement;
    how many were new (all of them, unless another process claimed one)."""
    was_a_change = work.wrote
    claimed = work.run_many(
        _CLAIM[work.dialect_name],
        [{"event_id": event_id[:EVENT_ID_MAX], "minute": minute} for event_id, minute in receipts],
    )
    work.wrote = was_a_change  # not campaign data (see claim_event)
    return claimed


# First deliveries' receipts not written yet, most at once: past this a first
# delivery waits for its receipt like any other, so that a writer that cannot keep
# up slows requests down instead of letting the backlog grow.
MAX_UNWRITTEN = 1000


class Receipts:
    """Claims event deliveries in the database, pruning old receipts about once a
    minute per process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pruned_at = -1
        self._lock = threading.Lock()
        # Event ids of first deliveries taken on whose receipt is not committed yet,
        # and those of them not handed to the writer yet (with their minute).
        self._queued: set[str] = set()
        self._unwritten: list[tuple[str, int]] = []
        self._flush_queued = False

    def claim(self, event_id: str, now: float | None = None, first_delivery: bool = False) -> bool:
        """True if this delivery is the one to act on. `first_delivery`: Slack said
        it is the event's first (over HTTP, no X-Slack-Retry-Num): on SQLite its
        receipt is then written soon after, without waiting (see the module's
        docstring)."""
        minute = current_minute(now)
        key = event_id[:EVENT_ID_MAX]
        with self._lock:
            if key in self._queued:
                return False  # its first delivery is being acted on
            soon = (
                first_delivery
                and self._db.direct.writes_soon
                and len(self._unwritten) < MAX_UNWRITTEN
            )
            if soon:
                self._queued.add(key)
                self._unwritten.append((key, minute))
                if self._flush_queued:
                    return True  # the write already queued takes this one too
                self._flush_queued = True
        if soon:
            self._flush(minute)
            return True
        prune = self._prune_due(minute)

        def work(cursor: DirectCursor) -> bool:
            return claim_event(cursor, key, minute, prune)

        return self._db.direct.write_batched(work)

    def _prune_due(self, minute: int) -> bool:
        with self._lock:
            due = minute != self._pruned_at
            self._pruned_at = minute
        return due

    def _flush(self, minute: int) -> None:
        """Queue one write of every receipt not written yet (taken when it runs)."""
        taken: list[tuple[str, int]] = []
        prune = self._prune_due(minute)

        def work(cursor: DirectCursor) -> int:
            with self._lock:
                taken.extend(self._unwritten)
                self._unwritten = []
                self._flush_queued = False
            if prune:
                cursor.run(_PRUNE, before=minute - KEEP_MINUTES)
            return record_first_deliveries(cursor, taken) if taken else 0

        def finished(claimed: int | None, error: BaseException | None) -> None:
            with self._lock:
                self._queued.difference_update(event_id for event_id, _ in taken)
            if error is not None:
                # Said without event ids, as every log line here: nothing in them is needed.
                logger.warning(
                    "%d events' receipts could not be written (%s): a redelivery of "
                    "one would be acted on again",
                    len(taken),
                    type(error).__name__,
                )
            elif claimed is not None and claimed < len(taken):
                logger.warning(
                    "%d first deliveries had been claimed elsewhere already",
                    len(taken) - claimed,
                )

        if self._db.direct.write_soon(work, finished):
            return
        # The writer is stopping or behind: write them now, and wait.
        try:
            claimed = self._db.direct.write_batched(work)
        except Exception as error:
            finished(None, error)
            raise
        finished(claimed, None)
