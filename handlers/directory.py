"""Who is a member, a guest, a bot or a deactivated account, known without asking
Slack once per person.

users.info is rate limited per workspace (Tier 4: about 100 calls a minute), and
deciding who may sign needs it once per person: a thousand colleagues who want to
sign in the first minutes of a campaign would wait ten minutes for Slack. So the
app keeps a directory of the workspace's accounts, read with users.list a page at
a time (Tier 2, but a page holds hundreds of accounts) when it starts and again
every REFRESH_SECONDS, and kept current between readings by Slack's `user_change`
and `team_join` events (handlers/lifecycle.py). Anyone it has not seen (a new
colleague whose `team_join` was missed, someone from another organization) is
asked of users.info once, and remembered.

In memory only, and only what deciding needs: per account its id, its workspace,
the organization's id for it in an Enterprise Grid, and the flags eligibility
reads (bot, deactivated, guest, invited, external). No names, no e-mail
addresses, no profile. Never written to the database, a file or a log: log lines
carry counts only. A restart reads it again from Slack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import ConnectionErrorRetryHandler

from blocks.limits import retry_after_seconds

logger = logging.getLogger(__name__)

# users.list's page: Slack advises no more than 200 (its pagination guide).
PAGE_SIZE = 200
# A full reading this often; events keep the directory current in between, so this
# only catches what a missed event (the app was down) left out.
REFRESH_SECONDS = 6 * 3600
# After a reading failed (Slack down, the token revoked): try again this much later.
RETRY_SECONDS = 60
# The longest Retry-After a reading waits out in place before trying the page again.
_LONGEST_WAIT = 300

_BOT, _WORKFLOW_BOT, _DELETED, _STRANGER, _RESTRICTED, _ULTRA, _INVITED = (1 << i for i in range(7))
_FLAGS = (
    ("is_bot", _BOT),
    ("is_workflow_bot", _WORKFLOW_BOT),
    ("deleted", _DELETED),
    ("is_stranger", _STRANGER),
    ("is_restricted", _RESTRICTED),
    ("is_ultra_restricted", _ULTRA),
    ("is_invited_user", _INVITED),
)


@dataclass(frozen=True, slots=True)
class Account:
    """What the directory knows of one account."""

    id: str
    team_id: str | None
    flags: int
    enterprise_id: str | None
    global_id: str | None
    updated: int

    @classmethod
    def of(cls, user: dict[str, Any]) -> Account | None:
        """From a user object of users.list, users.info or an event; None if it
        has no id."""
        user_id = user.get("id")
        if not isinstance(user_id, str) or not user_id:
            return None
        flags = 0
        for name, bit in _FLAGS:
            if user.get(name):
                flags |= bit
        member = user.get("enterprise_user")
        enterprise_id = global_id = None
        if isinstance(member, dict):
            enterprise_id = _text(member.get("enterprise_id"))
            global_id = _text(member.get("id"))
        updated = user.get("updated")
        return cls(
            id=user_id,
            team_id=_text(user.get("team_id")),
            flags=flags,
            enterprise_id=enterprise_id,
            global_id=global_id,
            updated=updated if isinstance(updated, int) else 0,
        )

    def as_user(self) -> dict[str, Any]:
        """The fields of a users.info `user` that eligibility and identity read
        (petition/eligibility.refusal, handlers/identity.People)."""
        user: dict[str, Any] = {"id": self.id, "team_id": self.team_id}
        for name, bit in _FLAGS:
            user[name] = bool(self.flags & bit)
        if self.enterprise_id or self.global_id:
            user["enterprise_user"] = {"id": self.global_id, "enterprise_id": self.enterprise_id}
        return user


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class Directory:
    """The workspace's accounts, in memory (one per process, made by the app
    factory). `get` answers from memory; `learn` takes a fresher user object."""

    def __init__(
        self,
        client: WebClient | None,
        *,
        page_size: int = PAGE_SIZE,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        # None: the directory is off (MEMBER_DIRECTORY=off); every lookup misses.
        self._client = (
            WebClient(
                token=client.token,
                base_url=client.base_url,
                timeout=30,
                # Rate limits are waited out here, page by page, not by slack_sdk.
                retry_handlers=[ConnectionErrorRetryHandler()],
            )
            if client is not None
            else None
        )
        self._page_size = page_size
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = retry_seconds
        self._accounts: dict[str, tuple[Account, int]] = {}
        self._lock = threading.Lock()
        # Accounts learned now are stamped with this; a reading drops what it did
        # not see and nothing stamped it since it began.
        self._stamp = 0
        self._loaded = threading.Event()
        # Set once the first reading ended, read or not (or was never to be made).
        self._first_ended = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._client is not None

    @property
    def loaded(self) -> bool:
        """Whether a full reading has completed (until then, more lookups miss)."""
        return self._loaded.is_set()

    def __len__(self) -> int:
        with self._lock:
            return len({account.id for account, _ in self._accounts.values()})

    def start(self, may_list: Callable[[], bool]) -> None:
        """Read the directory in a background thread, and again every
        REFRESH_SECONDS. `may_list()` says whether users.list can be asked as it
        is (not with an org-wide token, which must name a workspace)."""
        if self._client is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, args=(may_list,), name="member-directory", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait for the first reading to end (at most `timeout`); whether it read
        the directory."""
        if self._client is not None and self._thread is not None:
            self._first_ended.wait(timeout)
        return self._loaded.is_set()

    def get(self, user_id: str | None) -> Account | None:
        if not user_id:
            return None
        with self._lock:
            found = self._accounts.get(user_id)
        return found[0] if found is not None else None

    def learn(self, user: dict[str, Any]) -> None:
        """Take a user object from users.info or an event, unless what is known
        already is newer."""
        if self._client is None:
            return
        account = Account.of(user)
        if account is not None:
            with self._lock:
                self._put(account, self._stamp)

    def _put(self, account: Account, stamp: int) -> None:
        known = self._accounts.get(account.id)
        if known is not None and known[0].updated > account.updated:
            account = known[0]  # an older reading: keep the newer, mark it seen
        self._accounts[account.id] = (account, stamp)
        if account.global_id and account.global_id != account.id:
            self._accounts[account.global_id] = (account, stamp)

    def _run(self, may_list: Callable[[], bool]) -> None:
        try:
            while not self._stopping.is_set():
                if not may_list():
                    logger.info(
                        "member directory: not read (an org-wide install lists no single "
                        "workspace); users.info is asked instead"
                    )
                    return
                read = self._read_all()
                self._first_ended.set()
                if self._stopping.wait(self._refresh_seconds if read else self._retry_seconds):
                    return
        finally:
            self._first_ended.set()

    def _read_all(self) -> bool:
        assert self._client is not None
        with self._lock:
            self._stamp += 1
            stamp = self._stamp
        cursor = ""
        pages = 0
        while not self._stopping.is_set():
            try:
                answer = self._client.users_list(limit=self._page_size, cursor=cursor or None)
            except SlackApiError as error:
                status = getattr(error.response, "status_code", None)
                wait = retry_after_seconds(getattr(error.response, "headers", None))
                if status == 429 and wait is not None and wait <= _LONGEST_WAIT:
                    self._stopping.wait(wait)
                    continue
                code = error.response.get("error") if error.response is not None else None
                logger.warning(
                    "member directory: users.list failed (status %s, error %s) after %d "
                    "pages; users.info is asked for anyone not known yet",
                    status,
                    code,
                    pages,
                )
                return False
            except (SlackClientError, OSError) as error:
                logger.warning("member directory: users.list failed: %s", type(error).__name__)
                return False
            members = answer.get("members")
            with self._lock:
                for user in members if isinstance(members, list) else []:
                    if isinstance(user, dict):
                        account = Account.of(user)
                        if account is not None:
                            self._put(account, stamp)
            pages += 1
            metadata = answer.get("response_metadata")
            cursor = metadata.get("next_cursor") if isinstance(metadata, dict) else ""
            if not cursor:
                break
        else:
            return False
        with self._lock:
            gone = [key for key, (_, seen) in self._accounts.items() if seen < stamp]
            for key in gone:
                del self._accounts[key]
        self._loaded.set()
        logger.info(
            "member directory: %d accounts known (%d pages of users.list)", len(self), pages
        )
        return True
