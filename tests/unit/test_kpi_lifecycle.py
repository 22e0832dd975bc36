"""Child-order lifecycles and per-order KPIs on hand-built traffic (docs/kpis.md)."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from kpi_builders import Tape, quotes
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats, summarize, summary_json
from lpscore.kpi.engine import _quarantine_negative_latency, compute_kpis
from lpscore.quarantine import Quarantine

BOOK = quotes([(0, "XYZ", 100.00, 100.02), (50, "XYZ", 100.02, 100.04),
               (100_000, "XYZ", 100.02, 100.04)])


def _by_cl(tape: Tape) -> dict[str, list[dict[str, object]]]:
    orders = compute_kpis(tape.events(), BOOK, Config()).orders.sort("t_send")
    out: dict[str, list[dict[str, object]]] = {}
    for row in orders.iter_rows(named=True):
        out.setdefault(str(row["cl_ord_id"]), []).append(row)
    return out


def test_states_and_terminal() -> None:
    tape = Tape()
    tape.order("LP_A", "F", "XYZ", 1, 100, 1)
    tape.ack("LP_A", "F", 2)
    tape.fill("LP_A", "F", 3, 100, 100.02)
    tape.order("LP_A", "P", "XYZ", 1, 100, 4)
    tape.fill("LP_A", "P", 5, 40, 100.02, leaves=60)
    tape.order("LP_A", "R", "XYZ", 1, 100, 6)
    tape.reject("LP_A", "R", 7, reason=3, text="Order exceeds limit")
    tape.order("LP_A", "N", "XYZ", 1, 100, 8)  # never answered
    tape.order("LP_A", "X", "XYZ", 1, 100, 9)
    tape.report("LP_A", "X", 10, "C", "C")  # expired
    got = {k: v[0] for k, v in _by_cl(tape).items()}
    assert got["F"]["state"] == "filled" and got["F"]["terminal"] and got["F"]["complete"]
    assert got["P"]["state"] == "partially_filled" and not got["P"]["terminal"]
    assert got["R"]["state"] == "rejected" and got["R"]["rejected"]
    assert got["R"]["reject_reason"] == "3 order exceeds limit"
    assert got["R"]["reject_text"] == "Order exceeds limit"     # kept beside the code
    assert got["F"]["reject_text"] is None and got["X"]["reject_text"] is None
    assert got["N"]["state"] == "pending" and got["N"]["ack_latency_ms"] is None
    assert got["X"]["state"] == "expired" and got["X"]["terminal"]
    # fill rate counts terminal orders only: F (100/100), R (0/100), X (0/100)
    result = compute_kpis(tape.events(), BOOK, Config())
    row = summarize(kpi_stats(result), result.horizons).row(0, named=True)
    assert row["fill_rate"] == pytest.approx(100 / 300)
    assert row["complete_fill_rate"] == pytest.approx(1 / 3)
    assert row["reject_rate"] == pytest.approx(1 / 5)
    assert row["n_terminal"] == 3


def test_reused_cl_ord_id_starts_a_new_child_and_fill_before_ack() -> None:
    tape = Tape()
    tape.order("LP_A", "0", "XYZ", 1, 100, 1)
    tape.fill("LP_A", "0", 2, 100, 100.02)  # the fill comes before the ack
    tape.ack("LP_A", "0", 3)
    tape.order("LP_A", "0", "XYZ", -1, 300, 60)  # ClOrdID reused
    tape.reject("LP_A", "0", 61)
    first, second = _by_cl(tape)["0"]
    assert first["filled_qty"] == 100 and not first["rejected"]
    assert first["ack_latency_ms"] == pytest.approx(1.0)  # the first report, a fill
    assert first["hold_time_ms"] is None  # no ack before the fill
    assert second["rejected"] and second["filled_qty"] == 0 and second["order_qty"] == 300


def test_busts_and_corrections_change_fills() -> None:
    tape = Tape()
    tape.order("LP_A", "B", "XYZ", 1, 200, 1)
    first = tape.fill("LP_A", "B", 2, 100, 100.02, leaves=100)
    second = tape.fill("LP_A", "B", 3, 100, 100.03)
    tape.report("LP_A", "B", 4, "H", "1", exec_ref_id=first)
    tape.report("LP_A", "B", 5, "G", "1", exec_ref_id=second, last_qty=80.0,
                last_px=100.01, exec_id="E-corr")
    result = compute_kpis(tape.events(), BOOK, Config())
    fills = result.fills
    assert fills.height == 1
    assert fills.row(0, named=True)["q"] == 80 and fills.row(0, named=True)["p"] == 100.01
    assert fills.row(0, named=True)["corrected"]
    order = result.orders.row(0, named=True)
    assert order["busted"] and order["corrected"] and order["filled_qty"] == 80


def test_replace_confirmed_changes_order_qty_and_cancel_rejects_count() -> None:
    tape = Tape()
    tape.order("LP_A", "O1", "XYZ", 1, 100, 1)
    tape.ack("LP_A", "O1", 2)
    tape._row("G", "LP_A", 3, outbound=True, cl_ord_id="O2", orig_cl_ord_id="O1",
              symbol="XYZ", side=1, order_qty=150.0)
    tape.report("LP_A", "O2", 4, "5", "0", order_qty=150.0)
    tape._row("F", "LP_A", 5, outbound=True, cl_ord_id="O3", orig_cl_ord_id="O2",
              symbol="XYZ", side=1)
    tape._row("9", "LP_A", 6, outbound=False, cl_ord_id="O3", orig_cl_ord_id="O2",
              cxl_rej_reason=1)
    tape.fill("LP_A", "O2", 7, 150, 100.03)
    order = compute_kpis(tape.events(), BOOK, Config()).orders.row(0, named=True)
    assert order["order_qty"] == 150 and order["complete"] and order["state"] == "filled"
    assert order["n_cancel_requests"] == 2 and order["n_cancel_rejects"] == 1


def test_session_reject_names_the_order_and_is_kept_apart_from_reject_rate() -> None:
    tape = Tape()
    tape.order("LP_A", "S1", "XYZ", 1, 100, 1)  # MsgSeqNum 1 of DESK->LP_A
    tape.session_reject("LP_A", 1, 2)
    tape.order("LP_A", "S2", "XYZ", 1, 100, 3)
    tape.fill("LP_A", "S2", 4, 100, 100.02)
    tape.session_reject("LP_A", 99, 5)  # names a D we never logged (quarantined)
    result = compute_kpis(tape.events(), BOOK, Config())
    orders = {r["cl_ord_id"]: r for r in result.orders.iter_rows(named=True)}
    assert orders["S1"]["session_rejected"] and orders["S1"]["state"] == "session_rejected"
    assert not orders["S1"]["terminal"] and not orders["S2"]["session_rejected"]
    table = summarize(kpi_stats(result), result.horizons, result.unmatched_session_rejects)
    lp = summary_json(table, result.horizons, ["lp"], {})["lps"][0]
    assert lp["reject_rate"] == 0.0
    assert lp["session_reject_rate"] == pytest.approx(2 / 3)  # (1 + 1 unmatched) / (2 + 1)
    assert lp["fill_rate"] == 1.0  # the refused order is not terminal at the LP


def test_last_look_asymmetry_and_reject_cost() -> None:
    tape = Tape()
    # mid 100.01 until 50 ms, then 100.03: up, against an LP selling to our buys
    for i, cl in enumerate(["U1", "U2"]):
        tape.order("LP_B", cl, "XYZ", 1, 100, 10 + i, parent="P" + cl)
        tape.ack("LP_B", cl, 11 + i)
        tape.reject("LP_B", cl, 60 + i)  # decided after the move: adverse, rejected
        tape.order("LP_C", cl + "r", "XYZ", 1, 100, 70 + i, parent="P" + cl)
        tape.fill("LP_C", cl + "r", 71 + i, 100, 100.05)
    tape.order("LP_B", "U3", "XYZ", 1, 100, 20)
    tape.ack("LP_B", "U3", 21)
    tape.fill("LP_B", "U3", 65, 100, 100.02)  # adverse but filled
    tape.order("LP_B", "D1", "XYZ", -1, 100, 22)
    tape.ack("LP_B", "D1", 23)
    tape.fill("LP_B", "D1", 66, 100, 100.02)  # sell: the rise favours the LP, filled
    result = compute_kpis(tape.events(), BOOK, Config())
    table = summarize(kpi_stats(result), result.horizons)
    (lp_b,) = [r for r in summary_json(table, result.horizons, ["lp"], {})["lps"]
               if r["lp"] == "LP_B"]
    assert lp_b["lastlook_asymmetry"] == pytest.approx(2 / 3 - 0.0)
    assert lp_b["hold_time_ms"]["mean"] == pytest.approx((49 + 49 + 44 + 43) / 4)
    # re-routed at 100.05 against the rejected child's far touch 100.02, m0 100.01
    assert lp_b["reject_cost_bps"] == pytest.approx(0.03 / 100.01 * 1e4)


@pytest.mark.parametrize("first", ["A", "B"])
def test_a_reroute_split_at_once_prices_the_reject_at_its_vwap(first: str) -> None:
    """Two children of the parent sent in the same millisecond after the reject: the
    reject cost takes both at their VWAP, whichever comes first in the input."""
    tape = Tape()
    tape.order("LP_B", "R", "XYZ", 1, 100, 10, parent="P")
    tape.reject("LP_B", "R", 60)
    legs = {"A": ("LP_C", 100, 100.05), "B": ("LP_D", 300, 100.09)}
    for leg in (first, "B" if first == "A" else "A"):
        tape.order(legs[leg][0], "R" + leg, "XYZ", 1, legs[leg][1], 70, parent="P")
    for leg in ("A", "B"):
        tape.fill(legs[leg][0], "R" + leg, 71, legs[leg][1], legs[leg][2])
    orders = compute_kpis(tape.events(), BOOK, Config()).orders
    (cost,) = orders.filter(pl.col("cl_ord_id") == "R")["reject_cost_bps"].to_list()
    vwap = (100 * 100.05 + 300 * 100.09) / 400
    # against the rejected child's far touch 100.02 and mid 100.01 at its routing time
    assert cost == pytest.approx((vwap - 100.02) / 100.01 * 1e4)


def test_negative_latency_is_quarantined_not_clipped() -> None:
    tape = Tape()
    tape.order("LP_A", "Z", "XYZ", 1, 100, 5)
    result = compute_kpis(tape.events(), BOOK, Config())
    orders = result.orders.with_columns(pl.lit(-3.5).alias("ack_latency_ms"))
    quarantine, quality = Quarantine(), Counter[str]()
    linked = tape.events().with_columns(pl.lit(result.orders["child_id"][0]).alias("child_id"))
    fixed = _quarantine_negative_latency(orders, linked, quarantine, quality)
    assert fixed["ack_latency_ms"].to_list() == [None]
    assert quality["negative_ack_latency_ms"] == 1
    (record,) = quarantine.records
    assert record.reason == "negative_latency:ack_latency_ms" and record.stage == "kpi"
    assert "-3.500 ms" in record.detail
