"""The organizer view: `/demands admin` and the buttons on it that act on a campaign
(open, close, reopen, archive, history, letter, forget). Its forms are elsewhere:
the campaign editor in handlers/campaign_form.py, news in handlers/news.py.

Every action checks again that the person is an organizer of that campaign: a
button in an old message or a forged payload proves nothing (petition's
OrganizerActions does, on each call). Refusals are answered and logged, with the
action's name only, by handlers/errors.Refusals.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.errors import Answer, Refusals, open_modal
from handlers.intime import FormAnswer, InTime, answer_in_time, field_errors
from handlers.payload import clicked_value, form_state, typed_text
from handlers.slackapi import SlackUnavailable, send_file_dm
from petition.errors import DomainError, NoSignerKey
from petition.letter import render
from petition.organizer_actions import OrganizerActions
from petition.organizing import CLI_ACTOR, StatusChange

logger = logging.getLogger(__name__)
refusals = Refusals(logger)

STATUS_ACTIONS = {
    blocks.ADMIN_OPEN: StatusChange.OPEN,
    blocks.ADMIN_CLOSE: StatusChange.CLOSE,
    blocks.ADMIN_REOPEN: StatusChange.REOPEN,
}


def _offset_of(rows: list[blocks.AdminRow], slug: str | None, surface: str) -> int:
    """The start of the page that shows `slug` (0 if it is not there)."""
    for index, row in enumerate(rows):
        if row.slug == slug:
            return index - index % blocks.PAGE_SIZES[surface]
    return 0


def panel(
    organizer: OrganizerActions, actor: str, offset: int = 0, slug: str | None = None
) -> Answer:
    """The organizer view for this person (the page at `offset`, or the one showing
    `slug`); NotAnOrganizer if they organize nothing."""
    manageable = organizer.manageable(actor)
    rows = list(manageable.rows)
    current = [r for r in rows if not r.archived]
    if slug is not None:
        offset = _offset_of(current, slug, "admin")
    return blocks.admin_panel(
        current,
        organizer.timezone,
        manageable.may_create,
        offset,
        archived=len(rows) - len(current),
    )


def archived_panel(
    organizer: OrganizerActions, actor: str, offset: int = 0, slug: str | None = None
) -> Answer:
    archived = [r for r in organizer.manageable(actor).rows if r.archived]
    if slug is not None:
        offset = _offset_of(archived, slug, "archived")
    return blocks.archived_panel(archived, organizer.timezone, offset)


def admin_command_answer(organizer: OrganizerActions, actor: str) -> Answer:
    return refusals.command("admin view", lambda: panel(organizer, actor))


def draft_preview(organizer: OrganizerActions, actor: str, slug: str) -> Answer | None:
    """`/demands SLUG` for a draft: the organizers who manage it see a preview; for
    anyone else it does not exist (None), as before."""
    view = organizer.draft_view(actor, slug)
    if view is None:
        return None
    return blocks.draft_preview_message(view, organizer.timezone)


def _action_id(body: dict[str, Any]) -> str:
    return str((body.get("actions") or [{}])[0].get("action_id", ""))


def _show_again(respond: Respond, page: Callable[[], tuple[str, list[blocks.Block]]]) -> None:
    """Draw the list again after a change that is saved. If it cannot be (the
    person stopped being an organizer in between), the message stays as it was:
    the change is not reported as refused."""
    try:
        text, content = page()
    except DomainError:
        return
    respond(text=text, blocks=content, replace_original=True)


def handle_status(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()
    change = STATUS_ACTIONS.get(_action_id(body))
    if change is None:
        return
    actor = context.user_id or ""
    slug = clicked_value(body)

    def work() -> None:
        organizer.change_status(actor, slug, change)
        _show_again(respond, lambda: panel(organizer, actor, slug=slug))

    in_time.run(context, refusals.ephemeral(respond, change.value, slug, work, changing=True))


def handle_archive(
    ack: Ack,
    body: dict,
    respond: Respond,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    """Archive or unarchive a campaign, then show the list it left (on the same page)."""
    ack()
    actor = context.user_id or ""
    archiving = _action_id(body) == blocks.ADMIN_ARCHIVE
    slug = clicked_value(body)

    def work() -> None:
        organizer.set_archived(actor, slug, archiving)
        # The list the campaign was on, at the page where it was.
        show = panel if archiving else archived_panel
        _show_again(respond, lambda: show(organizer, actor, slug=slug))

    in_time.run(context, refusals.ephemeral(respond, "archive", slug, work, changing=True))


def _actor(actor: str) -> str:
    return "the operator (command line)" if actor == CLI_ACTOR else f"<@{actor}>"


def handle_history(
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
        history = organizer.history(context.user_id or "", slug)
        audit = [
            blocks.HistoryLine(
                e.at,
                f"{_actor(e.actor)} {e.action}"
                + (f" ({blocks.escape(e.detail)})" if e.detail else ""),
            )
            for e in history.audit
        ]
        milestones = [blocks.HistoryLine(at, text) for at, text in history.milestones]
        sent = [
            blocks.HistoryLine(
                p.created_at,
                f"{p.kind.value}: {p.sent:,} of {p.recipients:,} sent"
                + (f", {p.failed:,} unreachable" if p.failed else "")
                + ("" if p.done else " (sending)"),
            )
            for p in history.news
        ]
        row = history.row
        modal = blocks.history_modal(row, milestones, audit, organizer.timezone, sent)
        open_modal(client, body, modal)

    in_time.run(context, refusals.notice(client, body, "history", slug, work))


def handle_letter(
    ack: Ack,
    body: dict,
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    ack()
    actor = context.user_id or ""
    fmt = "html" if _action_id(body) == blocks.ADMIN_LETTER_HTML else "md"
    slug = clicked_value(body)

    def work() -> None:
        letter = organizer.letter(actor, slug)
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

    in_time.run(context, refusals.ephemeral(respond, "letter", slug, work))


def handle_forget(
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
        row = organizer.row(context.user_id or "", slug)
        open_modal(client, body, blocks.forget_modal(row, json.dumps({"slug": slug})))

    in_time.run(context, refusals.notice(client, body, "forget", slug, work))


def _no_signer_key(problem: DomainError) -> FormAnswer | None:
    if isinstance(problem, NoSignerKey):
        return FormAnswer(
            view=blocks.notice_modal("Not forgotten", "SIGNER_KEY is not set on the bot.")
        )
    return None


def handle_forget_confirm(
    ack: Ack,
    body: dict,
    view: dict,
    client: WebClient,
    context: BoltContext,
    organizer: OrganizerActions,
    in_time: InTime,
) -> None:
    try:
        slug = json.loads(view.get("private_metadata") or "{}").get("slug", "")
    except (ValueError, AttributeError, TypeError, RecursionError):
        slug = ""
    typed = (typed_text(form_state(view), blocks.FORGET_CONFIRM_BLOCK) or "").strip()
    if not slug or typed != slug:
        field_errors(
            view, {blocks.FORGET_CONFIRM_BLOCK: f"Type {slug} exactly to confirm."}, "Not forgotten"
        ).acknowledge(ack)
        return

    def work() -> FormAnswer:
        # Emptying SQLite's WAL may wait for readers: the answer comes after.
        unlinked = organizer.forget(context.user_id or "", slug)
        return FormAnswer(
            view=blocks.notice_modal(
                "Forgotten",
                f"{unlinked:,} signatures on `{slug}` can no longer be tied to anyone: "
                "their rows are deleted and the campaign's key destroyed.",
            )
        )

    answered = refusals.form("forget", work, failed="Not forgotten", invalid=_no_signer_key)
    checking = blocks.checking_modal("Forgetting...")
    answer_in_time(ack, body, client, context, in_time, answered, checking=checking)


def register(app: App) -> None:
    for action_id in STATUS_ACTIONS:
        app.action(action_id)(handle_status)
    app.action(blocks.ADMIN_HISTORY)(handle_history)
    app.action(blocks.ADMIN_LETTER_MD)(handle_letter)
    app.action(blocks.ADMIN_LETTER_HTML)(handle_letter)
    app.action(blocks.ADMIN_FORGET)(handle_forget)
    app.action(blocks.ADMIN_ARCHIVE)(handle_archive)
    app.action(blocks.ADMIN_UNARCHIVE)(handle_archive)
    app.view(blocks.ADMIN_FORGET_VIEW)(handle_forget_confirm)
