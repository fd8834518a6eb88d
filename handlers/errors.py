"""The one place that turns a failure into a message for the person and a log line
for the operator.

A request the domain refuses (a petition.errors.DomainError: not an organizer, no
such campaign, a closed campaign, a name that cannot go on the letter) is answered
by `Refusals` on the surface it came from. Each surface is one method, and each
method decides, for every refusal it knows, what the person is told there:

- an organizer's: a click that would open a form opens a notice instead, a click
  on a message is answered under it, a submitted form is updated or shows its field
  errors, a command answers in its acknowledgement;
- a worker's (`Asked` carries what the answer needs: the name typed or clicked,
  the command that reads one, the campaign found): a DM is answered in the DM, a
  click replaces its message or is answered under it, *Sign privately* is answered
  where it was clicked, a click that opens a signing form opens a notice, a
  submitted signing or withdrawal form turns into one, a name that cannot go on the
  letter is shown beside its field. What the worker is told about a refusal is
  decided once, for all their surfaces, in `worker_refusal`.

A refusal is logged with the action's name only, or not at all. A DomainError a
surface does not know is raised on (NoSignerKey: the operator's to fix), to
`handle_error`.

Anything else is a failure (`handle_error`): the person gets an error reference,
the operator a log line with the kind of request and that reference, never who
sent it or what they typed."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from slack_bolt import App, BoltResponse, Respond
from slack_sdk import WebClient

import blocks
from blocks import kit
from blocks.answers import (
    closed_unknown_text,
    gone_text,
    not_signed_text,
    nothing_recorded,
    refusal_message,
)
from handlers.identity import UnknownRequester
from handlers.intime import FormAnswer, FormOpener
from handlers.opening import show
from handlers.signform import FormProblem
from handlers.slackapi import open_form, say_form_not_opened
from petition.campaigns import CampaignView
from petition.errors import (
    CampaignIsDraft,
    CampaignNotFound,
    DomainError,
    NoSignerKey,
    NotAnOrganizer,
)
from petition.signatures import CampaignClosed, InvalidName
from petition.subscriptions import NotSigned

logger = logging.getLogger(__name__)

Answer = tuple[str, list[blocks.Block]]
T = TypeVar("T")


@dataclass(frozen=True)
class Asked:
    """What a worker's refused request was about, as far as the answer says it."""

    # The campaign's name as the person typed or clicked it (typed text: out of repr).
    slug: str = field(repr=False)
    # How the person asks for a campaign where they are: the not-found answer
    # suggests it ("/demands", or "sign" in the DM).
    command: str = "/demands"
    # The campaign, when the request had found it before it was refused: it is
    # then "no longer there", not a name to correct.
    campaign: CampaignView | None = None
    # A closed campaign's answer says when it closed: `find` reads the campaign
    # only then (a submitted form knows its slug alone), in `timezone`.
    find: Callable[[], CampaignView | None] | None = None
    timezone: ZoneInfo | None = None


@dataclass(frozen=True)
class Refusal:
    """What a worker is told: a notice's title, and the message."""

    title: str
    message: Answer

    @property
    def text(self) -> str:
        return str(self.message[1][0]["text"]["text"])


def worker_refusal(
    problem: DomainError, asked: Asked, *, recording: bool = False, submitted: bool = False
) -> Refusal | None:
    """What a worker is told of a refusal, whatever the surface; None for a
    DomainError that is not theirs to hear about. `recording`: the request would
    have recorded a signature (the answer says none was). `submitted`: a form
    opened for a campaign that existed then."""
    if isinstance(problem, CampaignNotFound):
        if asked.campaign is None and not submitted:
            message = blocks.unknown_campaign_message(asked.slug, problem.known, asked.command)
            return Refusal("Not found", message)
        gone = nothing_recorded(gone_text()) if recording else gone_text()
        return Refusal("Not found", refusal_message(gone))
    if isinstance(problem, CampaignClosed):
        found = asked.campaign or (asked.find() if asked.find is not None else None)
        if found is not None and asked.timezone is not None:
            closed = blocks.closed_text(found, asked.timezone)
        else:
            closed = closed_unknown_text()
        return Refusal("Closed", refusal_message(nothing_recorded(closed) if recording else closed))
    if isinstance(problem, NotSigned):
        return Refusal("Not signed", refusal_message(not_signed_text()))
    return None


def open_modal(client: WebClient, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Open a modal for a click, or tell the person under what they clicked that
    Slack did not."""
    failure = open_form(client, body.get("trigger_id"), view)
    if failure is not None:
        say_form_not_opened(body, failure)


class Refusals:
    """How a refused request is answered, surface by surface. Each wraps the work
    of one listener: a DomainError it does not know is raised on (to handle_error).

    One per module, with that module's logger: a refusal's log line keeps the name
    of the listener's module."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log

    def refused(self, action: str) -> None:
        self._log.warning("refused an organizer action (%s): not an organizer", action)

    def notice(
        self,
        client: WebClient,
        body: dict[str, Any],
        action: str,
        slug: str,
        work: Callable[[], None],
    ) -> Callable[[], None]:
        """A click that opens a form: refused, it opens a notice in its place."""

        def answered() -> None:
            try:
                work()
            except NotAnOrganizer:
                self.refused(action)
                open_modal(
                    client,
                    body,
                    blocks.notice_modal("Organizers only", blocks.not_organizer_text()),
                )
            except CampaignNotFound as missing:
                text = blocks.not_found_text(slug, missing.known)
                open_modal(client, body, blocks.notice_modal("Not found", text))

        return answered

    def ephemeral(
        self,
        respond: Respond,
        action: str,
        slug: str,
        work: Callable[[], None],
        *,
        changing: bool = False,
    ) -> Callable[[], None]:
        """A click on a message or a command answered later: refused, the person
        alone is told, under it. `changing`: every other refusal of a change says
        that nothing changed, and why."""

        def say(text: str) -> None:
            respond(text=text, response_type="ephemeral", replace_original=False)

        def answered() -> None:
            try:
                work()
            except NotAnOrganizer:
                self.refused(action)
                say(blocks.not_organizer_text())
            except DomainError as problem:
                if isinstance(problem, NoSignerKey):
                    raise  # the operator's to fix: an error reference, not their words
                if changing:
                    say(f"Nothing changed: {problem}.")
                elif isinstance(problem, CampaignNotFound):
                    say(blocks.not_found_text(slug, problem.known))
                elif isinstance(problem, CampaignIsDraft):
                    say(str(problem))
                else:
                    raise

        return answered

    def form(
        self,
        action: str,
        work: Callable[[], FormAnswer],
        *,
        failed: str | None = None,
        invalid: Callable[[DomainError], FormAnswer | None] | None = None,
    ) -> Callable[[], FormAnswer]:
        """A submitted form: refused, it turns into a notice, or shows what
        `invalid` makes of the error beside the form's fields. `failed`: the
        notice's title for any other refusal, which is then shown as it is."""

        def answered() -> FormAnswer:
            try:
                return work()
            except NotAnOrganizer:
                self.refused(action)
                return FormAnswer(
                    view=blocks.notice_modal("Organizers only", blocks.not_organizer_text())
                )
            except DomainError as problem:
                shown = invalid(problem) if invalid is not None else None
                if shown is not None:
                    return shown
                if isinstance(problem, NoSignerKey):
                    raise  # the operator's to fix: an error reference, not their words
                if failed is not None:
                    return FormAnswer(view=blocks.notice_modal(failed, str(problem)))
                if isinstance(problem, CampaignNotFound):
                    return FormAnswer(view=blocks.notice_modal("Not found", gone_text()))
                raise

        return answered

    def command(self, action: str, work: Callable[[], Answer]) -> Answer:
        """A command answered in its acknowledgement: refused, with the reason."""
        try:
            return work()
        except NotAnOrganizer:
            self.refused(action)
            text = blocks.not_organizer_text()
            return text, [kit._section(text)]

    # -- a worker's requests ---------------------------------------------------------
    # What the worker is told comes from worker_refusal, for every surface; each
    # surface only puts it where the request came from. A not-found refusal is
    # logged as it was before there was one path: naming what was clicked (a list's
    # button, *Sign privately*, a form's button, a signing form), never who.

    def _worker(self, problem: DomainError, asked: Asked, **how: bool) -> Refusal:
        refusal = worker_refusal(problem, asked, **how)
        if refusal is None:
            raise problem  # not the worker's to hear about: to handle_error
        return refusal

    def reply(self, asked: Asked, work: Callable[[], Answer]) -> Answer:
        """A DM the bot answers: refused, the answer says why."""
        try:
            return work()
        except DomainError as problem:
            return self._worker(problem, asked).message

    def replace(
        self, respond: Respond, asked: Asked, work: Callable[[], None]
    ) -> Callable[[], None]:
        """A click that replaces the message it was on (a list's "Read"): refused,
        the message says why instead."""

        def answered() -> None:
            try:
                work()
            except DomainError as problem:
                refusal = self._worker(problem, asked)
                if isinstance(problem, CampaignNotFound):
                    self._log.info("a list button named a campaign that no longer exists")
                fallback, content = refusal.message
                respond(text=fallback, blocks=content, replace_original=True)

        return answered

    def under(self, respond: Respond, asked: Asked, work: Callable[[], None]) -> Callable[[], None]:
        """A click answered under its message, to the person alone: refused, so is
        the refusal."""

        def answered() -> None:
            try:
                work()
            except DomainError as problem:
                respond(text=self._worker(problem, asked).text, replace_original=False)

        return answered

    def sign_button(self, asked: Asked, refused: Callable[[str], T], work: Callable[[], T]) -> T:
        """*Sign privately*: refused, `refused` says so where it was clicked."""
        try:
            return work()
        except DomainError as problem:
            refusal = self._worker(problem, asked, recording=True)
            if isinstance(problem, CampaignNotFound) and asked.campaign is None:
                self._log.info("a sign button named an unknown campaign")
            return refused(refusal.text)

    def opening(
        self, asked: Asked, form: Callable[[FormOpener], None]
    ) -> Callable[[FormOpener], None]:
        """A click that opens a signing or withdrawal form: refused, a notice
        opens in its place."""

        def answered(opener: FormOpener) -> None:
            try:
                form(opener)
            except DomainError as problem:
                refusal = self._worker(problem, asked)
                if isinstance(problem, CampaignNotFound):
                    self._log.info("a button named an unknown campaign")
                show(opener, blocks.notice_modal(refusal.title, refusal.text))

        return answered

    def worker_form(
        self, asked: Asked, work: Callable[[], FormAnswer], *, recording: bool
    ) -> FormAnswer:
        """A submitted signing (`recording`) or withdrawal form: refused, it turns
        into a notice saying why."""
        try:
            return work()
        except DomainError as problem:
            refusal = self._worker(problem, asked, recording=recording, submitted=True)
            if recording and isinstance(problem, CampaignNotFound):
                self._log.info("a signing form named an unknown campaign")
            return FormAnswer(view=blocks.notice_modal(refusal.title, refusal.text))

    def fields(self, work: Callable[[], T]) -> T:
        """A form's fields, read before any work: a value the domain refuses is a
        FormProblem, shown beside its field."""
        try:
            return work()
        except InvalidName as problem:
            raise FormProblem(blocks.NAME_BLOCK, str(problem)) from None


def _request_kind(body: dict) -> str:
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    return str(kind)[:40]


def handle_error(error: Exception, body: dict, respond: Respond) -> BoltResponse:
    if isinstance(error, UnknownRequester):
        # Slack always says who acts; a payload that does not is nobody to answer.
        logger.warning("ignored a %s request that named no person", _request_kind(body))
        return BoltResponse(status=200, body="")
    reference = secrets.token_hex(4)
    # exc_info gives the operator the traceback; the traceback holds our code's
    # frames, not the request body.
    logger.error(
        "handler failed on a %s request (ref %s): %s",
        _request_kind(body),
        reference,
        type(error).__name__,
        exc_info=error,
    )
    message = blocks.error_message(reference)
    if "command" in body:
        payload = {"response_type": "ephemeral", "text": message}
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
        )
    if body.get("type") == "view_submission":
        # Replacing the form keeps the person from resubmitting into the same failure.
        payload = {
            "response_action": "update",
            "view": blocks.notice_modal("Something went wrong", message),
        }
        return BoltResponse(
            status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
        )
    if body.get("response_url"):
        try:
            respond(text=message, response_type="ephemeral", replace_original=False)
        except Exception:
            logger.warning("could not tell the person about error %s", reference)
    return BoltResponse(status=200, body="")


def register(app: App) -> None:
    app.error(handle_error)
