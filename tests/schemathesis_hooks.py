"""A Schemathesis check for the GraphQL run of ``tests/test_schemathesis.py``.

The CLI imports this module (``hooks`` in its config). Schemathesis's own
``not_a_server_error`` takes any GraphQL error with a ``path`` for a server fault unless it
carries one of Apollo's or graphql-java's codes, so it would report a query for a missing
objective (``not_found``) or a page size out of range (``validation_failed``) as a server error.
Meridian codes every GraphQL error as its REST problem is coded, and only an unexpected
exception becomes ``internal_error`` (logged by the server), so that is what this check fails
on, with any 5xx.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.check
def meridian_graphql_internal_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 5xx, or a GraphQL error the service labels ``internal_error``."""
    if response.status_code >= 500:
        raise AssertionError(f"Server error: {response.status_code}")
    try:
        payload = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"The response is not JSON: {response.content[:200]!r}") from exc
    errors = payload.get("errors") or [] if isinstance(payload, dict) else []
    internal = [
        e
        for e in errors
        if isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "internal_error"
    ]
    if internal:
        raise AssertionError(f"Internal error at {internal[0].get('path')}: {internal[0]}")
    return None
