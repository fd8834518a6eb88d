"""A campaign as an organizer writes it: the fields of a campaign file or form,
their rules and limits, read into a validated CampaignSpec (every problem found at
once, InvalidCampaign), and the dates a campaign closes on.

Storing a spec and showing a campaign to workers is petition/campaigns.py's.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from petition.errors import InvalidCampaign
from petition.lengths import ADDRESSEE_MAX, DEMAND_MAX, SLUG_MAX, STATEMENT_MAX, TITLE_MAX
from storage.models import CampaignStatus

# Below this many signatures the count is shown as "fewer than 5": an exact small
# number lets a watcher tie a change to the one colleague who just signed. So no
# milestone may be set below it either.
SMALL_COUNT = 5
MAX_DEMANDS = 20  # keeps the /demands answer inside Slack's 50-block limit
MAX_MILESTONES = 20
# Announcement channels beside `channel`: enough for one in each workspace of a
# large Grid, few enough that a run posts them all in reasonable time.
MAX_CHANNELS = 100

SLUG_RE = re.compile(rf"^[a-z0-9][a-z0-9-]{{1,{SLUG_MAX - 1}}}$")
CHANNEL_RE = re.compile(r"^[CG][A-Z0-9]{2,}$")
USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
MAX_FORGET_DAYS = 3650
# More signatures than any workspace has members; past this a number is a typo (and
# past 2**63 one that the database cannot store).
MAX_MILESTONE = 1_000_000
MAX_CLOSES_AHEAD = dt.timedelta(days=100 * 365)
EARLIEST_DATE = dt.date(2000, 1, 1)
# A campaign file at its largest is about 110 kB (STATEMENT_MAX, 20 demands of
# DEMAND_MAX, every character escaped in TOML); anything much larger is not one.
MAX_FILE_BYTES = 1024 * 1024
CAMPAIGN_FIELDS = frozenset(
    {
        "addressee",
        "slug",
        "title",
        "statement",
        "demands",
        "milestones",
        "channel",
        "channels",
        "closes",
        "status",
        "organizers",
        "forget_after_days",
    }
)


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign definition, as read from a campaign file."""

    slug: str
    title: str
    statement: str
    demands: tuple[str, ...]
    milestones: tuple[int, ...]
    channel_id: str | None
    closes_at: dt.datetime | None
    status: CampaignStatus
    organizers: tuple[str, ...] = ()
    forget_after_days: int | None = None
    # More announcement channels beside channel_id, sorted, without it.
    channels: tuple[str, ...] = ()
    addressee: str | None = None


# What each field is called where a person reads it (forms, the organizer view's
# history, error messages): never the name of a column.
FIELD_LABELS = {
    "slug": "short name",
    "title": "title",
    "statement": "statement",
    "demands": "demands",
    "milestones": "milestones",
    "channel": "announcement channel",
    "channel_id": "announcement channel",
    "channels": "more announcement channels",
    "closes": "closing date",
    "closes_at": "closing date",
    "status": "status",
    "organizers": "organizers",
    "forget_after_days": "days before forgetting",
    "addressee": "addressee",
}


def describe_changes(changes: list[str]) -> str:
    """What changed, in words: `closing date, milestones`."""
    return ", ".join(FIELD_LABELS.get(c, c) for c in changes)


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    label = FIELD_LABELS.get(key, key).capitalize()
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidCampaign(f"{label} is missing.", key)
        return None
    if not isinstance(value, str):
        raise InvalidCampaign(f"{label} must be text.", key)
    value = value.strip()
    if required and not value:
        raise InvalidCampaign(f"{label} is empty.", key)
    if len(value) > limit:
        raise InvalidCampaign(
            f"{label} is {len(value):,} characters long; the most is {limit:,}.", key
        )
    return value


def last_day_of(closes_at: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The last day one can sign, in `tz`: the day of the last moment before closing."""
    return (closes_at - dt.timedelta(microseconds=1)).astimezone(tz).date()


def closing_moment(last_day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """A closing date is the last day to sign: signing closes as it ends (the
    midnight that follows, in `tz`). So a campaign can close today."""
    following = last_day + dt.timedelta(days=1)
    return dt.datetime.combine(following, dt.time(0, 0), tzinfo=tz).astimezone(dt.UTC)


def _closes_at(value: object, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.time) or not isinstance(value, dt.date):
        raise InvalidCampaign(
            "The closing date must be a date such as 2027-03-01 (the last day to sign), "
            "or a date and time.",
            "closes",
        )
    day = value.date() if isinstance(value, dt.datetime) else value
    # Bounded before any arithmetic: a date near year 1 or 9999 overflows a
    # conversion between time zones.
    if day > (now + MAX_CLOSES_AHEAD).date():
        raise InvalidCampaign(
            f"The closing date is more than {MAX_CLOSES_AHEAD.days // 365} years away; give "
            "a nearer date.",
            "closes",
        )
    if day < EARLIEST_DATE:
        raise InvalidCampaign("The closing date is in the past; give a future date.", "closes")
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=tz)
        return aware.astimezone(dt.UTC)
    return closing_moment(value, tz)


def _demands(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidCampaign("Give at least one demand.", "demands")
    if len(raw) > MAX_DEMANDS:
        raise InvalidCampaign(
            f"There are {len(raw)} demands; the most is {MAX_DEMANDS}.", "demands"
        )
    demands = []
    problems: list[tuple[str | None, str]] = []
    for number, demand in enumerate(raw, start=1):
        if not isinstance(demand, str) or not demand.strip():
            problems.append(("demands", f"Demand {number} is empty."))
        elif len(demand.strip()) > DEMAND_MAX:
            problems.append(
                (
                    "demands",
                    f"Demand {number} is {len(demand.strip()):,} characters long; the most "
                    f"is {DEMAND_MAX:,}.",
                )
            )
        else:
            demands.append(demand.strip())
    if problems:
        raise InvalidCampaign.of(problems)
    return tuple(demands)


def _milestones(raw: object) -> tuple[int, ...]:
    if not isinstance(raw, list) or not all(
        isinstance(m, int) and not isinstance(m, bool) for m in raw
    ):
        raise InvalidCampaign(
            "Milestones must be whole numbers, such as 100, 250, 400.", "milestones"
        )
    if len(raw) > MAX_MILESTONES:
        raise InvalidCampaign(
            f"There are {len(raw)} milestones; the most is {MAX_MILESTONES}.", "milestones"
        )
    if any(m < SMALL_COUNT for m in raw):
        raise InvalidCampaign(
            f"Milestones below {SMALL_COUNT} would expose the first signers; use "
            f"{SMALL_COUNT} or more.",
            "milestones",
        )
    if any(m > MAX_MILESTONE for m in raw):
        raise InvalidCampaign(
            f"Milestones can be at most {MAX_MILESTONE:,} signatures.", "milestones"
        )
    if len(set(raw)) != len(raw):
        raise InvalidCampaign("A milestone is repeated.", "milestones")
    if list(raw) != sorted(raw):
        raise InvalidCampaign(
            "Milestones must be in increasing order, such as 100, 250, 400.", "milestones"
        )
    return tuple(raw)


def _organizers(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(u, str) and USER_RE.fullmatch(u) for u in raw
    ):
        raise InvalidCampaign("Organizers must be Slack user IDs such as U0123ABCD.", "organizers")
    return tuple(sorted(set(raw)))


def _channel(raw: object) -> str | None:
    if raw is not None and (not isinstance(raw, str) or not CHANNEL_RE.fullmatch(raw)):
        raise InvalidCampaign(
            "The announcement channel must be a Slack channel ID such as C0123456789.",
            "channel",
        )
    return raw


def _channels(raw: object, channel: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(c, str) and CHANNEL_RE.fullmatch(c) for c in raw
    ):
        raise InvalidCampaign(
            "More announcement channels must be Slack channel IDs such as C0123456789.",
            "channels",
        )
    others = tuple(sorted(set(raw) - {channel}))
    if others and channel is None:
        raise InvalidCampaign(
            "More announcement channels go beside the announcement channel: choose that one too.",
            "channels",
        )
    if len(others) > MAX_CHANNELS:
        raise InvalidCampaign(
            f"There are {len(others)} more announcement channels; the most is {MAX_CHANNELS}.",
            "channels",
        )
    return others


def _forget_after(raw: object) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= MAX_FORGET_DAYS:
        raise InvalidCampaign(
            f"Days before forgetting must be a whole number from 0 to {MAX_FORGET_DAYS:,}.",
            "forget_after_days",
        )
    return raw


def _slug(data: dict[str, Any]) -> str:
    slug = _text(data, "slug", SLUG_MAX)
    assert slug is not None
    return check_slug(slug)


def check_slug(slug: str) -> str:
    """`slug` if it is a valid short name, else InvalidCampaign saying why."""
    if not SLUG_RE.fullmatch(slug):
        raise InvalidCampaign(
            "The short name must be 2 to 40 lowercase letters, digits or dashes, starting "
            "with a letter or digit.",
            "slug",
        )
    return slug


def _status(raw: object) -> CampaignStatus:
    try:
        return CampaignStatus(str(raw))
    except ValueError:
        raise InvalidCampaign("The status must be draft, open or closed.", "status") from None


T = TypeVar("T")


class _Problems:
    """Runs each field's check, keeping every problem instead of stopping at the
    first: a form shows them all at once, a file's are fixed in one go."""

    def __init__(self) -> None:
        self.found: list[tuple[str | None, str]] = []

    def check(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        try:
            return parse(*args, **kwargs)
        except InvalidCampaign as problem:
            self.found.extend(problem.problems)
            return None


def parse_campaign(
    data: dict[str, Any], tz: ZoneInfo, now: dt.datetime | None = None
) -> CampaignSpec:
    """Validate a campaign definition; InvalidCampaign lists every bad field."""
    now = now or dt.datetime.now(dt.UTC)
    problems = _Problems()
    unknown = sorted(set(data) - CAMPAIGN_FIELDS)
    if unknown:
        problems.found.append(
            (None, f"Unknown field `{unknown[0]}` (known: {', '.join(sorted(CAMPAIGN_FIELDS))}).")
        )
    slug = problems.check(_slug, data)
    title = problems.check(_text, data, "title", TITLE_MAX)
    statement = problems.check(_text, data, "statement", STATEMENT_MAX)
    demands = problems.check(_demands, data.get("demands"))
    milestones = problems.check(_milestones, data.get("milestones", []))
    channel = problems.check(_channel, data.get("channel"))
    channels = problems.check(_channels, data.get("channels"), data.get("channel"))
    closes_at = problems.check(_closes_at, data.get("closes"), tz, now)
    status = problems.check(_status, data.get("status", CampaignStatus.OPEN.value))
    organizers = problems.check(_organizers, data.get("organizers"))
    forget = problems.check(_forget_after, data.get("forget_after_days"))
    addressee = problems.check(_text, data, "addressee", ADDRESSEE_MAX, required=False)
    if problems.found:
        raise InvalidCampaign.of(problems.found)
    assert slug is not None
    assert demands is not None
    assert milestones is not None
    assert status is not None
    return CampaignSpec(
        slug=slug,
        title=title or "",
        statement=statement or "",
        demands=demands,
        milestones=milestones,
        channel_id=channel,
        closes_at=closes_at,
        status=status,
        organizers=organizers or (),
        forget_after_days=forget,
        channels=channels or (),
        addressee=addressee or None,
    )


def read_campaign_file(path: Path, tz: ZoneInfo) -> CampaignSpec:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidCampaign(
                f"{path}: larger than any campaign ({MAX_FILE_BYTES // 1024} kB at most)"
            )
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidCampaign(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InvalidCampaign(f"{path}: a directory; give a campaign file (.toml)") from None
    except PermissionError:
        raise InvalidCampaign(f"{path}: not readable (permission denied)") from None
    except OSError as exc:
        raise InvalidCampaign(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise InvalidCampaign(f"{path}: not text (UTF-8); give a campaign file (.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidCampaign(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise InvalidCampaign(f"{path}: nested too deeply to be a campaign file") from None
    return parse_campaign(data, tz)
