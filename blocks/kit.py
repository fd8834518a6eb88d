"""The text helpers every surface goes through, and the small builders made of them.

Whatever a user or organizer typed passes through `escape` before it reaches a
mrkdwn field, so a title or name such as `<!channel>` can never ping anyone. `clip`
shortens plain text; `fit` and `split_text` shorten or split escaped mrkdwn, never
through an entity, to Slack's limits (blocks/limits.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from blocks import limits

Block = dict[str, Any]

TEXT_LIMIT = limits.SECTION_TEXT
FALLBACK_LIMIT = 300
# The longest entity escape() makes; a cut is never made inside one.
_ENTITY = 5


def escape(text: str) -> str:
    """Escape Slack's control characters so user text renders literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Shorten plain text (never mrkdwn: see fit) to `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _safe_cut(text: str, at: int) -> int:
    """The largest cut point <= `at` that is not inside an entity (`&amp;`, `&lt;`...)."""
    amp = text.rfind("&", max(0, at - _ENTITY + 1), at)
    if amp != -1 and text.find(";", amp, amp + _ENTITY) >= at:
        return amp
    return at


def fit(escaped: str, limit: int) -> str:
    """Shorten already escaped mrkdwn to `limit` characters, with "…" when cut, and
    never through an entity: escaping comes first, so what is measured is what
    Slack counts."""
    if len(escaped) <= limit:
        return escaped
    return escaped[: _safe_cut(escaped, limit - 1)] + "…"


def split_text(escaped: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Escaped mrkdwn in pieces of at most `limit` characters, so that long text is
    shown whole over several blocks: cut at a line break, else a space, else
    anywhere but inside an entity."""
    pieces: list[str] = []
    rest = escaped
    # A break is looked for near the end only, so that pieces stay nearly full: at
    # the largest, a campaign's text needs every block a message has.
    near = limit - limit // 10
    while len(rest) > limit:
        cut = rest.rfind("\n", near, limit + 1)
        if cut == -1:
            cut = rest.rfind(" ", near, limit + 1)
        if cut == -1:
            cut = _safe_cut(rest, limit)
            pieces.append(rest[:cut])
            rest = rest[cut:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    if rest or not pieces:
        pieces.append(rest)
    return [piece if piece.strip() else "\u200b" for piece in pieces]


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": fit(text, TEXT_LIMIT)}


def _section(text: str, accessory: dict[str, Any] | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    return block


def _sections(text: str) -> list[Block]:
    """Escaped mrkdwn of any length, whole, in as many sections as it needs."""
    return [_section(piece) for piece in split_text(text)]


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _button(text: str, action_id: str, value: str, *, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, 75),
        "action_id": action_id,
        "value": value,
    }
    if primary:
        button["style"] = "primary"
    return button


def format_moment(moment: dt.datetime, tz: ZoneInfo, *, until: bool = False) -> str:
    """A moment as Slack shows dates: in each reader's own Slack time zone
    (`<!date>`), with the campaign's time zone as the fallback text. `until`: the
    end of a signing period; one that ends at midnight (a closing date is the last
    day to sign) reads as the last minute of that day, not as the next day."""
    if until:
        local = moment.astimezone(tz)
        if local.hour == 0 and local.minute == 0:
            moment = moment - dt.timedelta(minutes=1)
    local = moment.astimezone(tz)
    fallback = f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({tz.key})"
    return f"<!date^{int(moment.timestamp())}^{{date_long_pretty}} at {{time}}|{fallback}>"


def _seconds_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


VIEW_TITLE_LIMIT = 24


def _view(title: str, blocks_: list[Block], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "title": _plain(clip(title, VIEW_TITLE_LIMIT), VIEW_TITLE_LIMIT),
        "blocks": blocks_,
        "close": _plain("Close", 24),
    }
    view.update(extra)
    return view


def _option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _mrkdwn(text), "value": value}
    if description:
        option["description"] = _mrkdwn(description)
    return option


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": _plain(title, 100),
        "text": _plain(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain("Cancel", 30),
    }


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 150)
    return block


def _text_input(
    initial: str,
    *,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if max_length:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return element
