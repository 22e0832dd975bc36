"""Units remember the ClOrdIDs of forgotten units as hashes until they expire: a late
message is recognised as late, a message after the window passes for an orphan's."""

from __future__ import annotations

import pickle
from typing import Any

import polars as pl

from lpscore.stream.units import CLOSED, Units


def _events(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {"kind": "8", "session": "DESK->LP_A", "outbound": False, "cl_ord_id": None,
            "orig_cl_ord_id": None, "parent_id": None, "seq_num": None, "seq_epoch": None,
            "ref_seq_num": None, "ref_epoch": None}
    return pl.DataFrame([{**base, **row} for row in rows], schema={
        "kind": pl.String, "session": pl.String, "outbound": pl.Boolean,
        "cl_ord_id": pl.String, "orig_cl_ord_id": pl.String, "parent_id": pl.String,
        "seq_num": pl.Int64, "seq_epoch": pl.Int64, "ref_seq_num": pl.Int64,
        "ref_epoch": pl.Int64})


def _order(cl: str, parent: str) -> pl.DataFrame:
    return _events({"kind": "D", "outbound": True, "cl_ord_id": cl, "parent_id": parent,
                    "seq_num": 1})


def _report(cl: str) -> pl.DataFrame:
    return _events({"cl_ord_id": cl})


def test_a_late_report_is_late_until_its_keys_expire() -> None:
    units = Units()
    (unit,), _ = units.assign(_order("C1", "P1"))
    assert units.assign(_report("C1"))[0] == [unit]
    units.close([unit], now_ns=100)
    assert units.assign(_report("C1"))[0] == [CLOSED]      # closed, still indexed
    assert units.forget(before_ns=101) == 1
    assert not units.alias and not units.closed
    assert units.assign(_report("C1"))[0] == [CLOSED]      # forgotten, its keys hashed
    assert units.assign(_report("C2"))[0] == ["~DESK->LP_A#C2"]   # never seen: an orphan
    restored = pickle.loads(pickle.dumps(units))             # a checkpoint keeps them
    assert restored.assign(_report("C1"))[0] == [CLOSED]
    assert units.expire(before_ns=100) == 0
    assert units.expire(before_ns=101) == 1
    assert units.assign(_report("C1"))[0] == ["~DESK->LP_A#C1"]   # past the window


def test_a_clordid_used_again_is_remembered_from_its_latest_order() -> None:
    units = Units()
    (first,), _ = units.assign(_order("C1", "P1"))
    units.close([first], now_ns=100)
    units.forget(before_ns=101)
    (second,), _ = units.assign(_order("C1", "P2"))          # a new order reuses C1
    assert units.assign(_report("C1"))[0] == [second]
    units.close([second], now_ns=200)
    units.forget(before_ns=201)
    assert units.expire(before_ns=150) == 0                  # the first close's entry is stale
    assert units.assign(_report("C1"))[0] == [CLOSED]
    assert units.expire(before_ns=201) == 1
    assert not units.gone and not units.gone_order


def test_a_checkpoint_from_before_the_hashes_loads() -> None:
    units = Units()
    state = dict(units.__dict__)
    del state["gone"], state["gone_order"]
    old = Units.__new__(Units)
    old.__setstate__(state)
    assert old.gone == {} and not old.gone_order
    assert old.assign(_report("C9"))[0] == ["~DESK->LP_A#C9"]
