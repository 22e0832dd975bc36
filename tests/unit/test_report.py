"""The HTML report: well-formed, self-contained, escaped, and drawing the numbers it is given."""

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

import lpscore.report
from lp_truth import LpTruth, simulate
from lpscore.cli_kpis import leaderboards
from lpscore.config import Config, KpiConfig
from lpscore.errors import InputError
from lpscore.kpi.aggregate import kpi_stats, summarize, summary_json
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.quarantine import Quarantine
from lpscore.report import render_report, write_report
from lpscore.report.scales import nice_ticks
from lpscore.report.svg import style

H = ["100ms", "1s", "5s", "30s", "60s"]
A, B, C = 'LP<&>"x', "BANK_B", "NOFILL_C"
A_ESC = "LP&lt;&amp;&gt;&quot;x"
REASON = '<b>price</b> & "moved"'


def lat(p50: float | None) -> dict:
    if p50 is None:
        return {"mean": None, "p50": None, "p95": None, "p99": None}
    return {"mean": p50 * 1.2, "p50": p50, "p95": p50 * 3, "p99": p50 * 5}


def lp_row(name: str, markout: list, **extra) -> dict:
    row = {"lp": name, "n_orders": 4, "n_terminal": 3, "n_fills": 3, "filled_qty": 250.0,
           "fill_rate": 0.625, "complete_fill_rate": 0.5, "reject_rate": 0.25,
           "session_reject_rate": 0.0, "reject_reasons": {}, "pi_bps": 1.234, "pi_rate": 0.5,
           "eff_spread_bps": 2.0, "e_over_q": 0.8,
           "markout_bps": dict(zip(H, markout, strict=True)),
           "real_spread_bps": {h: None if m is None else -2 * m for h, m in zip(H, markout,
                                                                                 strict=True)},
           "impact_bps": dict.fromkeys(H, 0.5), "ack_latency_ms": lat(2.0),
           "fill_latency_ms": lat(3.0), "hold_time_ms": lat(1.0), "lastlook_asymmetry": 0.1,
           "n_no_benchmark": 1}
    row.update(extra)
    return row


def make_summary(horizons: list[str] = H) -> dict:
    return {
        "lps": [
            lp_row(A, [1.0, None, 2.5, -1.0, 0.5], reject_reasons={REASON: 3, "99 Other": 1}),
            lp_row(B, [0.2, 0.4, 0.6, 0.8, 1.0], fill_rate=0.9, reject_reasons={"99 Other": 2}),
            lp_row(C, [None] * 5, n_fills=0, filled_qty=0.0, pi_bps=None, pi_rate=None,
                   eff_spread_bps=None, e_over_q=None, impact_bps=dict.fromkeys(H),
                   fill_latency_ms=lat(None), hold_time_ms=lat(None), lastlook_asymmetry=None),
        ],
        "data_quality": {"exec_id_reused": 7, "negative_latency": 0},
        "horizons": horizons,
        "clock_offsets": [{"session": "S1", "lp": A, "offset_ms": 1.5, "n": 10}],
    }


def make_orders() -> pl.DataFrame:
    rows = [
        # lp, bucket, order_qty, filled_qty, terminal, rejected, reason, ack, fill, hold
        (A, "<10k", 100.0, 100.0, True, False, None, 2.0, 3.0, None),
        (A, "<10k", 100.0, 50.0, True, False, None, 0.0, 4.0, 1.0),
        (A, "10k-100k", 400.0, 100.0, True, True, REASON, 20.0, None, 5.0),
        (A, "<10k", 1000.0, 0.0, False, False, None, None, None, None),  # open: excluded
        (B, "<10k", 100.0, 100.0, True, False, None, 1.0, 2.0, 1.0),
        (C, "10k-100k", 100.0, 0.0, True, True, "99 Other", 3.0, None, None),
    ]
    columns = ["lp", "size_bucket", "order_qty", "filled_qty", "terminal", "rejected",
               "reject_reason", "ack_latency_ms", "fill_latency_ms", "hold_time_ms"]
    return pl.DataFrame(rows, schema=columns, orient="row")


def make_fills() -> pl.DataFrame:
    data: dict[str, list] = {"lp": [A, A, A, B], "q": [100.0, 50.0, 100.0, 100.0]}
    for h in H:
        data[f"markout_bps_{h}"] = [None if h == "1s" else 1.0, 2.0, None, 0.5]
        data[f"impact_bps_{h}"] = [0.5, 0.5, 0.5, 0.5]
    return pl.DataFrame(data)


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(make_summary(), make_orders(), make_fills())


VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})


class TagBalance(HTMLParser):
    """Every element we open is closed, in order (void elements aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass   # <x/> opens and closes itself

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def as_xml(page: str) -> ET.Element:
    assert page.startswith("<!DOCTYPE html>")
    return ET.fromstring(page.removeprefix("<!DOCTYPE html>"))


def charts(page: str, title_start: str) -> list[ET.Element]:
    root = as_xml(page)
    return [svg for svg in root.iter("svg")
            if svg.get("aria-label", "").startswith(title_start)]


def tip(element: ET.Element) -> str:
    found = element.find("title")
    return "" if found is None or found.text is None else found.text


def test_tags_balance_and_page_is_well_formed_xml(page):
    checker = TagBalance()
    checker.feed(page)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    root = as_xml(page)
    assert root.tag == "html"
    assert len(list(root.iter("svg"))) >= 5
    assert len(list(root.iter("table"))) >= 5


def test_no_external_reference_and_no_script(page):
    lowered = page.lower()
    assert re.search(r"\b(src|href)\s*=", lowered) is None
    for needle in ("http://", "https://", "<script", "url(", "@import", "<link", "<iframe"):
        assert needle not in lowered
    assert 'charset="utf-8"' in page


def test_lp_names_and_reject_texts_are_escaped(page):
    assert A not in page
    assert REASON not in page
    assert A_ESC in page
    assert "&lt;b&gt;price&lt;/b&gt; &amp; &quot;moved&quot;" in page
    text = "".join(as_xml(page).itertext())
    assert A in text
    assert B in text
    assert C in text
    assert REASON in text


def test_summary_table_formats(page):
    assert "62.50%" in page      # fill rate
    assert "90.00%" in page      # B's fill rate
    assert "1.23" in page        # PI bps, two decimals
    assert "+10.00 pp" in page   # last-look asymmetry
    assert "markout 5s bps" in page
    assert ">n/a<" in page       # C has no benchmark


def test_headline_horizon_falls_back_to_the_middle_one():
    summary = make_summary(["1s", "10s", "60s"])
    for lp in summary["lps"]:
        lp["markout_bps"] = {"1s": 1.0, "10s": 2.0, "60s": 3.0}
    page = render_report(summary, make_orders(), pl.DataFrame())
    assert "markout 10s bps" in page
    assert "markout 5s bps" not in page


def test_markout_chart_one_path_per_lp_with_a_gap_for_nulls(page):
    (chart,) = charts(page, "Markout by horizon")
    paths = {p.get("data-series"): p.get("d") for p in chart.iter("path")
             if p.get("class") == "series"}
    assert set(paths) == {A, B}            # C has no markout at all: nothing to draw
    assert paths[A].count("M") == 2        # the null at 1s splits A's line
    assert paths[B].count("M") == 1
    points = [tip(p) for p in chart.iter() if p.get("class") == "point"]
    assert sum(t.startswith(f"{A} at ") for t in points) == 4
    assert f"{A} at 5s: 2.50 bps; 2 of 3 fills measured" in points
    legend = [e.text for e in chart.iter("text") if e.get("class") == "legend"]
    assert legend == [A, B, C]
    labels = [e.text for e in chart.iter("text") if e.get("class") == "tick"]
    assert [t for t in labels if t in H] == H   # horizons in order


def test_fill_rate_bars_are_proportional_and_exclude_open_orders(page):
    (chart,) = charts(page, "Fill rate by size bucket")
    bars = {tip(r).split(":")[0]: r for r in chart.iter("rect") if r.get("class") == "bar"}
    small, mid = bars[f"<10k, {A}"], bars[f"10k-100k, {A}"]
    assert float(small.get("data-value")) == pytest.approx(0.75)   # 150 / 200, not / 1200
    assert float(mid.get("data-value")) == pytest.approx(0.25)
    assert float(small.get("height")) / float(mid.get("height")) == pytest.approx(3, rel=1e-3)
    full = bars[f"<10k, {B}"]
    assert float(full.get("height")) / float(mid.get("height")) == pytest.approx(4, rel=1e-3)
    assert "75%" in tip(small)
    assert "filled 150 of 200 in 2 terminal orders" in tip(small)
    ticks = [e.text for e in chart.iter("text") if e.get("class") == "tick"]
    assert ticks.index("<10k") < ticks.index("10k-100k")
    zero = [tip(e) for e in chart.iter("line") if e.get("class") == "bar-zero"]
    assert zero == [f"10k-100k, {C}: 0%; filled 0 of 100 in 1 terminal orders"]


def test_latency_histograms_count_orders_and_mark_percentiles(page):
    ack = charts(page, "ack latency")
    assert len(ack) == 3   # one per LP
    counts = [sum(int(r.get("data-value")) for r in c.iter("rect") if r.get("class") == "bar")
              for c in ack]
    assert counts == [3, 1, 1]   # A's zero latency is kept, in the first bin
    # bins a decade apart by 9 steps: edges in three digits (1.78, 2.15 read "2 to 2" once),
    # the first bin "up to" its end (it holds the zero)
    assert [tip(r) for r in ack[0].iter("rect") if r.get("class") == "bar"] == [
        "up to 1.21 ms: 1 order", "1.78 to 2.15 ms: 1 order", "17.8 to 21.5 ms: 1 order"]
    marks = [tip(m) for m in ack[0].iter("line") if "mark" in (m.get("class") or "")]
    assert marks == ["p50 = 2.00 ms", "p95 = 6.00 ms", "p99 = 10.00 ms"]
    fill = charts(page, "fill latency")
    assert "no fill latency" in "".join(fill[2].itertext())


def test_reject_bars_and_table(page):
    (chart,) = charts(page, "Rejects by reason")
    bars = {tip(r).split(":")[0]: float(r.get("data-value")) for r in chart.iter("rect")
            if r.get("class") == "bar"}
    assert bars == {f"{A}, {REASON}": 3.0, f"{A}, 99 Other": 1.0, f"{B}, 99 Other": 2.0}
    widths = {tip(r).split(":")[0]: float(r.get("width")) for r in chart.iter("rect")
              if r.get("class") == "bar"}
    assert widths[f"{A}, {REASON}"] / widths[f"{A}, 99 Other"] == pytest.approx(3, rel=1e-3)
    assert "75.00%" in page   # share of A's rejects
    assert f"No rejects: {C}." in page


def test_more_kpis_show_what_the_summary_left_out() -> None:
    """Computed but shown nowhere: LP_D refused every cancel request and the page could
    not say so. A second table gives the cancel-reject rate, reject cost, at-or-better
    rate and the realized spread at the headline horizon."""
    summary = make_summary()
    summary["lps"][0].update(cancel_reject_rate=1.0, reject_cost_bps=1.04,
                             at_or_better_rate=0.5)
    page = render_report(summary, make_orders(), make_fills())
    tables = list(as_xml(page).iter("table"))
    (more,) = [t for t in tables
               if [("".join(th.itertext())) for th in t.iter("th")][1:2] == ["cancel reject"]]
    head = ["".join(th.itertext()) for th in more.iter("th")]
    assert head == ["LP", "cancel reject", "reject cost bps", "at or better",
                    "realized spread 5s bps"]
    rows = {"".join(tr[0].itertext()): ["".join(td.itertext()) for td in tr[1:]]
            for tr in more.find(".//tbody").iter("tr")}
    a = summary["lps"][0]
    assert rows[A] == ["100.00%", "1.04", "50.00%", f"{a['real_spread_bps']['5s']:,.2f}"]
    assert rows[B][:3] == ["n/a", "n/a", "n/a"]      # not in its row: no value, not 0


def test_rejects_of_orders_not_in_the_log_are_noted() -> None:
    """``lpscore kpis`` printed them; the page left them out (8 of the MOEX session's)."""
    summary = make_summary()
    summary["lps"][2]["orphan_reject_reasons"] = {"6 Duplicate order": 2, "99 Other": 1}
    page = render_report(summary, make_orders(), make_fills())
    (note,) = [p for p in as_xml(page).iter("p")
               if "".join(p.itertext()).startswith("Rejects of orders not in the log")]
    assert "".join(note.itertext()) == ("Rejects of orders not in the log (not counted "
                                        f"above): {C}: 6 Duplicate order x2, 99 Other x1.")


def test_data_quality_and_clock_offsets(page):
    text = "".join(as_xml(page).itertext())
    assert "exec_id_reused" in text
    assert "negative_latency" in text
    assert "Clock offsets" in text
    assert "1.50" in text


def test_empty_input_says_there_is_no_data():
    page = render_report({"lps": [], "data_quality": {"orphan_reports": 2}, "horizons": H,
                          "clock_offsets": []}, pl.DataFrame(), pl.DataFrame())
    root = as_xml(page)
    assert "No data" in page
    assert list(root.iter("svg")) == []
    assert "orphan_reports" in page


def test_all_null_markouts_draw_no_line():
    summary = make_summary()
    for lp in summary["lps"]:
        lp["markout_bps"] = dict.fromkeys(H)
        lp["impact_bps"] = None       # a whole block may be null too
    page = render_report(summary, make_orders(), make_fills())
    (chart,) = charts(page, "Markout by horizon")
    assert [p for p in chart.iter("path") if p.get("class") == "series"] == []
    assert "no values to draw" in "".join(chart.itertext())
    (impact,) = charts(page, "Impact by horizon")
    assert [p for p in impact.iter("path") if p.get("class") == "series"] == []


def test_single_lp_and_twenty_lps():
    one = make_summary()
    one["lps"] = one["lps"][:1]
    page = render_report(one, make_orders().filter(pl.col("lp") == A), make_fills())
    (chart,) = charts(page, "Markout by horizon")
    assert len([p for p in chart.iter("path") if p.get("class") == "series"]) == 1

    many = make_summary()
    many["lps"] = [lp_row(f"LP{i:02d}", [float(i)] * 5) for i in range(20)]
    page = render_report(many, make_orders(), make_fills())
    (chart,) = charts(page, "Markout by horizon")
    assert len([p for p in chart.iter("path") if p.get("class") == "series"]) == 20
    looks = {(style(i).colour, style(i).dash, style(i).opacity) for i in range(20)}
    assert len(looks) == 20


def test_missing_columns_are_an_error_unless_the_frame_is_empty():
    with pytest.raises(InputError, match="size_bucket"):
        render_report(make_summary(), make_orders().drop("size_bucket"), make_fills())
    with pytest.raises(InputError, match="markout_bps_5s"):
        render_report(make_summary(), make_orders(), make_fills().drop("markout_bps_5s"))


def test_write_report(tmp_path: Path):
    path = write_report(tmp_path / "r.html", make_summary(), make_orders(), make_fills(),
                        title="desk <A>")
    page = path.read_text(encoding="utf-8")
    assert page == render_report(make_summary(), make_orders(), make_fills(), title="desk <A>")
    assert "<title>desk &lt;A&gt;</title>" in page


def test_nice_ticks():
    assert nice_ticks(0, 1) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(-3.57, 0.43) == [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0]
    assert nice_ticks(0, 3, integer=True) == [0.0, 1.0, 2.0, 3.0]
    assert nice_ticks(0, 0) == [-1.0, -0.5, 0.0, 0.5, 1.0]


def test_public_names():
    assert lpscore.report.__all__ == ["render_report", "write_report"]


def test_rows_split_by_extra_keys_select_their_own_orders():
    """`lpscore kpis --by symbol` repeats an LP once per symbol; each row is its own series."""
    summary = make_summary()
    first = lp_row(A, [1.0] * 5, symbol="EURUSD")
    second = lp_row(A, [2.0] * 5, symbol="USDJPY")
    summary["lps"] = [first, second]
    orders = make_orders().filter(pl.col("lp") == A).with_columns(
        pl.Series("symbol", ["EURUSD", "EURUSD", "USDJPY", "USDJPY"]))
    page = render_report(summary, orders, make_fills())
    assert f"{A_ESC} (symbol=EURUSD)" in page
    (chart,) = charts(page, "Markout by horizon")
    paths = [p.get("data-series") for p in chart.iter("path") if p.get("class") == "series"]
    assert paths == [f"{A} (symbol=EURUSD)", f"{A} (symbol=USDJPY)"]
    counts = [sum(int(r.get("data-value")) for r in c.iter("rect") if r.get("class") == "bar")
              for c in charts(page, "ack latency")]
    assert counts == [2, 1]


# ---- leaderboards (lpscore kpis --html) ---------------------------------------------------

WEIGHT_TITLES = {
    "hft": "hft: ack_latency_ms_p50 60%, fill_rate 15%, pi_bps 10%, impact_bps_5s 15%",
    "block": "block: ack_latency_ms_p50 10%, fill_rate 40%, pi_bps 20%, impact_bps_5s 30%",
    "best_price": "best_price: ack_latency_ms_p50 20%, fill_rate 20%, pi_bps 50%, "
                  "impact_bps_5s 10%",
}
SLOW = "SLOW<&>"   # 12 orders: under min_orders (30), so provisional


def scored_run(horizons_ms: tuple[int, ...] = (100, 1_000, 5_000)) -> tuple[dict, KpiResult]:
    lps = [LpTruth("FAST", fill_prob=0.8, ack_ms=1.0, pi_bps=0.2, impact_bps=3.0),
           LpTruth("BLOCK", fill_prob=0.95, ack_ms=8.0, pi_bps=0.0, impact_bps=0.5),
           LpTruth(SLOW, fill_prob=0.6, ack_ms=20.0, pi_bps=1.0, impact_bps=2.0)]
    events, quotes = simulate(lps, {"FAST": 40, "BLOCK": 40, SLOW: 12}, seed=11)
    config = Config(kpi=KpiConfig(horizons_ms=horizons_ms))
    result = compute_kpis(events, quotes, config, Quarantine())
    table = summarize(kpi_stats(result, ["lp"]), result.horizons)
    payload = summary_json(table, result.horizons, ["lp"], result.data_quality)
    payload["leaderboards"] = leaderboards(result)
    return json.loads(json.dumps(payload)), result   # as `lpscore report` reads kpis.json


@pytest.fixture(scope="module")
def scored() -> tuple[dict, str]:
    payload, result = scored_run()
    return payload, render_report(payload, result.orders, result.fills)


def boards(page: str) -> list[ET.Element]:
    return [d for d in as_xml(page).iter("div") if "board" in (d.get("class") or "").split()]


def test_one_leaderboard_per_builtin_profile(scored):
    payload, page = scored
    found = boards(page)
    assert [b.get("data-profile") for b in found] == ["hft", "block", "best_price"]
    for board, item in zip(found, payload["leaderboards"], strict=True):
        name = board.get("data-profile")
        assert "".join(board.find("h3").itertext()) == WEIGHT_TITLES[name]
        head = ["".join(th.itertext()) for th in board.iter("th")]
        assert head == ["rank", "LP", "score", "95% interval", "rank held", "orders", "n_eff",
                        "provisional", "no own evidence"]
        rows = [["".join(td.itertext()) for td in tr.iter("td")]
                for tr in board.find(".//tbody").iter("tr")]
        assert [r[1] for r in rows] == [s["lp"] for s in item["scores"]]
        assert sorted(r[1] for r in rows) == sorted(["FAST", "BLOCK", SLOW])
        top = item["scores"][0]
        assert rows[0][0] == str(top["rank"])
        assert rows[0][2] == f"{top['score']:.1f}"
        assert rows[0][3] == f"{top['ci_low']:.1f} to {top['ci_high']:.1f}"
        (chart,) = list(board.iter("svg"))
        legend = [e.text for e in chart.iter("text") if e.get("class") == "legend"]
        assert legend == ["ack_latency_ms_p50", "fill_rate", "pi_bps", "impact_bps_5s"]
        assert len([g for g in chart.iter("g") if g.get("class") == "stack"]) == 3
    assert SLOW not in page   # escaped in the table, the chart and its tooltips


def test_contribution_segments_sum_to_the_score(scored):
    payload, page = scored
    for board, item in zip(boards(page), payload["leaderboards"], strict=True):
        (chart,) = list(board.iter("svg"))
        grid = {float(g.get("data-tick")): float(g.get("x1")) for g in chart.iter("line")
                if g.get("class") == "grid"}
        per_point = (grid[100.0] - grid[0.0]) / 100.0
        stacks = [g for g in chart.iter("g") if g.get("class") == "stack"]
        for stack, score in zip(stacks, item["scores"], strict=True):
            segments = [r for r in stack.iter("rect") if r.get("class") == "segment"]
            (total,) = [r for r in stack.iter("rect") if r.get("class") == "total"]
            widths = [float(r.get("width")) for r in segments]
            assert sum(widths) == pytest.approx(float(total.get("width")), abs=0.01)
            assert sum(widths) == pytest.approx(score["score"] * per_point, abs=0.01)
            points = {r.get("data-segment"): float(r.get("data-value")) for r in segments}
            assert points == pytest.approx({k: v for k, v in score["contributions"].items()
                                            if v > 0})
            # segments abut, left to right from the 0 of the axis
            lefts = [float(r.get("x")) for r in segments]
            assert lefts[0] == pytest.approx(grid[0.0], abs=0.001)
            for x, w, nxt in zip(lefts, widths, lefts[1:], strict=False):
                assert x + w == pytest.approx(nxt, abs=0.002)
            (whisker,) = [p for p in stack.iter("path") if p.get("class") == "whisker"]
            assert float(whisker.get("data-low")) == pytest.approx(score["ci_low"])
            assert float(whisker.get("data-high")) == pytest.approx(score["ci_high"])


def test_provisional_lp_is_marked(scored):
    payload, page = scored
    for board, item in zip(boards(page), payload["leaderboards"], strict=True):
        flags = {s["lp"]: s["provisional"] for s in item["scores"]}
        assert flags == {"FAST": False, "BLOCK": False, SLOW: True}
        rows = {"".join(tr[1].itertext()): "".join(tr[7].itertext())
                for tr in board.find(".//tbody").iter("tr")}
        assert rows == {"FAST": "no", "BLOCK": "no", SLOW: "yes"}
        labels = [e.get("data-label") for e in board.iter("g") if e.get("class") == "stack"]
        assert f"{SLOW} (provisional)" in labels
        assert sum(label.endswith("(provisional)") for label in labels) == 1


def test_a_kpi_scored_without_own_evidence_is_named(scored):
    """An LP with no value of its own for a weighted KPI (no quotes: no price improvement)
    is scored at the average LP's value; the page showed only that value, so an LP with no
    price data ranked on price with no hint of it. It now names such KPIs in the table, and
    every tooltip gives the LP's own value beside the shrunk one."""
    payload, _ = scored
    blind = json.loads(json.dumps(payload))
    for board in blind["leaderboards"]:
        for s in board["scores"]:
            if s["lp"] == "BLOCK":
                s["raw_kpis"]["pi_bps"] = None     # as kpis.json holds an LP without quotes
    _, result = scored_run()
    page = render_report(blind, result.orders, result.fills)
    for board, item in zip(boards(page), blind["leaderboards"], strict=True):
        rows = {"".join(tr[1].itertext()): "".join(tr[8].itertext())
                for tr in board.find(".//tbody").iter("tr")}
        assert rows == {"FAST": "-", "BLOCK": "pi_bps", SLOW: "-"}
        (chart,) = list(board.iter("svg"))
        tips = {(r.get("data-segment"), g.get("data-label").split(" (")[0]): tip(r)
                for g in chart.iter("g") if g.get("class") == "stack"
                for r in g.iter("rect") if r.get("class") == "segment"}
        fast = next(s for s in item["scores"] if s["lp"] == "FAST")
        assert (f"(own {fast['raw_kpis']['pi_bps']:,.4g}, shrunk toward the average LP)"
                in tips[("pi_bps", "FAST")])
        assert tips[("pi_bps", "BLOCK")].endswith("the average LP's: no own value")


def test_a_summary_without_leaderboards_still_renders(scored, page):
    payload, _ = scored
    assert boards(page) == []
    assert "Leaderboards" not in page
    _, result = scored_run()
    old = {k: v for k, v in payload.items() if k != "leaderboards"}
    plain = render_report(old, result.orders, result.fills)
    assert boards(plain) == []
    assert "LP summary" in plain
    assert len(list(as_xml(plain).iter("svg"))) >= 5


def test_a_profile_whose_horizon_is_not_configured_is_skipped_with_a_note():
    payload, result = scored_run(horizons_ms=(100, 1_000))   # no 5s: no impact_bps_5s
    assert [b["profile"] for b in payload["leaderboards"]] == ["hft", "block", "best_price"]
    assert all("impact_bps_5s" in b["skipped"] for b in payload["leaderboards"])
    page = render_report(payload, result.orders, result.fills)
    assert boards(page) == []
    text = "".join(as_xml(page).itertext())
    assert "Profile block not scored: built-in profile 'block': unknown KPI 'impact_bps_5s'" \
        in text
    assert "known KPIs" not in text        # every known name, three times over: not shown


def test_leaderboard_page_is_self_contained_and_well_formed(scored):
    _, page = scored
    lowered = page.lower()
    assert re.search(r"\b(src|href)\s*=", lowered) is None
    assert "<script" not in lowered
    checker = TagBalance()
    checker.feed(page)
    assert checker.errors == []
    assert checker.stack == []
