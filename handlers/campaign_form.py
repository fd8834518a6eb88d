"""The campaign editor: the organizer view's "New campaign", "Edit" and "Duplicate"
buttons open it, and its submission creates or edits a campaign.

The form is read into a CampaignSpec here (spec_from_form) and checked by the
same rules as a campaign file (petition/campaign_spec.parse_campaign); every problem
is shown beside its field at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

import blocks
from handlers.errors import Refusals, open_modal
from handlers.identity import profile_of
from handlers.intime import FormAnswer, InTime, answer_in_time
from handlers.payload import clicked_value, form_state, typed_text
from handlers.slackapi import SlackUnavailable, check_channel
from petition.campaign_spec import CampaignSpec, last_day_of, parse_campaign
from petition.errors import DomainError, InvalidCampaign
from petition.kinds import CampaignStatus
from petition.organizer_actions import OrganizerActions

# The organizer view's name in the logs, as before its forms had a module of their own.
logger = logging.getLogger("handlers.admin")
refusals = Refusals(logger)


def _editor_values(spec: CampaignSpec, tz: ZoneInfo) -> blocks.EditorValues:
    closes_on = last_day_of(spec.closes_at, tz) if spec.closes_at else None
    return blocks.EditorValues(
        slug=spec.slug,
        title=spec.title,
        statement=spec.statement,
        demands=spec.demands,
        milestones=spec.milestones,
        channel_id=spec.channel_id,
        closes_on=closes_on,
        organizers=spec.organizers,
        forget_after_days=spec.forget_after_days,
        channels=spec.channels,
        addressee=spec.addressee or "",
    )


def _organizer_tz(context: BoltContext, client: WebClient, fallback: ZoneInfo) -> ZoneInfo:
    """The organizer's own Slack time zone (users.info), in which the editor reads
    and shows the last day to sign; the campaigns' TIMEZONE if Slack does not say."""
    try:
        name = profile_of(context, client).get("tz")
        return ZoneInfo(name) if isinstance(name, str) and name else fallback
    except Exception:  # busy, a stranger, an unknown zone: the campaigns' zone will do
        logger.info("no time zone for the organizer from Slack; using TIMEZONE")
        return fallback


def _metadata_tz(meta: object, fallback: ZoneInfo) -> ZoneInfo:
    """The time zone the editor was opened in (its private_metadata, which a forged
    submission may fill with anything)."""
    name = meta.get("tz") if isinstance(meta, dict) else None
    if isinstance(name, str) and 0 < len(name) <= 64:
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass
    return fallback


def handle_new(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        organizer.require_creator(context.user_id or "")
        tz = _organizer_tz(context, client, organizer.timezone)
        metadata = json.dumps({"slug": "", "mode": "create", "tz": tz.key})
        editor = blocks.campaign_editor(blocks.EditorValues(), metadata, True, False, tz)
        open_modal(client, body, editor)

    in_time.run(context, refusals.notice(client, body, "create", "", work))


def handle_edit(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()
    slug = clicked_value(body)

    def work() -> None:
        tz = _organizer_tz(context, client, organizer.timezone)
        editing = organizer.editing(context.user_id or "", slug)
        values = _editor_values(editing.spec, tz)
        metadata = json.dumps({"slug": slug, "mode": "edit", "tz": tz.key})
        open_modal(
            client, body, blocks.campaign_editor(values, metadata, False, editing.locked, tz)
        )

    in_time.run(context, refusals.notice(client, body, "edit", slug, work))


def handle_duplicate(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    """A new campaign's form, filled in from an old one (text, demands, milestones,
    channels, organizers, addressee), with no short name and no closing date: it
    saves as a new draft."""
    ack()
    slug = clicked_value(body)

    def work() -> None:
        actor = context.user_id or ""
        organizer.require_creator(actor)
        tz = _organizer_tz(context, client, organizer.timezone)
        source = organizer.editing(actor, slug).spec
        values = replace(_editor_values(source, tz), slug="", closes_on=None)
        metadata = json.dumps({"slug": "", "mode": "create", "tz": tz.key})
        open_modal(client, body, blocks.campaign_editor(values, metadata, True, False, tz))

    in_time.run(context, refusals.notice(client, body, "duplicate", slug, work))


def _int_list(raw: str | None) -> list[int]:
    """The milestones typed in the form: whole numbers separated by commas."""
    if not raw or not raw.strip():
        return []
    parts = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    # isdecimal() and a length bound: int() takes "1_000", and Python's int of a
    # thousand digits would pass here only to overflow the database.
    bad = [p for p in parts if not (p.isascii() and p.isdecimal()) or len(p) > 9]
    if bad:
        raise InvalidCampaign(
            f"Milestones are whole numbers separated by commas, such as 100, 250, 400 "
            f"({blocks.clip(bad[0], 20)!r} is not one).",
            "milestones",
        )
    return [int(part) for part in parts]


def _demands_from(state: dict[str, dict[str, Any]]) -> list[str]:
    """The demands the editor holds: one per field, in order, empty ones dropped."""
    typed = (typed_text(state, block_id) for block_id in blocks.demand_block_ids())
    return [text.strip() for text in typed if text and text.strip()]


def spec_from_form(
    view: dict[str, Any], existing: CampaignSpec | None, tz: ZoneInfo
) -> CampaignSpec:
    """The campaign the editor form describes, validated by the same rules as a
    file; InvalidCampaign lists every problem of the form at once. `tz`: the
    organizer's time zone, in which the picked day is the last day to sign."""
    state = form_state(view)
    problems: list[tuple[str | None, str]] = []
    data: dict[str, Any] = {
        "slug": existing.slug if existing else (typed_text(state, "slug") or "").strip().lower(),
        "title": typed_text(state, "title") or "",
        "addressee": (typed_text(state, "addressee") or "").strip() or None,
    }
    if "statement" in state or existing is None:
        data["statement"] = typed_text(state, "statement") or ""
        data["demands"] = _demands_from(state)
    else:  # locked: the form did not offer them
        data["statement"] = existing.statement
        data["demands"] = list(existing.demands)
    try:
        data["milestones"] = _int_list(typed_text(state, "milestones"))
    except InvalidCampaign as problem:
        problems += problem.problems
    channel = state.get("channel", {}).get("selected_conversation")
    if isinstance(channel, str) and channel:
        data["channel"] = channel
    more = state.get("channels", {}).get("selected_conversations")
    if isinstance(more, list) and more:
        data["channels"] = more  # parse_campaign checks each id
    closes = state.get("closes", {}).get("selected_date")
    if isinstance(closes, str) and closes:
        try:
            data["closes"] = dt.date.fromisoformat(closes)
        except ValueError:
            problems.append(("closes", "Give a date such as 2027-03-01."))
        else:
            kept = existing.closes_at if existing is not None else None
            kept_day = last_day_of(kept, tz) if kept is not None else None
            if data["closes"] != kept_day and data["closes"] < dt.datetime.now(tz).date():
                # Said with the other problems, not after them (the save checks again).
                problems.append(("closes", "The closing date is in the past; give a future date."))
    users = state.get("organizers", {}).get("selected_users")
    if isinstance(users, list):
        data["organizers"] = [u for u in users if isinstance(u, str)]
    forget = typed_text(state, "forget_after_days")
    if forget and forget.strip():
        # isdecimal(), not isdigit(): "²" is a digit that int() refuses.
        if not forget.strip().isdecimal() or len(forget.strip()) > 9:
            problems.append(("forget_after_days", "Give a number of days, such as 90."))
        else:
            data["forget_after_days"] = int(forget.strip())
    data["status"] = existing.status.value if existing else CampaignStatus.DRAFT.value
    try:
        spec = parse_campaign(data, tz)
    except InvalidCampaign as problem:
        raise InvalidCampaign.of(problems + problem.problems) from None
    if problems:
        raise InvalidCampaign.of(problems)
    if (
        existing
        and existing.closes_at
        and spec.closes_at
        and (last_day_of(spec.closes_at, tz) == last_day_of(existing.closes_at, tz))
    ):
        # The date picker shows days: an unchanged day keeps the exact stored moment.
        spec = replace(spec, closes_at=existing.closes_at)
    return spec


_FORM_FIELDS = {
    "slug",
    "addressee",
    "title",
    "statement",
    *blocks.demand_block_ids(),
    "milestones",
    "channel",
    "channels",
    "closes",
    "organizers",
    "forget_after_days",
}


def _field_errors(error: InvalidCampaign, view: dict[str, Any]) -> dict[str, str]:
    """Every problem beside the field it is about (several about one field are
    joined); a problem about no field the form shows goes beside the title."""
    shown = view.get("blocks") if isinstance(view.get("blocks"), list) else []
    present = {
        b["block_id"] for b in shown if isinstance(b, dict) and isinstance(b.get("block_id"), str)
    }
    errors: dict[str, str] = {}
    for field, message in error.problems:
        if field == "demands":  # about the demands as a whole, or one of them
            number = re.search(r"Demand (\d+)", message)
            field = blocks.DEMAND_BLOCK.format(number.group(1) if number else 1)
        where = field if field in _FORM_FIELDS and field in present else "title"
        errors[where] = f"{errors[where]} {message}" if where in errors else message
    return {where: blocks.clip(message, 150) for where, message in errors.items()}


def handle_save(
    ack: Ack,
    body: dict,
    view: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    actor = context.user_id or ""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):  # forged: not text, not JSON, too deep
        meta = {}
    creating = not (isinstance(meta, dict) and meta.get("mode") == "edit")
    slug = meta.get("slug") if isinstance(meta, dict) and isinstance(meta.get("slug"), str) else ""
    tz = _metadata_tz(meta, organizer.timezone)

    def work() -> FormAnswer:
        existing = None if creating else organizer.editing(actor, slug).spec
        spec = spec_from_form(view, existing, tz)
        try:
            # Slack is asked whether the bot can post in each new channel: the
            # form is answered in time however long that takes (handlers/intime.py).
            if spec.channel_id and spec.channel_id != (existing.channel_id if existing else None):
                check_channel(client, spec.channel_id)
            known = {existing.channel_id, *existing.channels} if existing else set()
            for added in (c for c in spec.channels if c not in known):
                check_channel(client, added, field="channels")
        except SlackUnavailable as busy:
            return FormAnswer(
                errors={"channel": blocks.slack_busy_text(busy.retry_after)[:150]},
                errors_title="Not saved",
            )
        changes = organizer.save(actor, spec, creating=creating)
        return FormAnswer(view=blocks.saved_modal(spec.slug, changes, creating))

    def beside_fields(problem: DomainError) -> FormAnswer | None:
        if isinstance(problem, InvalidCampaign):
            return FormAnswer(errors=_field_errors(problem, view), errors_title="Not saved")
        return None

    answered = refusals.form("save", work, invalid=beside_fields)
    checking = blocks.checking_modal("One moment: checking the channels with Slack...")
    answer_in_time(ack, body, client, context, in_time, answered, checking=checking)


def register(app: App) -> None:
    app.action(blocks.ADMIN_NEW)(handle_new)
    app.action(blocks.ADMIN_EDIT)(handle_edit)
    app.action(blocks.ADMIN_DUPLICATE)(handle_duplicate)
    app.view(blocks.ADMIN_SAVE_VIEW)(handle_save)
