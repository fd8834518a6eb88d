"""Who is asking, reduced at once to the keyed hash that storage knows them by.

In an Enterprise Grid a person has one user id across every workspace of the
organization, so the hash is taken over the organization and user id: signing
from a second workspace finds the first signature. Outside a Grid it is the
workspace and user id.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltContext

from bot.settings import Settings
from bot.signatures import signer_hash


class UnknownRequester(Exception):
    """The payload did not say which workspace and user it came from."""


_SIGNER = "undersigned_signer"


def signer_of(context: BoltContext, settings: Settings) -> str:
    known = context.get(_SIGNER)
    if known is not None:  # worked out once per request (the rate limiter asks first)
        return known
    scope = context.enterprise_id or context.team_id
    user = context.user_id
    if not scope or not user:
        raise UnknownRequester()
    context[_SIGNER] = signer = signer_hash(settings.require_signer_key(), scope, user)
    return signer


def own_team_of(body: dict[str, Any], context: BoltContext) -> str | None:
    """The workspace the person belongs to, read the same way from a click and from
    the submission of the form it opened: the payload's `user.team_id`.

    Bolt's context.team_id is not that: it prefers `view.app_installed_team_id`,
    present on a view submission (and on clicks in the Home tab), which in an
    org-wide install names the workspace the app was installed from rather than
    the person's own. Slash commands and events carry no `user` object; their
    context.team_id is the person's workspace.
    """
    user = body.get("user")
    if isinstance(user, dict):
        team = user.get("team_id")
        if isinstance(team, str) and team:
            return team
    return context.team_id


def workspace_signer_of(context: BoltContext, settings: Settings) -> str | None:
    """The hash this person had before their workspace joined a Grid, if it differs."""
    if not context.enterprise_id or not context.team_id or not context.user_id:
        return None
    return signer_hash(settings.require_signer_key(), context.team_id, context.user_id)
