"""Signers as the database knows them: a person's digest, and their value in a
campaign under its key (petition/keyring.py)."""

from __future__ import annotations

from sqlalchemy import select

from bot.settings import Settings
from petition.keyring import name_context, person_digest
from storage.db import Database
from storage.models import Campaign

TEAM = "T0UNDRSGN"


def person(settings: Settings, user: str, scope: str = TEAM) -> str:
    return person_digest(settings.require_signer_key(), scope, user)


def stored_value(
    db: Database, settings: Settings, slug: str, user: str, scope: str = TEAM
) -> str | None:
    """The value this person's signature has in this campaign; None when the
    campaign has no key yet (nobody signed it)."""
    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
    if key_id is None:
        return None
    return settings.keyring().campaign(key_id).signer(person(settings, user, scope))


def expected_value(
    db: Database, settings: Settings, slug: str, user: str, scope: str = TEAM
) -> str:
    """The value a signature must have, worked out here with hashlib and HKDF
    rather than with petition.keyring: the campaign key read from the store, the
    signer subkey derived from it, the HMAC of the person's digest."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    with db.read() as session:
        key_id = session.scalar(select(Campaign.key_id).where(Campaign.slug == slug))
    assert key_id is not None, "the campaign has no key: nobody signed it"
    campaign_key = settings.keyring().store.load(key_id)
    subkey = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"undersigned/campaign-signer/v1"
    ).derive(campaign_key)
    digest = hmac.new(
        settings.require_signer_key(), f"slack:{scope}:{user}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.new(subkey, digest.encode(), hashlib.sha256).hexdigest()


def opened_name(db: Database, settings: Settings, slug: str, sealed: str | None) -> str | None:
    """A sealed name, opened with the campaign's key."""
    if sealed is None:
        return None
    with db.read() as session:
        campaign = session.scalars(select(Campaign).where(Campaign.slug == slug)).one()
    assert campaign.key_id is not None
    keys = settings.keyring().campaign(campaign.key_id)
    return keys.open(sealed, name_context(campaign.id))
