"""Per-campaign keys, checked against answers worked out without this code.

The vectors below were computed with the OpenSSL 3 command line, not with
bot/keyring.py:

    K=000102...1f  (SIGNER_KEY)    CK=202122...3f  (a campaign key)
    printf 'slack:T0TEAM:U0USER' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
    openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$CK \\
        -kdfopt info:undersigned/campaign-signer/v1 HKDF
    printf $PERSON | openssl dgst -sha256 -mac HMAC -macopt hexkey:$SIGNER_SUBKEY
"""

from __future__ import annotations

import base64
import os
import stat
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.keyring import (
    ADDRESS_PAD,
    NAME_PAD,
    CampaignKeys,
    CannotOpen,
    KeyMissing,
    Keyring,
    KeyStore,
    person_digest,
)

SIGNER_KEY = bytes(range(32))
CAMPAIGN_KEY = bytes(range(32, 64))
OTHER_CAMPAIGN_KEY = bytes(range(64, 96))
PERSON = "e933dad2c6aff068fb00c393baf7b6a314a4f266be54a3e2bf73d5457f5e4fac"
PERSON_IN_ORG = "3a69b953f44f17bb0654b1f819e5109010dc02b21d177d1232b037a94dc6ee49"
VALUE = "a8bbca7990f06c608c390b2e65c5668bbac6d8b74127c17d1eb56cfa85a39592"
VALUE_IN_OTHER_CAMPAIGN = "e4b7640b80bb66ded9baf0b173ca56be9501b4720199a1191228a0261ece650c"
SEAL_KEY = bytes.fromhex("a8d9e3d03e23a5f16f1714d6e4bd0c7c48123809f0a31f78fa464db901eecfd6")
WRAP_KEY = bytes.fromhex("da5099d09884cfe49d39cbeae34515c219483a996504d5c9a5a41ee6d11aa950")
KEY_ID = "0123456789abcdef0123456789abcdef"


def test_a_person_digest_is_the_hmac_of_scope_and_user():
    assert person_digest(SIGNER_KEY, "T0TEAM", "U0USER") == PERSON
    assert person_digest(SIGNER_KEY, "E0ORG", "W0USER") == PERSON_IN_ORG


def test_what_changes_the_person_digest():
    base = person_digest(SIGNER_KEY, "T0TEAM", "U0USER")
    assert person_digest(SIGNER_KEY, "T0OTHER", "U0USER") != base  # the workspace
    assert person_digest(SIGNER_KEY, "E0ORG", "U0USER") != base  # the organization
    assert person_digest(SIGNER_KEY, "T0TEAM", "U0OTHER") != base  # the user
    assert person_digest(bytes(32), "T0TEAM", "U0USER") != base  # the key


def test_a_signer_value_is_the_campaign_keys_hmac_of_the_person():
    assert CampaignKeys.from_key(KEY_ID, CAMPAIGN_KEY).signer(PERSON) == VALUE
    # The same person in another campaign: nothing in common to join on.
    assert CampaignKeys.from_key(KEY_ID, OTHER_CAMPAIGN_KEY).signer(PERSON) == (
        VALUE_IN_OTHER_CAMPAIGN
    )


def _sealed_by_hand(plaintext: bytes, pad_to: int, context: bytes) -> str:
    nonce = bytes(12)
    padded = struct.pack(">H", len(plaintext)) + plaintext
    padded += b"\0" * (pad_to - len(padded))
    return base64.urlsafe_b64encode(
        nonce + AESGCM(SEAL_KEY).encrypt(nonce, padded, context)
    ).decode()


def test_sealed_values_open_as_sealed_by_hand_and_are_bound_to_their_context():
    keys = CampaignKeys.from_key(KEY_ID, CAMPAIGN_KEY)
    token = _sealed_by_hand("Zoë".encode(), NAME_PAD, b"name:7")
    assert keys.open(token, "name:7") == "Zoë"
    with pytest.raises(CannotOpen):
        keys.open(token, "name:8")
    with pytest.raises(CannotOpen):
        CampaignKeys.from_key(KEY_ID, OTHER_CAMPAIGN_KEY).open(token, "name:7")


def test_sealed_values_have_one_length_whatever_they_hide():
    keys = CampaignKeys.from_key(KEY_ID, CAMPAIGN_KEY)
    names = ["A", "Al Li", "x" * 80, "é" * 80, "🙂" * 80]
    lengths = {len(keys.seal(n, "name:1", NAME_PAD)) for n in names}
    assert len(lengths) == 1
    assert {keys.open(keys.seal(n, "name:1", NAME_PAD), "name:1") for n in names} == set(names)
    addresses = {len(keys.seal(a, "a:1", ADDRESS_PAD)) for a in ("T1:U1", "E0ORG12345:W0USER12345")}
    assert len(addresses) == 1
    with pytest.raises(ValueError, match="too long"):
        keys.seal("x" * 81 * 4, "name:1", NAME_PAD)


def test_a_stored_key_is_wrapped_under_the_signer_key(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    key_id, key = store.create()
    path = tmp_path / "keys" / f"{key_id}.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    content = path.read_bytes()
    assert key not in content
    raw = base64.b64decode(content.split(b"\n")[1])
    assert AESGCM(WRAP_KEY).decrypt(raw[:12], raw[12:], key_id.encode()) == key
    assert store.load(key_id) == key
    # With another SIGNER_KEY the store opens nothing.
    with pytest.raises(KeyMissing):
        KeyStore(tmp_path / "keys", bytes(32)).load(key_id)


def test_a_destroyed_key_is_gone_for_every_keyring(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    first, second = Keyring(SIGNER_KEY, store), Keyring(SIGNER_KEY, store)
    keys = first.create()
    value = keys.signer(PERSON)
    assert second.campaign(keys.key_id).signer(PERSON) == value
    first.destroy(keys.key_id)
    assert os.listdir(tmp_path / "keys") == []
    with pytest.raises(KeyMissing):
        first.campaign(keys.key_id)
    with pytest.raises(KeyMissing):
        KeyStore(tmp_path / "keys", SIGNER_KEY).load(keys.key_id)


def test_key_ids_cannot_name_other_files(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    for bad in ("../etc/passwd", "A" * 32, "0" * 31):
        with pytest.raises(ValueError, match="not a campaign key id"):
            store.load(bad)
