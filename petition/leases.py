"""Claims with a lease: how a row waiting to be posted is taken by one process.

Announcements (petition/announcements.py) and news deliveries
(petition/updates.py) are both posted by whichever process claims the row first.
A claim is a fresh token and the time it was taken, written by one conditional
UPDATE that only one process can win: SQLite serialises writers with BEGIN
IMMEDIATE, and PostgreSQL re-checks the WHERE after a concurrent update, so the
loser matches no row. Every later write names the token (`mine`), so a process
whose claim was taken over changes nothing. A claim older than the lease is
taken over: the process that held it is presumed dead.

Each table says which of its columns means "nobody holds it" (an announcement:
no token; a delivery: no claim time) and how long its lease is; the statements
are the ones each module wrote before, one round trip each.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from storage.db import rows_changed
from storage.models import Base

# What a row's claim columns are set to when the claim is given back (both
# tables name them so).
RELEASED: dict[str, object] = {"claim_token": None, "claimed_at": None}


@dataclass(frozen=True)
class Lease:
    """The claim columns of one table (`claim_token`, `claimed_at`) and its lease."""

    table: type[Base]
    token: InstrumentedAttribute[str | None]
    claimed_at: InstrumentedAttribute[dt.datetime | None]
    # The column whose NULL says that nobody holds the row.
    free: InstrumentedAttribute[Any]
    duration: dt.timedelta

    def claimable(self, now: dt.datetime) -> ColumnElement[bool]:
        """Rows nobody holds, or whose holder's lease has run out."""
        return or_(self.free.is_(None), self.claimed_at < now - self.duration)

    def held(self, claimed_at: dt.datetime | None, now: dt.datetime) -> bool:
        """Whether a row claimed at `claimed_at` is still someone's at `now`."""
        return claimed_at is not None and claimed_at >= now - self.duration

    def take(self, session: Session, *where: ColumnElement[bool], now: dt.datetime) -> str | None:
        """Claim the row `where` picks if it is claimable: its new token, or None
        if another process holds it (or took it first)."""
        token = secrets.token_hex(16)
        won = rows_changed(
            session.execute(
                update(self.table)
                .where(*where, self.claimable(now))
                .values({self.token.key: token, self.claimed_at.key: now})
                .execution_options(synchronize_session=False)
            )
        )
        return token if won else None

    def mine(self, token: str, *row: ColumnElement[bool]) -> ColumnElement[bool]:
        """The row `row` picks, as long as the claim `token` still holds it."""
        return and_(*row, self.token == token)
