"""Per-LP (x context) KPI tables from decayed, mergeable statistics.

    stats = kpi_stats(result, by=["lp", "symbol"])            # lpscore.stats.Stats
    table = summarize(stats, result.horizons)                  # one row per group
    payload = summary_json(result, horizons)                   # the `--format json` object

Per-fill KPIs are quantity-weighted means (weight ``q``, times the decay weight when decayed);
latencies, hold times and reject costs are per-order means and sketch quantiles. Rates are
ratios of (weighted) counts. ``lpscore kpis`` builds undecayed statistics; scoring reuses the
same function with a half-life.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.kpi.engine import KpiResult
from lpscore.stats.groupsum import Groups, NotFiniteError
from lpscore.stats.sketch import sketch_frame, sketch_quantiles
from lpscore.stats.table import Decay, Stats, decay_weight, mean_of, moment_sums

__all__ = ["COUNT_COLUMNS", "LATENCIES", "count_value", "kpi_stats", "per_fill_kpis", "summarize",
           "summary_json"]

LATENCIES = ("ack_latency_ms", "fill_latency_ms", "hold_time_ms")
QUANTILES = (0.5, 0.95, 0.99)

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]
_COMPILED_FROM_ROWS = 20_000
"""Fewer rows are summed by Polars (same numbers): the compiled sums read each column
apart, which costs more than they save on a stream's small batches."""


def per_fill_kpis(horizons: Sequence[str]) -> list[str]:
    """Names of the quantity-weighted per-fill KPIs, in display order."""
    names = ["pi_bps", "eff_spread_bps", "e_over_q"]
    for kind in ("markout_bps", "real_spread_bps", "impact_bps"):
        names += [f"{kind}_{h}" for h in horizons]
    return names


def kpi_stats(result: KpiResult, by: Sequence[str] = ("lp",), *, decay: Decay | None = None,
              t_ref: int | str | None = None, first_order: int = 0,
              order_index: pl.Series | None = None) -> Stats:
    """The sufficient statistics of ``result`` per ``by`` group (``lp`` always first).

    With a ``decay``, every order and its fills weigh ``0.5 ** ((t_ref - t)/half_life)``: on
    the ``time`` clock ``t`` is ``t_send`` in ns since the epoch, on the ``orders`` clock it is
    the order's index in send order, counted from ``first_order`` (give each part of a split
    input its global offset so that their stats merge). A part whose orders interleave with
    other parts' (the cluster's partitions by date and symbol) gives ``order_index`` instead:
    each order's global index, row-aligned with ``result.orders``. ``t_ref`` defaults to the
    latest ``t``, so the newest order weighs 1. It may also name an integer column of the
    orders: each order (and its fills) weighed against its own reference, the statistics
    then left without one (``Stats.t_ref`` None) for the caller to set on the parts it splits
    them into (several streams' rows at once, lpscore.stream.processor.add_all).
    """
    keys = ["lp", *[k for k in by if k != "lp"]]
    orders, fills = result.orders, result.fills
    missing = sorted(set(keys) - set(orders.columns))
    if missing:
        raise ValueError(f"unknown key(s) {', '.join(missing)}: use columns of the orders "
                         f"table such as {', '.join(CONTEXT_KEYS)}")
    extra = [k for k in keys if k not in fills.columns]
    if isinstance(t_ref, str) and t_ref not in fills.columns:
        extra.append(t_ref)
    if extra:
        fills = fills.join(orders.select("child_id", *extra), on="child_id", how="left")
    clock = _clock(orders, decay, first_order)
    if order_index is not None and decay is not None and decay.clock == "orders":
        clock = pl.lit(order_index.cast(pl.Int64))
    orders = orders.with_columns(clock.alias("_t"))
    if decay is not None and t_ref is None and orders.height:
        t_ref = int(orders["_t"].max())  # type: ignore[arg-type]
    d = decay_weight(pl.col("_t"), pl.col(t_ref) if isinstance(t_ref, str) else t_ref, decay)
    orders = orders.with_columns(d.alias("_d"))
    if decay is not None and decay.clock == "orders":
        fills = fills.join(orders.select("child_id", "_d"), on="child_id", how="left")
    else:  # the time clock is t_send, which fills carry: no join of 1M string keys
        fills = fills.with_columns(_clock(fills, decay, 0).alias("_t")).with_columns(
            d.alias("_d"))
    return Stats(
        keys=tuple(keys),
        sums=_order_sums(orders, keys).join(_fill_sums(fills, keys, result.horizons), on=keys,
                                            how="full", coalesce=True, nulls_equal=True)
        .fill_null(0.0).sort(keys, nulls_last=True),
        sketches=pl.concat([
            sketch_frame(orders.with_columns(pl.col(name).cast(pl.Float64)), keys, name,
                         metric=name, weight="_d")
            for name in LATENCIES], how="vertical"),
        counts=orders.filter(pl.col("rejected")).group_by(keys).agg(
            pl.lit("reject_reason").alias("name"),
            pl.col("reject_reason").alias("category"), pl.col("_d").alias("weight"),
        ).explode("category", "weight").group_by([*keys, "name", "category"]).agg(
            pl.col("weight").sum()).sort([*keys, "category"], nulls_last=True),
        t_ref=t_ref if decay is not None and not isinstance(t_ref, str) else None,
        decay=decay,
    )


def _clock(orders: pl.DataFrame, decay: Decay | None, first_order: int) -> pl.Expr:
    if decay is not None and decay.clock == "orders":
        order = pl.struct(pl.col("t_send").dt.epoch("ns"), pl.col("child_id"))
        return order.rank("ordinal").cast(pl.Int64) - 1 + first_order
    return pl.col("t_send").dt.epoch("ns")


def _order_sums(orders: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The per-order sums of ``kpi_stats`` per group: compiled (``_order_sums_of``), else
    (``Groups`` says when) the Polars aggregation; the same numbers either way."""
    groups = Groups.of(orders, keys) if orders.height >= _COMPILED_FROM_ROWS else None
    if groups is not None:
        try:
            return _order_sums_of(orders, groups)
        except NotFiniteError:
            pass
    d = pl.col("_d")
    terminal = pl.col("terminal")
    adverse = pl.col("adverse_move")
    decided = pl.col("t_decision").is_not_null()
    rejected = pl.col("rejected")

    def count(condition: pl.Expr, name: str) -> pl.Expr:
        return pl.when(condition.fill_null(False)).then(d).otherwise(0.0).sum().alias(name)

    exprs = [
        d.sum().alias("n_orders"),
        (d * d).sum().alias("n_orders__w2"),
        pl.len().cast(pl.Float64).alias("n_orders__n"),
        count(terminal, "n_terminal"),
        count(terminal & pl.col("complete"), "n_complete"),
        count(rejected, "n_rejected"),
        count(pl.col("session_rejected"), "n_session_rejected"),
        (d * pl.col("n_cancel_requests")).sum().alias("n_cancel_requests"),
        (d * pl.col("n_cancel_rejects")).sum().alias("n_cancel_rejects"),
        pl.when(terminal).then(d * pl.col("order_qty")).otherwise(0.0).sum()
        .alias("ordered_qty_terminal"),
        pl.when(terminal).then(d * pl.col("filled_qty")).otherwise(0.0).sum()
        .alias("filled_qty_terminal"),
        count(decided & adverse, "n_decided_adverse"),
        count(decided & adverse & rejected, "n_rejected_adverse"),
        count(decided & ~adverse, "n_decided_favourable"),
        count(decided & ~adverse & rejected, "n_rejected_favourable"),
    ]
    for name in (*LATENCIES, "reject_cost_bps"):
        exprs += moment_sums(name, pl.col(name), d)
    return orders.group_by(keys).agg(exprs)


def _fill_sums(fills: pl.DataFrame, keys: list[str], horizons: Sequence[str]) -> pl.DataFrame:
    """The per-fill sums of ``kpi_stats`` per group, as ``_order_sums``."""
    groups = Groups.of(fills, keys) if fills.height >= _COMPILED_FROM_ROWS else None
    if groups is not None:
        try:
            return _fill_sums_of(fills, groups, horizons)
        except NotFiniteError:
            pass
    d = pl.col("_d")
    w = d * pl.col("q")
    pi = pl.col("pi_bps")
    exprs = [
        d.sum().alias("n_fills"),
        w.sum().alias("filled_qty"),
        pl.when(~pl.col("has_benchmark")).then(d).otherwise(0.0).sum().alias("n_no_benchmark"),
        pl.when(pi > 0).then(w).otherwise(0.0).sum().alias("pi_positive_qty"),
        pl.when(pi >= 0).then(w).otherwise(0.0).sum().alias("pi_at_or_better_qty"),
        (d * pl.col("pi_amount")).sum().alias("pi_amount"),
    ]
    for name in per_fill_kpis(horizons):
        exprs += moment_sums(name, pl.col(name), w)
    return fills.group_by(keys).agg(exprs)


def _values(frame: pl.DataFrame, name: str) -> tuple[F64, B]:
    """A column as floats (0 where null) and its null mask."""
    column = frame[name].cast(pl.Float64)
    return column.fill_null(0.0).to_numpy(), column.is_null().to_numpy()


def _true(frame: pl.DataFrame, condition: pl.Expr) -> B:
    """Where ``condition`` is true (not false, not null)."""
    return frame.select(condition.fill_null(False)).to_series().to_numpy()


def _moments(groups: Groups, name: str, x: tuple[F64, B], w: tuple[F64, B]
             ) -> dict[str, F64]:
    """``moment_sums(name, x, w)`` per group."""
    sums = groups.moments(*x, *w)
    return {f"{name}__{part}": value for part, value in zip(
        ("w", "wx", "wxx", "w2", "n"), (*sums[:4], sums[4].astype(np.float64)), strict=True)}


def _times(groups: Groups, d: tuple[F64, B], x: tuple[F64, B]) -> F64:
    """``(d * x).sum()`` per group (a null ``d`` or ``x`` adds nothing)."""
    return groups.sum(d[0] * x[0], d[1] | x[1])


def _order_sums_of(orders: pl.DataFrame, groups: Groups) -> pl.DataFrame:
    """``_order_sums`` with the sums compiled (lpscore.stats.groupsum): each expression of
    the Polars aggregation becomes the values it adds per row, and whether the row adds
    nothing (a null)."""
    d, d_null = _values(orders, "_d")

    def count(condition: pl.Expr) -> F64:  # when(condition).then(d).otherwise(0.0).sum()
        true = _true(orders, condition)
        return groups.sum(np.where(true, d, 0.0), true & d_null)

    def times_d(name: str, condition: pl.Expr | None = None) -> F64:
        if condition is None:
            return _times(groups, (d, d_null), _values(orders, name))
        x, x_null = _values(orders, name)
        true = _true(orders, condition)  # when(condition).then(d * x).otherwise(0.0).sum()
        return groups.sum(np.where(true, d * x, 0.0), true & (d_null | x_null))

    terminal = pl.col("terminal")
    adverse = pl.col("adverse_move")
    decided = pl.col("t_decision").is_not_null()
    rejected = pl.col("rejected")
    sums: dict[str, F64] = {
        "n_orders": groups.sum(d, d_null),
        "n_orders__w2": groups.sum(d * d, d_null),
        "n_orders__n": np.bincount(groups.ids, minlength=len(groups)).astype(np.float64),
        "n_terminal": count(terminal),
        "n_complete": count(terminal & pl.col("complete")),
        "n_rejected": count(rejected),
        "n_session_rejected": count(pl.col("session_rejected")),
        "n_cancel_requests": times_d("n_cancel_requests"),
        "n_cancel_rejects": times_d("n_cancel_rejects"),
        "ordered_qty_terminal": times_d("order_qty", terminal),
        "filled_qty_terminal": times_d("filled_qty", terminal),
        "n_decided_adverse": count(decided & adverse),
        "n_rejected_adverse": count(decided & adverse & rejected),
        "n_decided_favourable": count(decided & ~adverse),
        "n_rejected_favourable": count(decided & ~adverse & rejected),
    }
    for name in (*LATENCIES, "reject_cost_bps"):
        sums |= _moments(groups, name, _values(orders, name), (d, d_null))
    return pl.concat([groups.keys, pl.DataFrame(sums)], how="horizontal")


def _fill_sums_of(fills: pl.DataFrame, groups: Groups, horizons: Sequence[str]
                  ) -> pl.DataFrame:
    """``_fill_sums`` with the sums compiled, as ``_order_sums_of``."""
    d, d_null = _values(fills, "_d")
    q, q_null = _values(fills, "q")
    w, w_null = d * q, d_null | q_null

    def weighted(condition: pl.Expr) -> F64:  # when(condition).then(w).otherwise(0.0).sum()
        true = _true(fills, condition)
        return groups.sum(np.where(true, w, 0.0), true & w_null)

    no_benchmark = _true(fills, ~pl.col("has_benchmark"))
    sums: dict[str, F64] = {
        "n_fills": groups.sum(d, d_null),
        "filled_qty": groups.sum(w, w_null),
        "n_no_benchmark": groups.sum(np.where(no_benchmark, d, 0.0), no_benchmark & d_null),
        "pi_positive_qty": weighted(pl.col("pi_bps") > 0),
        "pi_at_or_better_qty": weighted(pl.col("pi_bps") >= 0),
        "pi_amount": _times(groups, (d, d_null), _values(fills, "pi_amount")),
    }
    for name in per_fill_kpis(horizons):
        sums |= _moments(groups, name, _values(fills, name), (w, w_null))
    return pl.concat([groups.keys, pl.DataFrame(sums)], how="horizontal")


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))


def summarize(stats: Stats, horizons: Sequence[str],
              unmatched_session_rejects: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per group: every KPI of the JSON output, flat (``markout_bps_5s``...)."""
    keys = list(stats.keys)
    sums = stats.sums
    if unmatched_session_rejects is not None and keys == ["lp"]:
        sums = sums.join(unmatched_session_rejects.select(
            "lp", pl.col("n_unmatched").cast(pl.Float64)), on="lp", how="left")
    else:
        sums = sums.with_columns(pl.lit(0.0).alias("n_unmatched"))
    unmatched = pl.col("n_unmatched").fill_null(0.0)
    session_den = pl.col("n_orders") + unmatched
    table = sums.select(
        *keys,
        "n_orders", "n_terminal", "n_fills", "filled_qty",
        _ratio("filled_qty_terminal", "ordered_qty_terminal").alias("fill_rate"),
        _ratio("n_complete", "n_terminal").alias("complete_fill_rate"),
        _ratio("n_rejected", "n_orders").alias("reject_rate"),
        pl.when(session_den > 0).then((pl.col("n_session_rejected") + unmatched) / session_den)
        .alias("session_reject_rate"),
        _ratio("n_cancel_rejects", "n_cancel_requests").alias("cancel_reject_rate"),
        mean_of("pi_bps"),
        _ratio("pi_positive_qty", "pi_bps__w").alias("pi_rate"),
        _ratio("pi_at_or_better_qty", "pi_bps__w").alias("at_or_better_rate"),
        pl.when(pl.col("pi_bps__w") > 0).then("pi_amount").alias("pi_amount"),  # as pi_bps
        *(mean_of(name) for name in per_fill_kpis(horizons) if name != "pi_bps"),
        *(mean_of(name).alias(f"{name}_mean") for name in LATENCIES),
        mean_of("reject_cost_bps"),
        (_ratio("n_rejected_adverse", "n_decided_adverse")
         - _ratio("n_rejected_favourable", "n_decided_favourable")).alias("lastlook_asymmetry"),
        "n_no_benchmark",
    )
    quantiles = sketch_quantiles(stats.sketches, keys, QUANTILES)
    for name in LATENCIES:
        part = quantiles.filter(pl.col("metric") == name).drop("metric")
        part = part.rename({c: f"{name}_{c}" for c in part.columns if c not in keys})
        table = table.join(part, on=keys, how="left", nulls_equal=True)
    reasons = stats.counts.filter(pl.col("name") == "reject_reason").group_by(keys).agg(
        pl.struct(pl.col("category"), pl.col("weight")).alias("reject_reasons"))
    table = table.join(reasons, on=keys, how="left", nulls_equal=True)
    return table.sort(keys, nulls_last=True)


def summary_json(table: pl.DataFrame, horizons: Sequence[str], keys: Sequence[str],
                 data_quality: dict[str, int], extra: dict[str, Any] | None = None, *,
                 orphan_rejects: pl.DataFrame | None = None) -> dict[str, Any]:
    """The object ``lpscore kpis --format json`` prints (docs/kpi-outputs.md).

    Per LP (when grouped by LP alone) ``orphan_reject_reasons`` counts the rejects that
    answer no child order in the input (orders quarantined as malformed, or sent before the
    log starts), so that reasons reconcile with every reject the LP sent.
    """
    orphans: dict[str, dict[str, int]] = {}
    if orphan_rejects is not None and list(keys) == ["lp"]:
        for lp, reason, n in orphan_rejects.iter_rows():
            orphans.setdefault(str(lp), {})[str(reason)] = int(n)
    rows = []
    for row in table.iter_rows(named=True):
        out: dict[str, Any] = {k: row[k] for k in keys}
        for name in COUNT_COLUMNS:
            out[name] = count_value(row[name])
        out["filled_qty"] = _num(row["filled_qty"])
        for name in ("fill_rate", "complete_fill_rate", "reject_rate", "session_reject_rate",
                     "cancel_reject_rate"):
            out[name] = _num(row[name])
        out["reject_reasons"] = {
            str(item["category"]): count_value(item["weight"])
            for item in sorted(row["reject_reasons"] or [],
                               key=lambda i: (-i["weight"], str(i["category"])))}
        if list(keys) == ["lp"]:
            out["orphan_reject_reasons"] = orphans.get(str(row["lp"]), {})
        for name in ("pi_bps", "pi_rate", "at_or_better_rate", "pi_amount", "eff_spread_bps",
                     "e_over_q"):
            out[name] = _num(row[name])
        for kind in ("markout_bps", "real_spread_bps", "impact_bps"):
            out[kind] = {h: _num(row[f"{kind}_{h}"]) for h in horizons}
        for name in LATENCIES:
            out[name] = {stat: _num(row[f"{name}_{stat}"])
                         for stat in ("mean", "p50", "p95", "p99")}
        out["lastlook_asymmetry"] = _num(row["lastlook_asymmetry"])
        out["reject_cost_bps"] = _num(row["reject_cost_bps"])
        rows.append(out)
    payload: dict[str, Any] = {"lps": rows, "horizons": list(horizons),
                               "data_quality": dict(data_quality)}
    payload.update(extra or {})
    return payload


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


COUNT_COLUMNS = ("n_orders", "n_terminal", "n_fills", "n_no_benchmark")
"""The LP table's counts: sums of weights, whole numbers in a KPI table (undecayed)."""


def count_value(value: object) -> int | float:
    """A count as an int when it is whole (a KPI table's always are)."""
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number
