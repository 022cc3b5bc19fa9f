"""The cyclic garbage collector: paused around large, synchronous, acyclic allocations, and
kept off the objects every server process holds from start to exit."""

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


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, the app, schemas, compiled plans: about 200,000
    in a server process) into the permanent generation, after a collection. A full
    collection scans every tracked object of the oldest generation; with the startup heap
    in it, each took 50-100 ms and hit one request in 15-30 serving 1,000 node trees (a p95
    of 40 ms). Frozen objects are still freed by reference counting; a
    cycle among them is never collected, which bounds the cost at the startup heap."""
    gc.collect()
    gc.freeze()


# Young collections after this many more allocations than deallocations (700 by default).
# Requests allocate thousands of short-lived, acyclic objects that reference counting
# frees; at 700 a 1,000-reading batch triggered 8 collections, each scanning the batch's
# live objects again: 0.63 ms of its 12.5 ms CPU. At 20,000 none ran in 60 batches, and a
# batch took 10.7-11.5 ms instead of 12.2-12.7. The older generations keep their default
# multipliers (10, 10): at 20 and 20, cyclic garbage waited four times longer for a full
# collection, and a 5-minute soak's serve RSS grew 4.5% after warm-up (1.9% at 10 and 10,
# 0.8% at Python's defaults; bench/README.md).
THRESHOLDS = (20_000, 10, 10)


def collect_less_often() -> None:
    """Raise the collector's thresholds for a server process (``THRESHOLDS``)."""
    gc.set_threshold(*THRESHOLDS)
