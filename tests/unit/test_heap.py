"""lpscore.heap: a long-running process's collector, settled once it is set up."""

from __future__ import annotations

import os
import subprocess
import sys

from lpscore.heap import ALLOCATOR_CONF


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


def _allocator_conf(env: dict[str, str]) -> str:
    """``_RJEM_MALLOC_CONF`` in a fresh process once lpscore is imported."""
    code = "import lpscore, os; print(os.environ['_RJEM_MALLOC_CONF'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


def test_importing_lpscore_keeps_freed_pages_unless_told_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert _allocator_conf(env) == ALLOCATOR_CONF == "dirty_decay_ms:10000"
    assert _allocator_conf({**env, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0"}) == "dirty_decay_ms:0"


def test_polars_allocator_takes_the_setting() -> None:
    """Polars loaded after lpscore runs its jemalloc with the setting (jemalloc's own
    statistics, printed at exit, name its options)."""
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    code = ("import os, lpscore\n"
            "os.environ['_RJEM_MALLOC_CONF'] += ',stats_print:true,stats_print_opts:mdablxeh'\n"
            "import polars\n"
            "polars.DataFrame({'a': [1]})\n")
    printed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)
    assert "opt.dirty_decay_ms: 10000" in printed.stderr + printed.stdout
