"""Known answers for what tests/test_keyring.py does not cover: the signing form's
pass, the sealer kept for migration 0008 and home workspaces, the keyed hash of a
home workspace, and the keys news retractions are sealed under.

Every expected value below was computed with the OpenSSL 3 command line, never
with the code under test, and pasted in:

    K=000102...1f  (SIGNER_KEY, bytes 0 to 31)
    # the form pass (petition/eligibility.py): a key of its own, then a MAC of the fields
    PK=$(printf 'undersigned: eligible to sign' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K)
    printf '30000000:E0ORG:T0TEAM:U0ALICE:wewontbuildit' \\
        | openssl dgst -sha256 -mac HMAC -macopt hexkey:$PK        (first 32 hex digits)
    # the sealer (petition/sealing.py) and the retraction keys (petition/keyring.py)
    openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$K \\
        -kdfopt info:undersigned/sealed-values/v1 HKDF
    openssl kdf ... -kdfopt info:undersigned/news-retractions/v1 HKDF   (R)
    openssl kdf ... -kdfopt hexkey:$R -kdfopt info:undersigned/campaign-seal/v1 HKDF
    openssl kdf ... -kdfopt hexkey:$R -kdfopt info:undersigned/campaign-signer/v1 HKDF
    # a home workspace's keyed hash (petition/workspaces.py)
    printf 'home-workspace:T0TEAM' | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K

AES-GCM with a fixed nonce is done here with `cryptography` directly, under those
keys: what is checked is that the app derives the same key and opens what was
sealed by hand.
"""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from petition import eligibility
from petition.keyring import ADDRESS_PAD, CannotOpen, Keyring, KeyStore, retraction_keys
from petition.sealing import CannotOpen as SealerCannotOpen
from petition.sealing import Sealer
from petition.workspaces import _workspace_hash

K = bytes(range(32))
MINUTE = 30_000_000  # 1_800_000_000 seconds since the epoch, in minutes
NOW = MINUTE * 60 + 59  # any second of that minute
PASS_KEY = "04966d41df1983d9c725d584c1673d2ee82aeaaa0cba7c248be568ce7e0c35b3"
PASS_IN_ORG = "30000000.7ba0c9241f2e2879463942d87b51c5a0"  # scope E0ORG, workspace T0TEAM
PASS_IN_WORKSPACE = "30000000.e09307264f24b5c992421c5f4da8a44e"  # scope T0TEAM, T0TEAM
SEALER_KEY = "a1d05ac4ea5467e56168ddeab687120be72526dbd1df5fb91a0038100dfe1738"
RETRACTION_SEAL_KEY = "5844dbf07d759bde9f8c35630c4015e0508ae419ea479f977aa4e93678185662"
# HMAC-SHA256 under the retraction signer subkey of the person digest of
# (T0TEAM, U0USER) under K, as in tests/test_keyring.py.
PERSON = "e933dad2c6aff068fb00c393baf7b6a314a4f266be54a3e2bf73d5457f5e4fac"
RETRACTION_VALUE = "614853f9118a3b995359e0df0a06f90c5b344b64010a3f7c5655ea197ae2efa8"
HOME_WORKSPACE = "a6eb4f7a661779bcb365ea1baceb8fdcc175ea1e4366f1d363c1486f1c452a23"
OTHER_HOME_WORKSPACE = "4a6a326dce1caec179ba539a6a70dde36064fd7c0ccce92fc9570bd29bfd2e44"


# -- the signing form's pass -------------------------------------------------------


def test_the_pass_key_is_derived_from_the_signer_key():
    assert eligibility._pass_key(K).hex() == PASS_KEY


def test_a_pass_is_the_minute_and_a_mac_of_scope_workspace_user_and_campaign():
    token = eligibility.issue_pass(K, "E0ORG", "T0TEAM", "U0ALICE", "wewontbuildit", now=NOW)
    assert token == PASS_IN_ORG
    token = eligibility.issue_pass(K, "T0TEAM", "T0TEAM", "U0ALICE", "wewontbuildit", now=NOW)
    assert token == PASS_IN_WORKSPACE


def test_a_pass_written_by_hand_holds_for_its_subject_only():
    subject = ("E0ORG", "T0TEAM", "U0ALICE", "wewontbuildit")
    assert eligibility.pass_holds(K, PASS_IN_ORG, *subject, now=NOW)
    # What must differ: each field the MAC covers, and the key.
    for changed in (
        ("E0OTHER", "T0TEAM", "U0ALICE", "wewontbuildit"),
        ("E0ORG", "T0OTHER", "U0ALICE", "wewontbuildit"),
        ("E0ORG", "T0TEAM", "U0BOB", "wewontbuildit"),
        ("E0ORG", "T0TEAM", "U0ALICE", "another"),
    ):
        assert not eligibility.pass_holds(K, PASS_IN_ORG, *changed, now=NOW)
    assert not eligibility.pass_holds(bytes(32), PASS_IN_ORG, *subject, now=NOW)
    # The fields are separated: moving a character from one to the next is another pass.
    assert not eligibility.pass_holds(
        K, PASS_IN_ORG, "E0OR", "GT0TEAM", "U0ALICE", "wewontbuildit", now=NOW
    )


def test_a_pass_holds_from_its_minute_to_sixteen_minutes_later_and_not_a_second_more():
    subject = ("E0ORG", "T0TEAM", "U0ALICE", "wewontbuildit")
    start = MINUTE * 60
    assert eligibility.PASS_SECONDS == 15 * 60
    last = start + 16 * 60  # PASS_SECONDS, and the minute it was issued in
    assert eligibility.pass_holds(K, PASS_IN_ORG, *subject, now=start)
    assert eligibility.pass_holds(K, PASS_IN_ORG, *subject, now=last)
    assert not eligibility.pass_holds(K, PASS_IN_ORG, *subject, now=last + 1)
    assert not eligibility.pass_holds(K, PASS_IN_ORG, *subject, now=start - 1)


@pytest.mark.parametrize(
    "token",
    [
        "30000000." + "0" * 32,  # the right minute, a wrong MAC
        PASS_IN_ORG[:-1],  # a MAC one digit short
        PASS_IN_ORG + "0",  # one digit long
        PASS_IN_ORG.upper(),
        "30000001." + PASS_IN_ORG.split(".")[1],  # the next minute, the same MAC
        " " + PASS_IN_ORG,
        PASS_IN_ORG.replace(".", ":"),
        "1234567890123." + PASS_IN_ORG.split(".")[1],  # 13 digits
    ],
)
def test_a_pass_altered_in_any_way_does_not_hold(token):
    subject = ("E0ORG", "T0TEAM", "U0ALICE", "wewontbuildit")
    assert not eligibility.pass_holds(K, token, *subject, now=NOW)


# -- the sealer (migration 0008, home workspaces) -----------------------------------


def _sealed(key_hex: str, padded: bytes, context: bytes) -> str:
    nonce = bytes(range(12))
    sealed = AESGCM(bytes.fromhex(key_hex)).encrypt(nonce, padded, context)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def test_the_sealer_opens_what_was_sealed_by_hand_under_its_derived_key():
    token = _sealed(SEALER_KEY, b"T0TEAM", b"home-workspace")
    sealer = Sealer(K)
    assert sealer.open(token, "home-workspace") == "T0TEAM"
    with pytest.raises(SealerCannotOpen):
        sealer.open(token, "home-workspace:2")
    with pytest.raises(SealerCannotOpen):
        Sealer(bytes(32)).open(token, "home-workspace")
    # And what it seals opens by hand.
    raw = base64.urlsafe_b64decode(sealer.seal("Zoë", "ctx"))
    assert AESGCM(bytes.fromhex(SEALER_KEY)).decrypt(raw[:12], raw[12:], b"ctx") == "Zoë".encode()


def test_a_home_workspace_is_known_by_its_keyed_hash(tmp_path):
    keyring = Keyring(K, KeyStore(tmp_path, K))
    assert _workspace_hash(keyring, "T0TEAM") == HOME_WORKSPACE
    assert _workspace_hash(keyring, "T0OTHER") == OTHER_HOME_WORKSPACE


# -- retractions (news DMs queued for deletion) ---------------------------------------


def test_retraction_keys_are_derived_from_the_signer_key_alone():
    keys = retraction_keys(K)
    assert keys.signer(PERSON) == RETRACTION_VALUE
    address = b"T0TEAM:U0USER"
    padded = struct.pack(">H", len(address)) + address
    padded += b"\0" * (ADDRESS_PAD - len(padded))
    token = _sealed(RETRACTION_SEAL_KEY, padded, b"retraction:7")
    assert keys.open(token, "retraction:7") == "T0TEAM:U0USER"
    with pytest.raises(CannotOpen):
        retraction_keys(bytes(32)).open(token, "retraction:7")
