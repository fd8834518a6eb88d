"""Values kept in the database but readable only with SIGNER_KEY.

A conditional signer's name and an opted-in signer's Slack id must be usable
by the bot later (the letter, news DMs) yet say nothing to someone holding only
the database. They are sealed with AES-256-GCM under a key derived from
SIGNER_KEY by HKDF, so the signer hash key is never used for two purposes, and
each value is bound (as associated data) to what it belongs to.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12
_INFO = b"undersigned/sealed-values/v1"


class CannotOpen(Exception):
    """The value was not sealed with this key, or for this purpose."""


class Sealer:
    def __init__(self, signer_key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            # Stated because older versions of cryptography require it; leaving it out
            # is the same HKDF (RFC 5869's zero salt), so mutants that drop it are
            # equivalent and not made.
            salt=None,  # pragma: no mutate
            info=_INFO,
        ).derive(signer_key)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        # str.encode() and bytes.decode() without a codec are UTF-8 in Python 3; base64
        # output is ASCII, a subset of it.
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str, context: str) -> str:
        try:
            # A str with anything but ASCII in it is refused here with a ValueError.
            raw = base64.urlsafe_b64decode(token)
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError, UnicodeEncodeError) as exc:
            raise CannotOpen() from exc
        return plain.decode()
