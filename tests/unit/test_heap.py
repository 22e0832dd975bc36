"""lpscore.heap: a long-running process's collector, settled once it is set up."""

from __future__ import annotations

import subprocess
import sys


def test_settle_heap_freezes_the_set_up_and_raises_the_young_collection_threshold() -> None:
    """What `lpscore stream` and `lpscore serve` do once set up (in a process of its own,
    as the CLI's): a full collection afterwards walks none of the imported libraries."""
    code = ("import gc, polars, lpscore.routing\n"
            "from lpscore.heap import GC_THRESHOLDS, settle_heap\n"
            "before = gc.get_freeze_count()\n"
            "alive = len(gc.get_objects())\n"
            "settle_heap()\n"
            "print(before, gc.get_freeze_count(), gc.get_threshold() == GC_THRESHOLDS,\n"
            "      alive, len(gc.get_objects()))\n")
    before, frozen, thresholds, alive, tracked = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert before == "0"
    assert int(frozen) > 10_000      # the imported libraries, out of the collector's way
    assert thresholds == "True"
    assert int(tracked) < int(alive) // 100     # what a collection still walks
