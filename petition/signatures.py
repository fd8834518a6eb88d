"""Signing, checking and withdrawing: the only code that touches signature rows.

A signer reaches this module as a person digest (petition/keyring.py), held in memory
for the request. Each campaign knows them by an HMAC of it under the campaign's
own key, and their name, if any, sealed under that key: the raw ids never reach
storage, and no stored value links one campaign's signer to another's.

Past 500 lines on purpose: every statement that reads or writes a signature row is
here, on the session and on the driver's fast path alike, so that a privacy review
of what is stored about a signer reads one module.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from petition import retractions
from petition.campaigns import PUBLIC_CAMPAIGNS, CampaignView, campaign_view, is_open_at
from petition.errors import CampaignNotFound, DomainError
from petition.keyring import (
    NAME_PAD,
    CampaignKeys,
    CannotOpen,
    Keyring,
    name_context,
    person_digest,
)
from petition.lengths import NAME_MAX
from petition.naming import is_named, naming_cutoff
from storage.db import rows_changed
from storage.direct import DirectCursor, of
from storage.models import (
    Campaign,
    CampaignStatus,
    DeliveryState,
    NewsPost,
    Signature,
    Subscriber,
    Update,
    UpdateDelivery,
    table,
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


def _row_values(campaign_id: int, choice: Choice, keys: CampaignKeys) -> dict[str, object]:
    """How a choice is stored: whether the name is public, the threshold of a
    conditional one, and the name itself sealed under the campaign's key (public
    names too: no name is in the database in clear)."""
    if choice.conditional and not MIN_THRESHOLD <= (choice.threshold or 0) <= MAX_THRESHOLD:
        raise InvalidName(f"Choose a number from {MIN_THRESHOLD} to {MAX_THRESHOLD:,}.")
    if choice.conditional and choice.name is None:
        raise DomainError("a conditional signature needs a name")
    # The form holds names to NAME_MAX (clean_name); this holds every caller to it,
    # since a sealed name has room for NAME_MAX characters of four bytes, no more.
    if choice.name is not None and len(choice.name) > NAME_MAX:
        raise InvalidName(f"Please keep the name under {NAME_MAX} characters.")
    sealed = (
        keys.seal(choice.name, name_context(campaign_id), NAME_PAD)
        if choice.name is not None
        else None
    )
    return {
        "named": choice.name is not None and not choice.conditional,
        "name_threshold": choice.threshold if choice.conditional else None,
        "sealed_name": sealed,
    }


def signer_hash(key: bytes, team_id: str, user_id: str) -> str:
    """A person's digest (petition/keyring.person_digest): in memory only. What is
    stored is its HMAC under a campaign's key (CampaignKeys.signer)."""
    return person_digest(key, team_id, user_id)


# The statements of signing and checking are built once (see petition/campaigns.py).
_CAMPAIGN_BY_SLUG = select(Campaign).where(
    Campaign.slug == bindparam("slug"), Campaign.status != CampaignStatus.DRAFT
)
# Hot statements are Core, on the tables' columns, and run directly on the
# driver's connection (storage/direct.py): through a Session each would cost
# SQLAlchemy 100 to 250 us, against 5 to 20 us for SQLite to run it.
_C = table(Campaign).c
_S = table(Signature).c
_SUB = table(Subscriber).c
_OPENNESS = select(_C.id, _C.status, _C.closes_at, _C.title, _C.key_id).where(
    _C.slug == bindparam("slug"), _C.status != CampaignStatus.DRAFT
)
_KEY_ID = select(_C.key_id).where(_C.id == bindparam("campaign"))
# Set once, by whichever process signs first: the others find it set.
_SET_KEY_ID = (
    update(table(Campaign))
    .where(_C.id == bindparam("campaign"), _C.key_id.is_(None))
    .values(key_id=bindparam("key"))
)
_SIGNED = select(_S.signer_hash).where(
    _S.campaign_id == bindparam("campaign"), _S.signer_hash == bindparam("signer")
)
_SIGNATURE_ROW = select(_S.named, _S.name_threshold).where(
    _S.campaign_id == bindparam("campaign"), _S.signer_hash == bindparam("signer")
)
_SUBSCRIBED = select(_SUB.signer_hash).where(
    _SUB.campaign_id == bindparam("campaign"), _SUB.signer_hash == bindparam("signer")
)
_CAMPAIGN_ID_BY_SLUG = select(_C.id, _C.key_id).where(
    _C.slug == bindparam("slug"), _C.status != CampaignStatus.DRAFT
)
_NEW_SIGNATURE = {
    name: bindparam(name, type_=_S[name].type)
    for name in (
        "campaign_id",
        "signer_hash",
        "named",
        "signed_on",
        "name_threshold",
        "sealed_name",
    )
}
# INSERT ... ON CONFLICT DO NOTHING: one statement where a savepoint around the
# insert takes three. Its rowcount (the driver's own) says whether this request or
# a concurrent one signed.
_INSERT_IF_NEW = {
    "sqlite": sqlite.insert(table(Signature)).values(_NEW_SIGNATURE).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(table(Signature))
    .values(_NEW_SIGNATURE)
    .on_conflict_do_nothing(),
}
_INSERT = insert(table(Signature)).values(_NEW_SIGNATURE)
# Added up over a unit of work (DirectCursor.tally): once per batch of signatures.
_COUNT_MORE = (
    update(table(Campaign))
    .where(_C.id == bindparam("campaign"))
    .values(signature_count=_C.signature_count + bindparam("n"))
)
# Both read partial indexes of just those rows (storage/models.py, Signature).
_NAMED_COUNT = select(func.count()).where(_S.campaign_id == bindparam("campaign"), _S.named)
_THRESHOLDS = select(_S.name_threshold).where(
    _S.campaign_id == bindparam("campaign"), _S.name_threshold.is_not(None)
)


def _campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalars(_CAMPAIGN_BY_SLUG, {"slug": slug}).one_or_none()
    if campaign is None:
        raise CampaignNotFound(slug, [])
    return campaign


def campaign_keys(
    unit: Session | DirectCursor, keyring: Keyring, campaign_id: int, key_id: str | None
) -> CampaignKeys:
    """The campaign's keys, made now if nobody has signed it yet (in the write
    transaction of that first signature, so that exactly one key is used)."""
    if key_id is not None:
        return keyring.campaign(key_id)
    work = of(unit)
    found = work.first(_KEY_ID, campaign=campaign_id)
    if found is not None and found[0] is not None:
        return keyring.campaign(found[0])
    keys = keyring.create()
    if work.run(_SET_KEY_ID, campaign=campaign_id, key=keys.key_id):
        return keys
    # Another process made the campaign's key first: use theirs.
    keyring.discard(keys.key_id)
    found = work.first(_KEY_ID, campaign=campaign_id)
    assert found is not None
    assert found[0] is not None
    return keyring.campaign(found[0])


def signer_value(keyring: Keyring, key_id: str | None, person: str) -> str | None:
    """This person's identity in a campaign; None when the campaign has no key,
    that is, nobody has signed it."""
    return None if key_id is None else keyring.campaign(key_id).signer(person)


@dataclass(frozen=True)
class Signing:
    outcome: SignOutcome
    campaign_id: int
    title: str


def add_signature(
    unit: Session | DirectCursor,
    slug: str,
    person: str,
    name: str | None = None,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    *,
    keyring: Keyring,
    choice: Choice | None = None,
) -> SignOutcome:
    """Record a signature once. A second call for the same signer changes nothing."""
    choice = choice or Choice(name=name)
    return sign(unit, slug, person, choice, keyring, today, now).outcome


def sign(
    unit: Session | DirectCursor,
    slug: str,
    person: str,
    choice: Choice,
    keyring: Keyring,
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
    campaign_id, status, closes_at, title, key_id = found
    if not is_open_at(status, closes_at, now):
        raise CampaignClosed()
    keys = campaign_keys(work, keyring, campaign_id, key_id)
    signer = keys.signer(person)
    row = {
        "campaign_id": campaign_id,
        "signer_hash": signer,
        "signed_on": today or dt.date.today(),
        **_row_values(campaign_id, choice, keys),
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
    work.tally(_COUNT_MORE, campaign=campaign_id)
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


def remove_signature(session: Session, slug: str, person: str, keyring: Keyring) -> bool:
    """Delete the signer's signature; True if there was one. Their news
    subscription and any news queued for them go with it: nothing may remain to
    say they signed."""
    campaign = _campaign(session, slug)
    signer = signer_value(keyring, campaign.key_id, person)
    if signer is None:
        return False
    deleted = rows_changed(
        session.execute(
            delete(Signature).where(
                Signature.campaign_id == campaign.id, Signature.signer_hash == signer
            )
        )
    )
    if deleted:
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(signature_count=Campaign.signature_count - deleted)
        )
        drop_subscriber_rows(session, campaign.id, signer, keyring, campaign.key_id)
    return bool(deleted)


def drop_subscriber_rows(
    session: Session, campaign_id: int, signer: str, keyring: Keyring, key_id: str | None
) -> int:
    """A subscriber of one campaign, and every delivery row of theirs (queued or
    done); how many subscriptions went. News they will no longer get counts as
    not delivered, and an update left with nothing to send is finished: its
    rows, keyed by signers, go. The news DMs they were sent are queued to be
    deleted from Slack (petition/retractions.py)."""
    retractions.queue(session, keyring, campaign_id, key_id, signer)
    theirs = (UpdateDelivery.signer_hash == signer) & UpdateDelivery.update_id.in_(
        select(Update.id).where(Update.campaign_id == campaign_id)
    )
    waiting = list(
        session.scalars(
            select(UpdateDelivery.update_id).where(
                theirs, UpdateDelivery.state == DeliveryState.PENDING
            )
        )
    )
    session.execute(
        delete(UpdateDelivery).where(theirs).execution_options(synchronize_session=False)
    )
    for update_id in waiting:
        session.execute(
            update(Update).where(Update.id == update_id).values(failed=Update.failed + 1)
        )
        left = session.scalar(
            select(UpdateDelivery.update_id).where(
                UpdateDelivery.update_id == update_id,
                UpdateDelivery.state == DeliveryState.PENDING,
            )
        )
        if left is None:
            session.execute(
                delete(UpdateDelivery)
                .where(UpdateDelivery.update_id == update_id)
                .execution_options(synchronize_session=False)
            )
    return (
        rows_changed(
            session.execute(
                delete(Subscriber).where(
                    Subscriber.campaign_id == campaign_id, Subscriber.signer_hash == signer
                )
            )
        )
        or 0
    )


def change_choice(
    session: Session, slug: str, person: str, choice: Choice, keyring: Keyring
) -> bool:
    """Change how an existing signature is signed; False if there is none."""
    campaign = _campaign(session, slug)
    signer = signer_value(keyring, campaign.key_id, person)
    if signer is None or campaign.key_id is None:
        return False
    keys = keyring.campaign(campaign.key_id)
    changed = rows_changed(
        session.execute(
            update(Signature)
            .where(Signature.campaign_id == campaign.id, Signature.signer_hash == signer)
            .values(**_row_values(campaign.id, choice, keys))
        )
    )
    return bool(changed)


def current_name(session: Session, slug: str, person: str, keyring: Keyring) -> str | None:
    """The name on this signature, opened for the signer only."""
    campaign = _campaign(session, slug)
    signer = signer_value(keyring, campaign.key_id, person)
    if signer is None or campaign.key_id is None:
        return None
    sealed = session.scalar(
        select(Signature.sealed_name).where(
            Signature.campaign_id == campaign.id, Signature.signer_hash == signer
        )
    )
    if sealed is None:
        return None
    try:
        return keyring.campaign(campaign.key_id).open(sealed, name_context(campaign.id))
    except CannotOpen:
        return None


def naming_state(unit: Session | DirectCursor, campaign_id: int) -> tuple[int, int | None]:
    """(unconditionally named signers, today's cutoff of the conditional rule)."""
    work = of(unit)
    found = work.first(_NAMED_COUNT, campaign=campaign_id)
    named = found[0] if found else 0
    thresholds = [t for (t,) in work.rows(_THRESHOLDS, campaign=campaign_id) if t is not None]
    return named, naming_cutoff(named, thresholds)


def signer_status(
    unit: Session | DirectCursor, slug: str, person: str, keyring: Keyring
) -> SignerStatus:
    work = of(unit)
    found = work.first(_CAMPAIGN_ID_BY_SLUG, slug=slug)
    if found is None:
        raise CampaignNotFound(slug, [])
    campaign_id, key_id = found
    signer = signer_value(keyring, key_id, person)
    if signer is None:
        return SignerStatus(signed=False, named=False)
    return _status(work, campaign_id, signer)


def _status(work: DirectCursor, campaign_id: int, signer: str) -> SignerStatus:
    keys = {"campaign": campaign_id, "signer": signer}
    row = work.first(_SIGNATURE_ROW, **keys)
    if row is None:
        return SignerStatus(signed=False, named=False)
    named, threshold = row
    return SignerStatus(
        signed=True,
        named=bool(named),
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
    session: Session | DirectCursor,
    person: str,
    keyring: Keyring,
    now: dt.datetime | None = None,
    views: Sequence[CampaignView] | None = None,
) -> list[tuple[CampaignView, SignerStatus]]:
    """Every open campaign, and every other one this signer is still on.

    `views` are the public campaigns when the caller has them already (the shared
    copy, petition/campaigns.public_snapshot). The person has a different value in
    each campaign, so each is looked up by its own key: a search by the
    signatures' primary key per campaign, never a scan.
    """
    work = of(session)
    if views is None:
        if not isinstance(session, Session):
            # The campaigns are read as ORM objects; on the driver, give `views`.
            raise TypeError("signer_overview without views needs a Session")
        now = now or dt.datetime.now(dt.UTC)
        campaigns = session.scalars(PUBLIC_CAMPAIGNS).all()
        listed = [(campaign_view(c, now), c.id, c.key_id) for c in campaigns]
    else:
        listed = [(view, view.campaign_id, view.key_id) for view in views]
    rows = []
    for view, campaign_id, key_id in listed:
        if key_id is None:
            # Nobody had signed it when the copy was made; another process's
            # first signature may have made its key since.
            found = work.first(_KEY_ID, campaign=campaign_id)
            key_id = found[0] if found else None
        signer = signer_value(keyring, key_id, person)
        status = (
            _status(work, campaign_id, signer)
            if signer is not None
            else SignerStatus(signed=False, named=False)
        )
        if status.signed or view.is_open:
            rows.append((view, status))
    return rows


def adopt_signer(session: Session, person: str, former: str, keyring: Keyring) -> int:
    """Move a person's rows from their former identity to their current one.

    When a workspace joins an Enterprise Grid, its members' digests change from
    (workspace, user) to (organization, user). Their next request carries both,
    and in each campaign their signature, subscription and queued news move
    over, except where the new value already has a row in that campaign (then the
    old one is a duplicate of the same person: it is removed and the count
    corrected).
    """
    moved = 0
    keyed = session.execute(
        select(Campaign.id, Campaign.key_id).where(Campaign.key_id.is_not(None))
    ).all()
    for campaign_id, key_id in keyed:
        assert key_id is not None  # the query takes keyed campaigns only
        keys = keyring.campaign(key_id)
        old, new = keys.signer(former), keys.signer(person)
        mine = (Signature.campaign_id == campaign_id) & (Signature.signer_hash == old)
        if session.execute(select(Signature.signer_hash).where(mine)).first() is not None:
            if session.get(Signature, (campaign_id, new)) is None:
                session.execute(update(Signature).where(mine).values(signer_hash=new))
                moved += 1
            else:
                # By what was deleted: a concurrent carry-over may have removed it first.
                deleted = rows_changed(session.execute(delete(Signature).where(mine)))
                if deleted:
                    session.execute(
                        update(Campaign)
                        .where(Campaign.id == campaign_id)
                        .values(signature_count=Campaign.signature_count - deleted)
                    )
        session.execute(
            update(NewsPost)
            .where(NewsPost.campaign_id == campaign_id, NewsPost.signer_hash == old)
            .values(signer_hash=new)
            .execution_options(synchronize_session=False)
        )
        theirs = (Subscriber.campaign_id == campaign_id) & (Subscriber.signer_hash == old)
        if session.execute(select(Subscriber.signer_hash).where(theirs)).first() is not None:
            if session.get(Subscriber, (campaign_id, new)) is None:
                session.execute(update(Subscriber).where(theirs).values(signer_hash=new))
            else:
                session.execute(delete(Subscriber).where(theirs))
        updates = select(Update.id).where(Update.campaign_id == campaign_id)
        for update_id in session.scalars(
            select(UpdateDelivery.update_id).where(
                UpdateDelivery.update_id.in_(updates), UpdateDelivery.signer_hash == old
            )
        ).all():
            queued = (UpdateDelivery.update_id == update_id) & (UpdateDelivery.signer_hash == old)
            if session.get(UpdateDelivery, (update_id, new)) is None:
                session.execute(
                    update(UpdateDelivery)
                    .where(queued)
                    .values(signer_hash=new)
                    .execution_options(synchronize_session=False)
                )
            else:
                session.execute(
                    delete(UpdateDelivery)
                    .where(queued)
                    .execution_options(synchronize_session=False)
                )
    return moved


# The signer tables and how each is ordered by its key.
_REWRITTEN = (
    ("signatures", "campaign_id = :campaign", "signer_hash"),
    ("subscribers", "campaign_id = :campaign", "signer_hash"),
    ("news_posts", "campaign_id = :campaign", "signer_hash, sealed_ref"),
    (
        "update_deliveries",
        "update_id IN (SELECT id FROM updates WHERE campaign_id = :campaign)",
        "update_id, signer_hash",
    ),
)


def rewrite_in_key_order(session: Session, campaign_id: int) -> None:
    """Write a campaign's signer rows out again, in the order of their values.

    A table keeps, in its pages, the order in which rows came: SQLite lays cells
    out in insertion order within a page, PostgreSQL appends to its heap and
    stamps each row with its transaction (`xmin`, which any role with SELECT can
    read). Rewritten in one transaction in key order (random values under the
    campaign's key), the rows say nothing finer than their day. The copy is held
    in a temporary table (in memory on SQLite: temp_store, storage/db.py).
    """
    # Table names, conditions and orders are this module's own constants.
    for name, where, order in _REWRITTEN:
        copy = f"rewrite_{name}"
        params = {"campaign": campaign_id}
        keep = f"CREATE TEMPORARY TABLE {copy} AS SELECT * FROM {name} WHERE {where}"  # noqa: S608
        session.execute(text(keep), params)
        session.execute(text(f"DELETE FROM {name} WHERE {where}"), params)  # noqa: S608
        again = f"INSERT INTO {name} SELECT * FROM {copy} ORDER BY {order}"  # noqa: S608
        session.execute(text(again))
        session.execute(text(f"DROP TABLE {copy}"))
