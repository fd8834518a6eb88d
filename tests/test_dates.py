"""Dates as people read them: in their own Slack time zone, the closing date as the
last day to sign, and the console showing what Slack's fallback says."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from blocks import format_moment
from console.console_render import mrkdwn
from petition.campaign_spec import closing_moment, last_day_of

LONDON = ZoneInfo("Europe/London")


def test_a_closing_date_is_the_last_day_to_sign():
    closes = closing_moment(dt.date(2027, 3, 1), LONDON)
    assert closes == dt.datetime(2027, 3, 2, 0, 0, tzinfo=dt.UTC)
    assert last_day_of(closes, LONDON) == dt.date(2027, 3, 1)


def test_moments_are_shown_in_each_readers_time_zone():
    """Before: "Sunday 1 March 2099 at 00:00 (Europe/London)" for everyone."""
    closes = closing_moment(dt.date(2099, 3, 1), LONDON)
    shown = format_moment(closes, LONDON, until=True)
    last_minute = int((closes - dt.timedelta(minutes=1)).timestamp())
    assert shown == (
        f"<!date^{last_minute}^{{date_long_pretty}} at {{time}}"
        "|Sunday 1 March 2099 at 23:59 (Europe/London)>"
    )
    # A moment that is not a closing date is shown as it is.
    noon = dt.datetime(2099, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert format_moment(noon, LONDON, until=True).endswith(
        "|Sunday 1 March 2099 at 12:00 (Europe/London)>"
    )
    assert (
        mrkdwn(f"Open, until {shown}") == "Open, until Sunday 1 March 2099 at 23:59 (Europe/London)"
    )
