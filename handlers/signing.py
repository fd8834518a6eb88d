"""The signing and withdrawal forms: opened by a button (under /demands, in the DM
or on the Home tab), confirmed by submitting a modal. Opening a form on a click is
handlers/opening.py; what a form carries and how its fields read,
handlers/signform.py.

Modals are used because Slack does not keep their contents as messages: the
choice a signer makes never lands in an exportable conversation.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

import blocks
from handlers.errors import Asked, Refusals
from handlers.home import publish_home_quietly
from handlers.identity import (
    account_of,
    known_signer,
    own_team_of,
    profile_of,
    signer_of,
)
from handlers.intime import (
    FormAnswer,
    FormOpener,
    InTime,
    answer_in_time,
    answer_queued,
    field_errors,
)
from handlers.opening import open_on_click, show
from handlers.pacing import Pacing
from handlers.payload import clicked_value
from handlers.signform import (
    FormProblem,
    SignForm,
    choice_from,
    form_metadata,
    home_page,
    metadata_of,
    origin_of,
    page_of,
    pass_subject,
    read_form,
    read_metadata,
)
from handlers.slackapi import SlackUnavailable, Stranger
from petition import eligibility
from petition.campaigns import CampaignView
from petition.errors import CampaignNotFound
from petition.signatures import Choice, SignOutcome
from petition.subscriptions import Address
from petition.worker_actions import Signed, WorkerActions

logger = logging.getLogger(__name__)
refusals = Refusals(logger)


def _passed(
    data: dict[str, Any],
    body: dict[str, Any],
    context: BoltContext,
    worker: WorkerActions,
    slug: str,
) -> bool:
    """Whether this form's metadata carries a fresh pass of ours for this person
    and campaign."""
    return worker.pass_holds(data.get("pass"), *pass_subject(body, context), slug)


def _found(worker: WorkerActions, slug: str) -> CampaignView | None:
    """The campaign a refusal of a signing form speaks of, if it still exists: read
    only once refused (handlers/errors.Asked.find)."""
    try:
        return worker.campaign(slug)
    except CampaignNotFound:
        return None


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
    open_on_click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        refusals.opening(
            Asked(clicked_value(body)),
            lambda opener: _sign_start(body, opener, client, context, worker, timezone),
        ),
    )


def _sign_start(
    body: dict[str, Any],
    opener: FormOpener,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
    timezone: ZoneInfo,
) -> None:
    found = worker.campaign(clicked_value(body))
    if not found.is_open:
        show(opener, blocks.notice_modal("Closed", blocks.closed_text(found, timezone)))
        return
    signer = signer_of(context, worker)
    if worker.standing(found.slug, signer).signed:
        show(opener, blocks.signed_modal(found.title, named=False, already=True))
        return
    refusal = eligibility.refusal(
        account_of(context, client), context.team_id, context.enterprise_id
    )
    if refusal:
        logger.info("an ineligible account was refused the signing form")
        show(opener, blocks.notice_modal("Cannot sign", refusal))
        return
    form_pass = worker.issue_pass(*pass_subject(body, context), found.slug)
    metadata = form_metadata(found.slug, origin_of(body), form_pass=form_pass, page=home_page(body))
    show(opener, blocks.sign_modal(found, metadata, _name_if_known(context, client)))


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
    open_on_click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        refusals.opening(
            Asked(clicked_value(body)),
            lambda opener: _sign_change(body, opener, client, context, worker),
        ),
    )


def _sign_change(
    body: dict[str, Any],
    opener: FormOpener,
    client: WebClient,
    context: BoltContext,
    worker: WorkerActions,
) -> None:
    found = worker.campaign(clicked_value(body))
    signature = worker.signature(found.slug, signer_of(context, worker))
    status = signature.status
    if not status.signed:
        show(opener, blocks.withdrawn_modal(found.title, had_signed=False))
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
    metadata = form_metadata(found.slug, origin_of(body), "change", page=home_page(body))
    show(opener, blocks.sign_modal(found, metadata, suggestion, state, changing=True))


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
    metadata = metadata_of(view)
    slug, origin, mode = read_metadata(metadata)
    form = read_form(view)
    try:
        choice = refusals.fields(lambda: choice_from(form))
    except FormProblem as problem:
        field_errors(view, {problem.block: str(problem)}, "Not recorded").acknowledge(ack)
        return

    # A refusal names the campaign, read again only then: the form knows its slug.
    asked = Asked(slug, find=lambda: _found(worker, slug), timezone=timezone)

    def work() -> FormAnswer:
        try:
            return refusals.worker_form(
                asked,
                lambda: _record(
                    metadata, body, slug, mode, form, choice, client, context, worker, passed
                ),
                recording=True,
            )
        except SlackUnavailable as busy:
            return _busy(busy)
        except Stranger:
            return _stranger()

    after = (
        (lambda: publish_home_quietly(client, worker, timezone, context, page_of(metadata)))
        if origin == "home"
        else None
    )
    # Whether the form's pass holds, asked once: here for the queued path, else by
    # _record (a form without a known signer, or a change, may never need it).
    passed: bool | None = None
    signer = known_signer(context, worker) if mode != "change" else None
    if signer is not None:
        passed = _passed(metadata, body, context, worker, slug)
    if signer is not None and passed:
        # Nothing to ask of Slack (the pass says they may sign, and who they are
        # is known here): the signature is queued for the writer thread and waited
        # for here, without the pool's hand-over (InTime.run_queued).
        news_to = _news_address(body, context) if form.news else None

        def queue(finished: Callable[[Signed | None, BaseException | None], None]) -> bool:
            return worker.sign_soon(slug, signer, choice, news_to, finished)

        def answer(signed: Signed | None, error: BaseException | None) -> FormAnswer:
            def outcome() -> FormAnswer:
                if error is not None:
                    raise error
                assert signed is not None  # the writer hands on one or the other
                return _confirmed(signed, choice, changing=False)

            return refusals.worker_form(asked, outcome, recording=True)

        if answer_queued(ack, body, client, context, in_time, queue, answer, after):
            return
    answer_in_time(ack, body, client, context, in_time, work, after)


def _news_address(body: dict[str, Any], context: BoltContext) -> Address:
    return Address(
        team_id=own_team_of(body, context) or context.enterprise_id or "",
        user_id=context.user_id or "",
    )


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
    passed: bool | None = None,
) -> FormAnswer:
    # Eligibility was asked of Slack when this form opened, minutes ago at most, if
    # it carries our pass; otherwise (an older form, or none of ours) ask now.
    if passed is None:
        passed = _passed(metadata, body, context, worker, slug)
    if not passed:
        user = account_of(context, client)
        refusal = eligibility.refusal(user, context.team_id, context.enterprise_id)
        if refusal:
            logger.info("an ineligible account's signature was refused")
            return FormAnswer(view=blocks.notice_modal("Cannot sign", refusal))
    signer = signer_of(context, worker)
    news_to = _news_address(body, context) if form.news else None
    changing = mode == "change"
    # Each in one transaction; a new signature on the busiest write path there is,
    # committed together with others waiting (WorkerActions.sign).
    signed: Signed = (
        worker.change(slug, signer, choice, news_to)
        if changing
        else worker.sign(slug, signer, choice, news_to)
    )
    return _confirmed(signed, choice, changing=changing)


def _confirmed(signed: Signed, choice: Choice, *, changing: bool) -> FormAnswer:
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
    open_on_click(
        ack,
        body,
        respond,
        client,
        context,
        in_time,
        refusals.opening(
            Asked(clicked_value(body)),
            lambda opener: _withdraw_start(body, opener, context, worker),
        ),
    )


def _withdraw_start(
    body: dict[str, Any],
    opener: FormOpener,
    context: BoltContext,
    worker: WorkerActions,
) -> None:
    found = worker.campaign(clicked_value(body))
    if not worker.standing(found.slug, signer_of(context, worker)).signed:
        show(opener, blocks.withdrawn_modal(found.title, had_signed=False))
        return
    metadata = form_metadata(found.slug, origin_of(body), page=home_page(body))
    show(opener, blocks.withdraw_modal(found, metadata))


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
    metadata = metadata_of(view)
    slug, origin, _ = read_metadata(metadata)

    def work() -> FormAnswer:
        try:
            signer = signer_of(context, worker)
        except SlackUnavailable as busy:
            return FormAnswer(
                view=blocks.notice_modal("Try again", blocks.slack_busy_text(busy.retry_after))
            )
        except Stranger:
            return _stranger()
        return refusals.worker_form(
            Asked(slug), lambda: _withdrawn(worker, slug, signer), recording=False
        )

    after = (
        (lambda: publish_home_quietly(client, worker, timezone, context, page_of(metadata)))
        if origin == "home"
        else None
    )
    answer_in_time(ack, body, client, context, in_time, work, after)


def _withdrawn(worker: WorkerActions, slug: str, signer: str) -> FormAnswer:
    withdrawn = worker.withdraw(slug, signer)
    return FormAnswer(view=blocks.withdrawn_modal(withdrawn.title, withdrawn.had_signed))


def register_confirmation(app: App) -> None:
    """The form's submission: among the busiest, registered early (handlers/__init__.py)."""
    app.view(blocks.SIGN_VIEW)(handle_sign_submit)


def register(app: App) -> None:
    app.action(blocks.SIGN_ACTION)(handle_sign_start)
    app.action(blocks.SIGN_CHANGE_ACTION)(handle_sign_change)
    app.action(blocks.WITHDRAW_ACTION)(handle_withdraw_start)
    app.view(blocks.WITHDRAW_VIEW)(handle_withdraw_submit)
