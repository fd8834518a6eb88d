"""What `serve`'s SQLite writer process works with (storage/writerprocess.py), made
there from as little as it needs: the signer key and the key store, not the
settings, whose Slack tokens it has no use for; and the same redacted logging."""

from __future__ import annotations

from pathlib import Path

from bot.logs import configure_logging
from petition.keyring import Keyring, KeyStore


def writer_context(signer_key: bytes, key_store: Path, log_level: str) -> Keyring:
    configure_logging(log_level)
    return Keyring(signer_key, KeyStore(key_store, signer_key))
