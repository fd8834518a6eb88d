"""The hourly refresh of the counts Slack shows, run now as the next hour's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from petition.counts import refresh_public_counts
from storage.db import Database
from storage.models import Campaign


def next_hour(db: Database) -> dt.datetime:
    """Run the refresh as if the next full hour had come; returns that hour."""
    with db.write() as session:
        latest = session.scalar(select(func.max(Campaign.public_count_at)))
        now = max(latest or dt.datetime.now(dt.UTC), dt.datetime.now(dt.UTC))
        hour = now + dt.timedelta(hours=1)
        refresh_public_counts(session, hour)
    return hour
