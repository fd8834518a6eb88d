"""The organizer view: `/demands admin` and the buttons and forms behind it.

Every action checks again that the person is an organizer of that campaign: a
button in an old message or a forged payload proves nothing. Refusals are logged
with the action's name only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from blocks import kit
from bot.settings import Settings
from handlers.identity import profile_of
from handlers.intime import FormAnswer, InTime, answer_in_time
from handlers.payload import clicked_value
from handlers.slackapi import (
    SlackUnavailable,
    check_channel,
    open_form,
    say_form_not_opened,
    send_file_dm,
)
from petition import organizing, updates
from petition.campaigns import (
    CampaignSpec,
    campaign_view,
    is_open,
    last_day_of,
    parse_campaign,
    spec_of,
)
from petition.errors import CampaignNotFound, DomainError, InvalidCampaign, NotAnOrganizer
from petition.keyring import Keyring
from petition.letter import build_letter, render
from petition.organizing import Organizers, StatusChange
from storage.db import Database
from storage.models import Campaign, CampaignStatus, UpdateKind

logger = logging.getLogger(__name__)

STATUS_ACTIONS = {
    blocks.ADMIN_OPEN: StatusChange.OPEN,
    blocks.ADMIN_CLOSE: StatusChange.CLOSE,
    blocks.ADMIN_REOPEN: StatusChange.REOPEN,
}


def _organizers(settings: Settings) -> Organizers:
    return Organizers(settings.organizers)


def _row(campaign: Campaign, now: dt.datetime) -> blocks.AdminRow:
    return blocks.AdminRow(
        slug=campaign.slug,
        title=campaign.title,
        status=campaign.status.value,
        is_open=is_open(campaign, now),
        count=campaign.public_count,  # the hourly snapshot, as everyone sees it
        channel_id=campaign.channel_id,
        closes_at=campaign.closes_at,
        forgotten=campaign.forgotten_at is not None,
        more_channels=len(campaign.extra_channels),
        archived=campaign.archived_at is not None,
    )


def _refuse(action: str) -> None:
    logger.warning("refused an organizer action (%s): not an organizer", action)


def _refuse_click(client: WebClient, body: dict[str, Any], action: str) -> None:
    """Refuse a click on an organizer button: in a modal, as its form would have been."""
    _refuse(action)
    _notice(client, body, "Organizers only", blocks.not_organizer_text())


def _refuse_submission(ack: Ack, action: str) -> None:
    """Refuse an organizer form's submission: the modal turns into the refusal."""
    _refuse(action)
    ack(
        response_action="update",
        view=blocks.notice_modal("Organizers only", blocks.not_organizer_text()),
    )


def _rows(
    db: Database, settings: Settings, actor: str
) -> tuple[list[blocks.AdminRow], Organizers] | None:
    """Every campaign this person manages, or None if they organize nothing."""
    organizers = _organizers(settings)
    now = dt.datetime.now(dt.UTC)
    with db.read() as session:
        if not organizers.is_organizer(session, actor):
            return None
        return [_row(c, now) for c in organizers.manageable(session, actor)], organizers


def _offset_of(rows: list[blocks.AdminRow], slug: str | None, surface: str) -> int:
    """The start of the page that shows `slug` (0 if it is not there)."""
    for index, row in enumerate(rows):
        if row.slug == slug:
            return index - index % blocks.PAGE_SIZES[surface]
    return 0


def panel(
    db: Database, settings: Settings, actor: str, offset: int = 0, slug: str | None = None
) -> tuple[str, list[blocks.Block]] | None:
    """The organizer view for this person (the page at `offset`, or the one showing
    `slug`), or None if they organize nothing."""
    found = _rows(db, settings, actor)
    if found is None:
        return None
    rows, organizers = found
    current = [r for r in rows if not r.archived]
    if slug is not None:
        offset = _offset_of(current, slug, "admin")
    return blocks.admin_panel(
        current,
        settings.timezone,
        organizers.may_create(actor),
        offset,
        archived=len(rows) - len(current),
    )


def archived_panel(
    db: Database, settings: Settings, actor: str, offset: int = 0, slug: str | None = None
) -> tuple[str, list[blocks.Block]] | None:
    found = _rows(db, settings, actor)
    if found is None:
        return None
    archived = [r for r in found[0] if r.archived]
    if slug is not None:
        offset = _offset_of(archived, slug, "archived")
    return blocks.archived_panel(archived, settings.timezone, offset)


def admin_command_answer(
    db: Database, settings: Settings, actor: str
) -> tuple[str, list[blocks.Block]]:
    answer = panel(db, settings, actor)
    if answer is None:
        _refuse("admin view")
        text = blocks.not_organizer_text()
        return text, [kit._section(text)]
    return answer


def draft_preview(
    db: Database, settings: Settings, actor: str, slug: str
) -> tuple[str, list[blocks.Block]] | None:
    """`/demands SLUG` for a draft: the organizers who manage it see a preview; for
    anyone else it does not exist (None), as before."""
    if not actor:
        return None
    try:
        with db.read() as session:
            campaign = organizing.managed_campaign(session, _organizers(settings), actor, slug)
            if campaign.status is not CampaignStatus.DRAFT:
                return None
            view = campaign_view(campaign, dt.datetime.now(dt.UTC))
    except (CampaignNotFound, NotAnOrganizer):
        return None
    return blocks.draft_preview_message(view, settings.timezone)


def _open(client: WebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
    failure = open_form(client, body.get("trigger_id"), view)
    if failure is not None:
        say_form_not_opened(body, failure)


def _notice(client: WebClient, body: dict[str, Any], title: str, text: str) -> None:
    _open(client, body, blocks.notice_modal(title, text))


def _editor_values(campaign: Campaign, tz: Any) -> blocks.EditorValues:
    closes_on = last_day_of(campaign.closes_at, tz) if campaign.closes_at else None
    return blocks.EditorValues(
        slug=campaign.slug,
        title=campaign.title,
        statement=campaign.statement,
        demands=tuple(d.text for d in campaign.demands),
        milestones=tuple(m.threshold for m in campaign.milestones),
        channel_id=campaign.channel_id,
        closes_on=closes_on,
        organizers=tuple(o.user_id for o in campaign.organizers),
        forget_after_days=campaign.forget_after_days,
        channels=tuple(sorted(c.channel_id for c in campaign.extra_channels)),
        addressee=campaign.addressee or "",
    )


def _organizer_tz(context: BoltContext, client: WebClient, settings: Settings) -> ZoneInfo:
    """The organizer's own Slack time zone (users.info), in which the editor reads
    and shows the last day to sign; the campaigns' TIMEZONE if Slack does not say."""
    try:
        name = profile_of(context, client).get("tz")
        return ZoneInfo(name) if isinstance(name, str) and name else settings.timezone
    except Exception:  # busy, a stranger, an unknown zone: the campaigns' zone will do
        logger.info("no time zone for the organizer from Slack; using TIMEZONE")
        return settings.timezone


def _metadata_tz(meta: object, settings: Settings) -> ZoneInfo:
    """The time zone the editor was opened in (its private_metadata, which a forged
    submission may fill with anything)."""
    name = meta.get("tz") if isinstance(meta, dict) else None
    if isinstance(name, str) and 0 < len(name) <= 64:
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            pass
    return settings.timezone


def handle_new(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        if not _organizers(settings).may_create(context.user_id or ""):
            _refuse_click(client, body, "create")
            return
        tz = _organizer_tz(context, client, settings)
        metadata = json.dumps({"slug": "", "mode": "create", "tz": tz.key})
        editor = blocks.campaign_editor(blocks.EditorValues(), metadata, True, False, tz)
        _open(client, body, editor)

    in_time.run(context, work)


def handle_edit(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        slug = clicked_value(body)
        tz = _organizer_tz(context, client, settings)
        try:
            with db.read() as session:
                campaign = organizing.managed_campaign(
                    session, _organizers(settings), context.user_id or "", slug
                )
                values = _editor_values(campaign, tz)
                locked = campaign.signature_count > 0
        except NotAnOrganizer:
            _refuse_click(client, body, "edit")
            return
        except CampaignNotFound as missing:
            _notice(client, body, "Not found", blocks.not_found_text(slug, missing.known))
            return
        metadata = json.dumps({"slug": slug, "mode": "edit", "tz": tz.key})
        _open(client, body, blocks.campaign_editor(values, metadata, False, locked, tz))

    in_time.run(context, work)


def handle_duplicate(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    """A new campaign's form, filled in from an old one (text, demands, milestones,
    channels, organizers, addressee), with no short name and no closing date: it
    saves as a new draft."""
    ack()

    def work() -> None:
        slug = clicked_value(body)
        actor = context.user_id or ""
        if not _organizers(settings).may_create(actor):
            _refuse_click(client, body, "duplicate")
            return
        tz = _organizer_tz(context, client, settings)
        try:
            with db.read() as session:
                campaign = organizing.managed_campaign(session, _organizers(settings), actor, slug)
                values = replace(_editor_values(campaign, tz), slug="", closes_on=None)
        except NotAnOrganizer:
            _refuse_click(client, body, "duplicate")
            return
        except CampaignNotFound as missing:
            _notice(client, body, "Not found", blocks.not_found_text(slug, missing.known))
            return
        metadata = json.dumps({"slug": "", "mode": "create", "tz": tz.key})
        _open(client, body, blocks.campaign_editor(values, metadata, True, False, tz))

    in_time.run(context, work)


def _state(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    values = (view.get("state") or {}).get("values") or {}
    flat: dict[str, dict[str, Any]] = {}
    for block_id, actions in values.items():
        if isinstance(actions, dict):
            for element in actions.values():
                if isinstance(element, dict):
                    flat[block_id] = element
    return flat


def _text(state: dict[str, dict[str, Any]], block_id: str) -> str | None:
    value = state.get(block_id, {}).get("value")
    return value if isinstance(value, str) else None


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
    typed = (_text(state, block_id) for block_id in blocks.demand_block_ids())
    return [text.strip() for text in typed if text and text.strip()]


def spec_from_form(
    view: dict[str, Any],
    existing: CampaignSpec | None,
    settings: Settings,
    tz: ZoneInfo | None = None,
) -> CampaignSpec:
    """The campaign the editor form describes, validated by the same rules as a
    file; InvalidCampaign lists every problem of the form at once. `tz`: the
    organizer's time zone, in which the picked day is the last day to sign."""
    tz = tz or settings.timezone
    state = _state(view)
    problems: list[tuple[str | None, str]] = []
    data: dict[str, Any] = {
        "slug": existing.slug if existing else (_text(state, "slug") or "").strip().lower(),
        "title": _text(state, "title") or "",
        "addressee": (_text(state, "addressee") or "").strip() or None,
    }
    if "statement" in state or existing is None:
        data["statement"] = _text(state, "statement") or ""
        data["demands"] = _demands_from(state)
    else:  # locked: the form did not offer them
        data["statement"] = existing.statement
        data["demands"] = list(existing.demands)
    try:
        data["milestones"] = _int_list(_text(state, "milestones"))
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
    forget = _text(state, "forget_after_days")
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
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    actor = context.user_id or ""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):  # forged: not text, not JSON, too deep
        meta = {}
    creating = not (isinstance(meta, dict) and meta.get("mode") == "edit")
    slug = meta.get("slug") if isinstance(meta, dict) and isinstance(meta.get("slug"), str) else ""
    organizers = _organizers(settings)
    tz = _metadata_tz(meta, settings)

    def work() -> FormAnswer:
        try:
            existing = None
            if not creating:
                with db.read() as session:
                    existing = spec_of(
                        organizing.managed_campaign(session, organizers, actor, slug)
                    )
            spec = spec_from_form(view, existing, settings, tz)
            # Slack is asked whether the bot can post in each new channel: the
            # form is answered in time however long that takes (handlers/intime.py).
            if spec.channel_id and spec.channel_id != (existing.channel_id if existing else None):
                check_channel(client, spec.channel_id)
            known = {existing.channel_id, *existing.channels} if existing else set()
            for added in (c for c in spec.channels if c not in known):
                check_channel(client, added, field="channels")
            with db.write() as session:
                _, changes = organizing.save_campaign(
                    session, organizers, actor, spec, creating=creating
                )
        except NotAnOrganizer:
            _refuse("save")
            return FormAnswer(
                view=blocks.notice_modal("Organizers only", blocks.not_organizer_text())
            )
        except InvalidCampaign as problem:
            return FormAnswer(errors=_field_errors(problem, view), errors_title="Not saved")
        except SlackUnavailable as busy:
            return FormAnswer(
                errors={"channel": blocks.slack_busy_text(busy.retry_after)[:150]},
                errors_title="Not saved",
            )
        except CampaignNotFound:
            return FormAnswer(
                view=blocks.notice_modal("Not found", "This campaign no longer exists.")
            )
        return FormAnswer(view=blocks.saved_modal(spec.slug, changes, creating))

    checking = blocks.checking_modal("One moment: checking the channels with Slack...")
    answer_in_time(ack, body, client, context, in_time, work, checking=checking)


def handle_status(
    ack: Ack,
    body: dict,
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        actor = context.user_id or ""
        action_id = (body.get("actions") or [{}])[0].get("action_id", "")
        change = STATUS_ACTIONS.get(action_id)
        slug = clicked_value(body)
        if change is None:
            return
        try:
            with db.write() as session:
                organizing.change_status(session, _organizers(settings), actor, slug, change)
        except NotAnOrganizer:
            _refuse(change.value)
            respond(
                text=blocks.not_organizer_text(), response_type="ephemeral", replace_original=False
            )
            return
        except DomainError as problem:
            respond(
                text=f"Nothing changed: {problem}.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        refreshed = panel(db, settings, actor, slug=slug)
        if refreshed is not None:
            respond(text=refreshed[0], blocks=refreshed[1], replace_original=True)

    in_time.run(context, work)


def handle_archive(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    """Archive or unarchive a campaign, then show the list it left (on the same page)."""
    ack()

    def work() -> None:
        actor = context.user_id or ""
        action_id = (body.get("actions") or [{}])[0].get("action_id", "")
        archiving = action_id == blocks.ADMIN_ARCHIVE
        slug = clicked_value(body)
        try:
            with db.write() as session:
                organizing.set_archived(session, _organizers(settings), actor, slug, archiving)
        except NotAnOrganizer:
            _refuse("archive")
            respond(
                text=blocks.not_organizer_text(), response_type="ephemeral", replace_original=False
            )
            return
        except DomainError as problem:
            respond(
                text=f"Nothing changed: {problem}.",
                response_type="ephemeral",
                replace_original=False,
            )
            return
        # The list the campaign was on, at the page where it was.
        refreshed = (
            panel(db, settings, actor, slug=slug)
            if archiving
            else archived_panel(db, settings, actor, slug=slug)
        )
        if refreshed is not None:
            respond(text=refreshed[0], blocks=refreshed[1], replace_original=True)

    in_time.run(context, work)


def handle_history(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        slug = clicked_value(body)
        now = dt.datetime.now(dt.UTC)
        try:
            with db.read() as session:
                campaign = organizing.managed_campaign(
                    session, _organizers(settings), context.user_id or "", slug
                )
                row = _row(campaign, now)
                audit = [
                    blocks.HistoryLine(
                        e.at,
                        f"{_actor(e.actor)} {e.action}"
                        + (f" ({blocks.escape(e.detail)})" if e.detail else ""),
                    )
                    for e in organizing.audit_trail(session, slug)
                ]
                milestones = [
                    blocks.HistoryLine(at, text)
                    for at, text in organizing.milestone_history(session, campaign)
                ]
                news = [
                    blocks.HistoryLine(
                        p.created_at,
                        f"{p.kind.value}: {p.sent:,} of {p.recipients:,} sent"
                        + (f", {p.failed:,} unreachable" if p.failed else "")
                        + ("" if p.done else " (sending)"),
                    )
                    for p in updates.progress(session, campaign.id)
                ]
        except NotAnOrganizer:
            _refuse_click(client, body, "history")
            return
        except CampaignNotFound as missing:
            _notice(client, body, "Not found", blocks.not_found_text(slug, missing.known))
            return
        _open(client, body, blocks.history_modal(row, milestones, audit, settings.timezone, news))

    in_time.run(context, work)


def _actor(actor: str) -> str:
    return "the operator (command line)" if actor == organizing.CLI_ACTOR else f"<@{actor}>"


def handle_letter(
    ack: Ack,
    body: dict,
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    keyring: Keyring | None,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        actor = context.user_id or ""
        action_id = (body.get("actions") or [{}])[0].get("action_id", "")
        fmt = "html" if action_id == blocks.ADMIN_LETTER_HTML else "md"
        slug = clicked_value(body)
        today = dt.datetime.now(settings.timezone).date()
        try:
            with db.write() as session:
                letter = build_letter(
                    session, _organizers(settings), actor, slug, today, keyring, settings.timezone
                )
        except NotAnOrganizer:
            _refuse("letter")
            respond(
                text=blocks.not_organizer_text(), response_type="ephemeral", replace_original=False
            )
            return
        except CampaignNotFound as missing:
            respond(
                text=blocks.not_found_text(slug, missing.known),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        try:
            send_file_dm(
                client,
                actor,
                f"{slug}-letter.{fmt}",
                render(letter, fmt),
                f"Letter: {letter.title}",
            )
        except SlackUnavailable as busy:
            respond(
                text=blocks.slack_busy_text(busy.retry_after),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        respond(
            text=blocks.letter_sent_text(fmt), response_type="ephemeral", replace_original=False
        )

    in_time.run(context, work)


def handle_forget(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        slug = clicked_value(body)
        now = dt.datetime.now(dt.UTC)
        try:
            with db.read() as session:
                campaign = organizing.managed_campaign(
                    session, _organizers(settings), context.user_id or "", slug
                )
                row = _row(campaign, now)
        except NotAnOrganizer:
            _refuse_click(client, body, "forget")
            return
        except CampaignNotFound as missing:
            _notice(client, body, "Not found", blocks.not_found_text(slug, missing.known))
            return
        _open(client, body, blocks.forget_modal(row, json.dumps({"slug": slug})))

    in_time.run(context, work)


def handle_forget_confirm(
    ack: Ack,
    body: dict,
    view: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    keyring: Keyring | None,
    in_time: InTime,
) -> None:
    try:
        slug = json.loads(view.get("private_metadata") or "{}").get("slug", "")
    except (ValueError, AttributeError, TypeError, RecursionError):
        slug = ""
    typed = (_text(_state(view), blocks.FORGET_CONFIRM_BLOCK) or "").strip()
    if not slug or typed != slug:
        ack(
            response_action="errors",
            errors={blocks.FORGET_CONFIRM_BLOCK: f"Type {slug} exactly to confirm."},
        )
        return

    def work() -> FormAnswer:
        if keyring is None:
            return FormAnswer(
                view=blocks.notice_modal("Not forgotten", "SIGNER_KEY is not set on the bot.")
            )
        try:
            # Emptying SQLite's WAL may wait for readers: the answer comes after.
            unlinked = organizing.forget_campaign(
                db, keyring, _organizers(settings), context.user_id or "", slug
            )
        except NotAnOrganizer:
            _refuse("forget")
            return FormAnswer(
                view=blocks.notice_modal("Organizers only", blocks.not_organizer_text())
            )
        except DomainError as problem:
            return FormAnswer(view=blocks.notice_modal("Not forgotten", str(problem)))
        return FormAnswer(
            view=blocks.notice_modal(
                "Forgotten",
                f"{unlinked:,} signatures on `{slug}` can no longer be tied to anyone: "
                "their rows are deleted and the campaign's key destroyed.",
            )
        )

    answer_in_time(
        ack, body, client, context, in_time, work, checking=blocks.checking_modal("Forgetting...")
    )


def register(app: App) -> None:
    app.action(blocks.ADMIN_NEW)(handle_new)
    app.action(blocks.ADMIN_EDIT)(handle_edit)
    for action_id in STATUS_ACTIONS:
        app.action(action_id)(handle_status)
    app.action(blocks.ADMIN_HISTORY)(handle_history)
    app.action(blocks.ADMIN_DUPLICATE)(handle_duplicate)
    app.action(blocks.ADMIN_LETTER_MD)(handle_letter)
    app.action(blocks.ADMIN_LETTER_HTML)(handle_letter)
    app.action(blocks.ADMIN_FORGET)(handle_forget)
    app.action(blocks.ADMIN_ARCHIVE)(handle_archive)
    app.action(blocks.ADMIN_UNARCHIVE)(handle_archive)
    app.view(blocks.ADMIN_SAVE_VIEW)(handle_save)
    app.view(blocks.ADMIN_FORGET_VIEW)(handle_forget_confirm)
    register_updates(app)


# -- updates to signers --------------------------------------------------------------


def handle_update_open(
    ack: Ack,
    body: dict,
    client: WebClient,
    context: BoltContext,
    db: Database,
    settings: Settings,
    in_time: InTime,
) -> None:
    ack()

    def work() -> None:
        slug = clicked_value(body)
        try:
            with db.read() as session:
                campaign = organizing.managed_campaign(
                    session, _organizers(settings), context.user_id or "", slug
                )
                subscribers = updates.subscriber_count(session, campaign.id)
        except NotAnOrganizer:
            _refuse_click(client, body, "update")
            return
        except CampaignNotFound as missing:
            _notice(client, body, "Not found", blocks.not_found_text(slug, missing.known))
            return
        _open(client, body, blocks.update_form(slug, subscribers))

    in_time.run(context, work)


def handle_update_preview(
    ack: Ack, view: dict, context: BoltContext, db: Database, settings: Settings
) -> None:
    slug = view.get("private_metadata") if isinstance(view.get("private_metadata"), str) else ""
    state = _state(view)
    kind = (state.get(blocks.UPDATE_KIND_BLOCK, {}).get("selected_option") or {}).get("value")
    if kind not in blocks.UPDATE_KINDS:
        ack(response_action="errors", errors={blocks.UPDATE_KIND_BLOCK: "Choose what it is."})
        return
    chosen = state.get(blocks.UPDATE_SEND_BLOCK, {}).get("selected_options")
    send = isinstance(chosen, list) and bool(chosen)
    if kind == "news" and not send:
        send = True  # news is only ever sent; there is nothing to record
    try:
        text = updates.clean_text(_text(state, blocks.UPDATE_TEXT_BLOCK))
        with db.read() as session:
            campaign = organizing.managed_campaign(
                session, _organizers(settings), context.user_id or "", slug
            )
            title, subscribers = campaign.title, updates.subscriber_count(session, campaign.id)
    except updates.InvalidUpdate as problem:
        ack(response_action="errors", errors={blocks.UPDATE_TEXT_BLOCK: str(problem)})
        return
    except NotAnOrganizer:
        _refuse_submission(ack, "update")
        return
    except CampaignNotFound:
        ack(
            response_action="update",
            view=blocks.notice_modal("Not found", "This campaign no longer exists."),
        )
        return
    # The text as it is, after one line of JSON: as JSON itself, every quote and
    # backslash would count twice against private_metadata's 3000 characters.
    metadata = json.dumps([slug, kind, send]) + "\n" + text
    if len(metadata) > 3000:
        ack(
            response_action="errors",
            errors={blocks.UPDATE_TEXT_BLOCK: "Please shorten the update a little."},
        )
        return
    ack(
        response_action="update",
        view=blocks.update_preview(slug, title, kind, text, send, subscribers, metadata),
    )


def handle_update_send(
    ack: Ack,
    view: dict,
    context: BoltContext,
    db: Database,
    settings: Settings,
    send_updates: Callable[[], None],
) -> None:
    try:
        head, _, text = str(view.get("private_metadata") or "").partition("\n")
        slug, kind_value, send = json.loads(head)
        kind = UpdateKind(kind_value)
        if not isinstance(slug, str) or not isinstance(send, bool) or not text:
            raise ValueError("damaged")
    except (ValueError, KeyError, TypeError, RecursionError):
        ack(
            response_action="update",
            view=blocks.notice_modal("Not sent", "That form was damaged; please start again."),
        )
        return
    actor = context.user_id or ""
    recorded = {UpdateKind.DELIVERED: "the delivery", UpdateKind.ANSWER: "the answer"}.get(kind)
    today = dt.datetime.now(settings.timezone).date()
    try:
        with db.write() as session:
            if send:
                recipients = updates.create_update(
                    session, _organizers(settings), actor, slug, kind, text, today
                ).recipients
            else:
                updates.record_outcome(
                    session, _organizers(settings), actor, slug, kind, text, today
                )
                recipients = 0
    except NotAnOrganizer:
        _refuse_submission(ack, "update")
        return
    except DomainError as problem:
        ack(response_action="update", view=blocks.notice_modal("Not sent", str(problem)))
        return
    ack(
        response_action="update",
        view=blocks.notice_modal("Done", blocks.update_started_text(recipients, recorded)),
    )
    if recipients:
        send_updates()


def register_updates(app: App) -> None:
    app.action(blocks.ADMIN_UPDATE)(handle_update_open)
    app.view(blocks.ADMIN_UPDATE_VIEW)(handle_update_preview)
    app.view(blocks.ADMIN_UPDATE_SEND_VIEW)(handle_update_send)
