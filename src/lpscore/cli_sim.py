"""``lpscore simulate``: a scenario through the closed loop, its timeline and its result."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.progress import BarColumn, Progress, TimeRemainingColumn
from rich.table import Table

from lpscore.cli_common import Format, OutputFormat, exit_on_error, out_dir
from lpscore.cli_kpis import write_kpis
from lpscore.cli_output import console, err, task_columns
from lpscore.config import Config, ContextConfig
from lpscore.errors import InputError
from lpscore.jsonout import strict_json
from lpscore.sim.bench import POLICY_NAMES, Interval, PolicyResult, bench_routing
from lpscore.sim.loop import SimResult, Simulation
from lpscore.sim.scenario import BUNDLED, load_scenario

__all__ = ["bench_routing_command", "simulate"]


def simulate(
    scenario_spec: Annotated[str, typer.Option(
        "--scenario", help=f"A bundled scenario ({', '.join(BUNDLED)}) or a .toml/.yaml "
        "file.")] = "acme",
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Seed (default: "
                                             "the scenario's).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.", callback=out_dir)
                   ] = Path("out/sim"),
    output: Annotated[Format, typer.Option("--format", help="table or json.")
                      ] = Format.TABLE,
) -> None:
    """Run a scenario through the closed loop (router, simulated LPs over FIX, scorecard).

    Writes the FIX log, the quotes, the KPI tables and the HTML report, the timeline and the
    result under --out (docs/simulator.md)."""
    with exit_on_error():
        scenario = load_scenario(scenario_spec)
        with Progress(*task_columns("simulate"), BarColumn(),
                      TimeRemainingColumn(), console=err,
                      disable=output is not Format.TABLE, transient=True) as progress:
            task = progress.add_task(scenario.name, total=1.0)
            result = Simulation(scenario, seed=seed,
                                progress=lambda done: progress.update(task, completed=done)
                                ).run()
        out.mkdir(parents=True, exist_ok=True)
        log = out / "fix.log"
        log.write_bytes(result.fix_log)
        quotes = out / "quotes.parquet"
        result.quotes.write_parquet(quotes)
        _timeline(result).write_csv(out / "timeline.csv")
        config = Config(context=ContextConfig(adv={scenario.market.symbol:
                                                   scenario.market.adv}))
        write_kpis([log], [quotes], config, out / "kpis", ["lp"], OutputFormat.JSON, html=True)
        _write_decisions(result, out / "kpis" / "decisions.jsonl")
        payload = result.to_json(str(log))
        (out / "result.json").write_text(strict_json(payload, indent=1), encoding="utf-8")
        if output is Format.JSON:
            print(strict_json(payload))
            return
        _print(result, out)


def _write_decisions(result: SimResult, path: Path) -> None:
    """The routing decisions where ``lpscore serve --data`` finds them (replaced, not
    appended: the directory holds one run)."""
    path.write_text("".join(strict_json(d) + "\n" for d in result.decisions),
                    encoding="utf-8")


def _timeline(result: SimResult) -> pl.DataFrame:
    return pl.DataFrame([{"t_s": r.t_s, "what": r.what, "lp": r.lp, "qty": r.qty,
                          "price": r.price, "latency_ms": r.latency_ms, "note": r.note}
                         for r in result.timeline],
                        schema={"t_s": pl.Float64, "what": pl.String, "lp": pl.String,
                                "qty": pl.Float64, "price": pl.Float64,
                                "latency_ms": pl.Float64, "note": pl.String})


def _print(result: SimResult, out: Path) -> None:
    screen = console()
    rows = _timeline(result)
    start = rows.filter(pl.col("what") == "start")["t_s"].min()
    minute = (pl.col("t_s") // 60 * 60).alias("minute")
    flow = (rows.filter(pl.col("what").is_in(["route", "fill"]) & (pl.col("t_s") >= (start or 0)))
            .group_by(minute, "what", "lp").agg(pl.col("qty").sum(), pl.col("latency_ms").mean())
            .sort("minute", "lp"))
    table = Table(title=f"{result.scenario}, seed {result.seed}: timeline (per minute from the "
                  "order's start; scores as re-computed from the FIX log)")
    for name in ("time", "event", "LP", "routed", "filled", "fill latency ms", "note"):
        table.add_column(name, justify="right" if name in ("routed", "filled",
                                                           "fill latency ms") else "left")
    events = rows.filter(pl.col("what").is_in(["start", "end", "scores"])
                         & (pl.col("t_s") >= (start or 0)))
    by_minute: dict[float, list[tuple[str, str]]] = {}
    for r in events.iter_rows(named=True):
        by_minute.setdefault(r["t_s"] // 60 * 60, []).append((r["what"], r["note"]))
    minutes = sorted(set(flow["minute"].to_list()) | set(by_minute))
    for m in minutes:
        stamp = f"{int(m // 60):d}:00"
        for what, note in by_minute.get(m, []):
            table.add_row(stamp, what, "", "", "", "", note)
        part = flow.filter(pl.col("minute") == m)
        for lp in sorted(set(part["lp"].to_list())):
            routed = part.filter((pl.col("lp") == lp) & (pl.col("what") == "route"))
            filled = part.filter((pl.col("lp") == lp) & (pl.col("what") == "fill"))
            latency = filled["latency_ms"].to_list()
            table.add_row(stamp, "flow", lp, f"{routed['qty'].sum():,.0f}",
                          f"{filled['qty'].sum():,.0f}",
                          f"{latency[0]:.1f}" if latency and latency[0] is not None else "", "")
    screen.print(table)
    summary = Table(title="result")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    summary.add_row("completed", "yes" if result.completed else "no")
    summary.add_row("completion", "" if result.completion_s is None
                    else f"{result.completion_s:,.1f} s")
    summary.add_row("filled", f"{result.filled_qty:,.0f} of {result.qty:,.0f}")
    summary.add_row("arrival mid", f"{result.arrival_mid:.4f}"
                    if math.isfinite(result.arrival_mid) else "")
    summary.add_row("VWAP", "" if result.vwap is None else f"{result.vwap:.4f}")
    summary.add_row("shortfall vs arrival", "" if result.shortfall_bps is None
                    else f"{result.shortfall_bps:.2f} bps")
    summary.add_row("rejects", f"{result.rejects:,}")
    for lp, share in result.fill_share.items():
        summary.add_row(f"fill share {lp}", f"{share:.1%}")
    screen.print(summary)
    screen.print(f"FIX log {out}/fix.log, KPI tables and report {out}/kpis/report.html, "
                 f"timeline {out}/timeline.csv")


def bench_routing_command(
    scenario_spec: Annotated[str, typer.Option(
        "--scenario", help=f"A bundled scenario ({', '.join(BUNDLED)}) or a .toml/.yaml "
        "file.")] = "default",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds 1..N, the same for every "
                                       "policy.", min=2)] = 20,
    policies: Annotated[str, typer.Option(
        "--policies", help=f"Comma-separated subset of {','.join(POLICY_NAMES)}.")
    ] = ",".join(POLICY_NAMES),
    output: Annotated[Format, typer.Option("--format", help="table or json.")
                      ] = Format.TABLE,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", help="Simulations run at once, each in a process of its own (default: "
        "one per CPU; 1: one after the other, in this process).", min=1)] = None,
) -> None:
    """Compare routing policies on the same seeds, against an oracle.

    Implementation shortfall, completion, fill %, rejects and regret vs an oracle that knows
    the LPs, with 95% intervals (docs/simulator.md)."""
    with exit_on_error():
        names = [p.strip() for p in policies.split(",") if p.strip()]
        if not names:
            raise InputError(f"--policies {policies!r} names no policy: give one or more of "
                             f"{','.join(POLICY_NAMES)}, comma-separated")
        unknown = [p for p in names if p not in POLICY_NAMES]
        if unknown:
            raise InputError(f"--policies {','.join(unknown)}: use some of "
                             f"{','.join(POLICY_NAMES)}")
        scenario = load_scenario(scenario_spec)
        with Progress(*task_columns("bench-routing"), BarColumn(),
                      TimeRemainingColumn(), console=err,
                      disable=output is not Format.TABLE, transient=True) as progress:
            task = progress.add_task(scenario.name, total=seeds * len(names))
            results = bench_routing(scenario, range(1, seeds + 1), names,
                                    progress=lambda name, seed: progress.update(
                                        task, advance=1, description=f"{name} seed {seed}"),
                                    jobs=jobs or cpus())
        if output is Format.JSON:
            print(strict_json({"scenario": scenario.name, "seeds": seeds,
                               "policies": [r.to_json() for r in results]}))
            return
        _print_bench(scenario.name, seeds, results)


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def _print_bench(name: str, seeds: int, results: list[PolicyResult]) -> None:
    screen = console()
    table = Table(title=f"{name}: {seeds} seeds, the same for every policy; mean [95% "
                  "bootstrap interval]")
    names = max((len(r.name) for r in results), default=0)
    # the policy's name whole (censored_greedy and censored_thompson were both cut to
    # "censored_…" on an 80-column terminal); the intervals wrap at their spaces instead
    table.add_column("policy", no_wrap=True, min_width=names)
    for column in ("shortfall bps", "regret vs oracle bps", "completion s", "fill %",
                   "rejects"):
        table.add_column(column, justify="right", overflow="fold")

    def cell(i: Interval, digits: int = 2) -> str:
        if not math.isfinite(i.mean):    # a regret without the oracle
            return "n/a"
        return f"{i.mean:.{digits}f} [{i.ci_low:.{digits}f}, {i.ci_high:.{digits}f}]"

    for r in results:
        table.add_row(r.name, cell(r.shortfall_bps), cell(r.regret_bps), cell(r.completion_s, 0),
                      cell(r.fill_pct, 1), cell(r.rejects, 1))
    screen.print(table)
    means = [r.shortfall_bps.mean for r in results if math.isfinite(r.shortfall_bps.mean)]
    worst = max(means, default=0.0)
    low = min([0.0, *means])          # bars from zero, unless a shortfall is negative
    screen.print("shortfall (bps), lower is better:")
    for r in results:
        mean = r.shortfall_bps.mean
        width = (0 if worst == low or not math.isfinite(mean)
                 else round(40 * (mean - low) / (worst - low)))
        screen.print(f"  {r.name:>{names}} {'█' * (width + 1)} {mean:.2f}")
