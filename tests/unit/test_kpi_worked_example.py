"""The design brief's four sample fills, computed by hand (docs/kpis.md), as buys and sells."""

from __future__ import annotations

import math

import pytest

from kpi_builders import Tape, quotes
from lpscore.config import Config
from lpscore.kpi.aggregate import kpi_stats, summarize, summary_json
from lpscore.kpi.engine import compute_kpis

QUOTES = [
    (0, "XYZ", 100.00, 100.02),
    (5, "XYZ", 100.01, 100.03),  # LP_B's order sees this book
    (8, "XYZ", 100.00, 100.02),  # and LP_C's this one
    (0, "ABC", 50.24, 50.26),
    (3_000, "XYZ", 100.03, 100.05),  # mid 100.04 from 3 s on
    (3_000, "ABC", 50.20, 50.22),  # mid 50.21
    (70_000, "XYZ", 100.03, 100.05),
    (70_000, "ABC", 50.20, 50.22),
]


def _brief(side: int) -> Tape:
    tape = Tape()
    tape.order("LP_A", "A1", "XYZ", side, 1000, 1)
    tape.ack("LP_A", "A1", 1.5)
    tape.fill("LP_A", "A1", 2, 1000, 100.01)
    tape.order("LP_B", "B1", "XYZ", side, 500, 6)
    tape.fill("LP_B", "B1", 7, 200, 100.03, leaves=300)
    tape.report("LP_B", "B1", 7.5, "4", "4")  # IOC: the rest is canceled
    tape.order("LP_C", "C1", "XYZ", side, 2000, 9)
    tape.fill("LP_C", "C1", 10, 2000, 100.00)
    tape.order("LP_A", "A2", "ABC", side, 5000, 11)
    tape.ack("LP_A", "A2", 11.2)
    tape.fill("LP_A", "A2", 12, 5000, 50.24)
    return tape


def _fills(side: int) -> dict[str, dict[str, float]]:
    result = compute_kpis(_brief(side).events(), quotes(QUOTES), Config())
    return {row["child_id"].split("#")[1]: row for row in result.fills.iter_rows(named=True)}


def test_brief_fills_as_buys() -> None:
    f = _fills(+1)
    # LP_A XYZ 1000 @ 100.01 vs 100.00/100.02: m0 100.01, far 100.02
    assert f["A1"]["pi_bps"] == pytest.approx(0.01 / 100.01 * 1e4)  # 0.9999
    assert f["A1"]["eff_spread_bps"] == pytest.approx(0.0, abs=1e-9)
    assert f["A1"]["e_over_q"] == pytest.approx(0.0, abs=1e-9)
    # LP_B 200 @ 100.03 vs 100.01/100.03: paid the offer, half the spread
    assert f["B1"]["pi_bps"] == pytest.approx(0.0, abs=1e-9)
    assert f["B1"]["eff_spread_bps"] == pytest.approx(2 * 0.01 / 100.02 * 1e4)  # 1.9996
    assert f["B1"]["e_over_q"] == pytest.approx(1.0)
    # LP_C 2000 @ 100.00 vs 100.00/100.02: bought on the bid
    assert f["C1"]["pi_bps"] == pytest.approx(0.02 / 100.01 * 1e4)  # 1.9998
    assert f["C1"]["eff_spread_bps"] == pytest.approx(-0.02 / 100.01 * 1e4)
    assert f["C1"]["e_over_q"] == pytest.approx(-1.0)
    # LP_A ABC 5000 @ 50.24 vs 50.24/50.26
    assert f["A2"]["pi_bps"] == pytest.approx(0.02 / 50.25 * 1e4)  # 3.9801
    assert f["A2"]["eff_spread_bps"] == pytest.approx(-0.02 / 50.25 * 1e4)
    # in currency: quantity x one or two cents saved against the far touch
    assert f["A1"]["pi_amount"] == pytest.approx(1000 * 0.01)
    assert f["C1"]["pi_amount"] == pytest.approx(2000 * 0.02)
    assert f["A2"]["pi_amount"] == pytest.approx(5000 * 0.02)
    # markouts at 5 s: XYZ mid 100.04, ABC mid 50.21
    assert f["A1"]["markout_bps_5s"] == pytest.approx(0.03 / 100.01 * 1e4)  # 2.9997
    assert f["A2"]["markout_bps_5s"] == pytest.approx(-0.03 / 50.25 * 1e4)  # -5.9701
    assert f["C1"]["impact_bps_5s"] == pytest.approx(2 * 0.03 / 100.01 * 1e4)
    # the quote 100 ms after each fill is still the one at routing time
    assert f["A1"]["markout_bps_100ms"] == pytest.approx(0.0, abs=1e-9)


def test_brief_fills_as_sells() -> None:
    f = _fills(-1)
    # a sell at 100.01 vs bid 100.00: one cent better than the far touch (the bid)
    assert f["A1"]["pi_bps"] == pytest.approx(0.01 / 100.01 * 1e4)
    # LP_B sold at 100.03 with the bid at 100.01: two cents of improvement, negative spread
    assert f["B1"]["pi_bps"] == pytest.approx(0.02 / 100.02 * 1e4)
    assert f["B1"]["pi_amount"] == pytest.approx(200 * 0.02)     # positive for a sell too
    assert f["B1"]["eff_spread_bps"] == pytest.approx(-2 * 0.01 / 100.02 * 1e4)
    assert f["B1"]["e_over_q"] == pytest.approx(-1.0)
    # LP_C sold at the bid: no improvement, paid half the spread
    assert f["C1"]["pi_bps"] == pytest.approx(0.0, abs=1e-9)
    assert f["C1"]["eff_spread_bps"] == pytest.approx(0.02 / 100.01 * 1e4)
    assert f["C1"]["e_over_q"] == pytest.approx(1.0)
    assert f["A2"]["pi_bps"] == pytest.approx(0.0, abs=1e-9)
    # the mid rose after we sold: negative markout (the LP sold... bought cheap)
    assert f["A1"]["markout_bps_5s"] == pytest.approx(-0.03 / 100.01 * 1e4)
    assert f["A2"]["markout_bps_5s"] == pytest.approx(0.03 / 50.25 * 1e4)


def test_brief_per_lp_aggregates() -> None:
    result = compute_kpis(_brief(+1).events(), quotes(QUOTES), Config())
    table = summarize(kpi_stats(result), result.horizons)
    payload = summary_json(table, result.horizons, ["lp"], result.data_quality)
    lps = {row["lp"]: row for row in payload["lps"]}
    assert set(lps) == {"LP_A", "LP_B", "LP_C"}
    a = lps["LP_A"]
    expected_pi = (1000 * 0.01 / 100.01 * 1e4 + 5000 * 0.02 / 50.25 * 1e4) / 6000
    assert a["pi_bps"] == pytest.approx(expected_pi)  # quantity-weighted: 3.4834
    assert a["pi_amount"] == pytest.approx(1000 * 0.01 + 5000 * 0.02)      # 110 saved
    assert a["pi_rate"] == 1.0
    assert a["n_orders"] == 2
    assert a["fill_rate"] == 1.0
    assert a["markout_bps"]["5s"] == pytest.approx(
        (1000 * 0.03 / 100.01 - 5000 * 0.03 / 50.25) * 1e4 / 6000)
    assert a["ack_latency_ms"]["mean"] == pytest.approx((0.5 + 0.2) / 2)
    assert a["hold_time_ms"]["mean"] == pytest.approx((0.5 + 0.8) / 2)
    b = lps["LP_B"]
    assert b["fill_rate"] == pytest.approx(0.4)  # 200 of 500, IOC remainder canceled
    assert b["complete_fill_rate"] == 0.0
    assert b["pi_rate"] == 0.0
    assert b["hold_time_ms"]["mean"] is None  # the fill was the first report: no ack before
    c = lps["LP_C"]
    assert c["fill_latency_ms"]["mean"] == pytest.approx(1.0)
    assert c["n_no_benchmark"] == 0
    assert c["reject_rate"] == 0.0


def test_identities_hold_for_every_fill_and_horizon() -> None:
    for side in (+1, -1):
        result = compute_kpis(_brief(side).events(), quotes(QUOTES), Config())
        for row in result.fills.iter_rows(named=True):
            for h in result.horizons:
                eff, real, imp = (row["eff_spread_bps"], row[f"real_spread_bps_{h}"],
                                  row[f"impact_bps_{h}"])
                assert eff == pytest.approx(real + imp, abs=1e-9)
                assert real == pytest.approx(-2 * row[f"markout_bps_{h}"], abs=1e-9)


def test_stale_missing_and_past_end_quotes_are_null_and_counted() -> None:
    tape = Tape()
    tape.order("LP_A", "OLD", "XYZ", 1, 100, 6_000)  # last XYZ quote 6 s before: stale
    tape.fill("LP_A", "OLD", 6_001, 100, 100.02)
    tape.order("LP_A", "NONE", "QQQ", 1, 100, 10)  # no quotes for QQQ at all
    tape.fill("LP_A", "NONE", 11, 100, 10.0)
    tape.order("LP_A", "LATE", "ABC", 1, 100, 4_000)  # ABC quotes end at 10 s
    tape.fill("LP_A", "LATE", 4_001, 100, 50.26)
    book = quotes([(0, "XYZ", 100.0, 100.02), (0, "ABC", 50.24, 50.26),
                   (10_000, "ABC", 50.24, 50.26)])
    result = compute_kpis(tape.events(), book, Config())
    f = {row["child_id"].split("#")[1]: row for row in result.fills.iter_rows(named=True)}
    for name in ("OLD", "NONE"):
        assert not f[name]["has_benchmark"]
        assert f[name]["pi_bps"] is None
        assert f[name]["markout_bps_5s"] is None
    assert f["LATE"]["has_benchmark"]
    assert f["LATE"]["markout_bps_5s"] is not None  # 4.001 + 5 s < 10 s
    assert f["LATE"]["markout_bps_30s"] is None  # past the end of ABC's quotes
    assert f["LATE"]["markout_bps_60s"] is None
    assert result.data_quality["fills_no_benchmark"] == 2
    assert result.data_quality["markout_null_30s"] == 3
    payload = summary_json(summarize(kpi_stats(result), result.horizons), result.horizons,
                           ["lp"], result.data_quality)
    assert payload["lps"][0]["n_no_benchmark"] == 2
    assert payload["lps"][0]["pi_bps"] == pytest.approx(0.0, abs=1e-9)  # only LATE counts


def test_markout_quote_older_than_max_of_twice_h_and_max_age_is_null() -> None:
    tape = Tape()
    tape.order("LP_A", "X", "XYZ", 1, 100, 4_499)
    tape.fill("LP_A", "X", 4_500, 100, 100.02)
    book = quotes([(0, "XYZ", 100.0, 100.02), (200_000, "XYZ", 100.0, 100.04)])
    f = compute_kpis(tape.events(), book, Config()).fills.row(0, named=True)
    assert f["has_benchmark"]  # the quote is 4.499 s old at t_send: within 5 s
    assert f["markout_bps_100ms"] is not None  # 4.6 s old <= max(0.2 s, 5 s)
    assert f["markout_bps_1s"] is None  # 5.5 s old > max(2 s, 5 s)
    assert f["markout_bps_5s"] is not None  # 9.5 s old <= max(10 s, 5 s)
    assert f["markout_bps_30s"] is not None  # 34.5 s <= 60 s
    assert f["markout_bps_60s"] is not None  # 64.5 s <= 120 s


def test_locked_quote_gives_null_e_over_q_only() -> None:
    tape = Tape()
    tape.order("LP_A", "L", "XYZ", 1, 100, 10)
    tape.fill("LP_A", "L", 11, 100, 100.01)
    f = compute_kpis(tape.events(), quotes([(0, "XYZ", 100.01, 100.01)]), Config()
                     ).fills.row(0, named=True)
    assert f["e_over_q"] is None
    assert f["pi_bps"] == pytest.approx(0.0, abs=1e-9)
    assert f["eff_spread_bps"] == pytest.approx(0.0, abs=1e-9)
    assert not math.isnan(f["pi_bps"])
