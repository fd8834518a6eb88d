"""Events about the app's installation and the accounts in it.

The installation: it was uninstalled, its tokens revoked, or its workspace is
moving into an Enterprise Grid. Each makes the app read its installation again
(handlers/installation.py), without a restart.

The accounts: someone joined (`team_join`), or an account changed (`user_change`:
a member made a guest, deactivated, reactivated). The member directory takes the
account as Slack sends it (handlers/directory.py), so that who may sign follows
without asking Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext

from handlers.directory import Directory
from handlers.installation import Installation
from handlers.intime import InTime

logger = logging.getLogger(__name__)


def handle_grid_migration(
    event: dict[str, Any], body: dict[str, Any], context: BoltContext, in_time: InTime
) -> None:
    installation: Installation = context["installation"]
    # The workspace that moves is where its members' signatures were made: they
    # are carried over from it (handlers/identity.py), whatever the install is next.
    team = body.get("team_id")
    kind = str(event.get("type"))
    logger.warning("Slack says: %s", kind)

    def reread() -> None:
        if isinstance(team, str) and team.startswith("T"):
            installation.record_home(team)
        installation.refresh(kind)

    in_time.run(context, reread)


def handle_installation_gone(event: dict[str, Any], context: BoltContext, in_time: InTime) -> None:
    installation: Installation = context["installation"]
    kind = str(event.get("type"))
    logger.warning("Slack says: %s", kind)
    in_time.run(context, lambda: installation.refresh(kind))


def handle_account_changed(event: dict[str, Any], directory: Directory) -> None:
    user = event.get("user")
    if isinstance(user, dict):
        directory.learn(user)


def register(app: App) -> None:
    app.event("user_change")(handle_account_changed)
    app.event("team_join")(handle_account_changed)
    app.event("grid_migration_started")(handle_grid_migration)
    app.event("grid_migration_finished")(handle_grid_migration)
    app.event("app_uninstalled")(handle_installation_gone)
    app.event("tokens_revoked")(handle_installation_gone)
