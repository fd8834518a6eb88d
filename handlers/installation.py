"""Which workspace or organization this app's token belongs to, as auth.test says,
read again whenever Slack says it may have changed.

It changes when the workspace joins an Enterprise Grid (its requests start
naming the organization), when the app is installed org-wide instead, and when
it is uninstalled or its tokens revoked. Each workspace the app was installed in
on its own is also recorded (petition/workspaces.py): signatures made there
before a Grid move are keyed by it (handlers/identity.py).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from petition.workspaces import HomeWorkspaces

logger = logging.getLogger(__name__)

# A request naming an organization we do not know asks auth.test again, at most
# this often: enough to follow a Grid move within seconds, not a call per request.
REFRESH_AT_MOST_EVERY = 10.0
# auth.test is asked while a request waits for its acknowledgement.
AUTH_TEST_TIMEOUT = 1.0


@dataclass(frozen=True)
class Identity:
    team_id: str | None
    enterprise_id: str | None
    org_wide: bool = False


class Installation:
    """The token's workspace or organization; one per process (app factory)."""

    def __init__(self, client: WebClient, homes: HomeWorkspaces | None) -> None:
        # Its own client: a short timeout, the app's token and Web API.
        self._client = WebClient(
            token=client.token, base_url=client.base_url, timeout=AUTH_TEST_TIMEOUT
        )
        # None without SIGNER_KEY: nobody can sign, and there is nothing to carry over.
        self._homes = homes
        self._lock = threading.Lock()
        self._asked_at = -REFRESH_AT_MOST_EVERY
        self.current = Identity(None, None)

    def start(self, client: WebClient) -> None:
        """The first reading, with the app's client: it raises if Slack refuses the
        token, which stops start-up with a clear message (bot/cli.py)."""
        # auth.test answers JSON, so its data is a dict (typed dict | bytes).
        self._adopt(client.auth_test().data)  # type: ignore[arg-type]

    def refresh(self, why: str) -> bool:
        """Ask auth.test again; True if the answer was read."""
        with self._lock:
            self._asked_at = time.monotonic()
            try:
                answer = self._client.auth_test().data
            except SlackApiError as error:
                code = error.response.get("error") if error.response is not None else None
                logger.error(
                    "auth.test failed after %s (error %s): if the app was uninstalled or its "
                    "token revoked, reinstall it and set SLACK_BOT_TOKEN",
                    why,
                    code,
                )
                return False
            except (SlackClientError, OSError) as error:
                logger.warning("auth.test failed after %s: %s", why, type(error).__name__)
                return False
            before = self.current
            self._adopt(answer)  # type: ignore[arg-type]  # a dict: as in start()
        if self.current != before:
            logger.warning("the app's installation changed after %s: now %s", why, self._describe())
        return True

    def refresh_if_due(self, why: str) -> bool:
        """refresh(), unless it was asked within REFRESH_AT_MOST_EVERY seconds."""
        if time.monotonic() - self._asked_at < REFRESH_AT_MOST_EVERY:
            return False
        return self.refresh(why)

    def _adopt(self, answer: dict[str, object]) -> None:
        team = answer.get("team_id")
        enterprise = answer.get("enterprise_id")
        org_wide = bool(answer.get("is_enterprise_install"))
        self.current = Identity(
            team if isinstance(team, str) and team and not org_wide else None,
            enterprise if isinstance(enterprise, str) and enterprise else None,
            org_wide,
        )
        if self.current.team_id:
            self.record_home(self.current.team_id)

    def _describe(self) -> str:
        current = self.current
        if current.org_wide:
            return "installed org-wide in an Enterprise Grid organization"
        if current.enterprise_id:
            return "installed in a workspace of an Enterprise Grid organization"
        return "installed in a single workspace"

    # -- workspaces the app was installed in on its own ---------------------------

    def record_home(self, team_id: str) -> None:
        if self._homes is not None:
            self._homes.record(team_id)

    def home_workspaces(self) -> tuple[str, ...]:
        return self._homes.all() if self._homes is not None else ()
