"""The Dask engine (issue 10): scaling from 1 to 2 workers on this machine, the partition
function's throughput, and the memory a worker needs, against the local engine.

    .venv/bin/python benchmarks/bench_dask.py                  # 100k orders, 50 symbols, 2M quotes
    .venv/bin/python benchmarks/bench_dask.py --write-results  # and update RESULTS.md

Input: benchmarks/gen_kpi_data.py (generated if missing), written as a history store
(one day x 50 symbols = 50 partitions). Each contender runs in its own process: ``local``
(compute_kpis + kpi_stats per LP x symbol, Polars on every core) and ``dask-N`` (a
LocalCluster of N worker processes, one thread each, Polars capped to one thread; cluster
start-up timed apart, one warm-up run, then the best of ``--runs``). Numbers are compared
with the local engine's table.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import machine, peak_rss_mb, replace_section, run_contender  # noqa: E402

TITLE = "## Dask engine (issue 10)"
KEYS = ["lp", "symbol"]
NOTE = (
    "Reading: on this 2-core machine, shared with other engineers' jobs (see the load "
    "average), the cluster does not beat the local engine, which already uses both cores with"
    " Polars' own threads and does each step once over all rows; the Dask engine pays a "
    "planning pass on the client (linking over 20 columns), per-task fixed costs ("
    "which is why a date's partitions are packed into tasks of up to 100,000 events: "
    "docs/dask.md, the partitioning scheme, step 8), and the merges. What it buys is that no "
    "machine holds more than one task: a worker's peak above is what a pack needs, while the "
    "local engine needs the whole input in one process (see its client peak; 5 GB at 1M "
    'orders x 20M quotes, section "KPI engine: where lpscore\'s time goes"), and adding '
    "workers on more machines adds task slots. Size a cluster from the per-task rate: events "
    "per day / (rate x workers) seconds, plus planning."
)


def data_dir(args: argparse.Namespace) -> Path:
    path = HERE / "data" / f"kpi_{args.orders}_{args.symbols}_{args.quotes}_{args.seed}"
    if not (path / "events.parquet").exists():
        from gen_kpi_data import generate  # noqa: PLC0415
        generate(args.orders, args.symbols, args.quotes, args.seed, path)
    return path


def contender(name: str, store: Path, out: Path, runs: int) -> dict[str, Any]:
    from lpscore.config import Config  # noqa: PLC0415
    from lpscore.history import read_events, read_quotes  # noqa: PLC0415
    from lpscore.kpi.aggregate import kpi_stats, summarize  # noqa: PLC0415
    from lpscore.kpi.engine import compute_kpis  # noqa: PLC0415

    config = Config()
    if name == "local":
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            events, quotes = read_events(store), read_quotes(store)
            result = compute_kpis(events, quotes, config)
            table = summarize(kpi_stats(result, KEYS), result.horizons,
                              result.unmatched_session_rejects)
            times.append(time.perf_counter() - started)
        table.drop("reject_reasons").write_parquet(out)
        return {"times": times, "rss_mb": peak_rss_mb(), "events": events.height}

    if name == "partition":
        return partition_throughput(store, config)
    from lpscore.engine.dask import cluster_stats, connect  # noqa: PLC0415

    workers = int(name.split("-")[1])
    started = time.perf_counter()
    with connect(None, n_workers=workers, threads_per_worker=1) as client:
        startup = time.perf_counter() - started
        cluster_stats(store, config, KEYS, client=client)  # warm-up: imports on the workers
        times, run = [], None
        for _ in range(runs):
            started = time.perf_counter()
            run = cluster_stats(store, config, KEYS, client=client)
            times.append(time.perf_counter() - started)
        worker_rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    assert run is not None
    summarize(run.stats, run.horizons, run.unmatched_session_rejects).drop(
        "reject_reasons").write_parquet(out)
    return {"times": times, "rss_mb": peak_rss_mb(), "startup": startup,
            "worker_rss_mb": max(worker_rss.values()) / 1024, "tasks": run.n_tasks,
            "keys": run.n_keys, "plan_s": run.plan_seconds, "task_s": run.task_seconds,
            "events": run.n_events}


def partition_throughput(store: Path, config: Any) -> dict[str, Any]:
    """The plan, then every task's partition function one after the other in this process
    (Polars on one thread, no scheduler): events/s of each task."""
    from lpscore.engine.partitions import StatsSpec, run_part  # noqa: PLC0415
    from lpscore.engine.plan import plan_tasks  # noqa: PLC0415

    plan_tasks(store)  # warm-up
    started = time.perf_counter()
    plan = plan_tasks(store)
    plan_s = time.perf_counter() - started
    run_part(store, plan.tasks[0], config, StatsSpec(tuple(KEYS)))  # warm-up
    rates, seconds = [], []
    for task in plan.tasks:
        part = run_part(store, task, config, StatsSpec(tuple(KEYS)))
        rates.append(part.n_events / part.seconds)
        seconds.append(part.seconds)
    rates.sort()
    return {"plan_s": plan_s, "rates": [rates[0], rates[len(rates) // 2], rates[-1]],
            "task_s": sum(seconds), "events": plan.n_events, "rss_mb": peak_rss_mb()}


def max_rel_diff(a: pl.DataFrame, b: pl.DataFrame) -> float:
    worst = 0.0
    for name, dtype in a.schema.items():
        if dtype.is_float() and not name.endswith(("_p50", "_p95", "_p99")):
            x, y = a[name].fill_null(0.0).to_numpy(), b[name].fill_null(0.0).to_numpy()
            denom = pl.Series([max(1.0, abs(p), abs(q)) for p, q in zip(x, y, strict=True)])
            worst = max(worst, float((pl.Series(abs(x - y)) / denom).max() or 0.0))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--quotes", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--contender")
    parser.add_argument("--store", type=Path)
    parser.add_argument("--table", type=Path)
    args = parser.parse_args()
    if args.contender:
        print("RESULT " + json.dumps(contender(args.contender, args.store, args.table, args.runs)))
        return 0
    from lpscore.history import write_events, write_quotes  # noqa: PLC0415

    source = data_dir(args)
    with tempfile.TemporaryDirectory(prefix="lpscore-bench-dask-") as tmp:
        store = Path(tmp) / "history"
        started = time.perf_counter()
        write_events(store, pl.read_parquet(source / "events.parquet"))
        write_quotes(store, pl.read_parquet(source / "quotes.parquet"))
        write_s = time.perf_counter() - started
        results, tables = {}, {}
        for name in ("local", "partition", "dask-1", "dask-2"):
            tables[name] = Path(tmp) / f"{name}.parquet"
            results[name] = run_contender(name, Path(__file__), [
                "--store", str(store), "--table", str(tables[name]), "--runs", str(args.runs)],
                all_threads=name == "local")
        diffs = {n: max_rel_diff(pl.read_parquet(tables["local"]), pl.read_parquet(tables[n]))
                 for n in ("dask-1", "dask-2")}
    section = render(args, results, diffs, write_s)
    print(section)
    if args.write_results:
        replace_section(HERE / "RESULTS.md", TITLE, section)
    return 0


def render(args: argparse.Namespace, results: dict[str, dict[str, Any]],
           diffs: dict[str, float], write_s: float) -> str:
    m = machine(["polars", "dask", "distributed"])
    local = min(results["local"]["times"])
    one, two = (min(results[n]["times"]) for n in ("dask-1", "dask-2"))
    d2 = results["dask-2"]
    events = d2["events"]
    per_task = events / d2["task_s"]
    part = results["partition"]
    part_rate = part["rates"]
    rows = [
        "| engine | best wall s | runs (wall s) | vs local | client peak RSS MB | "
        "worker peak RSS MB | start-up s |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
        f"| local (compute_kpis + kpi_stats, Polars on every core) | {local:.2f} | "
        f"{', '.join(f'{t:.2f}' for t in results['local']['times'])} | 1.00x | "
        f"{results['local']['rss_mb']:.0f} | - | - |",
    ]
    for name in ("dask-1", "dask-2"):
        r = results[name]
        best = min(r["times"])
        rows.append(f"| {name} (LocalCluster, {name[-1]} worker process(es) x 1 thread) | "
                    f"{best:.2f} | {', '.join(f'{t:.2f}' for t in r['times'])} | "
                    f"{local / best:.2f}x | {r['rss_mb']:.0f} | {r['worker_rss_mb']:.0f} | "
                    f"{r['startup']:.1f} |")
    targets = [
        "| target | required | measured | result |",
        "| --- | ---: | ---: | --- |",
        f"| same numbers as the local engine (means, rates, sums) | max rel diff <= 1e-9 | "
        f"{max(diffs.values()):.1e} | {'PASS' if max(diffs.values()) <= 1e-9 else 'FAIL'} |",
        f"| 2 workers vs 1 worker | faster | {one / two:.2f}x | "
        f"{'PASS' if two < one else 'MISS'} |",
    ]
    return "\n".join([
        TITLE, "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on: {m['nproc']} CPUs "
        f"({m['cpu']}), {m['mem']} RAM, {m['os']}, Python {m['python']}, Polars {m['polars']}, "
        f"Dask {m['dask']}, distributed {m['distributed']}. Load average before the run: "
        f"{m['load']} (the machine is shared with other engineers' jobs).", "",
        f"Input (`benchmarks/gen_kpi_data.py`, seed {args.seed}): {args.orders:,} child orders "
        f"over {args.symbols} symbols, {events:,} events, {args.quotes:,} quotes, one day, "
        f"written as a history store in {write_s:.1f} s: {d2['keys']} (date x symbol) "
        f"partitions, {d2['tasks']} tasks after fusion and packing. Timed: from the store "
        "on disk to the merged statistics per LP x symbol (the local engine's read of the "
        "whole store included); cluster start-up apart. Worker RSS is the largest worker's "
        "peak.", "",
        f"Reproduce: `python benchmarks/bench_dask.py --orders {args.orders} --symbols "
        f"{args.symbols} --quotes {args.quotes} --write-results`.", "",
        *rows, "",
        f"Partition function alone (one process, Polars on one thread, tasks one after the "
        f"other, reading each task's events and quotes included): {events / d2['tasks']:,.0f} "
        f"events per task on average, {part_rate[1]:,.0f} events/s per task (median; slowest "
        f"task {part_rate[0]:,.0f}, fastest {part_rate[-1]:,.0f}), all tasks "
        f"{part['task_s']:.2f} s; planning {part['plan_s']:.2f} s (client, one thread). "
        f"Inside the 2-worker job: {per_task:,.0f} events/s per task slot (events / summed "
        f"task wall time), planning {d2['plan_s']:.2f} s of the job. A worker's peak RSS "
        f"{d2['worker_rss_mb']:.0f} MB, of which the interpreter, Polars and Dask are about "
        "250 MB.", "",
        *targets, "",
        NOTE, "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
