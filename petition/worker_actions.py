"""What a worker does, one call each: read campaigns, sign, change, withdraw, ask
their status, follow news. Listeners (handlers/) call these and nothing below them:
each call opens its own transaction (or takes the fast path on the driver,
storage/direct.py) and returns plain results or raises a petition.errors error.

Built once per process (bot/app.py) with the process's Database and Keyring."""

from __future__ import annotations

from petition import campaigns
from petition.errors import NoSignerKey
from petition.keyring import Keyring
from storage.db import Database


class WorkerActions:
    def __init__(self, db: Database, keyring: Keyring | None) -> None:
        self.db = db
        self._keyring = keyring

    @property
    def keyring(self) -> Keyring:
        if self._keyring is None:
            raise NoSignerKey()
        return self._keyring

    def person(self, scope: str, user: str) -> str:
        """A person's digest (in memory only): the signer key's, scoped to the
        organization in a Grid, else the workspace."""
        return self.keyring.person(scope, user)

    def snapshot(self) -> campaigns.PublicCampaigns:
        """The shared copy of the public campaigns (no database read when fresh)."""
        return campaigns.public_snapshot(self.db)

    def campaign(self, slug: str) -> campaigns.CampaignView:
        """A public campaign by slug; CampaignNotFound names the known ones."""
        with self.db.read() as session:
            return campaigns.find_public_campaign(session, slug)

    def public_campaigns(self) -> list[campaigns.CampaignView]:
        with self.db.read() as session:
            return campaigns.public_campaigns(session)

    def title(self, slug: str) -> str:
        with self.db.read() as session:
            return campaigns.public_title(session, slug)
