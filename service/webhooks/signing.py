"""Standard Webhooks signatures (HMAC-SHA256, ``v1``): pure functions over exact bytes.

The signed content is ``{msg_id}.{timestamp}.{body}``; the body is the stored bytes, never
re-serialised. Secrets are ``whsec_`` + base64 of 24 random bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES = 24
MIN_SECRET_BYTES = 24  # for secrets a caller supplies; the verifier accepts shorter legacy keys
MAX_SECRET_BYTES = 64
TOLERANCE_SECONDS = 5 * 60


class InvalidSecret(ValueError):
    pass


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key inside a secret, with or without the prefix, padded or not (as the spec's
    reference library reads it)."""
    raw = secret.removeprefix(SECRET_PREFIX)
    if not raw:
        raise InvalidSecret("The secret is empty.")
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret("The secret is not base64.") from exc


def check_caller_secret(secret: str) -> str:
    """A secret a caller brings must be ``whsec_`` + base64 of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecret(f"The secret must start with {SECRET_PREFIX}.")
    size = len(secret_bytes(secret))
    if not MIN_SECRET_BYTES <= size <= MAX_SECRET_BYTES:
        raise InvalidSecret(
            f"The secret must decode to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes."
        )
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Every valid key signs (newest first, as given); the receiver accepts any match."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


class VerificationFailed(ValueError):
    pass


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: int, tolerance: int = 300
) -> None:
    """What a consumer does: raise ``VerificationFailed`` unless a signature matches.

    Lenient with malformed list entries (they are skipped, never an exception of another kind).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = lowered["webhook-id"]
        timestamp_text = lowered["webhook-timestamp"]
        signatures = lowered["webhook-signature"]
    except KeyError as exc:
        raise VerificationFailed(f"Missing header {exc.args[0]}.") from exc
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise VerificationFailed("The timestamp is not an integer.") from exc
    if timestamp < now - tolerance:
        raise VerificationFailed("The message is too old.")
    if timestamp > now + tolerance:
        raise VerificationFailed("The message is too new.")
    expected = sign(secret, msg_id, timestamp, body).encode()
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and value and hmac.compare_digest(entry.encode(), expected):
            return
    raise VerificationFailed("No matching signature.")
