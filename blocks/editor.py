"""The campaign editor, to create a campaign or edit one, and what it answers once
saved or refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from blocks.ids import ADMIN_SAVE_VIEW, demand_block_ids
from blocks.kit import Block, _input, _plain, _section, _text_input, _view
from petition.campaign_spec import MAX_DEMANDS, describe_changes
from petition.lengths import ADDRESSEE_MAX, DEMAND_MAX, STATEMENT_MAX, TITLE_MAX

UTC = ZoneInfo("UTC")

# As many as a campaign file allows (petition.campaign_spec.MAX_CHANNELS).
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


# Empty demand fields offered beyond those filled in (a campaign may have up to
# MAX_DEMANDS): more can be added by saving and editing again.
SPARE_DEMANDS = 3


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


def not_saved_text(problem: str) -> str:
    return f"Not saved: {problem} Open the editor again to fix it; nothing was changed."
