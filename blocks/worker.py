"""What a worker reads: a campaign under /demands, the list to pick one from, what
they have signed (`status` in the DM, the Home tab), and the help texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from blocks import limits
from blocks.campaign import _demand_sections, outcome_lines, progress_text, status_line
from blocks.ids import (
    FOLLOW_ACTION,
    SHOW_ACTION,
    SIGN_ACTION,
    SIGN_CHANGE_ACTION,
    WITHDRAW_ACTION,
)
from blocks.kit import (
    FALLBACK_LIMIT,
    Block,
    _button,
    _context,
    _plain,
    _section,
    _sections,
    clip,
    escape,
    fit,
)
from blocks.paging import _pager, page_of, page_value
from blocks.signing import SIGNING_NOTICE, _conditional_words, signing_blocks
from petition.campaigns import CampaignView, displayed_count


def campaign_message(view: CampaignView, tz: ZoneInfo) -> tuple[str, list[Block]]:
    """The `/demands` answer for one campaign: (fallback text, blocks).

    Statement, demands and outcome are shown whole, over as many sections as they
    need: at the largest a campaign file allows, with every character one that
    escaping lengthens, this stays within a message's 50 blocks (a property test
    builds that campaign)."""
    count = displayed_count(view.signatures)
    blocks: list[Block] = [
        {"type": "header", "text": _plain(view.title, limits.HEADER_TEXT)},
        *_sections(escape(view.statement)),
        *_demand_sections(view, "*Our demands*\n"),
        _context(f"Signed so far: *{count}*  ·  {status_line(view, tz)}"),
    ]
    progress = progress_text(view, tz)
    if progress:
        blocks.append(_context(progress))
    outcome = outcome_lines(view.delivered_on, view.employer_answer)
    if outcome:
        blocks.extend(_sections(outcome))
    if view.is_open:
        blocks.extend(signing_blocks(view, _button("Get news by DM", FOLLOW_ACTION, view.slug)))
        blocks.append(
            _context(
                "Only you can see this message. Signing happens between you and the bot; "
                "nobody in this channel will see whether you sign. Anyone may get news, "
                "signed or not, so news says nothing about whether you signed."
            )
        )
    else:
        blocks.append(_context("This campaign no longer takes signatures."))
    fallback = fit(
        f"{escape(view.title)}: {count} signed. {status_line(view, tz)}.", FALLBACK_LIMIT
    )
    return fallback, blocks


def campaign_list_message(
    views: list[CampaignView], tz: ZoneInfo, command: str = "/demands", offset: int = 0
) -> tuple[str, list[Block]]:
    """A list to pick from when several campaigns are open, a page at a time."""
    page = page_of("demands", len(views), offset)
    blocks: list[Block] = [_section("*Campaigns you can read*")]
    for view in page.items(views):
        line = (
            f"*{escape(view.title)}*  `{view.slug}`\n"
            f"Signed so far: {displayed_count(view.signatures)}  ·  {status_line(view, tz)}"
        )
        blocks.append(_section(line, _button("Read", SHOW_ACTION, view.slug)))
    blocks += _pager(page)
    first = views[0].slug if views else "slug"
    blocks.append(_context(f"Or type `{command} {first}` to go straight to a campaign."))
    fallback = fit(
        f"{len(views):,} campaigns: " + ", ".join(v.slug for v in page.items(views)),
        FALLBACK_LIMIT,
    )
    return fallback, blocks


# Slugs named in a "no campaign called ..." answer; the list command shows the rest.
KNOWN_NAMED = 10


def unknown_campaign_message(
    slug: str, known: list[str], command: str = "/demands"
) -> tuple[str, list[Block]]:
    asked = escape(clip(slug.strip(), 40))
    if known:
        names = ", ".join(f"`{k}`" for k in known[:KNOWN_NAMED])
        if len(known) > KNOWN_NAMED:
            names += (
                f" and {len(known) - KNOWN_NAMED:,} more ({len(known):,} campaigns: "
                "`/demands` lists them all)"
            )
        text = (
            f"There is no campaign called `{asked}`. Campaigns: {names}. "
            f"Type `{command} {known[0]}` to read one."
        )
    else:
        text = f"There is no campaign called `{asked}`, and no campaign has been published yet."
    return fit(text, FALLBACK_LIMIT), [_section(text)]


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


@dataclass(frozen=True)
class StatusLine:
    view: CampaignView
    signed: bool
    named: bool
    threshold: int | None = None
    named_today: bool = False
    subscribed: bool = False


def _status_words(line: StatusLine) -> str:
    if not line.signed:
        return "You have not signed."
    if line.threshold is not None:
        words = f"You have signed {_conditional_words(line.threshold, line.named_today)}."
    elif line.named:
        words = "You have signed with your name."
    else:
        words = "You have signed anonymously."
    if line.subscribed:
        words += " You get news about this campaign."
    return words


def _signer_buttons(line: StatusLine) -> list[dict[str, Any]]:
    buttons = []
    if line.view.is_open and not line.signed:
        # The form shows the demands and the notice before anything is recorded.
        buttons.append(_button("Read and sign", SIGN_ACTION, line.view.slug, primary=True))
    if line.signed:
        buttons.append(_button("Change how I sign", SIGN_CHANGE_ACTION, line.view.slug))
        buttons.append(_button("Withdraw", WITHDRAW_ACTION, line.view.slug))
    return buttons


def status_message(
    lines: list[StatusLine], tz: ZoneInfo, offset: int = 0
) -> tuple[str, list[Block]]:
    if not lines:
        text = "There is no open campaign right now."
        return text, [_section(text)]
    page = page_of("status", len(lines), offset)
    content: list[Block] = []
    for line in page.items(lines):
        content.append(
            _section(
                f"*{escape(line.view.title)}*  `{line.view.slug}`\n{_status_words(line)}\n"
                f"Signed so far: {displayed_count(line.view.signatures)}  ·  "
                f"{status_line(line.view, tz)}"
            )
        )
        if line.signed:
            content.append({"type": "actions", "elements": _signer_buttons(line)})
    content += _pager(page)
    content.append(_context("Only you can see this answer."))
    return "Your signatures", content


def dm_help_message() -> tuple[str, list[Block]]:
    text = (
        "*What you can send me*\n"
        "`sign` or `sign SLUG`: open the signing form for a campaign.\n"
        "`status`: whether you have signed each open campaign, and how.\n"
        "`withdraw` or `withdraw SLUG`: take your signature back (it is deleted).\n"
        "`stop updates`: no more news about any campaign (your Slack ID is deleted).\n"
        "`help`: this message.\n"
        "You can also use `/demands` in any channel, or my Home tab. My answers here are "
        "visible only to you and are not kept as messages; what you type stays in this "
        "conversation, so the buttons are the most discreet way to sign."
    )
    return "What you can send me: sign, status, withdraw, help", [_section(text)]


def home_view(
    lines: list[StatusLine], tz: ZoneInfo, offset: int = 0, notice: str | None = None
) -> dict[str, Any]:
    """The Home tab, a page of campaigns at a time. An open campaign the viewer has
    not signed is shown whole (its demands, the notice, *Sign privately*) while the
    tab has room for it; the others as a line with their buttons. `notice` is what
    the viewer just did, said at the top (the Home tab has no other way to answer)."""
    page = page_of("home", len(lines), offset)
    head: list[Block] = [
        {"type": "header", "text": _plain("Undersigned")},
        _section(
            "Read the campaigns, sign privately and check or withdraw your signature. "
            "Nobody in any channel sees whether you signed."
        ),
    ]
    if notice:
        head.append(_section(notice))
    head.append({"type": "divider"})
    shown = page.items(lines)
    rows = [_home_row(line, tz) for line in shown]
    tail = _pager(page)
    notes = [_context(SIGNING_NOTICE)]
    whole: set[int] = set()
    budget = limits.VIEW_BLOCKS - len(head) - len(tail) - sum(len(r) for r in rows)
    for i, line in enumerate(shown):
        if line.view.is_open and not line.signed:
            full = _home_campaign(line, tz)
            if len(full) - len(rows[i]) <= budget:
                budget -= len(full) - len(rows[i])
                rows[i] = full
                whole.add(i)
    content = head + [block for row in rows for block in row] + tail
    if not whole:
        # The notice comes with every campaign shown whole; else once, here.
        content += notes
    if not lines:
        content.insert(len(head), _section("There is no open campaign right now."))
    # The page shown, so that publishing the tab again (after signing from it, say)
    # stays on it.
    return {"type": "home", "blocks": content, "private_metadata": page_value("home", page.offset)}


def _home_row(line: StatusLine, tz: ZoneInfo) -> list[Block]:
    row: list[Block] = [
        _section(
            f"*{escape(line.view.title)}*  `{line.view.slug}`\n"
            f"Signed so far: {displayed_count(line.view.signatures)}  ·  "
            f"{status_line(line.view, tz)}\n"
            + (f"{progress}\n" if (progress := progress_text(line.view, tz)) else "")
            + _status_words(line)
        )
    ]
    buttons = _signer_buttons(line)
    if buttons:
        row.append({"type": "actions", "elements": buttons})
    row.append({"type": "divider"})
    return row


def _home_campaign(line: StatusLine, tz: ZoneInfo) -> list[Block]:
    """A campaign the viewer may sign, whole: as under /demands."""
    view = line.view
    return [
        _section(f"*{escape(view.title)}*  `{view.slug}`"),
        *_sections(escape(view.statement)),
        *_demand_sections(view, "*Our demands*\n"),
        _context(
            f"Signed so far: *{displayed_count(view.signatures)}*  ·  {status_line(view, tz)}"
            f"  ·  {_status_words(line)}"
        ),
        *([_context(progress)] if (progress := progress_text(view, tz)) else []),
        *signing_blocks(view),
        {"type": "divider"},
    ]


def closed_text(view: CampaignView, tz: ZoneInfo) -> str:
    return (
        f"*{escape(view.title)}* is closed and no longer takes signatures "
        f"({status_line(view, tz)})."
    )


def not_found_text(slug: str, known: list[str]) -> str:
    [block] = unknown_campaign_message(slug, known)[1]
    return str(block["text"]["text"])


def no_open_campaign_text() -> str:
    return "There is no open campaign to sign right now."
