"""Every Block Kit message and view the bot sends, built in one place.

Whatever a user or organizer typed passes through `escape` before it reaches a
mrkdwn field, so a title or name such as `<!channel>` can never ping anyone.
Block `value`s carry campaign slugs and nothing about the person clicking.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from bot.campaigns import CampaignView, displayed_count

Block = dict[str, Any]

SIGN_ACTION = "sign_start"
SHOW_ACTION = "campaign_show"
TEXT_LIMIT = 3000  # Slack's limit for a section's text
FALLBACK_LIMIT = 300


def escape(text: str) -> str:
    """Escape Slack's control characters so user text renders literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, TEXT_LIMIT)}


def _section(text: str, accessory: dict[str, Any] | None = None) -> Block:
    block: Block = {"type": "section", "text": _mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    return block


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


def format_moment(moment: dt.datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    day = f"{local:%A} {local.day} {local:%B %Y}"
    if local.hour == 0 and local.minute == 0:
        return f"{day} at 00:00 ({tz.key})"
    return f"{day} at {local:%H:%M} ({tz.key})"


def status_line(view: CampaignView, tz: ZoneInfo) -> str:
    if view.is_open:
        if view.closes_at:
            return f"Open, until {format_moment(view.closes_at, tz)}"
        return "Open"
    if view.closes_at and view.closes_at <= dt.datetime.now(dt.UTC):
        return f"Closed since {format_moment(view.closes_at, tz)}"
    return "Closed"


def campaign_message(view: CampaignView, tz: ZoneInfo) -> tuple[str, list[Block]]:
    """The `/demands` answer for one campaign: (fallback text, blocks)."""
    count = displayed_count(view.signatures)
    blocks: list[Block] = [
        {"type": "header", "text": _plain(view.title)},
        _section(escape(view.statement)),
        _section("*Our demands*"),
    ]
    blocks.extend(
        _section(f"*{number}.* {escape(demand)}")
        for number, demand in enumerate(view.demands, start=1)
    )
    blocks.append(_context(f"Signed so far: *{count}*  ·  {status_line(view, tz)}"))
    if view.is_open:
        blocks.append(
            {
                "type": "actions",
                "elements": [_button("Sign privately", SIGN_ACTION, view.slug, primary=True)],
            }
        )
        blocks.append(
            _context(
                "Only you can see this message. Signing happens in a private conversation "
                "with the bot; nobody in this channel will see whether you sign."
            )
        )
    else:
        blocks.append(_context("This campaign no longer takes signatures."))
    fallback = clip(f"{view.title}: {count} signed. {status_line(view, tz)}.", FALLBACK_LIMIT)
    return fallback, blocks


def campaign_list_message(
    views: list[CampaignView], tz: ZoneInfo, command: str = "/demands"
) -> tuple[str, list[Block]]:
    """A short list to pick from when several campaigns are open."""
    blocks: list[Block] = [_section("*Campaigns you can read*")]
    for view in views:
        line = (
            f"*{escape(view.title)}*  `{view.slug}`\n"
            f"Signed so far: {displayed_count(view.signatures)}  ·  {status_line(view, tz)}"
        )
        blocks.append(_section(line, _button("Read", SHOW_ACTION, view.slug)))
    first = views[0].slug if views else "slug"
    blocks.append(_context(f"Or type `{command} {first}` to go straight to a campaign."))
    fallback = clip(
        "Campaigns: " + ", ".join(v.slug for v in views),
        FALLBACK_LIMIT,
    )
    return fallback, blocks


def unknown_campaign_message(
    slug: str, known: list[str], command: str = "/demands"
) -> tuple[str, list[Block]]:
    asked = escape(clip(slug.strip(), 40))
    if known:
        names = ", ".join(f"`{k}`" for k in known)
        text = (
            f"There is no campaign called `{asked}`. Campaigns: {names}. "
            f"Type `{command} {known[0]}` to read one."
        )
    else:
        text = f"There is no campaign called `{asked}`, and no campaign has been published yet."
    return clip(text, FALLBACK_LIMIT), [_section(text)]


def no_campaigns_message() -> tuple[str, list[Block]]:
    text = "No campaign has been published yet. Organizers will announce one when it is ready."
    return text, [_section(text)]


def help_message(command: str = "/demands") -> tuple[str, list[Block]]:
    text = (
        f"`{command}` shows the campaign, its demands and how many have signed.\n"
        f"`{command} SLUG` shows one campaign when there are several.\n"
        "Only you see these answers. Signing happens privately, in a conversation with the bot."
    )
    return text, [_section(text)]


def signing_soon_message() -> str:
    return (
        "Private signing opens soon. Nothing has been recorded; you will be able to sign "
        "from this button, or by sending `sign` to the bot in a direct message."
    )


def error_message(reference: str) -> str:
    return (
        "Sorry, something went wrong on our side and nothing was changed. Please try again "
        f"in a minute. (Reference `{reference}` for the organizers.)"
    )
