"""Pause the cyclic garbage collector around large, synchronous, acyclic allocations."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building a 100,000-node forest allocates millions of small objects without cycles;
    the collector's generation scans triggered by them cost as much as the work itself.
    Only for synchronous blocks (no ``await`` inside), so no other request runs meanwhile;
    reference counting still frees everything, and the collector resumes as it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
