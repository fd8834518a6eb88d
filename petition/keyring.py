"""Per-campaign keys: a signature is linkable to a person only while its campaign's
key exists, and forgetting a campaign is destroying that key.

What is derived from what:

- `SIGNER_KEY` (a setting, never stored) gives each person a digest,
  HMAC-SHA256(SIGNER_KEY, "slack:<organization or workspace>:<user>"). It is held
  in memory for the length of a request and never written anywhere.
- Each campaign has a key of 32 random bytes, kept in the key store (`KEY_STORE`,
  a directory beside SIGNER_KEY, never in the database, its WAL or its backups),
  wrapped with AES-GCM under a key derived from SIGNER_KEY: the store alone opens
  nothing.
- From a campaign's key, by HKDF: the signer key, and the sealing key. A signer's
  identity in that campaign is HMAC-SHA256(signer key, person digest): the same
  person has unrelated values in two campaigns, so no join links a named
  signature in one to an anonymous one in another. Names, and the Slack ids kept
  for news, are sealed (AES-GCM, padded to a fixed length so that the ciphertext
  does not tell a short name from a long one) under the sealing key.

Destroy a campaign's key and nothing in any copy of the database (its files, the
WAL, dead rows, backups, replicas) can be linked to anyone any more, by anyone,
SIGNER_KEY's holder included: the values are HMACs and ciphertexts under a key
that no longer exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from petition.sealing import Sealer

KEY_BYTES = 32
_NONCE_BYTES = 12
_WRAP_INFO = b"undersigned/campaign-key-wrap/v1"
_SIGNER_INFO = b"undersigned/campaign-signer/v1"
_SEAL_INFO = b"undersigned/campaign-seal/v1"
_FILE_HEADER = b"undersigned campaign key v1\n"
_KEY_ID_LENGTH = 32  # hex
# How long a process keeps a campaign key in memory before reading the store
# again: a key destroyed by another process (forget) leaves every process within
# this time.
KEY_CACHE_SECONDS = 60.0

# Sealed values are padded to one of these sizes (bytes of UTF-8 before sealing),
# so that a ciphertext's length says which kind of value it is, not how long it
# is. A name is at most 80 characters of up to 4 bytes each; an address is two
# Slack ids.
NAME_PAD = 2 + 80 * 4
ADDRESS_PAD = 2 + 64


class KeyMissing(LookupError):
    """The campaign's key is not in the key store: destroyed (forgotten), or the
    store is not the one the keys were made in."""

    def __init__(self, key_id: str, store: Path) -> None:
        self.key_id = key_id
        super().__init__(
            f"campaign key {key_id} is not in the key store {store}: the campaign was "
            "forgotten, or KEY_STORE is not the directory the bot has been using"
        )


class CannotOpen(Exception):
    """A sealed value that this key did not seal, for this purpose."""


def person_digest(signer_key: bytes, scope: str, user: str) -> str:
    """A person's digest: in memory only, never stored. `scope` is the organization
    in a Grid, else the workspace."""
    message = f"slack:{scope}:{user}".encode()
    # Not hmac.digest(): that one gives up the interpreter lock, and under load
    # getting it back took a whole switch interval where this takes microseconds.
    return hmac.new(signer_key, message, hashlib.sha256).hexdigest()


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _pad(plaintext: str, size: int) -> bytes:
    data = plaintext.encode("utf-8")
    if len(data) > size - 2:
        raise ValueError("value too long to seal")
    return struct.pack(">H", len(data)) + data + b"\0" * (size - 2 - len(data))


def _unpad(padded: bytes) -> str:
    (length,) = struct.unpack(">H", padded[:2])
    if length > len(padded) - 2:
        raise CannotOpen()
    return padded[2 : 2 + length].decode("utf-8")


@dataclass(frozen=True)
class CampaignKeys:
    """What a campaign's key gives: identity values, and sealing."""

    key_id: str
    _signer: bytes
    _aead: AESGCM

    @classmethod
    def from_key(cls, key_id: str, key: bytes) -> CampaignKeys:
        return cls(key_id, _hkdf(key, _SIGNER_INFO), AESGCM(_hkdf(key, _SEAL_INFO)))

    def signer(self, person: str) -> str:
        """This person's identity value in this campaign."""
        return hmac.new(self._signer, person.encode("utf-8"), hashlib.sha256).hexdigest()

    def seal(self, plaintext: str, context: str, pad_to: int) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, _pad(plaintext, pad_to), context.encode("utf-8"))
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, token: str, context: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(token.encode("ascii"))
            padded = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
            return _unpad(padded)
        except (InvalidTag, ValueError, UnicodeError, struct.error) as exc:
            raise CannotOpen() from exc


class KeyStore:
    """Campaign keys as files in one directory, each wrapped under SIGNER_KEY.

    Files are created owner-only and atomically (written aside, then renamed);
    destroying one overwrites it before unlinking it. Several processes (the
    server, the CLI, replicas sharing the directory) may use one store: a key is
    written once and never changed, only destroyed.
    """

    def __init__(self, directory: Path, signer_key: bytes) -> None:
        self.directory = directory
        self._wrap = AESGCM(_hkdf(signer_key, _WRAP_INFO))

    def _path(self, key_id: str) -> Path:
        if len(key_id) != _KEY_ID_LENGTH or not all(c in "0123456789abcdef" for c in key_id):
            raise ValueError("not a campaign key id")
        return self.directory / f"{key_id}.key"

    def create(self) -> tuple[str, bytes]:
        """A new key, stored; returns its id and the key."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        key_id = secrets.token_hex(_KEY_ID_LENGTH // 2)
        key = secrets.token_bytes(KEY_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        wrapped = self._wrap.encrypt(nonce, key, key_id.encode("ascii"))
        content = _FILE_HEADER + base64.b64encode(nonce + wrapped) + b"\n"
        final = self._path(key_id)
        aside = final.with_suffix(".new")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(aside, final)
        self._sync_directory()
        return key_id, key

    def load(self, key_id: str) -> bytes:
        path = self._path(key_id)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise KeyMissing(key_id, self.directory) from None
        if not content.startswith(_FILE_HEADER):
            raise KeyMissing(key_id, self.directory)
        try:
            raw = base64.b64decode(content[len(_FILE_HEADER) :].strip(), validate=True)
            return self._wrap.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], key_id.encode("ascii")
            )
        except (InvalidTag, ValueError) as exc:
            raise KeyMissing(key_id, self.directory) from exc

    def exists(self, key_id: str) -> bool:
        return self._path(key_id).exists()

    def destroy(self, key_id: str) -> None:
        """Overwrite, then unlink. A journaling or copy-on-write file system may
        keep older blocks (DEPLOY.md, "The key store"): the wrapped key in them
        still needs SIGNER_KEY to open."""
        path = self._path(key_id)
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            os.write(fd, secrets.token_bytes(size))
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink(missing_ok=True)
        self._sync_directory()

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Keyring:
    """The process's keys: the person digest, and each campaign's keys, read from
    the store when first needed and kept in memory for KEY_CACHE_SECONDS."""

    def __init__(self, signer_key: bytes, store: KeyStore) -> None:
        self._signer_key = signer_key
        self.store = store
        self._cache: dict[str, tuple[float, CampaignKeys]] = {}
        self._lock = threading.Lock()

    def person(self, scope: str, user: str) -> str:
        return person_digest(self._signer_key, scope, user)

    def keyed_hash(self, message: str) -> str:
        """HMAC-SHA256 of `message` under SIGNER_KEY (hex): how the database knows a
        value it keeps only sealed (petition/workspaces.py). Each caller prefixes its
        own purpose, as person_digest does."""
        return hmac.new(self._signer_key, message.encode(), hashlib.sha256).hexdigest()

    def sealer(self) -> Sealer:
        """Values sealed under SIGNER_KEY itself, not a campaign's key
        (petition/sealing.py): the workspaces the app was installed in."""
        return Sealer(self._signer_key)

    @property
    def signer_key(self) -> bytes:
        """SIGNER_KEY, for what is derived from it outside this module (the signing
        form's pass, petition/eligibility.py): in memory only, never stored."""
        return self._signer_key

    def campaign(self, key_id: str) -> CampaignKeys:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key_id)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            return cached[1]
        keys = CampaignKeys.from_key(key_id, self.store.load(key_id))
        with self._lock:
            self._cache[key_id] = (now, keys)
        return keys

    def create(self) -> CampaignKeys:
        key_id, key = self.store.create()
        keys = CampaignKeys.from_key(key_id, key)
        with self._lock:
            self._cache[key_id] = (time.monotonic(), keys)
        return keys

    @property
    def retractions(self) -> CampaignKeys:
        return retraction_keys(self._signer_key)

    def discard(self, key_id: str) -> None:
        """Drop a key this process made but that lost a race to be used."""
        with self._lock:
            self._cache.pop(key_id, None)
        self.store.destroy(key_id)

    def destroy(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)
        self.store.destroy(key_id)


def name_context(campaign_id: int) -> str:
    """What a sealed name is bound to: it opens for this campaign only."""
    return f"name:{campaign_id}"


def address_context(campaign_id: int) -> str:
    return f"address:{campaign_id}"


class Rekeyer:
    """For migration 0008: moves values sealed and hashed under SIGNER_KEY alone
    (before campaign keys) to keys of their campaigns. The old signer value is
    the person digest, so the new one is derived from it without any Slack id."""

    # What the old values were bound to (petition/sealing.py, before campaign keys).
    _OLD_NAME = "conditional-name:{campaign_id}"
    _OLD_ADDRESS = "subscriber:{campaign_id}"

    def __init__(self, keyring: Keyring, signer_key: bytes) -> None:
        from petition.sealing import Sealer  # the old scheme, kept for this migration only

        self._keyring = keyring
        self._old = Sealer(signer_key)

    def new_key(self) -> str:
        return self._keyring.create().key_id

    def signer(self, key_id: str, old_value: str) -> str:
        return self._keyring.campaign(key_id).signer(old_value)

    def seal_name(self, key_id: str, campaign_id: int, name: str) -> str:
        return self._keyring.campaign(key_id).seal(name, name_context(campaign_id), NAME_PAD)

    def open_old_name(self, campaign_id: int, sealed: str) -> str | None:
        from petition.sealing import CannotOpen as OldCannotOpen

        try:
            return self._old.open(sealed, self._OLD_NAME.format(campaign_id=campaign_id))
        except OldCannotOpen:
            return None

    def reseal_address(self, key_id: str, campaign_id: int, sealed: str) -> str | None:
        from petition.sealing import CannotOpen as OldCannotOpen

        try:
            address = self._old.open(sealed, self._OLD_ADDRESS.format(campaign_id=campaign_id))
        except OldCannotOpen:
            return None
        return self._keyring.campaign(key_id).seal(
            address, address_context(campaign_id), ADDRESS_PAD
        )


_RETRACTION_INFO = b"undersigned/news-retractions/v1"


def retraction_keys(signer_key: bytes) -> CampaignKeys:
    """Sealing for news DMs waiting to be deleted (petition/retractions.py): under
    SIGNER_KEY, since forgetting destroys the campaign's key before the bot has
    deleted its messages."""
    return CampaignKeys.from_key("retractions", _hkdf(signer_key, _RETRACTION_INFO))
