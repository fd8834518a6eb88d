"""The workspaces this app was installed in on its own (a workspace install, in
or out of an Enterprise Grid).

Signatures made in such a workspace before it joined a Grid are keyed by it and
the person's local user id; after the move they are looked for there. Recorded
from auth.test and from Grid migration events. The database keeps no workspace
id in clear (a copy of it alone must not say whose Slack this was): each is
sealed under a key derived from SIGNER_KEY and known by a keyed hash.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from petition.keyring import Keyring
from petition.sealing import CannotOpen, Sealer
from storage.db import Database
from storage.models import HomeWorkspace, table

TEAM_ID_MAX = 32
_SEAL_CONTEXT = "home-workspace"


def _workspace_hash(keyring: Keyring, team_id: str) -> str:
    return keyring.keyed_hash(f"home-workspace:{team_id}")


def record_home_workspace(session: Session, keyring: Keyring, sealer: Sealer, team_id: str) -> None:
    """Remember a workspace the app is installed in; recording it twice is nothing."""
    team_id = team_id[:TEAM_ID_MAX]
    homes = table(HomeWorkspace)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(homes)
        .values(
            workspace_hash=_workspace_hash(keyring, team_id),
            sealed_team=sealer.seal(team_id, _SEAL_CONTEXT),
        )
        .on_conflict_do_nothing()
    )


def home_workspaces(session: Session, sealer: Sealer) -> tuple[str, ...]:
    """The workspaces recorded (those sealed under another key are passed over)."""
    found = []
    for sealed in session.scalars(select(HomeWorkspace.sealed_team)):
        try:
            found.append(sealer.open(sealed, _SEAL_CONTEXT))
        except CannotOpen:
            continue
    return tuple(sorted(found))


class HomeWorkspaces:
    """The process's record of its home workspaces, built once (bot/app.py) from its
    Database and Keyring; the list is kept in memory until one is added."""

    def __init__(self, db: Database, keyring: Keyring) -> None:
        self._db = db
        self._keyring = keyring
        self._sealer = keyring.sealer()
        self._known: tuple[str, ...] | None = None

    def record(self, team_id: str) -> None:
        known = self._known
        if known is not None and team_id in known:
            return
        with self._db.write() as session:
            record_home_workspace(session, self._keyring, self._sealer, team_id)
        self._known = None

    def all(self) -> tuple[str, ...]:
        known = self._known
        if known is None:
            with self._db.read() as session:
                known = home_workspaces(session, self._sealer)
            self._known = known
        return known
