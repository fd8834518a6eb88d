"""Crowds of signers driven through the app at once."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from console.server import FakeSlack
from console.workspace import FakeUser
from tests.support.running import SlackDriver
from tests.support.signing import (
    FOLLOW_UP_SECONDS,
    MOMENT,
    SLUG,
    calls_so_far,
    sign_values,
    updated_view,
    view_title,
)

SIGNERS = 200
MILESTONES = [50, 100, 150, 200]


@dataclass
class Outcome:
    """What one signer saw, request by request."""

    user: str
    statuses: list[int] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return self.titles[-1:] == ["Signed"]


def signers(fake: FakeSlack, prefix: str = "LOAD", n: int = SIGNERS) -> list[FakeUser]:
    users = [FakeUser(f"U0{prefix}{i:05d}", f"w{i}", f"Worker {i}") for i in range(n)]
    for user in users:
        fake.workspace.add_user(user)
    return users


def opened_by(
    fake: FakeSlack, trigger: str, user: str | None = None, timeout: float = FOLLOW_UP_SECONDS
) -> dict[str, Any] | None:
    """The view opened with this trigger_id (with many people at once, not the
    last one), with its id when `user` is given. A click acknowledged before its
    form was ready opens "one moment" first, which the form then replaces."""
    deadline = time.monotonic() + timeout
    while True:
        for call in fake.calls_to("views.open"):
            if call.params.get("trigger_id") == trigger:
                view = dict(call.params["view"])
                if user is None:
                    return view
                # The fake records a call before it acts on it: the modal is on the
                # person's screen only once views.open has been answered.
                stack = fake.workspace.view_stacks.get(user)
                if not stack:
                    break
                view_id = stack[0]
                if view_title(view) == MOMENT:
                    view = updated_view(fake, view_id) or view
                return {**view, "id": view_id}
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def answered_title(fake: FakeSlack, body: str, view_id: str, since: int) -> str:
    """The title of the modal a submission ends on: its acknowledgement, or what
    replaced "one moment" (still "One moment" if nothing ever did). `since` is
    calls_so_far() before submitting: when the click that opened the form was
    answered "one moment" too, the modal's first update was the form itself."""
    return answered_titles(fake, [body], view_id, since)[0]


def answered_titles(fake: FakeSlack, bodies: list[str], view_id: str, since: int) -> list[str]:
    """answered_title for several submissions of one form: those answered "one
    moment" take the modal's updates after `since` in turn."""
    titles, late = [], 0
    for body in bodies:
        view = json.loads(body)["view"]
        if view_title(view) == MOMENT:
            view = updated_view(fake, view_id, nth=late, since=since) or view
            late += 1
        titles.append(view_title(view))
    return titles


def sign_through(slack: SlackDriver, user: FakeUser) -> Outcome:
    """Click the button, then submit the form Slack opened for this person."""
    outcome = Outcome(user.id)
    trigger = slack.fake.new_trigger(user.id)
    clicked = slack.click("sign_start", SLUG, user=user.id, trigger_id=trigger)
    outcome.statuses.append(clicked.status)
    form = opened_by(slack.fake, trigger, user.id)
    if form is None or form.get("callback_id") != "sign_submit":
        outcome.errors.append(f"no signing form: {json.dumps(form)[:200]}")
        return outcome
    how = "named" if user.id[-1] in "13579" else "anonymous"
    since = calls_so_far(slack.fake)
    submitted = slack.submit(form, sign_values(how, user.real_name), user=user.id)
    outcome.statuses.append(submitted.status)
    try:
        outcome.titles.append(answered_title(slack.fake, submitted.body, form["id"], since))
    except (ValueError, KeyError, TypeError):
        outcome.errors.append(f"unexpected answer: {submitted.body[:200]}")
    return outcome
