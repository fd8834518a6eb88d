"""Signing and withdrawing: the notice every signer reads first, the *Sign privately*
and *Sign with my name…* buttons, the signing form and its confirmations, and the
withdrawal form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks import limits
from blocks.campaign import _demand_sections
from blocks.ids import (
    ANONYMOUS,
    CONDITIONAL,
    HOW_ACTION,
    HOW_BLOCK,
    NAME_ACTION,
    NAME_BLOCK,
    NAMED,
    QUICK_SIGN_ACTION,
    SHOW_ACTION,
    SIGN_ACTION,
    SIGN_CHANGE_ACTION,
    SIGN_VIEW,
    THRESHOLD_BLOCK,
    THRESHOLD_OTHER_BLOCK,
    UPDATES_BLOCK,
    UPDATES_VALUE,
    WITHDRAW_VIEW,
)
from blocks.kit import (
    FALLBACK_LIMIT,
    Block,
    _button,
    _context,
    _option,
    _plain,
    _seconds_words,
    _section,
    _sections,
    _view,
    clip,
    escape,
    fit,
)
from blocks.paging import _pager, page_of
from petition.campaigns import CampaignView
from petition.lengths import NAME_MAX

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
