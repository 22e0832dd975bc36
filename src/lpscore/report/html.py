"""Render the `lpscore kpis` outputs as one self-contained HTML page.

Inputs are the JSON summary (`lpscore kpis --format json`), ``orders.parquet`` and
``fills.parquet`` (docs/kpi-outputs.md). The page has inline CSS and inline SVG only: no
script, no external reference of any kind, so it can be mailed or archived as is. It is also
well-formed XML. Nulls (no benchmark, no data) print as ``n/a``, never as 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lpscore.errors import InputError
from lpscore.report.fmt import fmt, get, num, section, swatch, table, td, td_lp, td_text
from lpscore.report.scales import log_edges
from lpscore.report.svg import (
    Bar,
    BarGroup,
    Series,
    Stack,
    Style,
    grouped_bar_chart,
    hbar_chart,
    histogram,
    line_chart,
    stacked_hbar_chart,
    style,
)

__all__ = ["HEADLINE_HORIZON", "render_report", "write_report"]

HEADLINE_HORIZON = "5s"
"""The markout horizon of the summary table (KPIS.md); else the middle configured one."""

_ORDERS = {"lp": pl.String, "size_bucket": pl.String, "order_qty": pl.Float64,
           "filled_qty": pl.Float64, "terminal": pl.Boolean, "rejected": pl.Boolean,
           "reject_reason": pl.String, "ack_latency_ms": pl.Float64,
           "fill_latency_ms": pl.Float64, "hold_time_ms": pl.Float64}
_FILLS = {"lp": pl.String, "q": pl.Float64}
_LATENCIES = (("ack_latency_ms", "ack latency"), ("fill_latency_ms", "fill latency"),
              ("hold_time_ms", "hold time (last look)"))
_LEADING = re.compile(r"(?P<op>[<>=]*)(?P<number>\d+(?:\.\d+)?)(?P<unit>[kMB]?)")
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1b1b1b;margin:0 auto;max-width:1440px;padding:20px 28px 48px}
h1{font-size:22px;margin:0 0 12px}
h2{font-size:17px;margin:36px 0 6px;padding-bottom:4px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:0 0 4px}
p.note{color:#555;margin:2px 0 12px;max-width:960px}
p.nodata{font-size:16px;padding:16px;background:#fff4e5;border-left:4px solid #E69F00}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:8px;margin:0}
dl.facts div{background:#f4f5f7;border-radius:4px;padding:6px 10px}
dl.facts dt{color:#555;font-size:12px}dl.facts dd{margin:0;font-weight:600}
.scroll{overflow-x:auto;margin:6px 0 12px}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 7px;border-bottom:1px solid #e8e8e8;white-space:nowrap;text-align:right}
th{background:#f4f5f7;font-weight:600;vertical-align:bottom;white-space:normal;
 min-width:44px}
th[title]{text-decoration:underline dotted #999;cursor:help}
th.text,td.text{text-align:left}th.group{text-align:center;border-bottom:1px solid #ccc}
td:first-child{position:sticky;left:0;background:#fff}
tbody tr:nth-child(even) td:first-child{background:#fafbfc}
tbody tr:nth-child(even){background:#fafbfc}
td.na{color:#9a9a9a}
.sw{display:inline-block;width:9px;height:9px;border:1.5px solid;border-radius:2px;
 margin-right:6px}
svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}
svg text{font-family:inherit;font-size:12px;fill:#333}
svg .chart-title{font-size:14px;font-weight:600}
svg .tick,svg .value{font-size:11px;fill:#555}
svg .group{font-weight:600}
svg .grid{stroke:#ececec}svg .axis{stroke:#888}
svg .zero{stroke:#444;stroke-dasharray:4 3}
svg .empty{fill:#999;font-style:italic}
svg .mark{stroke:#222;stroke-width:1.2}svg .mark-1{stroke-dasharray:5 3}
svg .mark-2{stroke-dasharray:1.5 2.5}
svg .mark-label{font-size:10px;stroke:#fff;stroke-width:3px;paint-order:stroke}
svg .bar:hover,svg .point:hover{opacity:.7}
.cards{display:grid;grid-template-columns:1fr;gap:14px}
.card{border:1px solid #e2e2e2;border-radius:6px;padding:8px 12px}
.row{display:flex;flex-wrap:wrap;gap:4px 10px}
details{margin:4px 0 10px}summary{cursor:pointer;color:#555}
"""


def write_report(path: Path, summary: dict[str, Any], orders: pl.DataFrame,
                 fills: pl.DataFrame, *, title: str = "lpscore: LP KPI report") -> Path:
    """Render the report and write it to ``path`` as UTF-8; returns ``path``."""
    path.write_text(render_report(summary, orders, fills, title=title), encoding="utf-8")
    return path


def render_report(summary: dict[str, Any], orders: pl.DataFrame, fills: pl.DataFrame, *,
                  title: str = "lpscore: LP KPI report") -> str:
    """The whole HTML5 document for one `lpscore kpis` run."""
    lps: list[dict[str, Any]] = list(summary.get("lps") or [])
    horizons = [str(h) for h in summary.get("horizons") or []]
    orders = _frame(orders, "orders", _ORDERS)
    fills = _frame(fills, "fills", {**_FILLS, **{f"{k}_bps_{h}": pl.Float64 for h in horizons
                                                   for k in ("markout", "impact")}})
    body = [f"<h1>{escape(title)}</h1>", _facts(lps, horizons, summary, orders)]
    if not lps:
        body.append('<p class="nodata">No data: the summary has no LP, so there is nothing '
                    "to score. Check the inputs and the data-quality counts below.</p>")
    else:
        rows = [_Row.of(lp, i) for i, lp in enumerate(lps)]
        boards = [b for b in summary.get("leaderboards") or [] if isinstance(b, Mapping)]
        body.append(_summary_table(rows, horizons))
        if boards:
            body.append(_leaderboards(boards, rows))
        body += [_curves(rows, horizons, fills), _latency(rows, orders), _buckets(rows, orders),
                 _rejects(rows, orders)]
    body.append(_quality(summary))
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8"/>\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>\n'
            f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _frame(frame: pl.DataFrame, name: str, schema: Mapping[str, Any]) -> pl.DataFrame:
    missing = [c for c in schema if c not in frame.columns]
    if not missing:
        return frame
    if frame.height == 0:
        return pl.DataFrame(schema=dict(schema))
    raise InputError(f"{name} lacks columns {missing}: pass the {name}.parquet that "
                     "`lpscore kpis` wrote for the same run as the summary")


@dataclass(frozen=True, slots=True)
class _Row:
    """One row of the summary: an LP, or an LP x the ``--by`` keys of `lpscore kpis`."""

    label: str
    kpis: dict[str, Any]
    keys: dict[str, str]
    style: Style

    @classmethod
    def of(cls, kpis: dict[str, Any], index: int) -> _Row:
        keys = {"lp": str(kpis.get("lp"))}
        keys |= {k: v for k, v in kpis.items() if k != "lp" and isinstance(v, str)}
        extra = ", ".join(f"{k}={v}" for k, v in keys.items() if k != "lp")
        label = keys["lp"] + (f" ({extra})" if extra else "")
        return cls(label, kpis, keys, style(index))

    def select(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows of ``frame`` that belong to this row (by every key ``frame`` has)."""
        return frame.filter(*(pl.col(k) == v for k, v in self.keys.items()
                              if k in frame.columns))

    def get(self, key: str, sub: str | None = None) -> float | None:
        return get(self.kpis, key, sub)

    def td(self) -> str:
        return td_lp(self.label, self.style)


# ---- sections ----------------------------------------------------------------------------

def _facts(lps: list[dict[str, Any]], horizons: list[str], summary: Mapping[str, Any],
           orders: pl.DataFrame) -> str:
    def total(key: str) -> float:
        return sum(get(lp, key) or 0.0 for lp in lps)

    n_lps = len({str(lp.get("lp")) for lp in lps})
    facts = [("LPs", f"{n_lps:,}"), ("child orders", fmt("int", total("n_orders")) or ""),
             ("terminal orders", fmt("int", total("n_terminal")) or ""),
             ("fills", fmt("int", total("n_fills")) or ""),
             ("filled quantity", fmt("qty", total("filled_qty")) or "")]
    if "t_send" in orders.columns and orders["t_send"].null_count() < orders.height:
        lo, hi = orders["t_send"].min(), orders["t_send"].max()
        facts.append(("orders sent", f"{str(lo)[:19]} to {str(hi)[:19]} UTC"))
    for column, label in (("session", "FIX sessions"), ("symbol", "symbols")):
        if column in orders.columns:
            facts.append((label, f"{orders[column].drop_nulls().n_unique():,}"))
    facts += [("markout horizons", ", ".join(horizons) or "none"),
              ("fills without benchmark", fmt("int", total("n_no_benchmark")) or ""),
              ("data-quality flags", fmt("int", sum(
                  num(v) or 0.0 for v in (summary.get("data_quality") or {}).values())) or "")]
    items = "".join(f"<div><dt>{escape(k)}</dt><dd>{escape(v)}</dd></div>" for k, v in facts)
    return f'<dl class="facts">{items}</dl>'


def _headline(horizons: list[str]) -> str | None:
    if HEADLINE_HORIZON in horizons:
        return HEADLINE_HORIZON
    return horizons[len(horizons) // 2] if horizons else None


def _summary_table(rows: list[_Row], horizons: list[str]) -> str:
    h = _headline(horizons)
    head = [("LP", ""), ("orders", "child orders sent"), ("fills", "effective fills"),
            ("filled qty", "quantity filled, net of busts and corrections"),
            ("fill rate", "filled / ordered quantity over terminal child orders"),
            ("complete", "share of terminal child orders filled in full"),
            ("reject", "child orders rejected / sent"),
            ("session reject", "our orders refused at the FIX session level / sent: "
             "our own message quality, not the LP's"),
            ("PI bps", "price improvement against the far touch, quantity-weighted; higher "
             "is better"), ("PI rate", "share of filled quantity with PI > 0"),
            ("PI amount", "price improvement in the quote currency: what the LP's fills "
             "saved against the far touch, summed"),
            ("eff. spread bps", "effective spread against the mid; lower is better"),
            ("E/Q", "effective over quoted spread; lower is better"),
            (f"markout {h or ''} bps", "quantity-weighted markout; higher is better"),
            ("ack p50 ms", "ms from our order to the LP's first report, median"),
            ("ack p95 ms", "the same, 95th percentile"),
            ("hold p50 ms", "last-look hold time, median"),
            ("last-look asym.", "reject rate when the mid moved against the LP during the "
             "hold minus when it moved in its favour; near 0 is fair"),
            ("no benchmark", "fills with no usable quote: their KPIs are null")]
    cells = (("int", "n_orders", None), ("int", "n_fills", None), ("qty", "filled_qty", None),
             ("pct", "fill_rate", None), ("pct", "complete_fill_rate", None),
             ("pct", "reject_rate", None), ("pct", "session_reject_rate", None),
             ("bps", "pi_bps", None), ("pct", "pi_rate", None), ("money", "pi_amount", None),
             ("bps", "eff_spread_bps", None),
             ("ratio", "e_over_q", None), ("bps", "markout_bps", h),
             ("ms", "ack_latency_ms", "p50"), ("ms", "ack_latency_ms", "p95"),
             ("ms", "hold_time_ms", "p50"), ("pp", "lastlook_asymmetry", None),
             ("int", "n_no_benchmark", None))
    body = [[r.td(), *(td(fmt(kind, r.get(key, sub))) for kind, key, sub in cells)]
            for r in rows]
    more_head = [("LP", ""),
                 ("cancel reject", "our cancel requests the LP refused (OrderCancelReject) / "
                  "cancel requests sent"),
                 ("reject cost bps", "for a rejected child re-routed within its parent: "
                  "the refill's price against the rejected order's far touch, bps of the "
                  "mid; what the reject cost us; lower is better"),
                 ("at or better", "share of filled quantity with PI >= 0: at or inside the "
                  "far touch"),
                 (f"realized spread {h or ''} bps", "effective spread less the impact at "
                  "the horizon (-2 x markout): what the LP kept; lower is better for us")]
    more_cells = (("pct", "cancel_reject_rate", None), ("bps", "reject_cost_bps", None),
                  ("pct", "at_or_better_rate", None), ("bps", "real_spread_bps", h))
    more = [[r.td(), *(td(fmt(kind, r.get(key, sub))) for kind, key, sub in more_cells)]
            for r in rows]
    return section("LP summary", "One row per LP, all orders of the run, undecayed. Hover a "
                   "column header for its definition; n/a means no benchmark or no data.",
                   table(head, body), '<h3>More KPIs</h3>', table(more_head, more))


def _weight(w: float) -> str:
    return f"{w * 100:.6g}%"


def _leaderboards(boards: Sequence[Mapping[str, Any]], rows: list[_Row]) -> str:
    styles: dict[str, Style] = {}
    for r in rows:
        styles.setdefault(r.keys["lp"], r.style)
    parts = []
    for board in boards:
        name = str(board.get("profile"))
        if "skipped" in board:
            why = str(board["skipped"]).split("known KPIs:")[0].rstrip("; ")  # not every name
            parts.append(f'<p class="note">Profile {escape(name)} not scored: '
                         f'{escape(why)}</p>')
        else:
            parts.append(_leaderboard(name, board, styles))
    return section(
        "Leaderboards", "Composite scores (0..100) of every LP of this run over all its "
        "orders under each built-in strategy profile, on the same undecayed evidence as the "
        "tables above: each KPI is shrunk toward the average LP, normalised across the LPs "
        "into 0..100 and weighed by the profile (docs/scoring.md). Every LP of the run is "
        "ranked against every other, so logs of other venues, symbols or years given with "
        "them move the scores; lpscore score on the same files with the profile's "
        "half_life = \"off\" gives these scores. A bar stacks the points each KPI "
        "contributes (weight x normalised KPI); they sum to the score; its tooltip gives the "
        "LP's own value and the shrunk one scored. No own evidence names the weighted KPIs "
        "the LP has no value for, scored at the average LP's. The whisker spans the score's "
        "interval from posterior draws; rank held is the share of draws in which the LP "
        "keeps its rank. Provisional: fewer effective orders than the profile's minimum, "
        "drawn lighter.", *parts)


def _leaderboard(name: str, board: Mapping[str, Any], styles: Mapping[str, Style]) -> str:
    scores = [s for s in board.get("scores") or [] if isinstance(s, Mapping)]
    weights = {str(k): num(v) or 0.0 for k, v in (board.get("weights") or {}).items()}
    kpis = list(weights) or list(dict.fromkeys(
        str(k) for s in scores for k in (s.get("contributions") or {})))
    heading = f"{name}: " + ", ".join(f"{k} {_weight(w)}" for k, w in weights.items())
    coverage = num(board.get("interval"))
    interval = f"{coverage * 100:.0f}% interval" if coverage is not None else "interval"
    minimum = num(board.get("min_orders"))
    head = [("rank", ""), ("LP", ""), ("score", "composite score 0..100: the sum of the "
                                       "points of the KPIs"),
            (interval, "the central interval of the score over posterior draws of the "
             "LP's KPIs"),
            ("rank held", "share of posterior draws in which the LP keeps this rank"),
            ("orders", "child orders sent"),
            ("n_eff", "effective number of orders behind the score (no decay here)"),
            ("provisional", "n_eff below the profile's minimum of orders"
             + (f" ({minimum:,.0f})" if minimum is not None else "")
             + ": too little evidence to rank firmly"),
            ("no own evidence", "weighted KPIs the LP has no value of its own for: each is "
             "scored at the average LP's value")]
    body, stacks = [], []
    for s in scores:
        lp = str(s.get("lp"))
        provisional = s.get("provisional") is True
        low, high = get(s, "ci_low"), get(s, "ci_high")
        contributions = s.get("contributions") or {}
        values = s.get("kpis") or {}
        raw = s.get("raw_kpis") or {}
        own = {k: num(raw.get(k)) if isinstance(raw, Mapping) else None for k in kpis}
        borrowed = [k for k in kpis if weights.get(k, 0.0) > 0 and own[k] is None
                    and isinstance(values, Mapping) and num(values.get(k)) is not None]
        st = styles.get(lp, style(len(styles)))
        body.append([td(fmt("int", get(s, "rank"))), td_lp(lp, st),
                     td(_points(get(s, "score"))),
                     td(None if low is None or high is None
                        else f"{_points(low)} to {_points(high)}"),
                     td(_share(get(s, "rank_stability"))), td(fmt("int", get(s, "n_orders"))),
                     td(_points(get(s, "n_eff"))), td_text("yes" if provisional else "no"),
                     td_text(", ".join(borrowed) or "-")])
        notes = []
        for k in kpis:
            value = num(values.get(k)) if isinstance(values, Mapping) else None
            if value is None:
                shown = "n/a (neutral 50)"
            elif own[k] is None:
                shown = f"{value:,.4g}, the average LP's: no own value"
            else:
                shown = f"{value:,.4g} (own {own[k]:,.4g}, shrunk toward the average LP)"
            notes.append(f"weight {_weight(weights.get(k, 0.0))}; KPI {shown}")
        stacks.append(Stack(lp + (" (provisional)" if provisional else ""),
                            [num(contributions.get(k)) or 0.0 for k in kpis], low, high,
                            faded=provisional, notes=notes))
    chart = stacked_hbar_chart(f"{name}: points per KPI", stacks,
                               [(k, style(j)) for j, k in enumerate(kpis)], x_max=100.0,
                               x_label="score: points per KPI (weight x normalised KPI)",
                               fmt=lambda v: f"{v:.1f}")
    caption = f'<p class="note">{escape(_evidence(board))}</p>'
    return (f'<div class="card board" data-profile="{escape(name)}">'
            f"<h3>{escape(heading)}</h3>{caption}{table(head, body, text_cols=2)}{chart}</div>")


def _evidence(board: Mapping[str, Any]) -> str:
    """The profile's description and how its evidence was decayed, as one sentence."""
    text = str(board.get("description") or "").strip()
    text = text[:1].upper() + text[1:] + ". " if text else ""
    decay = board.get("decay")
    half_life = get(decay, "half_life") if isinstance(decay, Mapping) else None
    t_ref = num(board.get("t_ref"))
    if half_life is None:
        return text + "No decay: every order counts in full."
    if isinstance(decay, Mapping) and decay.get("clock") == "orders":
        return text + f"Decay: half-life of {half_life:,.6g} child orders sent since."
    for unit, ns in (("d", 86_400e9), ("h", 3_600e9), ("min", 60e9), ("s", 1e9), ("ms", 1e6)):
        if half_life >= ns or unit == "ms":
            text += f"Decay: half-life of {half_life / ns:,.6g} {unit} of wall time"
            break
    if t_ref is not None:
        when = datetime.fromtimestamp(t_ref / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text += f", back from the last order sent ({when})"
    return text + "; an LP with little recent evidence has a small n_eff and is shrunk to " \
        "the average LP."


def _points(v: float | None) -> str | None:
    return None if v is None else f"{v:,.1f}"


def _share(v: float | None) -> str | None:
    return None if v is None else f"{v * 100:.0f}%"


def _curves(rows: list[_Row], horizons: list[str], fills: pl.DataFrame) -> str:
    parts = []
    for key, label, better in (("markout", "Markout", "higher"), ("impact", "Impact", "lower")):
        cols = [f"{key}_bps_{h}" for h in horizons]
        series, body = [], []
        for r in rows:
            own = r.select(fills)
            measured = own.select(pl.col(c).is_not_null().sum() for c in cols).row(0)
            values = [r.get(f"{key}_bps", h) for h in horizons]
            notes = [f"{n} of {own.height} fills measured" for n in measured]
            series.append(Series(r.label, values, r.style, notes))
            body.append([r.td(), *(td(fmt("bps", v)) for v in values)])
        parts.append(line_chart(f"{label} by horizon (bps, quantity-weighted; {better} is "
                                "better)", horizons, series, x_label="horizon after the fill",
                                y_label="bps", unit="bps"))
        parts.append(f"<details><summary>{label} values</summary>"
                     f"{table([('LP', ''), *((h, '') for h in horizons)], body)}</details>")
    return section(
        "Markout and impact curves", "Markout at h: s·(mid(t_exec+h) - p)/m0 in bps; impact: "
        "2·s·(mid(t_exec+h) - m0)/m0. A gap is a horizon with no measurable fill (no quote "
        "after the fill, or a stale one). Hover a point for its value and how many fills it "
        "rests on.", *parts)


def _latency(rows: list[_Row], orders: pl.DataFrame) -> str:
    edges: dict[str, list[float]] = {}
    for column, _ in _LATENCIES:
        values = orders[column].drop_nulls().to_numpy()
        positive = values[values > 0]
        edges[column] = (log_edges(float(positive.min()), float(positive.max()))
                         if positive.size else [1.0, 10.0])
    quantiles = ("mean", "p50", "p95", "p99")
    head = [("LP", ""), *((q, "") for _ in _LATENCIES for q in quantiles)]
    groups = [("", 1), *((f"{label}, ms", 4) for _, label in _LATENCIES)]
    body, cards = [], []
    for r in rows:
        own = r.select(orders)
        charts = []
        for column, label in _LATENCIES:
            bins = edges[column]
            values = own[column].drop_nulls().to_numpy()
            counts, _ = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
            marks = [(q, r.get(column, q)) for q in quantiles[1:]]
            charts.append(histogram(label, bins, [int(c) for c in counts], r.style,
                                    marks=marks, empty=f"no {label}"))
        cards.append(f'<div class="card"><h3>{swatch(r.style)}{escape(r.label)}</h3>'
                     f'<div class="row">{"".join(charts)}</div></div>')
        body.append([r.td(), *(td(fmt("ms", r.get(column, q)))
                               for column, _ in _LATENCIES for q in quantiles)])
    return section(
        "Latency", "Milliseconds from our order to the LP's first report (ack), to the first "
        "fill, and from the ack to the LP's fill-or-reject decision (last-look hold). Log-spaced "
        "bins shared by all LPs; vertical lines mark p50 (solid), p95 (dashed), p99 (dotted) "
        "from the KPI summary.", table(head, body, groups=groups),
        f'<div class="cards">{"".join(cards)}</div>')


def _bucket_key(label: str) -> tuple[int, float, int, str]:
    """Order size-bucket labels (``<10k``, ``10k-100k``, ``adv>=2%``...) by size."""
    text = label.removeprefix("adv")
    found = _LEADING.match(text)
    if found is None:
        return (1, 0.0, 0, label)
    scale = {"k": 1e3, "M": 1e6, "B": 1e9}.get(found["unit"], 1.0)
    rank = {"<": 0, "": 1}.get(found["op"], 2)
    return (0, float(found["number"]) * scale, rank, label)


def _fill_rate(v: float) -> str:
    return f"{v * 100:.0f}%" if v == round(v, 2) else f"{v * 100:.2f}%"


def _buckets(rows: list[_Row], orders: pl.DataFrame) -> str:
    done = orders.filter(pl.col("terminal").fill_null(value=False))
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        agg = r.select(done).group_by("size_bucket").agg(
            pl.col("filled_qty").sum(), pl.col("order_qty").sum(), pl.len().alias("n"))
        cells |= {(r.label, str(c["size_bucket"])): c for c in agg.to_dicts()}
    buckets = sorted({b for _, b in cells}, key=_bucket_key)
    series, body = [], []
    for r in rows:
        values: list[float | None] = []
        notes = []
        for b in buckets:
            c = cells.get((r.label, b))
            ordered = num(c["order_qty"]) if c else None
            filled = (num(c["filled_qty"]) or 0.0) if c else 0.0
            values.append(filled / ordered if ordered else None)
            notes.append(f"filled {fmt('qty', filled)} of {fmt('qty', ordered)} in "
                         f"{c['n']} terminal orders" if c and ordered else "")
        series.append(Series(r.label, values, r.style, notes))
        body.append([r.td(), *(td(fmt("pct", v)) for v in values)])
    chart = grouped_bar_chart("Fill rate by size bucket (terminal orders)", buckets, series,
                              y_label="fill rate", y_max=1.0, fmt=_fill_rate)
    return section(
        "Fill rate by size bucket", "Filled over ordered quantity of the child orders in a "
        "terminal state, per LP and size bucket. No bar: the LP had no terminal order in that "
        "bucket.", chart, table([("LP", ""), *((b, "") for b in buckets)], body))


def _rejects(rows: list[_Row], orders: pl.DataFrame) -> str:
    rejected = orders.filter(pl.col("rejected").fill_null(value=False))
    groups, body, clean = [], [], []
    for r in rows:
        reasons = {str(k): num(v) or 0.0 for k, v in (r.kpis.get("reject_reasons") or {}).items()}
        reasons = {k: v for k, v in reasons.items() if v > 0}
        if not reasons:
            clean.append(r.label)
            continue
        holds = {str(c["reject_reason"]): num(c["hold_time_ms"]) for c in r.select(rejected)
                 .group_by("reject_reason").agg(pl.col("hold_time_ms").median()).to_dicts()}
        total, sent = sum(reasons.values()), r.get("n_orders")
        bars = []
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            share = fmt("pct", count / sent) if sent else None
            bars.append(Bar(reason, count, f"{share} of orders sent" if share else ""))
            body.append([r.td(), td_text(reason), td(fmt("int", count)),
                         td(fmt("pct", count / total)), td(share),
                         td(fmt("ms", holds.get(reason)))])
        groups.append(BarGroup(r.label, r.style, bars))
    head = [("LP", ""), ("reason", "OrdRejReason code and name, else the Text (58)"),
            ("count", ""), ("share of LP's rejects", ""), ("share of orders sent", ""),
            ("median hold ms", "median last-look hold of these rejects, from orders")]
    parts = ([hbar_chart("Rejects by reason", groups, x_label="rejected child orders"),
              table(head, body, text_cols=2)] if groups
             else ['<p class="note">No LP rejected an order.</p>'])
    if clean and groups:
        parts.append(f'<p class="note">No rejects: {escape(", ".join(clean))}.</p>')
    orphans = [f"{r.label}: " + ", ".join(f"{k} x{v}" for k, v in orphan.items())
               for r in rows if (orphan := r.kpis.get("orphan_reject_reasons"))]
    if orphans:     # the order a reject names was never seen (docs/kpis.md)
        parts.append('<p class="note">Rejects of orders not in the log (not counted above): '
                     f'{escape("; ".join(orphans))}.</p>')
    return section("Reject reasons", "Rejected child orders per LP and reason (ExecType 8 or "
                   "OrdStatus 8); session-level rejects are ours and are not counted here.",
                   *parts)


def _quality(summary: Mapping[str, Any]) -> str:
    quality = summary.get("data_quality") or {}
    rows = [[td_text(str(k)), td(fmt("int", num(v)))] for k, v in quality.items()]
    parts = [table([("check", ""), ("count", "")], rows) if rows
             else '<p class="note">No data-quality counts in the summary.</p>']
    offsets = summary.get("clock_offsets") or []
    if offsets:
        parts.append("<h3>Clock offsets</h3>")
        parts.append(table(
            [("session", ""), ("LP", ""),
             ("offset ms", "median of the LP's SendingTime minus our capture time: positive "
              "is an LP clock ahead of ours, or transit time"),
             ("n", "LP messages the median rests on")],
            [[td_text(str(o.get("session"))), td_text(str(o.get("lp"))),
              td(fmt("ms", num(o.get("offset_ms")))), td(fmt("int", num(o.get("n"))))]
             for o in offsets], text_cols=2))
    return section("Data quality", "Counts of records quarantined or flagged during the run "
                    "(see quarantine.jsonl for each one).", *parts)
