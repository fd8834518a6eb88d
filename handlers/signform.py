"""The signing form as the app sends it and Slack hands it back: what it carries in
its private_metadata (campaign, where it was opened, sign or change, the pass),
and the choice read from its fields. Plain reading of payloads: no Slack call, no
domain call."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext

import blocks
from handlers.identity import own_team_of
from petition.signatures import MAX_THRESHOLD, MIN_THRESHOLD, Choice, clean_name


def form_metadata(
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


def home_page(body: dict[str, Any]) -> int:
    """The page of the Home tab a click came from (0 elsewhere), to show it again."""
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    shown = blocks.read_page_value(str(view.get("private_metadata") or ""))
    return shown[1] if shown and shown[0] == "home" else 0


def page_of(data: dict[str, Any]) -> int:
    page = data.get("page")
    return page if isinstance(page, int) and 0 <= page < 1_000_000 else 0


def pass_subject(body: dict[str, Any], context: BoltContext) -> tuple[str, str, str]:
    # Who a pass is for: organization (or workspace), workspace and user, read the
    # same way at the click that issues it and at the submission that checks it
    # (handlers/identity.own_team_of: Bolt's team id differs between the two in an
    # org-wide install).
    team = own_team_of(body, context) or ""
    return (context.enterprise_id or team, team, context.user_id or "")


def metadata_of(view: dict[str, Any]) -> dict[str, Any]:
    """What the app put in a form's private_metadata; {} when forged or missing."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, TypeError, RecursionError):  # forged: not text, not JSON, too deep
        return {}
    return data if isinstance(data, dict) else {}


def read_metadata(data: dict[str, Any]) -> tuple[str, str, str]:
    """(campaign slug, where the form was opened, "sign" or "change")."""
    values = [data.get(key) for key in ("slug", "from", "mode")]
    slug, origin, mode = (v if isinstance(v, str) else "" for v in values)
    return slug, origin, mode


def origin_of(body: dict[str, Any]) -> str:
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    if container.get("type") == "view" and view.get("type") == "home":
        return "home"
    return "message"


@dataclass(frozen=True)
class SignForm:
    how: str | None
    name: str | None
    threshold: str | None
    news: bool


def _value(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    element = (values.get(block) or {}).get(action)
    return element if isinstance(element, dict) else {}


def read_form(view: dict[str, Any]) -> SignForm:
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


def choice_from(form: SignForm) -> Choice:
    """The choice a form makes; FormProblem for a field left wrong, InvalidName for a
    name that cannot go on the letter (shown beside its field by
    handlers/errors.Refusals.fields)."""
    if form.how not in {blocks.ANONYMOUS, blocks.NAMED, blocks.CONDITIONAL}:
        raise FormProblem(blocks.HOW_BLOCK, "Choose how you want to sign.")
    if form.how == blocks.ANONYMOUS:
        return Choice()
    name = clean_name(form.name)
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
