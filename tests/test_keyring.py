"""Per-campaign keys, checked against answers worked out without this code.

The vectors below were computed with the OpenSSL 3 command line, not with
petition/keyring.py:

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

from petition.keyring import (
    ADDRESS_PAD,
    NAME_PAD,
    CampaignKeys,
    CannotOpen,
    KeyMissing,
    Keyring,
    KeyStore,
    Rekeyer,
    address_context,
    person_digest,
    retraction_keys,
)
from petition.sealing import Sealer

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
    """Planted bug 1 of issue 23 (the signer identity ignoring the workspace id)
    fails here: the digest is OpenSSL's answer for scope and user together."""
    assert person_digest(SIGNER_KEY, "T0TEAM", "U0USER") == PERSON
    assert person_digest(SIGNER_KEY, "E0ORG", "W0USER") == PERSON_IN_ORG


def test_what_changes_the_person_digest():
    """Planted bug 1 (the workspace id ignored): another workspace, another digest."""
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


def _opened_by_hand(token: str, context: bytes) -> bytes:
    raw = base64.urlsafe_b64decode(token)
    return AESGCM(SEAL_KEY).decrypt(raw[:12], raw[12:], context)


def test_a_sealed_name_is_its_length_the_name_and_zeros_to_the_padded_size():
    """The plaintext under the seal, read by hand: two bytes of length, the UTF-8,
    then zeros to exactly NAME_PAD (2 + 80 characters of 4 bytes) or ADDRESS_PAD."""
    keys = CampaignKeys.from_key(KEY_ID, CAMPAIGN_KEY)
    assert (NAME_PAD, ADDRESS_PAD) == (322, 66)
    padded = _opened_by_hand(keys.seal("Zoë", "name:7", NAME_PAD), b"name:7")
    assert padded == b"\x00\x04Zo\xc3\xab" + bytes(322 - 6)
    address = _opened_by_hand(keys.seal("T1:U1", "address:7", ADDRESS_PAD), b"address:7")
    assert address == b"\x00\x05T1:U1" + bytes(66 - 7)
    longest = "🙂" * 80
    assert _opened_by_hand(keys.seal(longest, "n", NAME_PAD), b"n")[2:] == longest.encode()
    with pytest.raises(ValueError, match=r"^value too long to seal$"):
        keys.seal(longest + "x", "n", NAME_PAD)


def test_a_key_is_created_in_a_store_whose_parents_do_not_exist_yet(tmp_path: Path):
    store = KeyStore(tmp_path / "not" / "yet" / "keys", SIGNER_KEY)
    key_id, key = store.create()
    assert len(key) == 32
    assert store.exists(key_id)
    assert os.listdir(tmp_path / "not" / "yet" / "keys") == [f"{key_id}.key"]


def test_a_missing_key_says_which_and_where(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    key_id, _ = store.create()
    path = tmp_path / "keys" / f"{key_id}.key"
    content = path.read_bytes()
    cases = {
        "damaged header": b"something else\n" + content.split(b"\n")[1],
        # A character outside base64 is damage, not something to skip over.
        "damaged base64": content[:-10] + b"!" + content[-10:],
        "another SIGNER_KEY's": None,
    }
    for what, damaged in cases.items():
        if damaged is not None:
            path.write_bytes(damaged)
            reader = store
        else:
            path.write_bytes(content)
            reader = KeyStore(tmp_path / "keys", bytes(32))
        with pytest.raises(KeyMissing) as missing:
            reader.load(key_id)
        assert missing.value.key_id == key_id, what
        assert str(missing.value) == (
            f"campaign key {key_id} is not in the key store {tmp_path / 'keys'}: the "
            "campaign was forgotten, or KEY_STORE is not the directory the bot has been using"
        ), what
    store.destroy(key_id)
    with pytest.raises(KeyMissing) as missing:
        store.load(key_id)
    assert missing.value.key_id == key_id
    assert str(tmp_path / "keys") in str(missing.value)


def test_key_ids_are_lowercase_hex_only(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    for bad in ("X" * 32, "0123456789abcdeg" * 2):
        with pytest.raises(ValueError, match=r"^not a campaign key id$"):
            store.exists(bad)


def test_destroying_overwrites_every_byte_before_unlinking(tmp_path: Path):
    """A second name (hard link) for the file shows what was written over it."""
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    key_id, _ = store.create()
    path = tmp_path / "keys" / f"{key_id}.key"
    before = path.read_bytes()
    os.link(path, tmp_path / "witness")
    store.destroy(key_id)
    after = (tmp_path / "witness").read_bytes()
    assert not path.exists()
    assert not store.exists(key_id)
    assert len(after) == len(before)
    # Random bytes: none of the wrapped key's base64 survives in place.
    line = before.split(b"\n")[1]
    assert all(after[i : i + 8] != before[i : i + 8] for i in range(len(before) - 8))
    assert line not in after
    store.destroy(key_id)  # destroying twice is not an error


def test_a_keyring_gives_the_person_digest_and_its_retraction_keys(tmp_path: Path):
    keyring = Keyring(SIGNER_KEY, KeyStore(tmp_path / "keys", SIGNER_KEY))
    assert keyring.person("T0TEAM", "U0USER") == PERSON
    assert keyring.person("E0ORG", "W0USER") == PERSON_IN_ORG
    token = keyring.retractions.seal("C1:1.2", "retraction", 40)
    assert retraction_keys(SIGNER_KEY).open(token, "retraction") == "C1:1.2"
    with pytest.raises(CannotOpen):
        retraction_keys(bytes(32)).open(token, "retraction")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_kept_in_memory_for_a_minute_then_read_again(tmp_path, monkeypatch):
    """Another process destroying a key (forget) is seen within KEY_CACHE_SECONDS,
    and not before: until then the key is served from memory."""
    clock = _Clock()
    monkeypatch.setattr("petition.keyring.time.monotonic", clock)
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    made, reader = Keyring(SIGNER_KEY, store), Keyring(SIGNER_KEY, store)
    created = made.create()
    key_id = created.key_id
    loaded = reader.campaign(key_id)
    assert loaded.key_id == key_id
    assert loaded.signer(PERSON) == created.signer(PERSON)
    KeyStore(tmp_path / "keys", SIGNER_KEY).destroy(key_id)  # another process forgets
    clock.now += 59.999
    assert reader.campaign(key_id).signer(PERSON) == created.signer(PERSON)
    assert made.campaign(key_id).key_id == key_id  # the maker kept what it made
    clock.now += 0.001  # a minute since each was read
    with pytest.raises(KeyMissing):
        reader.campaign(key_id)
    with pytest.raises(KeyMissing):
        made.campaign(key_id)


def test_destroying_or_discarding_drops_a_key_from_memory_and_the_store(tmp_path: Path):
    store = KeyStore(tmp_path / "keys", SIGNER_KEY)
    keyring, other = Keyring(SIGNER_KEY, store), Keyring(SIGNER_KEY, store)
    for drop in (keyring.discard, keyring.destroy):
        keys = keyring.create()
        drop(keys.key_id)
        assert not store.exists(keys.key_id)
        with pytest.raises(KeyMissing):
            keyring.campaign(keys.key_id)
    # A key this keyring never read: destroying it is no error.
    keys = other.create()
    keyring.destroy(keys.key_id)
    keys = other.create()
    keyring.discard(keys.key_id)
    assert os.listdir(tmp_path / "keys") == []


def test_an_old_news_address_is_resealed_for_its_campaign(tmp_path: Path):
    keyring = Keyring(SIGNER_KEY, KeyStore(tmp_path / "keys", SIGNER_KEY))
    rekeyer = Rekeyer(keyring, SIGNER_KEY)
    key_id = rekeyer.new_key()
    old = Sealer(SIGNER_KEY).seal("T1:U1", "subscriber:7")
    resealed = rekeyer.reseal_address(key_id, 7, old)
    assert resealed is not None
    assert keyring.campaign(key_id).open(resealed, address_context(7)) == "T1:U1"
    with pytest.raises(CannotOpen):
        keyring.campaign(key_id).open(resealed, address_context(8))
    assert rekeyer.reseal_address(key_id, 8, old) is None
