"""Signing, checking and withdrawing: the only code that touches signature rows.

A signer is known here only by `signer_hash`, an HMAC of workspace and user id
under SIGNER_KEY; the raw ids never reach this module's callers' storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.campaigns import PUBLIC_CAMPAIGNS, CampaignView, campaign_view, is_open, is_open_at
from bot.errors import CampaignNotFound, DomainError
from bot.naming import is_named, naming_cutoff
from bot.sealing import CannotOpen, Sealer
from storage.direct import DirectCursor, of
from storage.models import (
    NAME_MAX,
    Campaign,
    CampaignStatus,
    Signature,
    Subscriber,
    UpdateDelivery,
)


class SignOutcome(StrEnum):
    SIGNED = "signed"
    ALREADY_SIGNED = "already_signed"


class CampaignClosed(DomainError):
    def __init__(self) -> None:
        super().__init__("this campaign is closed and no longer takes signatures")


@dataclass(frozen=True)
class SignerStatus:
    signed: bool
    named: bool
    # For a conditional signer: their N, and whether the rule names them today.
    threshold: int | None = None
    named_today: bool = False
    subscribed: bool = False


@dataclass(frozen=True)
class Choice:
    """How a person signs: anonymously (no name), with a name, or with a name once
    `threshold` colleagues have added theirs."""

    name: str | None = None
    threshold: int | None = None

    @property
    def conditional(self) -> bool:
        return self.threshold is not None


MIN_THRESHOLD = 1
MAX_THRESHOLD = 100_000
NAME_CONTEXT = "conditional-name:{campaign_id}"


def _row_values(campaign_id: int, choice: Choice, sealer: Sealer | None) -> dict[str, object]:
    if choice.conditional:
        if sealer is None or choice.name is None:
            raise DomainError("a conditional signature needs a name and the sealing key")
        if not MIN_THRESHOLD <= (choice.threshold or 0) <= MAX_THRESHOLD:
            raise InvalidName(f"Choose a number from {MIN_THRESHOLD} to {MAX_THRESHOLD:,}.")
        # The name is sealed: until the rule names this signer, the database alone
        # must not say who they are.
        sealed = sealer.seal(choice.name, NAME_CONTEXT.format(campaign_id=campaign_id))
        return {"name": None, "name_threshold": choice.threshold, "sealed_name": sealed}
    return {"name": choice.name, "name_threshold": None, "sealed_name": None}


def signer_hash(key: bytes, team_id: str, user_id: str) -> str:
    """The only form in which a signer's identity is ever stored."""
    message = f"slack:{team_id}:{user_id}".encode()
    # Not hmac.digest(): that one gives up the interpreter lock, and under load
    # getting it back took a whole switch interval (5 ms) where this takes 4 us.
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# The statements of signing and checking are built once (see bot/campaigns.py).
_CAMPAIGN_BY_SLUG = select(Campaign).where(
    Campaign.slug == bindparam("slug"), Campaign.status != CampaignStatus.DRAFT
)
# Hot statements are Core, on the tables' columns, and run directly on the
# driver's connection (storage/direct.py): through a Session each would cost
# SQLAlchemy 100 to 250 us, against 5 to 20 us for SQLite to run it.
_C = Campaign.__table__.c
_S = Signature.__table__.c
_SUB = Subscriber.__table__.c
_OPENNESS = select(_C.id, _C.status, _C.closes_at, _C.title).where(
    _C.slug == bindparam("slug"), _C.status != CampaignStatus.DRAFT
)
_SIGNED = select(_S.signer_hash).where(
    _S.campaign_id == bindparam("campaign"), _S.signer_hash == bindparam("signer")
)
_SIGNATURE_ROW = select(_S.name, _S.name_threshold).where(
    _S.campaign_id == bindparam("campaign"), _S.signer_hash == bindparam("signer")
)
_SUBSCRIBED = select(_SUB.signer_hash).where(
    _SUB.campaign_id == bindparam("campaign"), _SUB.signer_hash == bindparam("signer")
)
# Campaign and signer together are the primary key of the signatures, so this is a
# search by key whatever the number of signatures; the signer alone would be a scan.
_SIGNED_AMONG = select(Signature.campaign_id).where(
    Signature.campaign_id.in_(bindparam("campaigns", expanding=True)),
    Signature.signer_hash == bindparam("signer"),
)
# The campaigns this signer is on, by key as above: for each campaign, a search
# of the signatures by (campaign_id, signer_hash). Not a join, for which SQLite
# would rather scan the signatures and look each campaign up.
_SIGNED_CAMPAIGNS = select(_C.slug, _C.id).where(
    _C.status != CampaignStatus.DRAFT,
    select(_S.signer_hash)
    .where(_S.campaign_id == _C.id, _S.signer_hash == bindparam("signer"))
    .exists(),
)
_CAMPAIGN_ID_BY_SLUG = select(_C.id).where(
    _C.slug == bindparam("slug"), _C.status != CampaignStatus.DRAFT
)
_NEW_SIGNATURE = {
    name: bindparam(name, type_=_S[name].type)
    for name in ("campaign_id", "signer_hash", "name", "signed_on", "name_threshold", "sealed_name")
}
# INSERT ... ON CONFLICT DO NOTHING: one statement where a savepoint around the
# insert takes three. Its rowcount (the driver's own) says whether this request or
# a concurrent one signed.
_INSERT_IF_NEW = {
    "sqlite": sqlite.insert(Signature.__table__).values(_NEW_SIGNATURE).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(Signature.__table__)
    .values(_NEW_SIGNATURE)
    .on_conflict_do_nothing(),
}
_INSERT = insert(Signature.__table__).values(_NEW_SIGNATURE)
_COUNT_ONE_MORE = (
    update(Campaign.__table__)
    .where(_C.id == bindparam("campaign"))
    .values(signature_count=_C.signature_count + 1)
)
# Both read partial indexes of just those rows (storage/models.py, Signature).
_NAMED_COUNT = select(func.count()).where(
    _S.campaign_id == bindparam("campaign"), _S.name.is_not(None)
)
_THRESHOLDS = select(_S.name_threshold).where(
    _S.campaign_id == bindparam("campaign"), _S.name_threshold.is_not(None)
)


def _campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalars(_CAMPAIGN_BY_SLUG, {"slug": slug}).one_or_none()
    if campaign is None:
        raise CampaignNotFound(slug, [])
    return campaign


@dataclass(frozen=True)
class Signing:
    outcome: SignOutcome
    campaign_id: int
    title: str


def add_signature(
    unit: Session | DirectCursor,
    slug: str,
    signer: str,
    name: str | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    *,
    choice: Choice | None = None,
    sealer: Sealer | None = None,
) -> SignOutcome:
    """Record a signature once. A second call for the same signer changes nothing."""
    choice = choice or Choice(name=name)
    return sign(unit, slug, signer, choice, sealer, today, now).outcome


def sign(
    unit: Session | DirectCursor,
    slug: str,
    signer: str,
    choice: Choice,
    sealer: Sealer | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Signing:
    """Record a signature once, and say which campaign it went to (its id and title,
    read by the statement that checks that it is open)."""
    work = of(unit)
    # Once per batch of signatures committed together (storage/batching.py).
    found = work.first_kept(_OPENNESS, slug=slug)
    if found is None:
        raise CampaignNotFound(slug, [])
    campaign_id, status, closes_at, title = found
    if not is_open_at(status, closes_at, now):
        raise CampaignClosed()
    row = {
        "campaign_id": campaign_id,
        "signer_hash": signer,
        "signed_on": today or dt.date.today(),
        **_row_values(campaign_id, choice, sealer),
    }
    insert_if_new = _INSERT_IF_NEW.get(work.dialect_name)
    if insert_if_new is not None:
        # Already signed (before, or by a concurrent request): nothing inserted.
        inserted = work.run(insert_if_new, **row)
    elif work.first(_SIGNED, campaign=campaign_id, signer=signer) is None:
        inserted = work.run(_INSERT, **row)
    else:
        inserted = 0
    if not inserted:
        return Signing(SignOutcome.ALREADY_SIGNED, campaign_id, title)
    work.run(_COUNT_ONE_MORE, campaign=campaign_id)
    return Signing(SignOutcome.SIGNED, campaign_id, title)


def status_after_signing(
    unit: Session | DirectCursor, campaign_id: int, choice: Choice, subscribed: bool
) -> SignerStatus:
    """The status of a signature just recorded with this choice, without reading it
    back (only the conditional rule needs the campaign's other signatures)."""
    return SignerStatus(
        signed=True,
        named=choice.name is not None and not choice.conditional,
        threshold=choice.threshold,
        named_today=_named_today(unit, campaign_id, choice.threshold),
        subscribed=subscribed,
    )


def remove_signature(session: Session, slug: str, signer: str) -> bool:
    """Delete the signer's signature; True if there was one."""
    campaign = _campaign(session, slug)
    deleted = session.execute(
        delete(Signature).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    ).rowcount
    if deleted:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(signature_count=Campaign.signature_count - deleted)
        )
        # Nothing may remain to say they signed: their news subscription goes too.
        session.execute(
            delete(Subscriber).where(
                Subscriber.campaign_id == campaign.id, Subscriber.signer_hash == signer
            )
        )
    return bool(deleted)


def change_choice(
    session: Session, slug: str, signer: str, choice: Choice, sealer: Sealer | None
) -> bool:
    """Change how an existing signature is signed; False if there is none."""
    campaign = _campaign(session, slug)
    changed = session.execute(
        update(Signature)
        .where(Signature.campaign_id == campaign.id, Signature.signer_hash == signer)
        .values(**_row_values(campaign.id, choice, sealer))
    ).rowcount
    return bool(changed)


def current_name(session: Session, slug: str, signer: str, sealer: Sealer | None) -> str | None:
    """The name on this signature (opened, for a conditional one), for the signer only."""
    campaign = _campaign(session, slug)
    row = session.execute(
        select(Signature.name, Signature.sealed_name).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    ).one_or_none()
    if row is None:
        return None
    if row.name is not None:
        return row.name
    if row.sealed_name and sealer is not None:
        try:
            return sealer.open(row.sealed_name, NAME_CONTEXT.format(campaign_id=campaign.id))
        except CannotOpen:
            return None
    return None


def naming_state(unit: Session | DirectCursor, campaign_id: int) -> tuple[int, int | None]:
    """(unconditionally named signers, today's cutoff of the conditional rule)."""
    work = of(unit)
    found = work.first(_NAMED_COUNT, campaign=campaign_id)
    named = found[0] if found else 0
    thresholds = [t for (t,) in work.rows(_THRESHOLDS, campaign=campaign_id) if t is not None]
    return named, naming_cutoff(named, thresholds)


def signer_status(unit: Session | DirectCursor, slug: str, signer: str) -> SignerStatus:
    work = of(unit)
    found = work.first(_CAMPAIGN_ID_BY_SLUG, slug=slug)
    if found is None:
        raise CampaignNotFound(slug, [])
    return _status(work, found[0], signer)


def _status(work: DirectCursor, campaign_id: int, signer: str) -> SignerStatus:
    keys = {"campaign": campaign_id, "signer": signer}
    row = work.first(_SIGNATURE_ROW, **keys)
    if row is None:
        return SignerStatus(signed=False, named=False)
    name, threshold = row
    return SignerStatus(
        signed=True,
        named=name is not None,
        threshold=threshold,
        named_today=_named_today(work, campaign_id, threshold),
        subscribed=work.first(_SUBSCRIBED, **keys) is not None,
    )


def _named_today(unit: Session | DirectCursor, campaign_id: int, threshold: int | None) -> bool:
    """Whether a conditional signature's threshold is met today (False otherwise)."""
    return threshold is not None and is_named(threshold, naming_state(unit, campaign_id)[1])


class InvalidName(DomainError):
    pass


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_name(raw: str | None) -> str:
    """The name as it will appear on the letter: one line, trimmed, length limited."""
    if raw is None:
        raise InvalidName("Type the name to put on the letter, or choose to sign anonymously.")
    name = " ".join(_CONTROL.sub(" ", raw).split())
    if not name:
        raise InvalidName("Type the name to put on the letter, or choose to sign anonymously.")
    if len(name) > NAME_MAX:
        raise InvalidName(f"Please keep the name under {NAME_MAX} characters.")
    return name


def signer_overview(
    session: Session,
    signer: str,
    now: dt.datetime | None = None,
    views: Sequence[CampaignView] | None = None,
) -> list[tuple[CampaignView, SignerStatus]]:
    """Every open campaign, and every other one this signer is still on.

    `views` are the public campaigns when the caller has them already (the shared
    copy, bot/campaigns.public_snapshot): then only the signer's rows are read.
    """
    if views is not None:
        work = of(session)
        signed: dict[str, int] = dict(work.rows(_SIGNED_CAMPAIGNS, signer=signer))  # type: ignore[arg-type]
        rows = []
        for view in views:
            campaign_id = signed.get(view.slug)
            if campaign_id is not None:
                rows.append((view, _status(work, campaign_id, signer)))
            elif view.is_open:
                rows.append((view, SignerStatus(False, False)))
        return rows
    now = now or dt.datetime.now(dt.UTC)
    campaigns = session.scalars(PUBLIC_CAMPAIGNS).all()
    signed_ids = (
        set(
            session.scalars(
                _SIGNED_AMONG, {"campaigns": [c.id for c in campaigns], "signer": signer}
            )
        )
        if campaigns
        else set()
    )
    rows = []
    for campaign in campaigns:
        signed = campaign.id in signed_ids
        if not (is_open(campaign, now) or signed):
            continue
        status = _status(of(session), campaign.id, signer) if signed else SignerStatus(False, False)
        rows.append((campaign_view(campaign, now), status))
    return rows


def adopt_signer(session: Session, signer: str, former: str) -> int:
    """Move a person's rows from their former hash to their current one.

    When a workspace joins an Enterprise Grid, its members' hashes change from
    (workspace, user) to (organization, user). Their next request carries both,
    and their signatures, subscriptions and queued news move over, except where
    the new hash already has a row for that campaign (then the old one is a
    duplicate of the same person: it is removed and the count corrected).
    """
    moved = 0
    # By key: (campaign, hash) for each campaign, never a scan of the signatures.
    campaign_ids = list(session.scalars(select(Campaign.id)))
    for campaign_id in session.scalars(
        select(Signature.campaign_id).where(
            Signature.campaign_id.in_(campaign_ids), Signature.signer_hash == former
        )
    ).all():
        clash = session.get(Signature, (campaign_id, signer))
        if clash is None:
            session.execute(
                update(Signature)
                .where(Signature.campaign_id == campaign_id, Signature.signer_hash == former)
                .values(signer_hash=signer)
            )
            moved += 1
        else:
            # By what was deleted: a concurrent carry-over may have removed it first.
            deleted = session.execute(
                delete(Signature).where(
                    Signature.campaign_id == campaign_id, Signature.signer_hash == former
                )
            ).rowcount
            if deleted:
                session.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign_id)
                    .values(signature_count=Campaign.signature_count - deleted)
                )
    for campaign_id in session.scalars(
        select(Subscriber.campaign_id).where(
            Subscriber.campaign_id.in_(campaign_ids), Subscriber.signer_hash == former
        )
    ).all():
        if session.get(Subscriber, (campaign_id, signer)) is None:
            session.execute(
                update(Subscriber)
                .where(Subscriber.campaign_id == campaign_id, Subscriber.signer_hash == former)
                .values(signer_hash=signer)
            )
        else:
            session.execute(
                delete(Subscriber).where(
                    Subscriber.campaign_id == campaign_id, Subscriber.signer_hash == former
                )
            )
    for update_id in session.scalars(
        select(UpdateDelivery.update_id).where(UpdateDelivery.signer_hash == former)
    ).all():
        mine = (UpdateDelivery.update_id == update_id) & (UpdateDelivery.signer_hash == former)
        if session.get(UpdateDelivery, (update_id, signer)) is None:
            session.execute(
                update(UpdateDelivery)
                .where(mine)
                .values(signer_hash=signer)
                .execution_options(synchronize_session=False)
            )
        else:
            session.execute(delete(UpdateDelivery).where(mine))
    return moved
