"""Units remember the ClOrdIDs of forgotten units as hashes until they expire: a late
message is recognised as late, a message after the window passes for an orphan's."""

from __future__ import annotations

import pickle
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from lpscore.stream.units import CLOSED, Units, _key_hash


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


def _forget_by_rebuilding(units: Units, before_ns: int) -> int:
    """``Units.forget`` as it was first written: every index rebuilt, the reference."""
    old = {u for u, t in units.closed.items() if t < before_ns}
    if not old:
        return 0
    roots = {k: units.find(k) for k in units.parent}
    kept: dict[tuple[str, str], str] = {}
    batches: dict[int, list[int]] = {}
    for key, unit in units.alias.items():
        root = roots.get(unit, unit)
        if root not in old:
            kept[key] = unit
            continue
        closed_ns = units.closed[root]
        hashed = _key_hash(*key)
        if units.gone.get(hashed, closed_ns) <= closed_ns:
            units.gone[hashed] = closed_ns
            batches.setdefault(closed_ns, []).append(hashed)
    units.gone_order.extend(sorted(batches.items()))
    units.alias = kept
    units.seq = {k: u for k, u in units.seq.items() if roots.get(u, u) not in old}
    units.parent = {k: r for k, r in units.parent.items() if roots[k] not in old}
    for unit in old:
        del units.closed[unit]
    return len(old)


_IDS = st.sampled_from(["C1", "C2", "C3", "C4", "C5"])
_EVENT = st.one_of(
    st.fixed_dictionaries({"kind": st.just("D"), "outbound": st.just(True), "cl_ord_id": _IDS,
                           "parent_id": st.sampled_from(["P1", "P2", "P3", None]),
                           "seq_num": st.integers(1, 6)}),
    st.fixed_dictionaries({"kind": st.sampled_from(["F", "G"]), "outbound": st.just(True),
                           "cl_ord_id": _IDS, "orig_cl_ord_id": _IDS,
                           "seq_num": st.integers(1, 6)}),
    st.fixed_dictionaries({"kind": st.just("8"), "cl_ord_id": _IDS,
                           "orig_cl_ord_id": st.none() | _IDS}),
    st.fixed_dictionaries({"kind": st.just("3"), "ref_seq_num": st.integers(1, 6)}),
)
_STEP = st.one_of(st.tuples(st.just("events"), st.lists(_EVENT, min_size=1, max_size=4)),
                  st.tuples(st.just("close"), st.integers(0, 3)),
                  st.tuples(st.just("forget"), st.integers(0, 40)),
                  st.tuples(st.just("expire"), st.integers(0, 40)))


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(_STEP, max_size=30))
def test_forget_drops_what_rebuilding_every_index_dropped(steps: list[Any]) -> None:
    """Forgetting visits only the units it drops (``alias_of``, ``seq_of``) and leaves
    the indexes, the hashes and the answers to later events as rebuilding them did:
    orders, requests, reports and session rejects, ClOrdIDs used again, merges, closes,
    forgets and expiries in any order."""
    new, ref = Units(), Units()
    for clock, (what, arg) in enumerate(steps, start=1):
        if what == "events":
            events = _events(*arg)
            assert new.assign(events) == ref.assign(events)
        elif what == "close":
            live = sorted({new.find(u) for u in new.parent} - set(new.closed))[:arg]
            new.close(live, clock)
            ref.close(live, clock)
        elif what == "forget":
            assert new.forget(arg) == _forget_by_rebuilding(ref, arg)
        else:
            assert new.expire(arg) == ref.expire(arg)
        assert (new.alias, new.seq, new.closed, new.gone) == (
            ref.alias, ref.seq, ref.closed, ref.gone)
        # the same units in the same sets (their paths may be compressed differently)
        assert {k: new.find(k) for k in new.parent} == {k: ref.find(k) for k in ref.parent}
        assert [(t, sorted(h)) for t, h in new.gone_order] == [
            (t, sorted(h)) for t, h in ref.gone_order]
    restored = pickle.loads(pickle.dumps(new))
    assert restored.alias_of == new.alias_of and restored.seq_of == new.seq_of
