"""The signing and withdrawal forms: opened by a button (under /demands, in the DM
or on the Home tab), confirmed by submitting a modal.

Modals are used because Slack does not keep their contents as messages: the
choice a signer makes never lands in an exportable conversation.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.home import publish_home_quietly
from handlers.identity import (
    UnknownRequester,
    account_of,
    own_team_of,
    profile_of,
    requester_key,
    signer_of,
)
from handlers.intime import FormAnswer, FormOpener, InTime, answer_in_time
from handlers.pacing import Pacing, Turns
from handlers.payload import clicked_value
from handlers.slackapi import SlackUnavailable, Stranger, say_form_not_opened
from petition import eligibility
from petition.campaigns import CampaignView
from petition.errors import CampaignNotFound
from petition.signatures import (
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    CampaignClosed,
    Choice,
    InvalidName,
    SignOutcome,
    clean_name,
)
from petition.subscriptions import Address, NotSigned
from petition.worker_actions import Signed, WorkerActions

logger = logging.getLogger(__name__)


def _metadata(
    slug: str, origin: str, mode: str = "sign", form_pass: str | None = None, page: int = 0
) -> str:
    # Campaign, where the form was opened from (and which page of the Home tab),
    # and whether it signs or changes a signature; nothing about the person. A
    # signing form also carries the pass saying its signer was found eligible
    # (petition/eligibility.issue_pass), which names nobody either.
    data: dict[str, Any] = {"slug": slug, "from": origin, "mode": mode}
    if form_pass is not None:
        data["pass"] = form_pass
    if page:
        data["page"] = page
    return json.dumps(data)


def _home_page(body: dict[str, Any]) -> int:
    """The page of the Home tab a click came from (0 elsewhere), to show it again."""
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    shown = blocks.read_page_value(str(view.get("private_metadata") or ""))
    return shown[1] if shown and shown[0] == "home" else 0


def _page_of(data: dict[str, Any]) -> int:
    page = data.get("page")
    return page if isinstance(page, int) and 0 <= page < 1_000_000 else 0


def _pass_subject(body: dict[str, Any], context: BoltContext) -> tuple[str, str, str]:
    # Who a pass is for: organization (or workspace), workspace and user, read the
    # same way at the click that issues it and at the submission that checks it
    # (handlers/identity.own_team_of: Bolt's team id differs between the two in an
    # org-wide install).
    team = own_team_of(body, context) or ""
    return (context.enterprise_id or team, team, context.user_id or "")


def _passed(
    data: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    worker: WorkerActions,
    slug: str,
) -> bool:
    """Whether this form's metadata carries a fresh pass of ours for this person
    and campaign."""
    return worker.pass_holds(data.get("pass"), *_pass_subject(body, context), slug)


def _metadata_of(view: dict[str, Any]) -> dict[str, Any]:
    """What the app put in a form's private_metadata; {} when forged or missing."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):  # forged: not text, not JSON, too deep
        return {}
    return data if isinstance(data, dict) else {}


def _read_metadata(data: dict[str, Any]) -> tuple[str, str, str]:
    """(campaign slug, where the form was opened, "sign" or "change")."""
    values = [data.get(key) for key in ("slug", "from", "mode")]
    slug, origin, mode = (v if isinstance(v, str) else "" for v in values)
    return slug, origin, mode


def _origin(body: dict[str, Any]) -> str:
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    if container.get("type") == "view" and view.get("type") == "home":
        return "home"
    return "message"


def _clear_dm_prompt(body: dict[str, Any], respond: Respond) -> None:
    """Remove the DM prompt whose button was clicked, so the DM keeps no trace of it."""
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    if str(channel.get("id", "")).startswith("D") and body.get("response_url"):
        try:
            respond(delete_original=True)
        except Exception:  # the prompt is ephemeral and fades anyway
            logger.info("could not remove a DM prompt")


class FormNotOpened(Exception):
    """Slack did not confirm that a modal opened (rate limit, outage, timeout)."""

    def __init__(self, failure: SlackUnavailable) -> None:
        super().__init__("views.open")
        self.failure = failure


def _show(opener: FormOpener, view: dict[str, Any]) -> None:
    failure = opener.show(view)
    if failure is not None:
        raise FormNotOpened(failure)


def _opening(
    body: dict[str, Any],
    respond: Respond,
    context: BoltContext,
    turn: _Turn | None,
    open_form: Callable[[], None],
) -> None:
    """Open a form for a click. If Slack did not, say so and leave the DM prompt to
    be clicked again; if it did, clear the prompt (after opening it: the
    trigger_id expires in three seconds)."""
    try:
        open_form()
    except FormNotOpened as not_opened:
        failure = not_opened.failure
        if turn is not None and failure.retry_after:
            # Refused at their turn: they go first once Slack allows.
            failure = SlackUnavailable(
                failure.method, turn.turns.refused(turn.who, failure.retry_after)
            )
        _tell_not_opened(body, context, failure)
    else:
        _clear_dm_prompt(body, respond)


@dataclass(frozen=True)
class _Turn:
    turns: Turns
    who: str


def _form_turn(context: BoltContext) -> _Turn | None:
    """The person's place in line for views.open (handlers/pacing.Turns)."""
    pacing, worker = context.get("pacing"), context.get("worker")
    if not isinstance(pacing, Pacing) or not isinstance(worker, WorkerActions):
        return None
    try:
        return _Turn(pacing.turns("views.open"), requester_key(context, worker))
    except UnknownRequester:
        return None


def _tell_not_opened(body: dict[str, Any], context: BoltContext, failure: SlackUnavailable) -> None:
    """Say that the form did not open, and when to click again: under the message
    clicked, or at the top of the Home tab."""
    if body.get("response_url") or _origin(body) != "home":
        say_form_not_opened(body, failure)
        return
    publish_home_quietly(
        context.client,
        context["worker"],
        context["timezone"],
        context,
        _home_page(body),
        notice=blocks.form_not_opened_text(failure.retry_after),
    )


def _click(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    in_time: InTime,
    form: Callable[[FormOpener], None],
) -> None:
    """Acknowledge a click in time and open the form it asks for: at once if it is
    ready by the deadline, else a "one moment" modal that the form replaces. Once
    Slack holds views.open back, people take turns: someone whose turn has not come
    is told when it does, without asking Slack."""
    ack()
    turn = _form_turn(context)
    wait = turn.turns.ask(turn.who) if turn is not None else 0
    if wait:
        waiting = SlackUnavailable("views.open", wait)
        in_time.start(lambda: _tell_not_opened(body, context, waiting))
        return
    opener = FormOpener(client, body.get("trigger_id"))

    def open_it() -> None:
        try:
            form(opener)
        except SlackUnavailable as busy:
            _show(
                opener, blocks.notice_modal("Try again", blocks.slack_busy_text(busy.retry_after))
            )
        except Stranger:
            logger.info("refused a form to someone Slack does not show the app")
            _show(opener, blocks.notice_modal("Cannot sign", blocks.stranger_text()))

    in_time.run(
        context,
        lambda: _opening(body, respond, context, turn, open_it),
        late=lambda: in_time.start(opener.hold),
    )


def _clicked_campaign(
    body: dict[str, Any], opener: FormOpener, worker: WorkerActions
) -> CampaignView | None:
    """The public campaign a button names, or None once the clicker was told it
    does not exist."""
    slug = clicked_value(body)
    found = _find(worker, slug)
    if isinstance(found, CampaignNotFound):
        logger.info("a button named an unknown campaign")
        text = blocks.not_found_text(slug, found.known)
        _show(opener, blocks.notice_modal("Not found", text))
        return None
    return found


def _find(worker: WorkerActions, slug: str) -> CampaignView | CampaignNotFound:
    try:
        return worker.campaign(slug)
    except CampaignNotFound as missing:
        return missing


def handle_sign_start(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    _click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        lambda opener: _sign_start(body, opener, client, context, worker, timezone),
    )


def _sign_start(
    body: dict[str, Any],
    opener: FormOpener,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
) -> None:
    found = _clicked_campaign(body, opener, worker)
    if found is None:
        return
    if not found.is_open:
        _show(opener, blocks.notice_modal("Closed", blocks.closed_text(found, timezone)))
        return
    signer = signer_of(context, worker)
    if worker.standing(found.slug, signer).signed:
        _show(opener, blocks.signed_modal(found.title, named=False, already=True))
        return
    refusal = eligibility.refusal(
        account_of(context, client), context.team_id, context.enterprise_id
    )
    if refusal:
        logger.info("an ineligible account was refused the signing form")
        _show(opener, blocks.notice_modal("Cannot sign", refusal))
        return
    form_pass = worker.issue_pass(*_pass_subject(body, context), found.slug)
    metadata = _metadata(found.slug, _origin(body), form_pass=form_pass, page=_home_page(body))
    _show(opener, blocks.sign_modal(found, metadata, _name_if_known(context, client)))


def _name_if_known(context: BoltContext, client: WebClient) -> str | None:
    """The name to prefill, from users.info (the member directory keeps no names).
    Only a convenience: when Slack is holding users.info back, the form opens
    without it rather than not at all."""
    pacing = context.get("pacing")
    if isinstance(pacing, Pacing) and pacing.turns("users.info").waiting:
        return None  # people are waiting their turn for users.info: not for a name
    try:
        return eligibility.suggested_name(profile_of(context, client))
    except (SlackUnavailable, Stranger):
        return None


def handle_sign_change(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    in_time: InTime,
) -> None:
    """ "Change how I sign": the same form, showing the current choice."""
    _click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        lambda opener: _sign_change(body, opener, client, context, worker),
    )


def _sign_change(
    body: dict[str, Any],
    opener: FormOpener,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
) -> None:
    found = _clicked_campaign(body, opener, worker)
    if found is None:
        return
    signature = worker.signature(found.slug, signer_of(context, worker))
    status = signature.status
    if not status.signed:
        _show(opener, blocks.withdrawn_modal(found.title, had_signed=False))
        return
    how = blocks.ANONYMOUS
    if status.threshold is not None:
        how = blocks.CONDITIONAL
    elif status.named:
        how = blocks.NAMED
    state = blocks.SignFormState(how=how, threshold=status.threshold, news=status.subscribed)
    suggestion = signature.name
    if suggestion is None:
        suggestion = _name_if_known(context, client)
    metadata = _metadata(found.slug, _origin(body), "change", page=_home_page(body))
    _show(opener, blocks.sign_modal(found, metadata, suggestion, state, changing=True))


@dataclass(frozen=True)
class SignForm:
    how: str | None
    name: str | None
    threshold: str | None
    news: bool


def _value(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    element = (values.get(block) or {}).get(action)
    return element if isinstance(element, dict) else {}


def _read_form(view: dict[str, Any]) -> SignForm:
    values = (view.get("state") or {}).get("values") or {}
    if not isinstance(values, dict):
        values = {}
    how = _value(values, blocks.HOW_BLOCK, blocks.HOW_ACTION).get("selected_option")
    name = _value(values, blocks.NAME_BLOCK, blocks.NAME_ACTION).get("value")
    picked = _value(values, blocks.THRESHOLD_BLOCK, blocks.THRESHOLD_BLOCK).get("selected_option")
    typed = _value(values, blocks.THRESHOLD_OTHER_BLOCK, blocks.THRESHOLD_OTHER_BLOCK).get("value")
    news = _value(values, blocks.UPDATES_BLOCK, blocks.UPDATES_BLOCK).get("selected_options")
    threshold = typed if isinstance(typed, str) and typed.strip() else None
    if threshold is None and isinstance(picked, dict) and isinstance(picked.get("value"), str):
        threshold = picked["value"]
    return SignForm(
        how=how.get("value")
        if isinstance(how, dict) and isinstance(how.get("value"), str)
        else None,
        name=name if isinstance(name, str) else None,
        threshold=threshold,
        news=isinstance(news, list)
        and any(isinstance(o, dict) and o.get("value") == blocks.UPDATES_VALUE for o in news),
    )


class FormProblem(Exception):
    def __init__(self, block: str, message: str) -> None:
        self.block = block
        super().__init__(message)


def _choice_from(form: SignForm) -> Choice:
    if form.how not in {blocks.ANONYMOUS, blocks.NAMED, blocks.CONDITIONAL}:
        raise FormProblem(blocks.HOW_BLOCK, "Choose how you want to sign.")
    if form.how == blocks.ANONYMOUS:
        return Choice()
    try:
        name = clean_name(form.name)
    except InvalidName as problem:
        raise FormProblem(blocks.NAME_BLOCK, str(problem)) from None
    if form.how == blocks.NAMED:
        return Choice(name=name)
    raw = (form.threshold or "").strip()
    # isdecimal(), not isdigit(): "²" is a digit that int() refuses.
    if not raw.isdecimal() or not MIN_THRESHOLD <= int(raw) <= MAX_THRESHOLD:
        raise FormProblem(
            blocks.THRESHOLD_BLOCK,
            f"Choose how many colleagues must be named first ({MIN_THRESHOLD} to "
            f"{MAX_THRESHOLD:,}).",
        )
    return Choice(name=name, threshold=int(raw))


@functools.lru_cache(maxsize=256)
def _confirmation(title: str, **choice: Any) -> str:
    """The acknowledgement that turns the form into its confirmation
    (blocks.signed_modal), as JSON. It says nothing that tells one signer from
    another who chose alike, so it is made once for all of them: building it and
    Bolt serializing it took ~16 us of each signature's ~0.8 ms."""
    view = blocks.signed_modal(title, **choice)
    return json.dumps({"response_action": "update", "view": view})


def _busy(error: SlackUnavailable) -> FormAnswer:
    return FormAnswer(errors={blocks.HOW_BLOCK: blocks.slack_busy_text(error.retry_after)})


def _stranger() -> FormAnswer:
    logger.info("a form from someone Slack does not show the app was refused")
    return FormAnswer(view=blocks.notice_modal("Cannot sign", blocks.stranger_text()))


def handle_sign_submit(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    metadata = _metadata_of(view)
    slug, origin, mode = _read_metadata(metadata)
    form = _read_form(view)
    try:
        choice = _choice_from(form)
    except FormProblem as problem:
        ack(response_action="errors", errors={problem.block: str(problem)})
        return

    def work() -> FormAnswer:
        try:
            return _record(
                metadata, body, slug, mode, form, choice, client, context, worker, timezone
            )
        except SlackUnavailable as busy:
            return _busy(busy)
        except Stranger:
            return _stranger()

    after = (
        (lambda: publish_home_quietly(client, worker, timezone, context, _page_of(metadata)))
        if origin == "home"
        else None
    )
    answer_in_time(ack, body, client, context, in_time, work, after)


def _record(
    metadata: dict[str, Any],
    body: dict[str, Any],
    slug: str,
    mode: str,
    form: SignForm,
    choice: Choice,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
) -> FormAnswer:
    # Eligibility was asked of Slack when this form opened, minutes ago at most, if
    # it carries our pass; otherwise (an older form, or none of ours) ask now.
    if not _passed(metadata, body, context, worker, slug):
        user = account_of(context, client)
        refusal = eligibility.refusal(user, context.team_id, context.enterprise_id)
        if refusal:
            logger.info("an ineligible account's signature was refused")
            return FormAnswer(view=blocks.notice_modal("Cannot sign", refusal))
    signer = signer_of(context, worker)
    address = Address(
        team_id=own_team_of(body, context) or context.enterprise_id or "",
        user_id=context.user_id or "",
    )
    news_to = address if form.news else None
    changing = mode == "change"
    try:
        # Each in one transaction; a new signature on the busiest write path there
        # is, committed together with others waiting (WorkerActions.sign).
        signed: Signed = (
            worker.change(slug, signer, choice, news_to)
            if changing
            else worker.sign(slug, signer, choice, news_to)
        )
    except CampaignNotFound:
        logger.info("a signing form named an unknown campaign")
        return FormAnswer(
            view=blocks.notice_modal(
                "Not found", "This campaign no longer exists. Nothing was recorded."
            )
        )
    except NotSigned:
        return FormAnswer(
            view=blocks.notice_modal(
                "Not signed", "You have not signed this campaign, so there is nothing to change."
            )
        )
    except CampaignClosed:
        found = _find(worker, slug)
        text = (
            blocks.closed_text(found, timezone)
            if isinstance(found, CampaignView)
            else "This campaign is closed."
        )
        return FormAnswer(view=blocks.notice_modal("Closed", text + " Nothing was recorded."))
    # No log line for a signature: its time is exactly what must not be kept.
    already = signed.outcome is SignOutcome.ALREADY_SIGNED
    status = signed.status
    assert status is not None  # asked for: the confirmation shows it
    return FormAnswer(
        json=_confirmation(
            signed.title,
            named=choice.name is not None and not choice.conditional,
            already=already,
            threshold=choice.threshold,
            named_today=status.named_today,
            news=status.subscribed,
            changed=changing,
        )
    )


def handle_withdraw_start(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    in_time: InTime,
) -> None:
    _click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        lambda opener: _withdraw_start(body, opener, context, worker),
    )


def _withdraw_start(
    body: dict[str, Any],
    opener: FormOpener,
    context: BoltContext,
    worker: WorkerActions,
) -> None:
    found = _clicked_campaign(body, opener, worker)
    if found is None:
        return
    if not worker.standing(found.slug, signer_of(context, worker)).signed:
        _show(opener, blocks.withdrawn_modal(found.title, had_signed=False))
        return
    metadata = _metadata(found.slug, _origin(body), page=_home_page(body))
    _show(opener, blocks.withdraw_modal(found, metadata))


def handle_withdraw_submit(
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
    in_time: InTime,
) -> None:
    metadata = _metadata_of(view)
    slug, origin, _ = _read_metadata(metadata)

    def work() -> FormAnswer:
        try:
            signer = signer_of(context, worker)
        except SlackUnavailable as busy:
            return FormAnswer(
                view=blocks.notice_modal("Try again", blocks.slack_busy_text(busy.retry_after))
            )
        except Stranger:
            return _stranger()
        try:
            withdrawn = worker.withdraw(slug, signer)
        except CampaignNotFound:
            return FormAnswer(
                view=blocks.notice_modal("Not found", "This campaign no longer exists.")
            )
        return FormAnswer(view=blocks.withdrawn_modal(withdrawn.title, withdrawn.had_signed))

    after = (
        (lambda: publish_home_quietly(client, worker, timezone, context, _page_of(metadata)))
        if origin == "home"
        else None
    )
    answer_in_time(ack, body, client, context, in_time, work, after)


def register(app: App) -> None:
    app.view(blocks.SIGN_VIEW)(handle_sign_submit)  # the busiest: first (handlers/__init__.py)
    app.action(blocks.SIGN_ACTION)(handle_sign_start)
    app.action(blocks.SIGN_CHANGE_ACTION)(handle_sign_change)
    app.action(blocks.WITHDRAW_ACTION)(handle_withdraw_start)
    app.view(blocks.WITHDRAW_VIEW)(handle_withdraw_submit)
