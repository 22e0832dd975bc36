"""Checkpoint: live quotes kept apart from the pickle, a part per save of what it added."""

from __future__ import annotations

import pickle
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from kpi_builders import quotes
from lpscore.quarantine import Quarantine
from lpscore.stream.checkpoint import Checkpoint

DAY = quotes([(float(i), "ABC" if i % 3 else "XYZ", 10.0 + i / 100, 10.02 + i / 100)
              for i in range(30)])


def test_each_save_writes_only_the_quotes_added_since_the_last(tmp_path: Path) -> None:
    ckpt = Checkpoint(tmp_path)
    q = Quarantine()
    for n in (10, 10, 25, 30):                # the second save adds nothing: no new part
        ckpt.save({"position": n}, q, quotes=DAY.head(n))
    parts = sorted(p.name for p in tmp_path.glob("quotes-*.arrow"))
    assert parts == ["quotes-000001.arrow", "quotes-000002.arrow", "quotes-000003.arrow"]
    assert [pl.read_ipc((tmp_path / p).read_bytes()).height for p in parts] == [10, 15, 5]
    assert "quotes" not in pickle.loads((tmp_path / "state.pkl").read_bytes())
    state = Checkpoint(tmp_path).load()
    assert state is not None and state["position"] == 30
    assert_frame_equal(state["quotes"], DAY)


def test_a_part_written_after_the_last_state_is_dropped_and_saving_goes_on(
        tmp_path: Path) -> None:
    """A crash between writing a part and the state: the restored state holds the quotes
    of its own parts only, and the next save writes the rest again, once."""
    first = Checkpoint(tmp_path)
    first.save({"position": 1}, Quarantine(), quotes=DAY.head(12))
    DAY.slice(12, 8).write_ipc(tmp_path / "quotes-000002.arrow")   # the state never came
    again = Checkpoint(tmp_path)
    state = again.load()
    assert state is not None
    assert_frame_equal(state["quotes"], DAY.head(12))
    assert sorted(p.name for p in tmp_path.glob("quotes-*.arrow")) == ["quotes-000001.arrow"]
    again.save({"position": 2}, Quarantine(), quotes=DAY)
    restored = Checkpoint(tmp_path).load()
    assert restored is not None
    assert_frame_equal(restored["quotes"], DAY)


def test_a_checkpoint_without_quotes_has_no_parts(tmp_path: Path) -> None:
    DAY.write_ipc(tmp_path / "quotes-000002.arrow")     # a first save that never finished
    ckpt = Checkpoint(tmp_path)
    assert ckpt.load() is None
    ckpt.save({"position": 0}, Quarantine())
    state = Checkpoint(tmp_path).load()
    assert state is not None and "quotes" not in state
    assert not list(tmp_path.glob("quotes-*.arrow"))


def test_a_restored_quarantine_goes_on_counting_where_it_stopped(tmp_path: Path) -> None:
    """A restarted worker counted its quarantine from 0 (its status line said 0 with three
    records in the file); the saved counts are now restored as released records."""
    q = Quarantine()
    for reason in ("not_fix", "bad_checksum", "not_fix"):
        q.add("fix.log", 0, 1, reason, b"x")
    first = Checkpoint(tmp_path)
    first.save({"position": 3}, q)
    q.add("fix.log", 9, 1, "truncated", b"y")       # after the save: lost with the crash
    again = Quarantine()
    assert Checkpoint(tmp_path).load(again) is not None
    assert len(again) == 3 and not again.records
    assert again.by_reason() == {"bad_checksum": 1, "not_fix": 2}
    resumed = Checkpoint(tmp_path)
    resumed.load(again)
    again.add("fix.log", 9, 1, "truncated", b"y")
    resumed.save({"position": 4}, again)
    lines = (tmp_path / "quarantine.jsonl").read_text().splitlines()
    assert len(lines) == len(again) == 4
    restored = Quarantine()
    Checkpoint(tmp_path).load(restored)
    assert restored.by_reason() == {"bad_checksum": 1, "not_fix": 2, "truncated": 1}
