"""The heap of an lpscore process: Polars' allocator, and the garbage collector of a
long-running process (a stream worker, a router).

    keep_freed_pages()   # on import of lpscore, before Polars is loaded
    settle_heap()        # once the process is set up, before its loop

Polars' allocator (jemalloc) is built to give freed pages back to the system after half a
second (``dirty_decay_ms:500``; its own default is 10 s). An ingest of a large log frees
and allocates hundreds of MB within that time: given back, every page allocated again is a
page fault. With 10 s, an ingest of 1M messages took 0.96-0.97 s instead of 1.12-1.17 and the
KPI engine's benchmark 1.98-2.01 s instead of 2.08-2.20, for 50-240 MB more at the peak,
more again when one process ingests several times in a row (benchmarks/RESULTS.md, "the
log mapped, freed pages kept"). A process idle for 10 s gives the pages back as before.

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
import os

__all__ = ["ALLOCATOR_CONF", "GC_THRESHOLDS", "keep_freed_pages", "settle_heap"]

ALLOCATOR_CONF = "dirty_decay_ms:10000"
"""Options for Polars' jemalloc (``_RJEM_MALLOC_CONF``): freed pages kept for 10 s."""


def keep_freed_pages() -> None:
    """Set ``ALLOCATOR_CONF`` for Polars' allocator unless ``_RJEM_MALLOC_CONF`` is set. It
    is read once, when Polars is loaded: in a process that loaded Polars before lpscore it
    only reaches child processes."""
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)

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
