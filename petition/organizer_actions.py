"""What an organizer does, one call each: list and read the campaigns they manage,
create and edit them, open, close, archive, preview, post a card, send news, export
the letter. Each call checks that the person may (NotAnOrganizer otherwise), opens
its own transaction and returns plain results.

Built once per process (bot/app.py) with the process's Database, Keyring and the
operator's ORGANIZERS."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from petition.errors import NoSignerKey
from petition.keyring import Keyring
from petition.organizing import Organizers
from storage.db import Database


class OrganizerActions:
    def __init__(
        self,
        db: Database,
        keyring: Keyring | None,
        organizers: Organizers,
        timezone: ZoneInfo,
    ) -> None:
        self.db = db
        self._keyring = keyring
        self.organizers = organizers
        # The operator's TIMEZONE: organizers' dates are read in it unless their
        # own Slack profile says otherwise.
        self.timezone = timezone

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise NoSignerKey()
        return self._keyring

    def may_create(self, user_id: str) -> bool:
        return self.organizers.may_create(user_id)
