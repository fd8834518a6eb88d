"""What is posted where others read it, and news to a campaign's followers: the
card an organizer posts in a channel, milestone and final-count announcements, and
the news DM.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from blocks import limits
from blocks.campaign import _demand_sections, progress_text, status_line
from blocks.ids import SIGN_ACTION
from blocks.kit import (
    FALLBACK_LIMIT,
    Block,
    _button,
    _context,
    _plain,
    _section,
    _sections,
    escape,
    fit,
)
from blocks.signing import quick_sign_button, signing_notice_block
from petition.campaigns import CampaignView, displayed_count

CARD_BUTTON = "Read and sign privately"


def campaign_card(view: CampaignView, tz: ZoneInfo) -> tuple[str, list[Block]]:
    """The card an organizer posts in a channel: title, statement, demands, the count
    under the same rules as /demands, progress, then the notice of what is kept and
    two buttons: *Sign privately* (anonymous, after Slack's confirmation dialog) and
    one that opens the private signing form (a name, news). The statement is shown
    because one click here signs it. Nothing of a click shows in the channel: the
    form is a modal, and a one-click signature is answered with an ephemeral message
    through the response URL (handlers/quicksign.py never replaces a message that
    is not ephemeral); the card's buttons carry the slug only."""
    count = displayed_count(view.signatures)
    content: list[Block] = [
        {"type": "header", "text": _plain(view.title, limits.HEADER_TEXT)},
        *_sections(escape(view.statement)),
        *_demand_sections(view, "*Our demands*\n"),
        _context(f"Signed so far: *{count}*  ·  {status_line(view, tz)}"),
    ]
    progress = progress_text(view, tz)
    if progress:
        content.append(_context(progress))
    if view.is_open:
        # As signing_blocks, with the form's button named for a card (it is where a
        # reader in the channel goes for more than one click).
        content.append(signing_notice_block())
        content.append(
            {
                "type": "actions",
                "elements": [
                    quick_sign_button(view),
                    _button(CARD_BUTTON, SIGN_ACTION, view.slug),
                ],
            }
        )
        content.append(
            _context(
                "Both buttons answer you alone: *Sign privately* asks you to confirm, then "
                "signs anonymously; *Read and sign privately* opens a private form (to sign "
                "with your name, or get news). Nobody in this channel sees who reads, who "
                "signs or who does not. The count moves once an hour."
            )
        )
    else:
        content.append(_context("This campaign no longer takes signatures."))
    fallback = fit(
        f"{escape(view.title)}: {count} signed. {status_line(view, tz)}.", FALLBACK_LIMIT
    )
    return fallback, content


def card_posted_text(slug: str) -> str:
    return (
        f"Posted a card for `{slug}` here. It is kept current on the announcement "
        "schedule; delete the message to take it down."
    )


def card_refused_text(reason: str) -> str:
    if reason in {"not_in_channel", "channel_not_found", "is_archived"}:
        return (
            "I cannot post in this channel. Invite me first (`/invite @Undersigned`), "
            "then try again."
        )
    return "Slack did not take the card just now; try again in a minute."


def card_usage_text() -> str:
    return (
        "To post a campaign's card in this channel, type `/demands card SLUG` "
        "(organizers only; the campaign must be open)."
    )


# -- announcements ---------------------------------------------------------------
# Posted in the campaign's channel, where anyone (and the employer) reads them:
# counts only, never a name or id, and no hint of when the last signature came.
PROGRESS_WIDTH = 10


def progress_bar(count: int, target: int, width: int = PROGRESS_WIDTH) -> str:
    """A text bar such as `▓▓▓▓░░░░░░`, for the way from 0 to `target`."""
    filled = min(width, max(0, count * width // target)) if target > 0 else width
    return "▓" * filled + "░" * (width - filled)


def _demands_hint(slug: str) -> str:
    return f"Read the demands and sign privately: type `/demands {slug}` in any channel."


def milestone_announcement(
    title: str, slug: str, threshold: int, count: int, next_milestone: int | None
) -> tuple[str, list[Block]]:
    """A milestone reached: the highest one passed since the last announcement."""
    shown = displayed_count(count)
    headline = f"*{escape(title)}* has passed *{threshold:,}* signatures."
    lines = [headline, f"Signed so far: *{shown}*"]
    if next_milestone is not None:
        bar = progress_bar(count, next_milestone)
        lines.append(f"`{bar}`  {shown} of {next_milestone:,}, the next milestone")
    else:
        lines.append("Every milestone has been reached.")
    content: list[Block] = [
        _section("\n".join(lines)),
        _context(f"{_demands_hint(slug)} Only counts are shared here, never who signed."),
    ]
    fallback = fit(
        f"{escape(title)} has passed {threshold:,} signatures ({shown} so far). "
        f"Type /demands {slug} to read it.",
        FALLBACK_LIMIT,
    )
    return fallback, content


def final_count_announcement(title: str, slug: str, count: int) -> tuple[str, list[Block]]:
    """The campaign has closed: its final count, once."""
    shown = displayed_count(count)
    text = (
        f"*{escape(title)}* is closed. Final count: *{shown}* signatures.\n"
        "Thank you to everyone who signed."
    )
    content: list[Block] = [
        _section(text),
        _context(f"Type `/demands {slug}` to read the demands. Only counts are shared here."),
    ]
    fallback = fit(f"{escape(title)} is closed. Final count: {shown} signatures.", FALLBACK_LIMIT)
    return fallback, content


_UPDATE_HEADINGS = {
    "news": "News",
    "delivered": "The letter was delivered",
    "answer": "The employer answered",
}


def update_message(title: str, kind: str, text: str) -> tuple[str, list[Block]]:
    """The DM a subscriber gets. Says nothing about whether or how they signed."""
    heading = _UPDATE_HEADINGS.get(kind, "News")
    content = [
        _section(f"*{heading}: {escape(title)}*"),
        *_sections(escape(text)),
        _context(
            "News about a campaign you follow. Send `stop updates` to stop; the bot then "
            "deletes its news messages here."
        ),
    ]
    return fit(f"{heading}: {escape(title)}", FALLBACK_LIMIT), content


def followed_text(title: str, new: bool) -> str:
    what = "You will get" if new else "You already get"
    return (
        f"{what} news about *{escape(title)}* in a DM from the bot. Anyone may, signed or "
        "not. Send `stop updates` there to stop; the bot then deletes its news messages."
    )
