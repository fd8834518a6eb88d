"""Who is asking: one person, one identity, whatever ids Slack shows.

Two steps, kept apart so that how a person is hashed can change without touching
how they are recognised:

1. `People.who`: the person, as a scope and a stable user id (`Person`). Outside
   an Enterprise Grid: the workspace and its user id. In a Grid: the organization
   and the organization's user id, `enterprise_user.id` in users.info (the `W...`
   id). Payloads may carry it, or a workspace's local `U...` id for the same
   person (a workspace that joined the Grid keeps its members' old ids), so a
   `U` id in a Grid is looked up once per process.
2. `signer_of`: their person digest (petition/keyring.Keyring.person, through
   WorkerActions.person), which the domain knows them by.

When a workspace has joined a Grid, the signatures its members made before are
keyed by (that workspace, their local id): `People.carry_over` moves them to the
person's Grid identity once, on the first request that needs their signatures,
from whichever surface it comes (a click, a command, a DM, the Home tab, in any
workspace of the organization). The workspaces to look in are those the app was
installed in on its own (handlers/installation.py); the local id there is the
payload's own `U` id when the request comes from that workspace, and otherwise
Slack's mapping (migration.exchange).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.directory import Directory
from handlers.installation import Installation
from handlers.pacing import Pacing
from handlers.slackapi import SlackUnavailable, Stranger, fetch_user, retry_after
from petition.worker_actions import WorkerActions

logger = logging.getLogger(__name__)

__all__ = [
    "People",
    "Person",
    "Stranger",
    "UnknownRequester",
    "account_of",
    "own_team_of",
    "requester_key",
    "signer_of",
]


class UnknownRequester(Exception):
    """The payload did not say which workspace and user it came from."""


@dataclass(frozen=True)
class Person:
    """A person as this app recognises them: `user` is stable within `scope` (the
    organization in a Grid, else the workspace)."""

    scope: str
    user: str


_SIGNER = "undersigned_signer"
_PERSON = "undersigned_person"
_PROFILE = "undersigned_profile"
WORKSPACE = "undersigned_workspace"
# Ids looked up, per process; past this many the oldest half is forgotten.
_REMEMBERED = 50_000


def workspace_of(context: BoltContext) -> str | None:
    """The workspace a request came from. In an org-wide install Bolt's team_id is
    empty for events; the Gate notes the workspace the payload names."""
    noted = context.get(WORKSPACE)
    return noted if isinstance(noted, str) and noted else context.team_id


def requester_key(context: BoltContext, worker: WorkerActions) -> str:
    """A key for the person as this request names them, with no lookup (the rate
    limiter's key; kept in memory only)."""
    scope = context.enterprise_id or workspace_of(context)
    if not scope or not context.user_id:
        raise UnknownRequester()
    return worker.person(scope, context.user_id)


def profile_of(context: BoltContext, client: WebClient) -> dict[str, Any]:
    """users.info's `user` for the requester, asked once per request."""
    known = context.get(_PROFILE)
    if isinstance(known, dict):
        return known
    profile = fetch_user(client, context.user_id or "")
    context[_PROFILE] = profile
    return profile


def account_of(context: BoltContext, client: WebClient) -> dict[str, Any]:
    """What eligibility and identity read of the requester's account: from the
    member directory when it knows them (no call to Slack), else users.info, asked
    once per request and then known to the directory. Once Slack holds users.info
    back, people take turns (handlers/pacing.Turns): SlackUnavailable says when
    this one's comes."""
    directory = context.get("directory")
    if isinstance(directory, Directory):
        known = directory.get(context.user_id)
        if known is not None:
            return known.as_user()
    cached = context.get(_PROFILE)
    if isinstance(cached, dict):
        return cached
    pacing, worker = context.get("pacing"), context.get("worker")
    turns = who = None
    if isinstance(pacing, Pacing) and isinstance(worker, WorkerActions):
        turns, who = pacing.turns("users.info"), requester_key(context, worker)
        wait = turns.ask(who)
        if wait:
            raise SlackUnavailable("users.info", wait)
    try:
        profile = profile_of(context, client)
    except SlackUnavailable as busy:
        if turns is not None and who is not None and busy.retry_after:
            raise SlackUnavailable("users.info", turns.refused(who, busy.retry_after)) from None
        raise
    if isinstance(directory, Directory):
        directory.learn(profile)
    return profile


def signer_of(context: BoltContext, worker: WorkerActions) -> str:
    """The requester's person digest. In a Grid their earlier signatures are carried
    over first. May ask Slack (see People): SlackUnavailable, Stranger."""
    known = context.get(_SIGNER)
    if known is not None:
        return known
    people: People = context["people"]
    person = people.who(context, context.client)
    people.carry_over(context, context.client, person)
    context[_SIGNER] = signer = worker.person(person.scope, person.user)
    return signer


def known_signer(context: BoltContext, worker: WorkerActions) -> str | None:
    """signer_of(), when it has nothing to ask Slack (People.known): in a workspace
    always; in a Grid once this process knows the person's organization id and has
    carried their earlier signatures over. None otherwise: then signer_of()."""
    known = context.get(_SIGNER)
    if known is not None:
        return str(known)
    people: People = context["people"]
    person = people.known(context)
    if person is None:
        return None
    context[_SIGNER] = signer = worker.person(person.scope, person.user)
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


class _Remembered:
    """A bounded map kept in memory: ids looked up, people carried over."""

    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._items) >= _REMEMBERED:
                for old in list(self._items)[: _REMEMBERED // 2]:
                    del self._items[old]
            self._items[key] = value


class People:
    """Recognises requesters (one per process, built by the app factory).

    What it remembers (the organization id of a workspace user id, who was
    carried over) stays in this process's memory: never logged, never stored.
    """

    def __init__(self, installation: Installation, worker: WorkerActions) -> None:
        self.installation = installation
        self.worker = worker
        self._global_ids = _Remembered()
        self._local_ids = _Remembered()
        self._carried = _Remembered()
        self._carrying = [threading.Lock() for _ in range(64)]

    def who(self, context: BoltContext, client: WebClient) -> Person:
        """Step 1: the person, with no hashing."""
        known = context.get(_PERSON)
        if isinstance(known, Person):
            return known
        user = context.user_id
        enterprise = context.enterprise_id
        workspace = workspace_of(context)
        if not user or not (enterprise or workspace):
            raise UnknownRequester()
        if enterprise:
            person = Person(enterprise, self._global_id(context, client, enterprise))
        else:
            person = Person(workspace or "", user)
        context[_PERSON] = person
        return person

    def known(self, context: BoltContext) -> Person | None:
        """The person, as who() finds them, if neither who() nor carry_over() has
        anything to ask Slack for them in this process; else None."""
        known = context.get(_PERSON)
        if isinstance(known, Person):
            person = known
        else:
            user, enterprise = context.user_id, context.enterprise_id
            workspace = workspace_of(context)
            if not user or not (enterprise or workspace):
                return None  # who() refuses them: left to it
            if not enterprise:
                return Person(workspace or "", user)
            global_id = self._known_global_id(context, enterprise)
            if global_id is None:
                return None
            person = Person(enterprise, global_id)
        if person.scope == context.enterprise_id and not self._carried.get(person):
            return None
        return person

    def _known_global_id(self, context: BoltContext, enterprise: str) -> str | None:
        user = context.user_id or ""
        if user.startswith("W"):  # only organization ids start with W
            return user
        known: str | None = self._global_ids.get((enterprise, workspace_of(context), user))
        return known

    def _global_id(self, context: BoltContext, client: WebClient, enterprise: str) -> str:
        known = self._known_global_id(context, enterprise)
        if known is not None:
            return known
        user = context.user_id or ""
        key = (enterprise, workspace_of(context), user)
        profile = account_of(context, client)
        member = profile.get("enterprise_user")
        if isinstance(member, dict) and isinstance(member.get("id"), str) and member["id"]:
            if member.get("enterprise_id") not in (None, enterprise):
                raise Stranger()
            global_id = member["id"]
        elif profile.get("is_stranger"):
            raise Stranger()
        else:
            global_id = user
        self._global_ids.put(key, global_id)
        return global_id

    # -- signatures made before a workspace joined the Grid --------------------------

    def carry_over(self, context: BoltContext, client: WebClient, person: Person) -> None:
        """Move this person's signatures from their pre-Grid identities to their Grid
        one, once. Raises SlackUnavailable if Slack cannot say who they were: then
        nothing is done for them until it can, so that they can neither sign twice
        nor see a withdrawn signature come back."""
        if person.scope != context.enterprise_id or self._carried.get(person):
            return
        with self._carrying[hash(person) % len(self._carrying)]:
            if self._carried.get(person):
                return
            formers = self.formers(context, client, person)
            current = self.worker.person(person.scope, person.user)
            earlier = [self.worker.person(f.scope, f.user) for f in formers]
            if earlier:
                self.worker.adopt(current, earlier)
            self._carried.put(person, True)

    def formers(self, context: BoltContext, client: WebClient, person: Person) -> list[Person]:
        """Who this person may have been before: in each workspace the app was
        installed in on its own, (that workspace, their local id there); and, for
        each local id, (the organization, that id), which is how a Grid install
        before this version keyed a person whom Slack showed by a local id."""
        workspace = workspace_of(context)
        payload_id = context.user_id or ""
        found: list[Person] = []
        local_ids = {payload_id} if payload_id != person.user else set()
        for home in self.installation.home_workspaces():
            if home == workspace and payload_id.startswith("U"):
                local = payload_id  # the workspace's own id for them, as it sent it
            else:
                local = self._local_id(client, person.user, home)
            if local:
                found.append(Person(home, local))
                local_ids.add(local)
        found.extend(Person(person.scope, local) for local in sorted(local_ids - {person.user}))
        return found

    def _local_id(self, client: WebClient, global_id: str, workspace: str) -> str | None:
        """The workspace's local id for this organization user (None: not a member
        there), from Slack's mapping of ids across a Grid move."""
        key = (global_id, workspace)
        known = self._local_ids.get(key)
        if known is not None:
            return known or None
        try:
            answer = client.migration_exchange(users=global_id, team_id=workspace, to_old=True)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code in {"not_enterprise_team", "team_not_found", "invalid_users"}:
                self._local_ids.put(key, "")
                return None
            logger.warning("migration.exchange failed (error %s)", code)
            raise SlackUnavailable("migration.exchange", retry_after(error)) from None
        except (SlackClientError, OSError) as error:
            logger.warning("migration.exchange failed: %s", type(error).__name__)
            raise SlackUnavailable("migration.exchange") from None
        mapping = answer.get("user_id_map")
        local = mapping.get(global_id) if isinstance(mapping, dict) else None
        local = local if isinstance(local, str) else ""
        self._local_ids.put(key, local)
        return local or None
