"""Answers any request may get, whatever it asked: something went wrong, Slack is
busy or held an answer back, a refusal before any handler runs, the words of a
worker's refusals (which of them a refusal gets is decided in handlers/errors.py),
and the "one moment" forms shown while an answer takes longer than Slack waits
(handlers/intime.py).
"""

from __future__ import annotations

from typing import Any

from blocks import limits
from blocks.kit import FALLBACK_LIMIT, Block, _context, _seconds_words, _section, _view, fit


def error_message(reference: str) -> str:
    return (
        "Sorry, something went wrong on our side and nothing was changed. Please try again "
        f"in a minute. (Reference `{reference}` for the organizers.)"
    )


HELD_BACK_TEXT = (
    "Slack held this answer back for a moment, as it does when many people ask at "
    "once; it comes now, and nothing you asked for was lost."
)


def held_back(content: list[Block], most: int = limits.MESSAGE_BLOCKS) -> list[Block]:
    """An answer the bot sent once Slack allowed, saying so (when it has room)."""
    if len(content) >= most:
        return content
    return [*content, _context(HELD_BACK_TEXT)]


def slack_busy_text(retry_after: int | None) -> str:
    if not retry_after:
        wait = "in a minute"
    else:
        wait = "in a second" if retry_after == 1 else f"in {retry_after} seconds"
    return f"Slack is busy right now. Nothing was recorded; please try again {wait}."


def form_not_opened_text(retry_after: int | None = None) -> str:
    # A timeout leaves it unknown whether the form appeared: say both.
    when = f"in {_seconds_words(retry_after)}" if retry_after else "in a minute"
    return (
        "Slack did not open the form just now. Nothing was recorded; if the form is not "
        f"on your screen, please click the button again {when}."
    )


def other_workspace_text() -> str:
    return "Undersigned is not installed in your workspace, so it cannot act for you here."


def rate_limited_text() -> str:
    return (
        "That was a lot of requests in a short time, so the bot is pausing yours for a "
        "moment. Nothing was changed; please try again in a minute."
    )


def notice_modal(title: str, text: str) -> dict[str, Any]:
    return _view(title, [_section(text)])


def checking_modal(text: str = "One moment: checking with Slack...") -> dict[str, Any]:
    """What a form or a click shows while the answer is still being worked out."""
    return notice_modal("One moment", text)


def recording_modal() -> dict[str, Any]:
    """A signing form just submitted, while its signature is recorded: it says
    nothing is recorded yet, and is replaced by the outcome."""
    return notice_modal(
        "One moment",
        "Checking with Slack before recording your choice. This window will say "
        "what happened; nothing is recorded until it does.",
    )


def stranger_text() -> str:
    """Someone Slack would not tell us about (a Slack Connect user, say)."""
    return (
        "Only members of this organization can use Undersigned here. Slack does not "
        "show your account to this app, so it cannot act for you."
    )


def refusal_message(text: str) -> tuple[str, list[Block]]:
    """A refusal said in a message: its notification text and its one section."""
    return fit(text, FALLBACK_LIMIT), [_section(text)]


def nothing_recorded(text: str) -> str:
    """A refusal of a signature says that none was recorded."""
    return f"{text} Nothing was recorded."


def gone_text() -> str:
    """A campaign the person was shown, deleted since."""
    return "This campaign no longer exists."


def closed_unknown_text() -> str:
    """Closed, said of a campaign that could not be read again to say when."""
    return "This campaign is closed."


def damaged_form_text() -> str:
    """A submitted form that is not one of ours: it lacks fields ours always have."""
    return "That form was damaged; please start again."


def not_signed_text() -> str:
    return "You have not signed this campaign, so there is nothing to change."
