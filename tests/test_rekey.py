"""Migration 0008 moves a database made before campaign keys: every signer value
is re-derived from the stored one under a new key of its campaign (no Slack id is
needed), every name is sealed under that key, and forgotten campaigns keep their
counts but no signer rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from petition.keyring import Keyring, KeyStore, Rekeyer, name_context, person_digest
from petition.sealing import Sealer
from storage.db import Database
from storage.migrate import upgrade
from tests.support.databases import ON_POSTGRES, PostgresServer, database_bytes

KEY = bytes(range(32))
BEFORE_KEYS = "0005"


def _legacy_database(db: Database) -> dict[str, str]:
    """A database at 0005, as the bot stored it then: hashes under SIGNER_KEY,
    public names in clear, conditional names and news addresses sealed."""
    upgrade(db.engine, BEFORE_KEYS)
    old = Sealer(KEY)
    people = {
        name: person_digest(KEY, "T0UNDRSGN", user)
        for name, user in (("anon", "U0ANON0001"), ("named", "U0NAMED001"), ("cond", "U0COND0001"))
    }
    rows = [
        ("open-one", "anon", None, None, None),
        ("open-one", "named", "Nadia Publicname", None, None),
        ("open-one", "cond", None, 3, old.seal("Cora Conditional", "conditional-name:1")),
        ("other-one", "named", None, None, None),
        ("gone-one", "named", "Gone Publicname", None, None),
    ]
    with db.engine.begin() as conn:
        for number, (slug, state) in enumerate(
            (("open-one", None), ("other-one", None), ("gone-one", "2026-11-01 00:00:00")),
            start=1,
        ):
            conn.execute(
                text(
                    "INSERT INTO campaigns (id, slug, title, statement, status, created_at, "
                    "signature_count, forgotten_at) VALUES (:id, :slug, :slug, 'S', 'closed', "
                    "'2026-10-01 00:00:00', :count, :gone)"
                ),
                {
                    "id": number,
                    "slug": slug,
                    "count": sum(1 for r in rows if r[0] == slug),
                    "gone": state,
                },
            )
        ids = {"open-one": 1, "other-one": 2, "gone-one": 3}
        for slug, who, name, threshold, sealed in rows:
            conn.execute(
                text(
                    "INSERT INTO signatures (campaign_id, signer_hash, name, signed_on, "
                    "name_threshold, sealed_name) VALUES (:c, :h, :n, :d, :t, :s)"
                ),
                {
                    "c": ids[slug],
                    "h": people[who],
                    "n": name,
                    "d": dt.date(2026, 11, 20),
                    "t": threshold,
                    "s": sealed,
                },
            )
        conn.execute(
            text("INSERT INTO subscribers VALUES (1, :h, :a)"),
            {"h": people["anon"], "a": old.seal("T0UNDRSGN:U0ANON0001", "subscriber:1")},
        )
    return people


@pytest.fixture
def legacy(db_url_fresh: str) -> Database:
    return Database.from_url(db_url_fresh)


@pytest.fixture
def db_url_fresh(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create(migrated=False)
    yield url
    server.drop(url)


def test_an_old_database_needs_the_keys_to_move(legacy: Database):
    try:
        _legacy_database(legacy)
        with pytest.raises(RuntimeError, match="SIGNER_KEY"):
            upgrade(legacy.engine)
    finally:
        legacy.dispose()


def test_every_value_is_rederived_and_every_name_sealed(legacy: Database, tmp_path: Path):
    keyring = Keyring(KEY, KeyStore(tmp_path / "keys", KEY))
    try:
        people = _legacy_database(legacy)
        before = database_bytes(str(legacy.engine.url.render_as_string(hide_password=False)))
        assert b"Nadia Publicname" in before, "the scan would prove nothing"
        upgrade(legacy.engine, rekeyer=Rekeyer(keyring, KEY))
        with legacy.engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT slug, key_id FROM campaigns")).all())
            rows = conn.execute(
                text(
                    "SELECT c.slug, s.signer_hash, s.named, s.name_threshold, s.sealed_name "
                    "FROM signatures s JOIN campaigns c ON c.id = s.campaign_id"
                )
            ).all()
            counts = dict(conn.execute(text("SELECT slug, signature_count FROM campaigns")).all())
            [subscriber] = conn.execute(text("SELECT * FROM subscribers")).all()
        after = database_bytes(str(legacy.engine.url.render_as_string(hide_password=False)))
    finally:
        legacy.dispose()
    assert keys["gone-one"] is None
    assert counts == {"open-one": 3, "other-one": 1, "gone-one": 1}
    # The new value of each row, worked out here: HMAC of the old one under the
    # HKDF signer subkey of the campaign's key.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def expected(slug: str, who: str) -> str:
        campaign_key = keyring.store.load(keys[slug])
        subkey = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"undersigned/campaign-signer/v1"
        ).derive(campaign_key)
        return hmac.new(subkey, people[who].encode(), hashlib.sha256).hexdigest()

    by_value = {(r.slug, r.signer_hash): r for r in rows}
    assert set(by_value) == {
        ("open-one", expected("open-one", "anon")),
        ("open-one", expected("open-one", "named")),
        ("open-one", expected("open-one", "cond")),
        ("other-one", expected("other-one", "named")),
    }
    # The same person is unrelated across campaigns.
    assert expected("open-one", "named") != expected("other-one", "named")
    opened = keyring.campaign(keys["open-one"])
    named = by_value[("open-one", expected("open-one", "named"))]
    assert named.named
    assert opened.open(named.sealed_name, name_context(1)) == "Nadia Publicname"
    cond = by_value[("open-one", expected("open-one", "cond"))]
    assert not cond.named
    assert cond.name_threshold == 3
    assert opened.open(cond.sealed_name, name_context(1)) == "Cora Conditional"
    assert subscriber.signer_hash == expected("open-one", "anon")
    for name in (b"Nadia Publicname", b"Gone Publicname", b"Cora Conditional"):
        assert name not in after
    for person in people.values():
        assert person.encode() not in after
