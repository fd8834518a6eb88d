"""Every Block Kit message and view the bot sends, built in one place.

Whatever a user or organizer typed passes through `escape` before it reaches a
mrkdwn field, so a title or name such as `<!channel>` can never ping anyone.
Block `value`s carry campaign slugs and nothing about the person clicking.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from handlers import slacklimits as limits
from petition.campaigns import (
    MAX_DEMANDS,
    SMALL_COUNT,
    CampaignView,
    describe_changes,
    displayed_count,
    last_day_of,
)
from storage.models import ADDRESSEE_MAX, DEMAND_MAX, NAME_MAX, STATEMENT_MAX, TITLE_MAX

Block = dict[str, Any]
UTC = ZoneInfo("UTC")

SIGN_ACTION = "sign_start"
SHOW_ACTION = "campaign_show"
FOLLOW_ACTION = "news_follow"
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


CARD_BUTTON = "Read and sign privately"
PREVIEW_SIGN_ACTION = "preview_sign"
PREVIEW_SIGN_VIEW = "preview_sign_submit"


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


# -- long lists: a page at a time ----------------------------------------------------------

PAGE_ACTION = "page"  # the "Next" button of a paged list
PAGE_BACK_ACTION = "page_back"
# How many items a page shows, per surface: each keeps the page inside its surface's
# blocks (50 in a message, 100 in the Home tab) with room for its heading and buttons.
PAGE_SIZES = {
    "demands": 20,  # one block each
    "sign": 20,
    "withdraw": 20,
    "status": 20,  # two blocks each
    "admin": 20,
    "archived": 20,
    "home": 25,  # three blocks each
}


@dataclass(frozen=True)
class Page:
    """Which part of a long list is shown: `surface` names the list (PAGE_SIZES)."""

    surface: str
    offset: int
    total: int

    @property
    def size(self) -> int:
        return PAGE_SIZES[self.surface]

    @property
    def end(self) -> int:
        return min(self.total, self.offset + self.size)

    def items(self, everything: list[Any]) -> list[Any]:
        return everything[self.offset : self.end]


def page_of(surface: str, total: int, offset: int = 0) -> Page:
    """The page starting at `offset` (brought into range), of a list of `total`."""
    size = PAGE_SIZES[surface]
    last = max(0, (total - 1) // size * size)
    offset = min(max(0, offset - offset % size), last)
    return Page(surface, offset, total)


def page_value(surface: str, offset: int) -> str:
    return f"{surface}:{offset}"


def read_page_value(value: str) -> tuple[str, int] | None:
    surface, _, offset = value.partition(":")
    if surface not in PAGE_SIZES or not offset.isdecimal() or len(offset) > 6:
        return None
    return surface, int(offset)


def _pager(page: Page, noun: str = "campaigns") -> list[Block]:
    """ "21–40 of 100 campaigns" and the buttons to the pages around it; nothing when
    everything fits on one page."""
    if page.total <= page.size:
        return []
    shown = f"{page.offset + 1}–{page.end}" if page.end > page.offset + 1 else f"{page.end}"
    more = page.total - page.end
    words = f"Showing {shown} of {page.total:,} {noun}."
    if more:
        words += f" {more:,} more: *Next* shows them."
    buttons = []
    if page.offset > 0:
        back = page.offset - page.size
        buttons.append(
            _button(f"← Previous {page.size}", PAGE_BACK_ACTION, page_value(page.surface, back))
        )
    if more:
        buttons.append(
            _button(
                f"Next {min(more, page.size)} →", PAGE_ACTION, page_value(page.surface, page.end)
            )
        )
    return [_context(words), {"type": "actions", "elements": buttons}]


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


def error_message(reference: str) -> str:
    return (
        "Sorry, something went wrong on our side and nothing was changed. Please try again "
        f"in a minute. (Reference `{reference}` for the organizers.)"
    )


# -- signing ------------------------------------------------------------------

SIGN_VIEW = "sign_submit"
WITHDRAW_ACTION = "withdraw_start"
WITHDRAW_VIEW = "withdraw_submit"
HOW_BLOCK = "how"
HOW_ACTION = "choice"
NAME_BLOCK = "name"
NAME_ACTION = "name"
ANONYMOUS = "anonymous"
NAMED = "named"
VIEW_TITLE_LIMIT = 24

# What every signer is shown before they sign, the same on every path: under the
# demands with the *Sign privately* button (/demands, the channel card, the DM,
# Home) and in the signing form.
SIGNING_NOTICE = (
    "*What the bot stores:* that this campaign has one more signature, under a one-way "
    "code made from your Slack account with a secret key kept outside the database; the "
    "day you signed (not the time); and your name only if you choose to sign with it.\n"
    "*What it never stores:* your Slack ID, your messages, the time of day, or anything "
    "that puts your name next to an anonymous signature.\n"
    "*What Slack may keep:* direct messages can be exported by workspace owners on some "
    "plans, so the bot answers you only in messages and forms that you alone can see, "
    "which are not kept as messages. Anything *you* type in the DM stays there.\n"
    "*Safer:* sign from a personal device, not one your employer manages."
)
PRIVACY_NOTES = SIGNING_NOTICE

# Signing anonymously in one click: the button's confirmation dialog is shown by
# Slack's client (no call to Slack's Web API, so no rate limit), and the answer
# comes back through the click's response URL (or the Home tab).
QUICK_SIGN_ACTION = "sign_quick"
QUICK_SIGN_LABEL = "Sign privately"
FORM_SIGN_LABEL = "Sign with my name…"


def signing_notice_block() -> Block:
    """The notice (SIGNING_NOTICE), as the block shown above the signing buttons."""
    return _context(SIGNING_NOTICE)


def quick_sign_button(view: CampaignView) -> dict[str, Any]:
    """*Sign privately*: signs anonymously, after Slack's own confirmation dialog.
    Put it under the campaign's demands and `signing_notice_block()`, as
    `signing_blocks` does; its value is the campaign's slug, nothing about anyone."""
    button = _button(QUICK_SIGN_LABEL, QUICK_SIGN_ACTION, view.slug, primary=True)
    button["confirm"] = {
        "title": _plain("Sign anonymously?", limits.CONFIRM_TITLE),
        "text": _plain(
            clip(
                f"You sign “{view.title}” anonymously: counted, never named. What the bot "
                "keeps and what Slack may keep is written just above this button. You can "
                "withdraw at any time.",
                limits.CONFIRM_TEXT,
            ),
            limits.CONFIRM_TEXT,
        ),
        "confirm": _plain("Sign anonymously", limits.CONFIRM_BUTTON),
        "deny": _plain("Not now", limits.CONFIRM_BUTTON),
    }
    return button


def form_sign_button(view: CampaignView) -> dict[str, Any]:
    """The signing form, for a name, a name once enough colleagues add theirs, or
    news (a modal: one rate-limited views.open)."""
    return _button(FORM_SIGN_LABEL, SIGN_ACTION, view.slug)


def signing_blocks(view: CampaignView, *more: dict[str, Any]) -> list[Block]:
    """The notice, then *Sign privately* and *Sign with my name…* (and `more`
    buttons): what follows a campaign's demands on every surface where it can be
    signed."""
    elements = [quick_sign_button(view), form_sign_button(view), *more]
    return [signing_notice_block(), {"type": "actions", "elements": elements}]


def _view(title: str, blocks_: list[Block], **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "title": _plain(clip(title, VIEW_TITLE_LIMIT), VIEW_TITLE_LIMIT),
        "blocks": blocks_,
        "close": _plain("Close", 24),
    }
    view.update(extra)
    return view


CONDITIONAL = "conditional"
THRESHOLD_BLOCK = "threshold"
THRESHOLD_OTHER_BLOCK = "threshold_other"
UPDATES_BLOCK = "updates"
UPDATES_VALUE = "news"
THRESHOLD_CHOICES = (10, 25, 50, 100)
CONDITIONAL_NOTICE = (
    "*With my name once enough colleagues add theirs:* you count anonymously until at "
    "least the number you choose below of other signers are named; then your name "
    "joins theirs on the letter."
)
NEWS_TRADE_OFF = (
    "News arrives as a direct message from the bot. Slack keeps DMs, and workspace "
    "owners can export them on some plans: news in your DM can show that you follow "
    "this campaign. Your Slack ID is kept encrypted so that the bot can reach you, and "
    "deleted when you withdraw, send `stop updates`, or the campaign is forgotten."
)


@dataclass(frozen=True)
class SignFormState:
    """What the form shows selected: the defaults, or the signer's current choice."""

    how: str = ANONYMOUS
    threshold: int | None = None
    news: bool = False


def _option(text: str, value: str, description: str | None = None) -> dict[str, Any]:
    option: dict[str, Any] = {"text": _mrkdwn(text), "value": value}
    if description:
        option["description"] = _mrkdwn(description)
    return option


def sign_modal(
    view: CampaignView,
    metadata: str,
    suggested_name: str | None,
    state: SignFormState | None = None,
    changing: bool = False,
) -> dict[str, Any]:
    """The signing form. Nothing is recorded until it is submitted."""
    state = state or SignFormState()
    ways = [
        _option("*Anonymously*: counted, never named", ANONYMOUS),
        _option("*With my name*: it will appear on the letter delivered to the employer", NAMED),
        _option(
            "*With my name once enough colleagues add theirs*",
            CONDITIONAL,
            "Anonymous until enough others are named (see below)",
        ),
    ]
    initial = next(o for o in ways if o["value"] == state.how)
    name_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": NAME_ACTION,
        "max_length": NAME_MAX,
        "placeholder": _plain("Your name as it should appear on the letter", 150),
    }
    if suggested_name:
        name_element["initial_value"] = clip(suggested_name, NAME_MAX)
    threshold_options = [
        {"text": _plain(f"{n} colleagues", 75), "value": str(n)} for n in THRESHOLD_CHOICES
    ]
    threshold_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": THRESHOLD_BLOCK,
        "options": threshold_options,
        "placeholder": _plain("Choose", 75),
    }
    if state.threshold in THRESHOLD_CHOICES:
        threshold_select["initial_option"] = threshold_options[
            THRESHOLD_CHOICES.index(state.threshold)
        ]
    other: dict[str, Any] = {
        "type": "number_input",
        "action_id": THRESHOLD_OTHER_BLOCK,
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "100000",
    }
    if state.threshold and state.threshold not in THRESHOLD_CHOICES:
        other["initial_value"] = str(state.threshold)
    news_option = _option(
        "Send me news about this campaign",
        UPDATES_VALUE,
        "A DM from the bot: see below what that shows",
    )
    news: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": UPDATES_BLOCK,
        "options": [news_option],
    }
    if state.news:
        news["initial_options"] = [news_option]
    content: list[Block] = [
        *_sections(f"*{escape(view.title)}*\n{escape(view.statement)}"),
        *_demand_sections(view),
        {"type": "divider"},
        {
            "type": "input",
            "block_id": HOW_BLOCK,
            "label": _plain("How do you want to sign?"),
            "element": {
                "type": "radio_buttons",
                "action_id": HOW_ACTION,
                "options": ways,
                "initial_option": initial,
            },
        },
        # What does not fit in an option's description (75 characters).
        _context(CONDITIONAL_NOTICE),
        {
            "type": "input",
            "block_id": NAME_BLOCK,
            "optional": True,
            "label": _plain("Name (only if your name may appear)"),
            "element": name_element,
            "hint": _plain("Ignored when you sign anonymously; it is then not stored.", 150),
        },
        {
            "type": "input",
            "block_id": THRESHOLD_BLOCK,
            "optional": True,
            "label": _plain("Name me once this many colleagues have added theirs"),
            "element": threshold_select,
        },
        {
            "type": "input",
            "block_id": THRESHOLD_OTHER_BLOCK,
            "optional": True,
            "label": _plain("…or type another number"),
            "element": other,
        },
        {
            "type": "input",
            "block_id": UPDATES_BLOCK,
            "optional": True,
            "label": _plain("News"),
            "element": news,
        },
        _context(NEWS_TRADE_OFF),
        _context(PRIVACY_NOTES),
    ]
    return _view(
        "Change how you sign" if changing else "Sign privately",
        content,
        callback_id=SIGN_VIEW,
        private_metadata=metadata,
        submit=_plain("Save" if changing else "Sign", 24),
        close=_plain("Cancel", 24),
    )


def _conditional_words(threshold: int, named_today: bool) -> str:
    today = "would appear" if named_today else "would not appear yet"
    return (
        f"with your name once {threshold:,} colleagues have added theirs "
        f"(if the letter went out today, your name {today})"
    )


def signed_modal(
    title: str,
    named: bool,
    already: bool,
    *,
    threshold: int | None = None,
    named_today: bool = False,
    news: bool = False,
    changed: bool = False,
) -> dict[str, Any]:
    if already:
        headline = f"You had already signed *{escape(title)}*. Nothing was changed."
    elif threshold is not None:
        headline = (
            f"You {'now sign' if changed else 'signed'} *{escape(title)}* "
            f"{_conditional_words(threshold, named_today)}. Until then you count anonymously."
        )
    elif named:
        headline = f"You {'now sign' if changed else 'signed'} *{escape(title)}* with your name."
    else:
        headline = f"You {'now sign' if changed else 'signed'} *{escape(title)}* anonymously."
    if not already and not changed:
        headline += " Thank you."
    body = (
        "Nobody in any channel can see that you signed. Send `status` to the bot in a direct "
        "message, or open its Home tab, to check or change how you sign; `withdraw` takes "
        "your signature back."
    )
    if news and not already:
        body += " You will get news about this campaign; `stop updates` ends that."
    title_text = "Already signed" if already else ("Saved" if changed else "Signed")
    return _view(title_text, [_section(headline), _section(body)])


def signed_message(view: CampaignView, already: bool) -> tuple[str, list[Block]]:
    """The answer to *Sign privately*, in place of the message clicked (or under a
    channel's card), seen by the signer only. No count: the count shown anywhere
    moves on the hour (petition/counts.py), and one shown here would not."""
    modal = signed_modal(view.title, named=False, already=already)
    headline = modal["blocks"][0]["text"]["text"]
    content = [
        *modal["blocks"],
        {
            "type": "actions",
            "elements": [_button("Change how I sign", SIGN_CHANGE_ACTION, view.slug)],
        },
        _context("Only you can see this message."),
    ]
    return fit(headline.replace("*", ""), FALLBACK_LIMIT), content


def quick_sign_refused(text: str) -> tuple[str, list[Block]]:
    """Why *Sign privately* recorded nothing (closed, not eligible, Slack busy)."""
    return fit(text.replace("*", ""), FALLBACK_LIMIT), [
        _section(text),
        _context("Only you can see this message."),
    ]


def try_again_text(seconds: int) -> str:
    """The click could not be checked with Slack now: when to click again. Each
    person is given a turn (handlers/pacing.py), so the time is theirs."""
    return (
        "Slack is busy right now. Nothing was recorded; please click *Sign privately* "
        f"again in {_seconds_words(seconds)}."
    )


def notice_modal(title: str, text: str) -> dict[str, Any]:
    return _view(title, [_section(text)])


def withdraw_modal(view: CampaignView, metadata: str) -> dict[str, Any]:
    text = (
        f"Withdraw your signature from *{escape(view.title)}*?\n"
        "It will be deleted, not hidden: the count goes down by one and nothing remains "
        "to say you signed. You can sign again later while the campaign is open."
    )
    return _view(
        "Withdraw",
        [_section(text)],
        callback_id=WITHDRAW_VIEW,
        private_metadata=metadata,
        submit=_plain("Withdraw", 24),
        close=_plain("Keep it", 24),
    )


def withdrawn_modal(title: str, had_signed: bool) -> dict[str, Any]:
    if had_signed:
        text = f"Your signature on *{escape(title)}* was deleted."
    else:
        text = f"You had not signed *{escape(title)}*; there was nothing to withdraw."
    return _view("Withdrawn" if had_signed else "Nothing to withdraw", [_section(text)])


def open_form_message(view: CampaignView, action_id: str) -> tuple[str, list[Block]]:
    """In the DM: a button that opens the signing or withdrawal form."""
    if action_id == SIGN_ACTION:
        text = (
            f"*{escape(view.title)}*: the form shows the demands and how your signature is "
            "kept before you confirm."
        )
        label = "Open the signing form"
    else:
        text = f"*{escape(view.title)}*: the form asks you to confirm before anything is deleted."
        label = "Withdraw my signature"
    return fit(escape(view.title), FALLBACK_LIMIT), [
        _section(text, _button(label, action_id, view.slug, primary=action_id == SIGN_ACTION))
    ]


def choose_campaign_message(
    views: list[CampaignView], action_id: str, intro: str, offset: int = 0
) -> tuple[str, list[Block]]:
    signing = action_id == SIGN_ACTION
    # Signing starts by reading the campaign (its demands, the notice and *Sign
    # privately*), in place of this list.
    label = "Read and sign" if signing else "Withdraw"
    button_action = SHOW_ACTION if signing else action_id
    page = page_of("sign" if signing else "withdraw", len(views), offset)
    content: list[Block] = [_section(intro)]
    content.extend(
        _section(f"*{escape(v.title)}*  `{v.slug}`", _button(label, button_action, v.slug))
        for v in page.items(views)
    )
    content += _pager(page)
    return intro, content


@dataclass(frozen=True)
class StatusLine:
    view: CampaignView
    signed: bool
    named: bool
    threshold: int | None = None
    named_today: bool = False
    subscribed: bool = False


SIGN_CHANGE_ACTION = "sign_change"


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


def _seconds_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


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


# -- organizers ----------------------------------------------------------------

ADMIN_NEW = "admin_new"
ADMIN_EDIT = "admin_edit"
ADMIN_OPEN = "admin_open"
ADMIN_CLOSE = "admin_close"
ADMIN_REOPEN = "admin_reopen"
ADMIN_HISTORY = "admin_history"
ADMIN_DUPLICATE = "admin_duplicate"
ADMIN_LETTER_MD = "admin_letter_md"
ADMIN_LETTER_HTML = "admin_letter_html"
ADMIN_FORGET = "admin_forget"
ADMIN_ARCHIVE = "admin_archive"
ADMIN_UNARCHIVE = "admin_unarchive"
ADMIN_SAVE_VIEW = "admin_save"
ADMIN_FORGET_VIEW = "admin_forget_confirm"
FORGET_CONFIRM_BLOCK = "confirm"
FORGET_CONFIRM_ACTION = "slug"


@dataclass(frozen=True)
class AdminRow:
    """One campaign as organizers see it: exact figures, still nothing on signers."""

    slug: str
    title: str
    status: str
    is_open: bool
    count: int
    channel_id: str | None
    closes_at: dt.datetime | None
    forgotten: bool
    more_channels: int = 0  # announcement channels beside channel_id
    archived: bool = False

    @property
    def may_archive(self) -> bool:
        """Closed (by hand or by its date) or forgotten: done with, out of the way."""
        return not self.archived and self.status != "draft" and not self.is_open


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": _plain(title, 100),
        "text": _plain(text, 300),
        "confirm": _plain(yes, 30),
        "deny": _plain("Cancel", 30),
    }


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


# As many as a campaign file allows (petition.campaigns.MAX_CHANNELS).
MAX_MORE_CHANNELS = 100


@dataclass(frozen=True)
class EditorValues:
    slug: str = ""
    title: str = ""
    statement: str = ""
    demands: tuple[str, ...] = ()
    milestones: tuple[int, ...] = ()
    channel_id: str | None = None
    closes_on: dt.date | None = None
    organizers: tuple[str, ...] = ()
    forget_after_days: int | None = None
    channels: tuple[str, ...] = ()
    addressee: str = ""


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


DEMAND_BLOCK = "demand_{}"  # demand_1 ... demand_20, in order
# Empty demand fields offered beyond those filled in (a campaign may have up to
# MAX_DEMANDS): more can be added by saving and editing again.
SPARE_DEMANDS = 3


def demand_block_ids(count: int = MAX_DEMANDS) -> list[str]:
    return [DEMAND_BLOCK.format(n) for n in range(1, count + 1)]


def _demand_inputs(demands: tuple[str, ...]) -> list[Block]:
    """One field per demand, each as long as a demand may be (DEMAND_MAX): twenty of
    them never fit one field, whose max_length Slack caps at 3000."""
    shown = min(MAX_DEMANDS, max(len(demands) + SPARE_DEMANDS, SPARE_DEMANDS + 1))
    fields = []
    for number, block_id in enumerate(demand_block_ids(shown), start=1):
        initial = demands[number - 1] if number <= len(demands) else ""
        fields.append(
            _input(
                block_id,
                f"Demand {number}",
                _text_input(initial, multiline=True, max_length=DEMAND_MAX),
                optional=number > 1,
                hint=(
                    f"One demand per field, up to {DEMAND_MAX:,} characters; an empty field is "
                    f"dropped. Save and edit again for more (up to {MAX_DEMANDS})."
                    if number == 1
                    else None
                ),
            )
        )
    return fields


def campaign_editor(
    values: EditorValues,
    metadata: str,
    creating: bool,
    locked_text: bool,
    tz: ZoneInfo = UTC,
) -> dict[str, Any]:
    """Create or edit a campaign. Field block ids match the campaign file's keys."""
    content: list[Block] = []
    if creating:
        content.append(
            _input(
                "slug",
                "Short name (slug)",
                _text_input(values.slug, max_length=40, placeholder="wewontbuildit"),
                hint="Lowercase letters, digits and dashes; workers type /demands SLUG.",
            )
        )
    content.append(_input("title", "Title", _text_input(values.title, max_length=TITLE_MAX)))
    content.append(
        _input(
            "addressee",
            "Addressed to",
            _text_input(
                values.addressee, max_length=ADDRESSEE_MAX, placeholder="The board of Acme Ltd"
            ),
            optional=True,
            hint="Whom the letter is for: it opens the letter, as “To: …”.",
        )
    )
    if locked_text:
        content.append(
            _section(
                "*Statement and demands are locked:* people have signed them. "
                "Start a new campaign to change the text."
            )
        )
    else:
        content.append(
            _input(
                "statement",
                "Statement",
                _text_input(values.statement, multiline=True, max_length=STATEMENT_MAX),
            )
        )
        content += _demand_inputs(values.demands)
    channel: dict[str, Any] = {
        "type": "conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
    }
    if values.channel_id:
        channel["initial_conversation"] = values.channel_id
    more_channels: dict[str, Any] = {
        "type": "multi_conversations_select",
        "filter": {"include": ["public", "private"], "exclude_bot_users": True},
        "max_selected_items": MAX_MORE_CHANNELS,
    }
    if values.channels:
        more_channels["initial_conversations"] = list(values.channels)
    closes: dict[str, Any] = {"type": "datepicker"}
    if values.closes_on:
        closes["initial_date"] = values.closes_on.isoformat()
    organizers: dict[str, Any] = {"type": "multi_users_select"}
    if values.organizers:
        organizers["initial_users"] = list(values.organizers)
    content += [
        _input(
            "milestones",
            "Milestones",
            _text_input(", ".join(str(m) for m in values.milestones), placeholder="100, 250, 400"),
            optional=True,
            hint="Counts to announce in the channel, 5 or more, increasing.",
        ),
        _input(
            "channel",
            "Announcement channel",
            channel,
            optional=True,
            hint="Invite the bot there first: /invite @Undersigned",
        ),
        _input(
            "channels",
            "More announcement channels (one per workspace, or a shared org-wide channel)",
            more_channels,
            optional=True,
            hint="Each hears every milestone once, from the next one on. Invite the bot to each.",
        ),
        _input(
            "closes",
            "Last day to sign",
            closes,
            optional=True,
            hint=f"Signing closes at the end of this day (midnight, {tz.key}). Today is fine.",
        ),
        _input("organizers", "More organizers for this campaign", organizers, optional=True),
        _input(
            "forget_after_days",
            "Forget signers automatically after (days)",
            _text_input(
                "" if values.forget_after_days is None else str(values.forget_after_days),
                max_length=4,
            ),
            optional=True,
            hint="Days after closing; leave empty to forget by hand.",
        ),
    ]
    return _view(
        "New campaign" if creating else "Edit campaign",
        content,
        callback_id=ADMIN_SAVE_VIEW,
        private_metadata=metadata,
        submit=_plain("Save", 24),
        close=_plain("Cancel", 24),
    )


def saved_modal(slug: str, changes: list[str], created: bool) -> dict[str, Any]:
    if created:
        text = (
            f"Created `{slug}` as a *draft*: workers cannot see it yet. Open it from the "
            "organizer view (`/demands admin`) when it is ready."
        )
    elif changes:
        text = f"Saved `{slug}`. Changed: {describe_changes(changes)}."
    else:
        text = f"Nothing changed in `{slug}`."
    return _view("Saved", [_section(text)])


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


# -- refusals before any handler runs ----------------------------------------------


def other_workspace_text() -> str:
    return "Undersigned is not installed in your workspace, so it cannot act for you here."


def rate_limited_text() -> str:
    return (
        "That was a lot of requests in a short time, so the bot is pausing yours for a "
        "moment. Nothing was changed; please try again in a minute."
    )


# -- news to signers ------------------------------------------------------------------

ADMIN_UPDATE = "admin_update"
ADMIN_UPDATE_VIEW = "admin_update_preview"
ADMIN_UPDATE_SEND_VIEW = "admin_update_send"
UPDATE_KIND_BLOCK = "kind"
UPDATE_TEXT_BLOCK = "text"
UPDATE_SEND_BLOCK = "send"
UPDATE_KINDS = {
    "news": "News (next steps, an event, anything)",
    "delivered": "The letter was delivered (records today's date)",
    "answer": "The employer's answer (records it for /demands)",
}
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


def outcome_lines(delivered_on: dt.date | None, answer: str | None) -> str | None:
    lines = []
    if delivered_on:
        lines.append(f"*Delivered* on {delivered_on.day} {delivered_on:%B %Y}.")
    if answer:
        lines.append(f"*The employer's answer:* {escape(answer)}")
    return "\n".join(lines) or None


# -- answers that take longer than Slack waits (handlers/intime.py) ---------------------


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


def not_saved_text(problem: str) -> str:
    return f"Not saved: {problem} Open the editor again to fix it; nothing was changed."


def stranger_text() -> str:
    """Someone Slack would not tell us about (a Slack Connect user, say)."""
    return (
        "Only members of this organization can use Undersigned here. Slack does not "
        "show your account to this app, so it cannot act for you."
    )
