"""The server keeps its startup heap out of the collector's full collections, and collects
less often than Python's default."""

from __future__ import annotations

import gc
import weakref

from service.app import create_app
from service.common.gc import THRESHOLDS, freeze_startup_heap
from service.config import Settings


async def test_the_lifespan_freezes_the_startup_heap(settings: Settings, database_url: str) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    assert gc.get_freeze_count() == 0
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        # The app, its routes, schemas and the imported modules: far more than 10,000.
        assert gc.get_freeze_count() > 10_000
        later = [object()]
        assert gc.is_tracked(later)
        frozen = gc.get_freeze_count()
        freeze_startup_heap()
        assert gc.get_freeze_count() >= frozen + 1  # what came later is frozen only now
        assert gc.get_threshold() == THRESHOLDS


def test_frozen_objects_are_still_freed_by_reference_counting() -> None:
    class Box:
        pass

    box = Box()
    ref = weakref.ref(box)
    freeze_startup_heap()
    del box
    assert ref() is None
