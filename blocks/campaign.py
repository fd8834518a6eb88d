"""One campaign's parts as every surface shows them: its status, its progress toward
the next milestone, its demands, and what came of it (the letter delivered, the
employer's answer).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from blocks.kit import Block, _sections, escape, format_moment
from petition.campaign_spec import SMALL_COUNT, last_day_of
from petition.campaigns import CampaignView

PROGRESS_BAR_WIDTH = 10


def progress_text(view: CampaignView, tz: ZoneInfo, today: dt.date | None = None) -> str | None:
    """Progress toward the next milestone and the time left, in words, then a small
    bar: words first, so that a screen reader says what matters before the
    shapes. Below SMALL_COUNT nothing exact is said (nor shown by the bar)."""
    if not view.is_open:
        return None
    parts = []
    count = view.signatures
    upcoming = [m for m in view.milestones if m > count]
    if upcoming:
        goal = upcoming[0]
        if count < SMALL_COUNT:
            parts.append(f"Next milestone: {goal:,} signatures.")
        else:
            share = count * 100 // goal
            filled = count * PROGRESS_BAR_WIDTH // goal
            bar = "▰" * filled + "▱" * (PROGRESS_BAR_WIDTH - filled)
            parts.append(
                f"Next milestone: {goal:,} signatures, {goal - count:,} to go "
                f"({share}% of the way) {bar}"
            )
    elif view.milestones:
        parts.append("Every milestone has been reached.")
    if view.closes_at is not None:
        today = today or dt.datetime.now(tz).date()
        days = (last_day_of(view.closes_at, tz) - today).days
        if days <= 0:
            parts.append("Today is the last day to sign.")
        elif days == 1:
            parts.append("1 day left to sign.")
        else:
            parts.append(f"{days:,} days left to sign.")
    return "  ·  ".join(parts) or None


def status_line(view: CampaignView, tz: ZoneInfo) -> str:
    if view.is_open:
        if view.closes_at:
            return f"Open, until {format_moment(view.closes_at, tz, until=True)}"
        return "Open"
    if view.closes_at and view.closes_at <= dt.datetime.now(dt.UTC):
        return f"Closed since {format_moment(view.closes_at, tz)}"
    return "Closed"


def _demand_sections(view: CampaignView, heading: str = "") -> list[Block]:
    """The numbered demands, whole, packed into as few sections as they fit."""
    lines = "\n".join(
        f"*{number}.* {escape(demand)}" for number, demand in enumerate(view.demands, start=1)
    )
    return _sections(heading + lines)


def outcome_lines(delivered_on: dt.date | None, answer: str | None) -> str | None:
    lines = []
    if delivered_on:
        lines.append(f"*Delivered* on {delivered_on.day} {delivered_on:%B %Y}.")
    if answer:
        lines.append(f"*The employer's answer:* {escape(answer)}")
    return "\n".join(lines) or None
