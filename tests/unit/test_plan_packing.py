"""Packing the Dask plan's partition tasks (lpscore.engine.plan._packed), on hand-made tasks:
the pack a task joins, the size limit, and nothing lost or counted twice."""

from __future__ import annotations

import numpy as np

from lpscore.engine.plan import PartTask, _packed


def task(keys: tuple[str, ...], first_seq: int, events: int, symbol: str) -> PartTask:
    return PartTask(index=-1, keys=keys, event_files=(f"{keys[0]}.parquet",),
                    seqs=np.arange(first_seq, first_seq + events, dtype=np.int64),
                    symbols=(symbol,))


def test_a_group_crossing_midnight_joins_the_pack_of_its_first_date() -> None:
    """A parent re-routed after midnight fuses B's two dates into one task: it is packed
    with the first date's partitions (the date of its first key), and the next date's
    partitions start a pack of their own."""
    tasks = [task(("2026-11-23 A",), 0, 10, "A"),
             task(("2026-11-23 B", "2026-11-24 B"), 10, 30, "B"),
             task(("2026-11-24 C",), 40, 5, "C"),
             task(("2026-11-24 D",), 45, 5, "D")]
    packs = _packed(tasks, 1_000)
    assert [p.keys for p in packs] == [
        ("2026-11-23 A", "2026-11-23 B", "2026-11-24 B"), ("2026-11-24 C", "2026-11-24 D")]
    assert [p.index for p in packs] == [0, 1]
    assert [p.symbols for p in packs] == [("A", "B"), ("C", "D")]
    assert np.array_equal(np.concatenate([p.seqs for p in packs]), np.arange(50))


def test_a_pack_holds_at_most_task_events_and_a_bigger_task_stays_alone() -> None:
    tasks = [task(("2026-11-23 A",), 0, 60, "A"), task(("2026-11-23 B",), 60, 50, "B"),
             task(("2026-11-23 C",), 110, 200, "C"), task(("2026-11-23 D",), 310, 40, "D")]
    packs = _packed(tasks, 100)
    assert [[len(p.seqs) for p in packs], [p.keys for p in packs]] == [
        [60, 50, 200, 40],
        [("2026-11-23 A",), ("2026-11-23 B",), ("2026-11-23 C",), ("2026-11-23 D",)]]
    packs = _packed(tasks, 110)
    assert [len(p.seqs) for p in packs] == [110, 200, 40]
    assert packs[0].event_files == ("2026-11-23 A.parquet", "2026-11-23 B.parquet")
