"""The count everyone in Slack sees, and why it moves only on the hour.

A colleague with a few accounts of their own could otherwise watch the count on
`/demands`: sign with their accounts to lift it past the "fewer than 5" mark,
then see each signature and withdrawal the moment it happens, and match it with
who just opened a DM with the bot. So what Slack shows (/demands, Home, DM
status, the signing confirmation, the organizers' panel) is a snapshot: the
exact count as it stood at the last full hour, refreshed by the scheduler at
minute 0. Between two refreshes nothing anyone does moves it; at a refresh it
moves by the net of everything done in the hour, by everyone. Below five it
still reads "fewer than 5". The exact count is for the operator (`campaign list
--json`), the letter, and the milestones (posted on their own schedule).

SECURITY.md states the rule; tests/test_counts.py checks it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from storage.db import rows_changed
from storage.models import Campaign


def hour_of(now: dt.datetime) -> dt.datetime:
    return now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def refresh_public_counts(session: Session, now: dt.datetime | None = None) -> int:
    """Take this hour's snapshot of every count that moved; how many moved."""
    hour = hour_of(now or dt.datetime.now(dt.UTC))
    return (
        rows_changed(
            session.execute(
                update(Campaign)
                .where(
                    or_(Campaign.public_count_at.is_(None), Campaign.public_count_at < hour),
                    Campaign.public_count != Campaign.signature_count,
                )
                .values(public_count=Campaign.signature_count, public_count_at=hour)
                .execution_options(synchronize_session=False)
            )
        )
        or 0
    )


def rehearse_an_hour(session: Session, now: dt.datetime | None = None) -> int:
    """The offline console's `announce`, which stands for the scheduler's hour: every
    count shown becomes the exact one now, however recently it last moved. Only the
    console calls it; its workspace is a fake one, with nobody to watch."""
    return (
        rows_changed(
            session.execute(
                update(Campaign)
                .where(Campaign.public_count != Campaign.signature_count)
                .values(
                    public_count=Campaign.signature_count,
                    public_count_at=hour_of(now or dt.datetime.now(dt.UTC)),
                )
                .execution_options(synchronize_session=False)
            )
        )
        or 0
    )
