"""The organizer view and what hangs off it: the panel of campaigns, a draft's
preview, a campaign's history, forgetting its signers, and the form that sends news
to signers. Exact figures here, still nothing on who signed. The campaign editor is
blocks/editor.py.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from blocks import limits
from blocks.channel import update_message
from blocks.ids import (
    ADMIN_ARCHIVE,
    ADMIN_CLOSE,
    ADMIN_DUPLICATE,
    ADMIN_EDIT,
    ADMIN_FORGET,
    ADMIN_FORGET_VIEW,
    ADMIN_HISTORY,
    ADMIN_LETTER_HTML,
    ADMIN_LETTER_MD,
    ADMIN_NEW,
    ADMIN_OPEN,
    ADMIN_REOPEN,
    ADMIN_UNARCHIVE,
    ADMIN_UPDATE,
    ADMIN_UPDATE_SEND_VIEW,
    ADMIN_UPDATE_VIEW,
    FORGET_CONFIRM_BLOCK,
    PAGE_ACTION,
    PAGE_BACK_ACTION,
    PREVIEW_SIGN_ACTION,
    PREVIEW_SIGN_VIEW,
    UPDATE_KIND_BLOCK,
    UPDATE_SEND_BLOCK,
    UPDATE_TEXT_BLOCK,
)
from blocks.kit import (
    FALLBACK_LIMIT,
    Block,
    _button,
    _confirm,
    _context,
    _input,
    _mrkdwn,
    _option,
    _plain,
    _section,
    _text_input,
    _view,
    clip,
    escape,
    fit,
    format_moment,
    split_text,
)
from blocks.paging import _pager, page_of, page_value
from blocks.signing import sign_modal, signing_notice_block
from blocks.worker import campaign_message
from petition.campaigns import CampaignView
from petition.organizer_actions import CampaignRow


def preview_sign_modal(view: CampaignView, suggested_name: str | None) -> dict[str, Any]:
    """The signing form as a worker will get it, for an organizer trying a draft:
    its submission records nothing (it has its own callback, which never signs)."""
    metadata = json.dumps({"slug": view.slug, "title": view.title, "preview": True})
    form = sign_modal(view, metadata, suggested_name)
    form["callback_id"] = PREVIEW_SIGN_VIEW
    form["title"] = _plain("Preview: sign", 24)
    form["submit"] = _plain("Try it", 24)
    form["blocks"] = [
        _context("*Preview of a draft.* Nothing you choose here is recorded."),
        *form["blocks"],
    ][: limits.VIEW_BLOCKS]
    return form


def preview_signed_modal(title: str) -> dict[str, Any]:
    return _view(
        "Preview: signed",
        [
            _section(
                f"A worker would now read: “You signed *{escape(title)}*. Thank you.” "
                "Nothing was recorded: this was a preview of a draft."
            )
        ],
    )


def draft_preview_message(view: CampaignView, tz: ZoneInfo) -> tuple[str, list[Block]]:
    """An organizer's own draft as workers will see it once it is open, marked as a
    preview. Its buttons are described, not shown: a preview records nothing."""
    _, shown = campaign_message(replace(view, is_open=True, closes_at=view.closes_at), tz)
    notice = signing_notice_block()
    content: list[Block] = [
        _context(
            "*Preview of a draft.* Only organizers can see it; workers see this once you "
            "open it (`/demands admin`, then *Open*). Its statement and demands lock as "
            "soon as anyone signs: check them now."
        ),
        *[b for b in shown if b.get("type") != "actions" and b is not shown[-1] and b != notice],
        # The notice workers read above the buttons, and what the buttons will be, in
        # one block: so the preview takes no more blocks than the answer it shows.
        {
            "type": "context",
            "elements": [
                *notice["elements"],
                _mrkdwn(
                    "Workers will see three buttons here: *Sign privately* (anonymous, "
                    "after a confirmation), *Sign with my name…* (the form) and *Get news "
                    "by DM*. Nothing is recorded in a preview."
                ),
            ],
        },
        {
            "type": "actions",
            "elements": [_button("Try the signing form", PREVIEW_SIGN_ACTION, view.slug)],
        },
    ]
    fallback = fit(f"Preview of the draft {escape(view.title)}", FALLBACK_LIMIT)
    return fallback, content


# One campaign as the organizer view draws it: the domain's row as it is.
AdminRow = CampaignRow


def _admin_row(row: AdminRow, tz: ZoneInfo) -> list[Block]:
    if row.forgotten:
        state = "closed, signers forgotten"
    elif row.is_open:
        state = "open" + (
            f" until {format_moment(row.closes_at, tz, until=True)}" if row.closes_at else ""
        )
    elif row.status == "open":
        state = "closed (closing date passed)"
    else:
        state = row.status
    if row.archived:
        state += ", archived"
    channel = f"<#{row.channel_id}>" if row.channel_id else "no announcement channel"
    if row.more_channels:
        channel += f" and {row.more_channels} more"
    text = (
        f"*{escape(row.title)}*  `{row.slug}`\n"
        f"Status: {state}  ·  Signatures: *{row.count:,}*  ·  {channel}"
    )
    buttons = []
    if not row.forgotten and not row.archived:
        buttons.append(_button("Edit", ADMIN_EDIT, row.slug))
        if row.status == "draft":
            opener = _button("Open", ADMIN_OPEN, row.slug, primary=True)
            opener["confirm"] = _confirm(
                "Open the campaign?",
                "Workers can read and sign it at once. Its statement and demands lock as "
                "soon as anyone signs: preview it first with /demands " + row.slug + ".",
                "Open",
            )
            buttons.append(opener)
        elif row.is_open:
            close = _button("Close", ADMIN_CLOSE, row.slug)
            close["confirm"] = _confirm(
                "Close the campaign?",
                "Nobody will be able to sign until you reopen it.",
                "Close",
            )
            buttons.append(close)
        else:
            buttons.append(_button("Reopen", ADMIN_REOPEN, row.slug))
    buttons.append(_button("History", ADMIN_HISTORY, row.slug))
    buttons.append(_button("Duplicate", ADMIN_DUPLICATE, row.slug))
    if not row.forgotten and not row.archived:
        buttons.append(_button("Update signers", ADMIN_UPDATE, row.slug))
    buttons.append(_button("Letter (HTML)", ADMIN_LETTER_HTML, row.slug))
    buttons.append(_button("Letter (Markdown)", ADMIN_LETTER_MD, row.slug))
    if not row.forgotten and not row.is_open and row.status != "draft" and not row.archived:
        buttons.append(_button("Forget signers…", ADMIN_FORGET, row.slug))
    if row.may_archive:
        buttons.append(_button("Archive", ADMIN_ARCHIVE, row.slug))
    if row.archived:
        buttons.append(_button("Unarchive", ADMIN_UNARCHIVE, row.slug))
    return [_section(text), {"type": "actions", "elements": buttons}]


def admin_panel(
    rows: list[AdminRow],
    tz: ZoneInfo,
    may_create: bool,
    offset: int = 0,
    archived: int = 0,
) -> tuple[str, list[Block]]:
    """The organizer view: the campaigns not archived, a page at a time, then how
    many are archived and the button that lists them."""
    page = page_of("admin", len(rows), offset)
    content: list[Block] = [
        {"type": "header", "text": _plain("Organizer view")},
        _context(
            "Counts are those of the last full hour, as everyone sees them, in full here "
            '(workers see "fewer than 5" below 5); the letter has the exact count. '
            "Drafts are invisible to workers until you open them: `/demands SLUG` shows "
            "you a preview. `/demands card SLUG` in a channel posts a campaign's card "
            "there, with a button to read and sign privately."
        ),
    ]
    if not rows:
        content.append(_section("No campaign yet." if not archived else "No current campaign."))
    for row in page.items(rows):
        content += _admin_row(row, tz)
    content += _pager(page)
    footer = []
    if may_create:
        footer.append(_button("New campaign", ADMIN_NEW, "new", primary=True))
    if archived:
        footer.append(
            _button(f"Archived campaigns ({archived:,})", PAGE_ACTION, page_value("archived", 0))
        )
    if footer:
        content.append({"type": "actions", "elements": footer})
    return "Organizer view", content


def archived_panel(rows: list[AdminRow], tz: ZoneInfo, offset: int = 0) -> tuple[str, list[Block]]:
    """The archived campaigns, a page at a time, each with the button to bring it back."""
    page = page_of("archived", len(rows), offset)
    content: list[Block] = [
        {"type": "header", "text": _plain("Archived campaigns")},
        _context(
            "Closed or forgotten campaigns put out of the organizer view. Their letters and "
            "history stay; *Unarchive* brings one back."
        ),
    ]
    if not rows:
        content.append(_section("No archived campaign."))
    for row in page.items(rows):
        content += _admin_row(row, tz)
    content += _pager(page, "archived campaigns")
    content.append(
        {
            "type": "actions",
            "elements": [_button("Back to the organizer view", PAGE_BACK_ACTION, "admin:0")],
        }
    )
    return "Archived campaigns", content


def not_organizer_text() -> str:
    return (
        "This is for the campaign's organizers. If you organize this campaign, ask the "
        "person who runs the bot to add you."
    )


@dataclass(frozen=True)
class HistoryLine:
    at: dt.datetime
    text: str


def history_modal(
    row: AdminRow,
    milestones: list[HistoryLine],
    audit: list[HistoryLine],
    tz: ZoneInfo,
    news: list[HistoryLine] | None = None,
) -> dict[str, Any]:
    def part(heading: str, items: list[HistoryLine], empty: str, most: int) -> list[Block]:
        # Each list over as many sections as it needs, up to `most`: the three
        # together stay inside a modal's 100 blocks and 250 kB.
        if not items:
            return [_section(f"{heading}\n{empty}")]
        lines = [f"• {format_moment(i.at, tz)}: {i.text}" for i in items]
        pieces = split_text(heading + "\n" + "\n".join(lines))
        if len(pieces) <= most:
            return [_section(piece) for piece in pieces]
        kept = pieces[: most - 1]
        left = len(lines) - sum(piece.count("\n• ") + piece.startswith("• ") for piece in kept)
        return [
            *(_section(piece) for piece in kept),
            _context(f"…and {left:,} more lines, not shown: the form has no room for them."),
        ]

    content = [
        _section(
            f"*{escape(row.title)}*  `{row.slug}`\nCount at the last full hour: *{row.count:,}*"
        ),
        *part("*Milestones*", milestones, "None announced yet.", 30),
        *part("*Updates to signers*", news or [], "None sent yet.", 10),
        {"type": "divider"},
        *part("*Organizer actions*", audit, "None yet.", 20),
    ]
    return _view("History", content)


def forget_modal(row: AdminRow, metadata: str) -> dict[str, Any]:
    text = (
        f"*Forget the signers of {escape(row.title)}?*\n"
        "This cuts the link between every signature and the person who made it, for good. "
        f"The count ({row.count:,}) and the names on the letter stay. Afterwards nobody, "
        "not even whoever holds SIGNER_KEY, can tell who signed; signers can no longer check "
        "or withdraw, and the campaign stays closed. Deliver the letter first, and delete "
        "older backups of the database: they still hold the link."
    )
    return _view(
        "Forget signers",
        [
            _section(text),
            _input(
                FORGET_CONFIRM_BLOCK, f"Type {row.slug} to confirm", _text_input("", max_length=40)
            ),
        ],
        callback_id=ADMIN_FORGET_VIEW,
        private_metadata=metadata,
        submit=_plain("Forget for good", 24),
        close=_plain("Cancel", 24),
    )


def letter_sent_text(fmt: str) -> str:
    return f"The letter ({fmt.upper()}) is in your direct messages with the bot."


UPDATE_KINDS = {
    "news": "News (next steps, an event, anything)",
    "delivered": "The letter was delivered (records today's date)",
    "answer": "The employer's answer (records it for /demands)",
}


def update_form(slug: str, subscribers: int) -> dict[str, Any]:
    kinds = [{"text": _plain(label, 75), "value": value} for value, label in UPDATE_KINDS.items()]
    send_option = _option("Also send it to the people who asked for news", "yes")
    return _view(
        "Update signers",
        [
            _section(
                f"*{subscribers:,}* signers of `{slug}` asked for news. You will see a preview "
                "before anything is sent."
            ),
            _input(
                UPDATE_KIND_BLOCK,
                "What is it?",
                {
                    "type": "static_select",
                    "options": kinds,
                    "initial_option": kinds[0],
                },
            ),
            _input(
                UPDATE_TEXT_BLOCK, "The update", _text_input("", multiline=True, max_length=2500)
            ),
            _input(
                UPDATE_SEND_BLOCK,
                "Send",
                {
                    "type": "checkboxes",
                    "options": [send_option],
                    "initial_options": [send_option],
                },
                optional=True,
                hint="Untick to only record a delivery or an answer.",
            ),
        ],
        callback_id=ADMIN_UPDATE_VIEW,
        private_metadata=slug,
        submit=_plain("Preview", 24),
        close=_plain("Cancel", 24),
    )


def update_preview(
    slug: str, title: str, kind: str, text: str, send: bool, subscribers: int, metadata: str
) -> dict[str, Any]:
    _, message = update_message(title, kind, text)
    if send:
        intro = f"*Preview.* This goes to {subscribers:,} people as a direct message:"
        action = f"Send to {subscribers:,}" if subscribers else "Record it"
    else:
        intro = "*Preview.* This is recorded and shown in `/demands`; nothing is sent."
        action = "Record it"
    return _view(
        "Preview",
        [_section(intro), {"type": "divider"}, *message, {"type": "divider"}],
        callback_id=ADMIN_UPDATE_SEND_VIEW,
        private_metadata=metadata,
        submit=_plain(clip(action, 24), 24),
        close=_plain("Back out", 24),
    )


def update_started_text(recipients: int, recorded: str | None) -> str:
    parts = []
    if recorded:
        parts.append(f"Recorded {recorded}.")
    if recipients:
        parts.append(
            f"Sending to {recipients:,} people, a few a second; *History* in the organizer "
            "view shows the progress. Nobody gets it twice, even if the bot restarts."
        )
    elif not recorded:
        parts.append("Nobody has asked for news yet, so nothing was sent.")
    return " ".join(parts)
