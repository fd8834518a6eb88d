"""The one error path (handlers/errors.py) on a worker's surfaces: every refusal the
worker's calls can raise is answered on every surface a listener takes it from,
with the words the listeners used to say themselves; a DomainError that is not a
worker's to hear about goes on to handle_error. The surfaces are tested end to
end in test_signing, test_quicksign, test_demands, ...; this pins the mapping."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import pkgutil
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import blocks
import petition
from handlers.errors import Asked, Refusals, worker_refusal
from handlers.intime import FormAnswer
from handlers.signform import FormProblem, SignForm, choice_from
from petition.campaigns import CampaignView
from petition.errors import (
    CampaignIsDraft,
    CampaignNotFound,
    DomainError,
    InvalidCampaign,
    NoSignerKey,
    NotAnOrganizer,
)
from petition.kinds import CampaignStatus
from petition.signatures import CampaignClosed, InvalidName
from petition.subscriptions import NotSigned

UTC = ZoneInfo("UTC")
KNOWN = ["pay", "rota"]

# What each kind of refusal is, for whom. A DomainError added to petition/ must be
# put in one of these, and answered where it belongs, before this test passes.
WORKER = {CampaignNotFound, CampaignClosed, NotSigned}
BESIDE_A_FIELD = {InvalidName}
ORGANIZER = {NotAnOrganizer, CampaignIsDraft, InvalidCampaign}  # and their subclasses
OPERATOR = {NoSignerKey}  # a misconfiguration: an error reference, and the log


def _view(is_open: bool = False) -> CampaignView:
    return CampaignView(
        slug="pay",
        title="Fair <pay>",
        statement="",
        demands=("A raise",),
        signatures=3,
        is_open=is_open,
        status=CampaignStatus.OPEN if is_open else CampaignStatus.CLOSED,
        closes_at=dt.datetime(2027, 3, 1, 17, tzinfo=UTC),
    )


def _raising(problem: Exception) -> Callable[..., Any]:
    def work(*_: Any) -> Any:
        raise problem

    return work


class _Said:
    """A response URL, or a form opener: what was sent to it."""

    def __init__(self) -> None:
        self.said: list[dict[str, Any]] = []

    def __call__(self, **message: Any) -> None:
        self.said.append(message)

    def show(self, view: dict[str, Any]) -> None:
        self.said.append(view)


def _answered(surface: str, problem: DomainError, asked: Asked) -> Any:
    """What `surface` answers to `problem`, as the person gets it."""
    refusals = Refusals(logging.getLogger("test"))
    said = _Said()
    if surface == "dm":
        return refusals.reply(asked, _raising(problem))
    if surface == "list":
        refusals.replace(said, asked, _raising(problem))()  # type: ignore[arg-type]
    elif surface == "under":
        refusals.under(said, asked, _raising(problem))()  # type: ignore[arg-type]
    elif surface == "sign button":
        return refusals.sign_button(asked, lambda text: text, _raising(problem))
    elif surface == "opening":
        refusals.opening(asked, _raising(problem))(said)  # type: ignore[arg-type]
    elif surface == "signing form":
        return refusals.worker_form(asked, _raising(problem), recording=True)
    elif surface == "withdrawal form":
        return refusals.worker_form(asked, _raising(problem), recording=False)
    [message] = said.said
    return message


SURFACES = ["dm", "list", "under", "sign button", "opening", "signing form", "withdrawal form"]
PROBLEMS = [CampaignNotFound("paj", KNOWN), CampaignClosed(), NotSigned()]


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_every_domain_error_is_someones_to_hear_about():
    for module in pkgutil.iter_modules(petition.__path__):
        importlib.import_module(f"petition.{module.name}")
    kinds = WORKER | BESIDE_A_FIELD | ORGANIZER | OPERATOR
    unplaced = {
        error
        for error in _subclasses(DomainError)
        if error.__module__.startswith("petition.")
        and not any(issubclass(error, kind) for kind in kinds)
    }
    # Refusals of an organizer's work that no worker's call raises, each answered
    # by the organizer's listener that takes it (news, forget; a letter whose names
    # are sealed from this key gets an error reference): name one here when added.
    organizers_own = {"InvalidUpdate", "NamesSealed", "CannotForget", "NotForgotten"}
    assert {error.__name__ for error in unplaced} <= organizers_own


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_a_workers_refusal_is_answered_on_every_surface(surface: str, problem: DomainError):
    asked = Asked("paj", find=lambda: None, timezone=UTC)
    assert _answered(surface, problem, asked)


@pytest.mark.parametrize("surface", SURFACES)
def test_a_refusal_that_is_not_a_workers_goes_on_to_the_error_reference(surface: str):
    with pytest.raises(NoSignerKey):
        _answered(surface, NoSignerKey(), Asked("pay"))


def test_a_name_that_cannot_go_on_the_letter_is_shown_beside_its_field():
    refusals = Refusals(logging.getLogger("test"))
    form = SignForm(how=blocks.NAMED, name=" \u200b ", threshold=None, news=False)
    with pytest.raises(InvalidName):
        choice_from(form)
    with pytest.raises(FormProblem) as shown:
        refusals.fields(lambda: choice_from(form))
    assert shown.value.block == blocks.NAME_BLOCK
    assert str(shown.value).startswith("Type the name to put on the letter")


def test_the_words_are_the_listeners_own():
    missing = CampaignNotFound("paj", KNOWN)
    named = Asked("paj")
    assert _answered("dm", missing, Asked("paj", command="sign")) == (
        blocks.unknown_campaign_message("paj", KNOWN, command="sign")
    )
    fallback, content = blocks.unknown_campaign_message("paj", KNOWN)
    assert _answered("list", missing, named) == {
        "text": fallback,
        "blocks": content,
        "replace_original": True,
    }
    assert _answered("under", missing, named) == {
        "text": blocks.not_found_text("paj", KNOWN),
        "replace_original": False,
    }
    assert _answered("opening", missing, named) == blocks.notice_modal(
        "Not found", blocks.not_found_text("paj", KNOWN)
    )
    # *Sign privately*: before the campaign is found, about the name; after, about it.
    assert _answered("sign button", missing, named) == blocks.not_found_text("paj", KNOWN)
    found = Asked("pay", campaign=_view(), timezone=UTC)
    assert _answered("sign button", missing, found) == (
        "This campaign no longer exists. Nothing was recorded."
    )
    closed = blocks.closed_text(_view(), UTC) + " Nothing was recorded."
    assert _answered("sign button", CampaignClosed(), found) == closed

    def notice(title: str, text: str) -> FormAnswer:
        return FormAnswer(view=blocks.notice_modal(title, text))

    gone = "This campaign no longer exists."
    assert _answered("signing form", missing, named) == notice(
        "Not found", f"{gone} Nothing was recorded."
    )
    assert _answered("withdrawal form", missing, named) == notice("Not found", gone)
    assert _answered("signing form", NotSigned(), named) == notice(
        "Not signed", "You have not signed this campaign, so there is nothing to change."
    )
    read_again = Asked("pay", find=_view, timezone=UTC)
    assert _answered("signing form", CampaignClosed(), read_again) == notice("Closed", closed)
    deleted_since = Asked("pay", find=lambda: None, timezone=UTC)
    assert _answered("signing form", CampaignClosed(), deleted_since) == notice(
        "Closed", "This campaign is closed. Nothing was recorded."
    )


def test_a_closed_campaign_is_read_again_only_once_refused():
    reads: list[str] = []

    def find() -> CampaignView:
        reads.append("read")
        return _view()

    asked = Asked("pay", find=find, timezone=UTC)
    Refusals(logging.getLogger("test")).worker_form(
        asked, lambda: FormAnswer(json="{}"), recording=True
    )
    assert reads == []
    assert worker_refusal(CampaignClosed(), asked, recording=True) is not None
    assert reads == ["read"]


@pytest.mark.parametrize(
    ("surface", "logged"),
    [
        ("list", "a list button named a campaign that no longer exists"),
        ("sign button", "a sign button named an unknown campaign"),
        ("opening", "a button named an unknown campaign"),
        ("signing form", "a signing form named an unknown campaign"),
        ("dm", None),
        ("under", None),
        ("withdrawal form", None),
    ],
)
def test_a_refusal_is_logged_as_before_and_names_nobody(
    surface: str, logged: str | None, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="test")
    _answered(surface, CampaignNotFound("U0ALICE", KNOWN), Asked("U0ALICE"))
    lines = [r.getMessage() for r in caplog.records if r.name == "test"]
    assert lines == ([logged] if logged else [])
    assert "U0ALICE" not in caplog.text


@pytest.mark.parametrize("changing", [True, False])
def test_a_missing_signer_key_is_never_told_to_an_organizer(changing: bool):
    """NoSignerKey is the operator's: on the organizer's surfaces too it goes on to
    the error reference, never shown as "Nothing changed: SIGNER_KEY is not set"."""
    told: list[str] = []

    def respond(**kwargs: Any) -> None:
        told.append(str(kwargs.get("text")))

    def work() -> None:
        raise NoSignerKey()

    refusals = Refusals(logging.getLogger("test"))
    with pytest.raises(NoSignerKey):
        refusals.ephemeral(respond, "open", "pay", work, changing=changing)()
    with pytest.raises(NoSignerKey):
        refusals.form("save", lambda: (_ for _ in ()).throw(NoSignerKey()), failed="Not saved")()
    assert told == []
