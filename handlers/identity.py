"""Who is asking, reduced at once to the keyed hash that storage knows them by."""

from __future__ import annotations

from slack_bolt import BoltContext

from bot.settings import Settings
from bot.signatures import signer_hash


class UnknownRequester(Exception):
    """The payload did not say which workspace and user it came from."""


def signer_of(context: BoltContext, settings: Settings) -> str:
    team = context.team_id or context.enterprise_id
    user = context.user_id
    if not team or not user:
        raise UnknownRequester()
    return signer_hash(settings.require_signer_key(), team, user)
