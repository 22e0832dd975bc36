"""``lpscore kpis`` and ``lpscore report``: the per-LP KPI tables, files and HTML page."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from lpscore.cli_common import (
    ConfigOption,
    HistoryOption,
    Inputs,
    LenientOption,
    LogsOrStore,
    OutDir,
    OutputFormat,
    QuoteFiles,
    exit_on_error,
    kpis_of,
    store_or_logs,
    store_to_map,
    with_lenient,
    working,
)
from lpscore.cli_output import console, err, fitted_tables, styled
from lpscore.config import Config, load_config
from lpscore.engine import Engine
from lpscore.errors import ConfigError, InputError
from lpscore.kpi.aggregate import COUNT_COLUMNS, count_value, kpi_stats, summarize, summary_json
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.kpi.engine import KpiResult
from lpscore.quarantine import Quarantine
from lpscore.report import render_report
from lpscore.scoring import BUILTIN, catalog, load_profile, score_result
from lpscore.stats.table import Stats

__all__ = ["EngineOption", "SchedulerOption", "check_engine", "kpis", "leaderboards", "report",
           "write_kpis"]

EngineOption = Annotated[Engine, typer.Option(
    "--engine", help="local: in this process; dask: the history store's partitions on a Dask "
    "cluster, same numbers (docs/dask.md).")]
SchedulerOption = Annotated[str | None, typer.Option(
    "--scheduler", help="With --engine dask: an existing scheduler, tcp://host:8786 (default: "
    "a LocalCluster on this machine). Workers read DIR/history, or the --history store: put "
    "it where they can.")]


def check_engine(engine: Engine, scheduler: str | None) -> None:
    """``--scheduler`` only means something with ``--engine dask``."""
    if scheduler is not None and engine is not Engine.DASK:
        raise InputError("--scheduler needs --engine dask")


def kpis(
    out: OutDir,   # required, so before the optional FIX files (Python's parameter order)
    fix_files: LogsOrStore = None,
    quotes: QuoteFiles = None,
    history: HistoryOption = None,
    config_path: ConfigOption = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TABLE,
    by: Annotated[
        str, typer.Option("--by", help="Extra keys after lp, comma-separated: symbol, "
                          "size_bucket, vol_regime, tod_bucket, or a configured extra key.")
    ] = "",
    lenient: LenientOption = False,
    html: Annotated[bool, typer.Option("--html", help="Also write DIR/report.html.")] = False,
    engine: EngineOption = Engine.LOCAL,
    scheduler: SchedulerOption = None,
) -> None:
    """Per-fill, per-order and per-LP KPIs (docs/kpis.md) from FIX logs and quotes, or a
    history store."""
    with exit_on_error():
        check_engine(engine, scheduler)
        store = store_or_logs("kpis", "measure", fix_files or [], quotes or [], history, out)
        config = with_lenient(load_config(config_path), lenient)
        keys = ["lp", *[k.strip() for k in by.split(",") if k.strip() and k.strip() != "lp"]]
        payload, table = write_kpis(fix_files or [], quotes or [], config, out, keys, output,
                                    html=html, engine=engine, scheduler=scheduler,
                                    store=store)
        if output is OutputFormat.JSON:
            print(json.dumps(payload))
        elif output is OutputFormat.CSV:
            print(_flat(table).write_csv(), end="")
        else:
            _print(payload, keys, out)


def write_kpis(fix_files: list[Path], quote_files: list[Path], config: Config, out: Path,
               keys: list[str], output: OutputFormat, *, html: bool,
               engine: Engine = Engine.LOCAL, scheduler: str | None = None,
               store: Path | None = None) -> tuple[dict[str, Any], pl.DataFrame]:
    """Everything ``lpscore kpis`` writes under ``out`` (tables, statistics, quarantine, and
    with ``html`` the report); the JSON payload and the per-group table. The KPIs are those
    of the FIX logs and quotes, ingested into ``out``/history, or with ``store`` (and no
    files) those of the history store at that path, read where it is, with the data-quality
    counts its ingests kept (lpscore.history.read_data_quality). The dask engine writes no
    per-fill and per-order tables (they stay on the workers) and no report."""
    started = time.perf_counter()
    quarantine = Quarantine()
    if engine is Engine.DASK:
        if html:
            raise InputError("--html needs the per-order tables: use --engine local")
        return _write_kpis_dask((store, fix_files, quote_files), config, out, keys, output,
                                scheduler, quarantine, started)
    result, ingest_quality = kpis_of((store, fix_files, quote_files), config, out, output,
                                     quarantine)
    with working(output, "statistics per " + ", ".join(keys)) as stage:
        try:
            stats = kpi_stats(result, keys)
        except ValueError as exc:
            raise InputError(f"--by: {exc}") from exc
        table = summarize(stats, result.horizons, result.unmatched_session_rejects)
        quality = {**ingest_quality, **result.data_quality}
        payload = summary_json(table, result.horizons, keys, quality, {
            "clock_offsets": result.clock_offsets.to_dicts(),
            "seconds": round(time.perf_counter() - started, 3),
        }, orphan_rejects=result.orphan_rejects)
        if html:
            stage("leaderboards")
            payload["leaderboards"] = leaderboards(result)
        stage(f"writing {out}")
        _write(out, result, table, stats, payload, quarantine)
        if html:
            stage("report.html")
            (out / "report.html").write_text(
                render_report(payload, result.orders, result.fills), encoding="utf-8")
    return payload, table


def _write_kpis_dask(inputs: Inputs, config: Config, out: Path, keys: list[str],
                     output: OutputFormat, scheduler: str | None, quarantine: Quarantine,
                     started: float) -> tuple[dict[str, Any], pl.DataFrame]:
    """``write_kpis`` on a Dask cluster: ingest into DIR/history (or take the history store
    as it is), then map over it."""
    from lpscore.engine.dask import cluster_stats, connect  # noqa: PLC0415  (imports dask)

    with store_to_map(inputs, config, out, output, quarantine) as (store, ingest_quality), \
            working(output, "statistics of the history store on Dask"), \
            connect(scheduler) as client:
        try:
            run = cluster_stats(store, config, keys, client=client)
        except ValueError as exc:
            raise InputError(f"--by: {exc}") from exc
    quarantine.extend(run.quarantined)
    table = summarize(run.stats, run.horizons, run.unmatched_session_rejects)
    payload = summary_json(table, run.horizons, keys, {**ingest_quality, **run.data_quality}, {
        "clock_offsets": run.clock_offsets.to_dicts(),
        "seconds": round(time.perf_counter() - started, 3),
    }, orphan_rejects=run.orphan_rejects)
    _write(out, None, table, run.stats, payload, quarantine)
    return payload, table


def report(
    kpi_dir: Annotated[Path, typer.Argument(help="An output directory of `lpscore kpis`.")],
    out: Annotated[str | None, typer.Option("--out", help="HTML file to write, or a folder "
                                            "(one that exists, or ending in /) to write "
                                            "report.html in (default DIR/report.html).")
                   ] = None,
) -> None:
    """A self-contained HTML page (no CDN) of the KPIs in an `lpscore kpis` directory."""
    with exit_on_error():
        needed = [kpi_dir / n for n in ("kpis.json", "orders.parquet", "fills.parquet")]
        missing = [str(p) for p in needed if not p.is_file()]
        if missing:
            raise InputError(f"{', '.join(missing)} not found: run `lpscore kpis ... --out "
                             f"{kpi_dir}` first")
        payload = json.loads(needed[0].read_text(encoding="utf-8"))
        page = render_report(payload, pl.read_parquet(needed[1], glob=False),
                             pl.read_parquet(needed[2], glob=False))
        target = kpi_dir / "report.html" if out is None else Path(out)
        if target.is_dir() or (out or "").endswith(("/", os.sep)):
            target = target / "report.html"     # a folder: the page goes in it, as by default
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"--out {target}: cannot write it ({exc.strerror}); give a file "
                             "path in a directory you can write to") from exc
        err.print(f"written: {target}")


def leaderboards(result: KpiResult) -> list[dict[str, Any]]:
    """The LP-level scorecard of each built-in profile, for the HTML report: the JSON of
    ``lpscore score`` plus the profile's ``weights``, ``description``, ``min_orders`` and
    ``decay`` (always null: the report's KPI tables are undecayed, KPIS.md, so its
    leaderboards rest on the same evidence; ``lpscore score`` applies the half-life). A
    profile that cannot be scored (a KPI's horizon not configured) is ``{"profile",
    "skipped": why}``. No orders: no leaderboard."""
    if result.orders.height == 0:
        return []
    specs = catalog(result.horizons)
    boards: list[dict[str, Any]] = []
    for name in BUILTIN:
        try:
            profile = replace(load_profile(name, specs), decay=None)
            card = score_result(result, profile, specs, {}, CONTEXT_KEYS)
        except (ConfigError, InputError) as exc:
            boards.append({"profile": name, "skipped": str(exc)})
            continue
        decay = profile.decay
        boards.append({**card.to_json(), "weights": profile.weights,
                       "description": profile.description, "min_orders": profile.min_orders,
                       "decay": None if decay is None else {"half_life": decay.half_life,
                                                            "clock": decay.clock}})
    return boards


def _write(out: Path, result: KpiResult | None, table: pl.DataFrame, stats: Stats,
           payload: dict[str, Any], quarantine: Quarantine) -> None:
    out.mkdir(parents=True, exist_ok=True)   # made by the ingest, unless --history
    for name, frame in (("fills", None if result is None else result.fills),
                        ("orders", None if result is None else result.orders)):
        if frame is None:  # the dask engine: no stale tables of an earlier local run
            (out / f"{name}.parquet").unlink(missing_ok=True)
        else:
            frame.write_parquet(out / f"{name}.parquet")
    _whole_counts(table).write_parquet(out / "lps.parquet")
    (out / "kpis.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    stats_dir = out / "stats"
    stats_dir.mkdir(exist_ok=True)
    stats.sums.write_parquet(stats_dir / "sums.parquet")
    stats.sketches.write_parquet(stats_dir / "sketches.parquet")
    stats.counts.write_parquet(stats_dir / "counts.parquet")
    (stats_dir / "meta.json").write_text(json.dumps({
        "keys": list(stats.keys), "t_ref": stats.t_ref,
        "decay": None if stats.decay is None else {"half_life": stats.decay.half_life,
                                                     "clock": stats.decay.clock},
    }) + "\n", encoding="utf-8")
    quarantine.write_jsonl(out / "quarantine.jsonl")


def _whole_counts(table: pl.DataFrame) -> pl.DataFrame:
    """The table with its counts as integers, as ``--format json`` gives them (the table
    holds counts as sums of weights, "47.0"; a KPI table's are whole)."""
    whole = [c for c in COUNT_COLUMNS if (table[c].fill_null(0) % 1 == 0).all()]
    return table.with_columns(pl.col(c).cast(pl.Int64) for c in whole)


def _flat(table: pl.DataFrame) -> pl.DataFrame:
    """The table for CSV: ``_whole_counts``, and the reject reasons as a JSON string."""
    return _whole_counts(table).with_columns(
        pl.col("reject_reasons").map_elements(
            lambda items: json.dumps({str(i["category"]): count_value(i["weight"])
                                      for i in items}), return_dtype=pl.String)
        .fill_null("{}"))   # no rejects: null, which map_elements passes over


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{round(100 * value, 1) or 0.0:.1f}%"   # `or`: -0.0 prints without a sign
    if kind == "pp":        # a difference of two rates, in percentage points
        return f"{round(100 * value, 1) or 0.0:+.1f} pp"
    if kind == "int":
        return f"{value:,}"
    return f"{round(value, 2) or 0.0:,.2f}"


def _print(payload: dict[str, Any], keys: list[str], out: Path) -> None:
    screen = console()
    horizons = payload["horizons"]
    headline = "5s" if "5s" in horizons else horizons[len(horizons) // 2]
    volume: list[tuple[str, str, Any]] = [
        ("orders", "int", lambda r: r["n_orders"]),
        ("fills", "int", lambda r: r["n_fills"]),
        ("fill rate", "pct", lambda r: r["fill_rate"]),
        ("complete", "pct", lambda r: r["complete_fill_rate"]),
        ("reject", "pct", lambda r: r["reject_rate"]),
        ("sess.rej", "pct", lambda r: r["session_reject_rate"]),
        ("ack p50", "num", lambda r: r["ack_latency_ms"]["p50"]),
        ("fill p50", "num", lambda r: r["fill_latency_ms"]["p50"]),
        ("hold p50", "num", lambda r: r["hold_time_ms"]["p50"]),
    ]
    prices: list[tuple[str, str, Any]] = [
        ("PI", "num", lambda r: r["pi_bps"]),
        ("PI rate", "pct", lambda r: r["pi_rate"]),
        ("eff.spr", "num", lambda r: r["eff_spread_bps"]),
        ("E/Q", "num", lambda r: r["e_over_q"]),
        (f"markout {headline}", "num", lambda r: r["markout_bps"][headline]),
        (f"impact {headline}", "num", lambda r: r["impact_bps"][headline]),
        ("LL asym", "pp", lambda r: r["lastlook_asymmetry"]),
        ("no bench", "int", lambda r: r["n_no_benchmark"]),
    ]
    groups = [("Orders, fills and latency (ms)", volume),
              ("Prices (bps, quantity-weighted)", prices)]
    if not payload["lps"]:   # not two empty tables
        screen.print(styled("no child orders", "yellow", " (NewOrderSingle) in the input: "
                            "nothing to measure; the quarantine says what was not read"))
        groups = []
    for title, columns in groups:
        rows = [([str(row[k]) for k in keys], [_fmt(get(row), kind) for _, kind, get in columns])
                for row in payload["lps"]]
        for table in fitted_tables(screen.width, title, keys, rows,
                                   [name for name, _, _ in columns]):
            screen.print(table)
    for row in payload["lps"]:
        if row["reject_reasons"]:
            reasons = ", ".join(f"{k} x{v}" for k, v in row["reject_reasons"].items())
            who = " / ".join(str(row[k]) for k in keys)
            screen.print(styled("rejects", "bold", f" {who}: {reasons}"))
        if row.get("orphan_reject_reasons"):
            reasons = ", ".join(f"{k} x{v}" for k, v in row["orphan_reject_reasons"].items())
            screen.print(styled("rejects of orders not in the log", "bold",
                                f" {row['lp']}: {reasons}"))
    for offset in payload["clock_offsets"]:
        screen.print(styled("clock offset", "bold", f" {offset['session']}: LP SendingTime - "
                            f"our capture = {offset['offset_ms']:+,.1f} ms (median of "
                            f"{offset['n']})"))
    quality = {k: v for k, v in payload["data_quality"].items() if v}
    if quality:
        screen.print(styled("data quality:", "bold", f" {quality}"))
    tables = "fills.parquet, orders.parquet, " if (out / "fills.parquet").exists() else ""
    screen.print(styled("written:", "bold", f" {out}/{tables}lps.parquet, kpis.json, stats/, "
                        "quarantine.jsonl"))
