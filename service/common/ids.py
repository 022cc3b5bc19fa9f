"""Prefixed, time-ordered ids for things people quote (``msg_...``, ``alrt_...``)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def ulid() -> str:
    """48 bits of milliseconds then 80 random bits: sortable by creation, unguessable."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def prefixed(prefix: str) -> str:
    return f"{prefix}_{ulid()}"
