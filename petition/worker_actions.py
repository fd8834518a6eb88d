"""What a worker does, one call each: read campaigns, sign, change, withdraw, ask
their status, follow news. Listeners (handlers/) call these and nothing below them:
each call opens its own transaction (or takes the fast path on the driver,
storage/direct.py) and returns plain results or raises a petition.errors error.

Built once per process (bot/app.py) with the process's Database and Keyring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from petition import campaigns, eligibility
from petition.campaigns import CampaignView
from petition.errors import NoSignerKey
from petition.keyring import Keyring
from petition.signatures import (
    Choice,
    SignerStatus,
    SignOutcome,
    adopt_signer,
    change_choice,
    current_name,
    remove_signature,
    signer_overview,
    signer_status,
    status_after_signing,
)
from petition.signatures import sign as record_signature
from petition.subscriptions import Address, NotSigned, subscribe, unsubscribe
from storage.db import Database
from storage.direct import DirectCursor
from storage.writerprocess import Task

ANONYMOUSLY = Choice()


@dataclass(frozen=True)
class Signed:
    """What a signature (or a change to one) came to. `status` is the signer's as
    the confirmation shows it; None when it was not asked for (the one click)."""

    outcome: SignOutcome
    title: str
    status: SignerStatus | None


@dataclass(frozen=True)
class OwnSignature:
    """A signer's own signature on one campaign, for the form that changes it: its
    status, and the name on it opened for them alone."""

    status: SignerStatus
    # Kept out of repr, so that no log line or assertion message can print it.
    name: str | None = field(repr=False)


@dataclass(frozen=True)
class Withdrawn:
    had_signed: bool
    title: str


@dataclass(frozen=True)
class Followed:
    new: bool
    title: str


def record_signing(
    work: DirectCursor,
    keyring: Keyring,
    slug: str,
    person: str,
    choice: Choice,
    news_to: Address | None,
    confirm: bool,
) -> Signed:
    """A signature's unit of work (WorkerActions.sign): module-level, so that the
    SQLite writer process can be sent it by name (storage/writerprocess.py)."""
    signing = record_signature(work, slug, person, choice, keyring)
    if not confirm:
        return Signed(signing.outcome, signing.title, None)
    if signing.outcome is not SignOutcome.SIGNED:
        status = signer_status(work, slug, person, keyring)
        return Signed(signing.outcome, signing.title, status)
    if news_to is not None:
        subscribe(work, slug, person, keyring, news_to)
    status = status_after_signing(work, signing.campaign_id, choice, news_to is not None)
    return Signed(signing.outcome, signing.title, status)


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

    # -- reading campaigns -----------------------------------------------------------

    def snapshot(self) -> campaigns.PublicCampaigns:
        """The shared copy of the public campaigns (no database read when fresh)."""
        return campaigns.public_snapshot(self.db)

    def campaign(self, slug: str) -> CampaignView:
        """A public campaign by slug; CampaignNotFound names the known ones."""
        with self.db.read() as session:
            return campaigns.find_public_campaign(session, slug)

    def public_campaigns(self) -> list[CampaignView]:
        with self.db.read() as session:
            return campaigns.public_campaigns(session)

    def title(self, slug: str) -> str:
        with self.db.read() as session:
            return campaigns.public_title(session, slug)

    # -- the signing form's pass -----------------------------------------------------

    def issue_pass(self, scope: str, team: str, user: str, slug: str) -> str:
        """A pass saying this person was found eligible to sign `slug`
        (petition/eligibility.issue_pass): it names nobody."""
        return eligibility.issue_pass(self.keyring.signer_key, scope, team, user, slug)

    def pass_holds(self, token: object, scope: str, team: str, user: str, slug: str) -> bool:
        """Whether `token` is a fresh pass of ours for this person and campaign."""
        return eligibility.pass_holds(self.keyring.signer_key, token, scope, team, user, slug)

    # -- a signer's own standing -----------------------------------------------------

    def standing(self, slug: str, person: str) -> SignerStatus:
        """This person's signature on one campaign (CampaignNotFound if none such)."""
        with self.db.read() as session:
            return signer_status(session, slug, person, self.keyring)

    def signature(self, slug: str, person: str) -> OwnSignature:
        """Their signature and the name on it, read together (the change form)."""
        with self.db.read() as session:
            status = signer_status(session, slug, person, self.keyring)
            name = current_name(session, slug, person, self.keyring)
        return OwnSignature(status, name)

    def status(self, person: str) -> list[tuple[CampaignView, SignerStatus]]:
        """Every open campaign and every other one this person is still on, with
        their status on each. The campaigns come from the copy /demands shares;
        only this person's own rows are read, directly on the driver."""
        views = self.snapshot().views()
        with self.db.direct.read() as work:
            return signer_overview(work, person, self.keyring, views=views)

    # -- signing, changing, withdrawing ----------------------------------------------

    def sign(
        self,
        slug: str,
        person: str,
        choice: Choice = ANONYMOUSLY,
        news_to: Address | None = None,
        *,
        confirm: bool = True,
    ) -> Signed:
        """Record a signature once (anonymous unless `choice` says otherwise) and,
        with `news_to`, opt in to the campaign's news. With `confirm`, also the
        status the confirmation shows. CampaignNotFound, CampaignClosed.

        The busiest write there is: straight on the driver, and on SQLite
        committed together with others waiting (storage/direct.py, batching.py)."""
        return self.db.direct.write_batched(self._signing(slug, person, choice, news_to, confirm))

    def sign_soon(
        self,
        slug: str,
        person: str,
        choice: Choice,
        news_to: Address | None,
        finished: Callable[[Signed | None, BaseException | None], None],
    ) -> bool:
        """sign() with its confirmation, queued for the SQLite writer thread rather
        than waited for here: `finished(signed, error)` runs on that thread once the
        signature is committed (or refused, or failed), and must only hand the
        outcome on. False, with nothing queued, where there is no writer thread
        (PostgreSQL) or it is behind: then call sign()."""
        task = Task(record_signing, (slug, person, choice, news_to, True))
        if self.db.direct.write_elsewhere(task, finished):
            return True
        work = self._signing(slug, person, choice, news_to, True)
        return self.db.direct.write_soon(work, finished)

    def _signing(
        self,
        slug: str,
        person: str,
        choice: Choice,
        news_to: Address | None,
        confirm: bool,
    ) -> Callable[[DirectCursor], Signed]:
        keyring = self.keyring
        return lambda work: record_signing(work, keyring, slug, person, choice, news_to, confirm)

    def change(
        self, slug: str, person: str, choice: Choice, news_to: Address | None = None
    ) -> Signed:
        """Change how a signature is signed, and opt in to news at `news_to` (or out
        of it without), in one transaction. NotSigned if there is no signature."""
        keyring = self.keyring
        with self.db.write() as session:
            if not change_choice(session, slug, person, choice, keyring):
                raise NotSigned()
            if news_to is not None:
                subscribe(session, slug, person, keyring, news_to)
            else:
                unsubscribe(session, person, keyring, slug)
            status = signer_status(session, slug, person, keyring)
            title = campaigns.public_title(session, slug)
        return Signed(SignOutcome.SIGNED, title, status)

    def withdraw(self, slug: str, person: str) -> Withdrawn:
        """Delete this person's signature (with their news and what is queued for
        them); says whether there was one. CampaignNotFound."""
        with self.db.write() as session:
            had_signed = remove_signature(session, slug, person, self.keyring)
            title = campaigns.public_title(session, slug)
        return Withdrawn(had_signed, title)

    # -- news by DM ------------------------------------------------------------------

    def follow(self, slug: str, person: str, address: Address) -> Followed:
        """Opt in to a campaign's news, signed or not. CampaignNotFound."""
        with self.db.write() as session:
            new = subscribe(session, slug, person, self.keyring, address)
            title = campaigns.public_title(session, slug)
        return Followed(new, title)

    def stop_news(self, person: str) -> int:
        """Opt out of every campaign's news; how many subscriptions went."""
        with self.db.write() as session:
            return unsubscribe(session, person, self.keyring)

    # -- a workspace that joined a Grid ----------------------------------------------

    def adopt(self, person: str, formers: list[str]) -> None:
        """Move the rows of a person's former digests to their current one, in one
        transaction (petition/signatures.adopt_signer)."""
        keyring = self.keyring
        with self.db.write() as session:
            for former in formers:
                adopt_signer(session, person, former, keyring)
