"""Webhook signing secrets sealed at rest with AES-256-GCM.

The dispatcher needs the plain secret to sign, so secrets are encrypted, not hashed. A
sealed value is ``mk1.<key id>.<base64url(nonce | ciphertext)>``; the endpoint's id is the
associated data, so a sealed secret copied onto another endpoint does not open.
Binary columns (stored ``Idempotency-Key`` answers) take ``seal_bytes``: the same envelope
with the nonce and ciphertext raw, ``mk1.<key id>.<nonce | ciphertext>``, because base64
cost 37 times the encryption (3.7 ms against 0.1 ms to seal and open 1 MB).

Keys come from ``MERIDIAN_SECRET_KEYS`` (comma-separated, base64 of 32 bytes each; the
first seals, every one opens, so keys rotate by prepending a new one). Without it, a key is
generated once into ``<data dir>/secret.key`` (mode 0600): right for one host and the
embedded database, while several hosts sharing an external database must set the variable.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.config import Settings

logger = logging.getLogger("meridian.webhooks")
PREFIX = "mk1"
KEY_FILE = "secret.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_BYTES_PREFIX = f"{PREFIX}.".encode()


class UnreadableSecret(Exception):
    """No configured key opens this sealed secret (or it was tampered with)."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_keys(text: str) -> list[bytes]:
    """The keys of ``MERIDIAN_SECRET_KEYS``; a malformed one is a configuration error."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            key = _b64decode(part.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("each secret key must be base64") from exc
        if len(key) != KEY_BYTES:
            raise ValueError(f"each secret key must be {KEY_BYTES} bytes, base64-encoded")
        keys.append(key)
    return keys


def generate_key() -> str:
    return _b64encode(os.urandom(KEY_BYTES))


def key_file(data_dir: Path) -> list[bytes]:
    """The key in the data directory, created on first use, readable by its owner only."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first: read theirs
        else:
            with os.fdopen(fd, "w") as out:
                out.write(generate_key() + "\n")
    return parse_keys(path.read_text())


class SecretBox:
    """Seals and opens; the keys are loaded on first use (so commands that never touch a
    secret, like ``export-schemas``, never create a key file)."""

    def __init__(self, keys: Sequence[bytes] | Callable[[], Sequence[bytes]]) -> None:
        self._load: Callable[[], Sequence[bytes]] = keys if callable(keys) else lambda: keys

    @functools.cached_property
    def _ciphers(self) -> tuple[str, dict[str, AESGCM]]:
        keys = self._load()
        if not keys:
            raise ValueError("at least one key is needed")
        return self.key_id(keys[0]), {self.key_id(k): AESGCM(k) for k in keys}

    @staticmethod
    def key_id(key: bytes) -> str:
        return hashlib.sha256(key).hexdigest()[:8]

    def seal(self, secret: str, endpoint_id: uuid.UUID) -> str:
        sealing_id, raw = self._encrypt(secret.encode(), endpoint_id.bytes)
        return f"{PREFIX}.{sealing_id}.{_b64encode(raw)}"

    def open(self, sealed: str, endpoint_id: uuid.UUID) -> str:
        prefix, _, rest = sealed.partition(".")
        key_id, _, payload = rest.partition(".")
        if prefix != PREFIX or key_id not in self._ciphers[1]:
            raise UnreadableSecret(f"sealed with key {key_id or '?'}, which is not configured")
        try:
            raw = _b64decode(payload)
        except (binascii.Error, ValueError) as exc:
            raise UnreadableSecret("the sealed secret does not open with its key") from exc
        return self._decrypt(key_id, raw, endpoint_id.bytes).decode()

    def seal_bytes(self, plain: bytes, associated: bytes) -> bytes:
        """``plain`` sealed for a binary column; ``associated`` binds it to its row."""
        sealing_id, raw = self._encrypt(plain, associated)
        return f"{PREFIX}.{sealing_id}.".encode() + raw

    @staticmethod
    def is_sealed_bytes(value: bytes) -> bool:
        """Whether ``value`` came from ``seal_bytes`` (no JSON document starts so)."""
        return value.startswith(_BYTES_PREFIX)

    def open_bytes(self, sealed: bytes, associated: bytes) -> bytes:
        if not self.is_sealed_bytes(sealed):
            raise UnreadableSecret("not a sealed value")
        key_id, _, raw = sealed[len(_BYTES_PREFIX) :].partition(b".")
        return self._decrypt(key_id.decode("ascii", "replace"), raw, associated)

    def _encrypt(self, plain: bytes, associated: bytes) -> tuple[str, bytes]:
        sealing_id, ciphers = self._ciphers
        nonce = os.urandom(NONCE_BYTES)
        return sealing_id, nonce + ciphers[sealing_id].encrypt(nonce, plain, associated)

    def _decrypt(self, key_id: str, raw: bytes, associated: bytes) -> bytes:
        cipher = self._ciphers[1].get(key_id)
        if cipher is None:
            raise UnreadableSecret(f"sealed with key {key_id or '?'}, which is not configured")
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError) as exc:
            raise UnreadableSecret("the sealed secret does not open with its key") from exc

    def open_all(self, sealed: Sequence[str], endpoint_id: uuid.UUID) -> list[str]:
        """Every secret that opens; the others are logged (by key id, never content)."""
        opened = []
        for value in sealed:
            try:
                opened.append(self.open(value, endpoint_id))
            except UnreadableSecret as exc:
                logger.error(
                    "webhook secret unreadable",
                    extra={"endpoint_id": str(endpoint_id), "reason": str(exc)},
                )
        return opened


def box_for(secret_keys: str, data_dir: Path) -> SecretBox:
    if secret_keys.strip():
        return SecretBox(parse_keys(secret_keys))
    return SecretBox(lambda: key_file(data_dir))


def box_from_settings(settings: Settings) -> SecretBox:
    return box_for(settings.secret_keys.get_secret_value(), settings.data_dir)
