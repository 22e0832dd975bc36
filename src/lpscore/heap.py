"""The garbage collector of a long-running lpscore process: a stream worker, a router.

    settle_heap()      # once the process is set up, before its loop

Python's collector counts objects made and not yet freed; every so often a full collection
walks everything alive, the imported libraries included (Polars, NumPy, pydantic, redis:
some hundred thousand objects in a process that imported lpscore). Such a pass took 36-46
ms in a router process whose score cache installs a snapshot every 5 ms (2026-11-24), long
enough for the router to see a snapshot only once the next one had replaced it; in a stream
worker, whose polls make and drop hundreds of thousands of objects, full collections took
about a quarter of its time (docs/stream.md, Performance).
"""

from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "settle_heap"]

GC_THRESHOLDS = (50_000, 20, 100)
"""The collector's thresholds once settled; Python's are (700, 10, 10)."""


def settle_heap() -> None:
    """Move what is alive now (the libraries, the configuration, what was read at start)
    out of the collector's way (``gc.freeze``) and let a young collection wait for 50,000
    new objects instead of 700. Call it once when the set-up is done, in a process that
    runs one loop (a stream worker, a router, ``lpscore serve``): what it freezes is never
    collected, so it is for what lives as long as the process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
