"""The history store: one ingest against appends, and scoring a long appended history
(docs/data-formats.md, "The history store and appending to it", Cost; docs/dask.md, "Limit:
what one process holds").

    .venv/bin/python benchmarks/bench_append.py --quick          # smoke run, ~1 min
    .venv/bin/python benchmarks/bench_append.py                  # 10 days x 1M messages
    .venv/bin/python benchmarks/bench_append.py --write-results  # ... and update RESULTS.md

Scenario A, one log: ``benchmarks/data/fix_1m.log`` (``gen_fix_log.py`` defaults) ingested
once, and the same log cut into ``--parts`` (4) files of consecutive lines appended one after
another (``lpscore ingest PART --out DIR --append``) into another store; both stores then
scored (``lpscore score --history DIR --format json``). Scenario B, ten days: ``--days`` logs,
one a day (``gen_fix_log.py --date``, the seed one more a day; day 1 is the log of A),
appended one after another, then the store scored with ``--engine local`` and ``--engine
dask`` (a LocalCluster, the CLI's default) and planned (``lpscore.engine.plan.plan_tasks``
alone, as the client does before the first task).

Each command runs in a fresh process (``python -m lpscore.cli``, Polars on every core) with
its input warm in the page cache; wall time is taken around it and peak RSS is the child's
``ru_maxrss`` from ``os.wait4`` (what ``/usr/bin/time -v`` reports: the interpreter and its
imports included; with ``--engine dask`` the largest of the client and its worker
processes). Checks, which fail the run: every file's reconciliation balances (lines = events +
quarantined + skipped), the parts add up to the one ingest (lines, events, orders, fills,
data-quality counts) and each append adds its events to the store's total; the appended
store scores as the single-ingest one, and dask as local (numbers within 1e-9 relative).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from harness import (  # noqa: E402
    THREAD_VARS,
    count_lines,
    machine,
    peak_rss_mb,
    replace_section,
)

RESULTS = HERE / "RESULTS.md"
TITLE = ("## History store: ingest, append and scoring a long history "
         "(data-formats.md, dask.md)")
DATA = HERE / "data"
DAYS_DIR = DATA / "append"
DEFAULT_LOG = DATA / "fix_1m.log"
SEED = 20250612          # gen_fix_log.py's defaults: day 1 is bench_fix_ingest's log
FIRST_DAY = dt.date(2025, 6, 12)
REL_TOL = 1e-9
DOC_MESSAGES, DOC_DAYS, DOC_PARTS = 1_000_000, 10, 4


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One measured ``lpscore`` command."""

    label: str
    command: str
    wall_s: float
    peak_mb: float
    output: str
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.output)


class Runner:
    """Runs commands in fresh processes, numbered for the terminal."""

    def __init__(self, work: Path, total: int) -> None:
        self.work = work
        self.total = total
        self.step = 0
        self.env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}

    def lpscore(self, label: str, args: Sequence[str | Path], warm: Sequence[Path] = ()
                ) -> Run:
        """``lpscore args...`` (the installed CLI) in a fresh process, ``warm`` files read
        first so that the page cache holds them."""
        for path in warm:
            _read_through(path)
        shown = "lpscore " + " ".join(_short(a) for a in args)
        return self._run(label, shown, [sys.executable, "-m", "lpscore.cli", *map(str, args)])

    def plan(self, store: Path) -> Run:
        """``plan_tasks`` over ``store`` alone, as the client of ``--engine dask`` runs it."""
        cmd = [sys.executable, str(Path(__file__).resolve()), "--plan-child", str(store)]
        run = self._run("planning on the client (`plan_tasks`, block profile)",
                        f"plan_tasks({_short(store)})", cmd)
        line = next(ln for ln in run.output.splitlines() if ln.startswith("RESULT "))
        run.extra = json.loads(line[len("RESULT "):])
        return run

    def _run(self, label: str, shown: str, cmd: list[str]) -> Run:
        self.step += 1
        print(f"[{self.step}/{self.total}] {label}\n      {shown}", flush=True)
        out_path, err_path = self.work / "stdout.txt", self.work / "stderr.txt"
        with out_path.open("w") as out, err_path.open("w") as err:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=self.env, cwd=self.work)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        output = out_path.read_text()
        if code != 0:
            raise SystemExit(f"{shown} exited with status {code}:\n{output[-3000:]}\n"
                             f"{err_path.read_text()[-3000:]}")
        run = Run(label, shown, wall, usage.ru_maxrss / 1024, output)  # Linux: KiB
        print(f"      {wall:8.2f} s  {run.peak_mb:8.0f} MB peak RSS", flush=True)
        return run


def _short(arg: str | Path) -> str:
    """``arg`` relative to the project's root, where it is under it."""
    text, prefix = str(arg), str(ROOT) + os.sep
    return text[len(prefix):] if text.startswith(prefix) else text


def _read_through(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def plan_child(store: Path) -> None:
    """In a fresh process: ``plan_tasks`` as ``lpscore score --engine dask`` calls it (the
    block profile's decay clock), timed; prints a ``RESULT`` line."""
    from lpscore.config import Config  # noqa: PLC0415
    from lpscore.engine.plan import plan_tasks  # noqa: PLC0415
    from lpscore.scoring import config_catalog, load_profile  # noqa: PLC0415

    profile = load_profile("block", config_catalog(Config().kpi))
    order_clock = profile.decay is not None and profile.decay.clock == "orders"
    rss_imports = peak_rss_mb()
    started = time.perf_counter()
    plan = plan_tasks(store, order_clock=order_clock)
    seconds = time.perf_counter() - started
    print("RESULT " + json.dumps({
        "plan_s": seconds, "tasks": len(plan.tasks), "keys": plan.n_keys,
        "events": plan.n_events, "orders": plan.n_orders, "rss_imports_mb": rss_imports}))


# --------------------------------------------------------------------------- inputs


def day_log(messages: int, day: int) -> Path:
    """Day ``day`` (0-based) of the history; day 0 is ``bench_fix_ingest.py``'s file."""
    if day == 0:
        return DEFAULT_LOG if messages == 1_000_000 else DATA / f"fix_{messages}.log"
    date = FIRST_DAY + dt.timedelta(days=day)
    return DAYS_DIR / f"fix_{messages}_{date:%Y%m%d}_s{SEED + day}.log"


def ensure_log(messages: int, day: int) -> Path:
    path = day_log(messages, day)
    if not path.exists():
        date = FIRST_DAY + dt.timedelta(days=day)
        print(f"generating {_short(path)} ({messages:,} messages, {date}, seed {SEED + day})"
              " ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "gen_fix_log.py"), "--messages",
                        str(messages), "--out", str(path), "--seed", str(SEED + day),
                        "--date", f"{date:%Y%m%d}"], check=True)
    return path


def ensure_parts(log: Path, parts: int) -> list[Path]:
    """``log`` cut into ``parts`` files of consecutive lines (the last takes the rest)."""
    lines = count_lines(log)
    size = math.ceil(lines / parts)
    paths = [DAYS_DIR / f"{log.stem}.part{i + 1}of{parts}.log" for i in range(parts)]
    if all(p.exists() for p in paths) and sum(count_lines(p) for p in paths) == lines:
        return paths
    print(f"cutting {_short(log)} into {parts} files of {size:,} lines ...", flush=True)
    DAYS_DIR.mkdir(parents=True, exist_ok=True)
    with log.open("rb") as src:
        for path in paths:
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as dst:
                dst.writelines(itertools.islice(src, size))
            tmp.replace(path)
    return paths


def _disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# --------------------------------------------------------------------------- checks


@dataclass
class Checks:
    rows: list[tuple[str, bool, str]] = field(default_factory=list)

    def add(self, what: str, ok: bool, detail: str = "") -> None:
        self.rows.append((what, ok, detail))
        print(f"      check: {what}: {'ok' if ok else 'FAILED'}"
              + (f" ({detail})" if detail else ""), flush=True)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.rows)


def balanced(summary: dict[str, Any]) -> bool:
    return all(f["lines"] == f["events"] + f["quarantined"] + f["skipped"]
               for f in summary["files"])


def _nonzero(counts: dict[str, int]) -> str:
    shown = {k: v for k, v in counts.items() if v}
    return str(shown) if shown else "all 0"


def events_of(summary: dict[str, Any]) -> int:
    return sum(f["events"] for f in summary["files"])


def check_ingest(checks: Checks, run: Run, store_before: int) -> int:
    """The reconciliation of one ingest balances and the store grew by its events; returns
    the store's events."""
    summary = run.json()
    added, store = events_of(summary), summary["store"]["events"]
    checks.add(f"{run.label}: reconciliation balances, store {store_before:,} + {added:,} "
               "events", balanced(summary) and store == store_before + added,
               f"store holds {store:,}")
    return int(store)


def max_rel_diff(a: Any, b: Any, path: str = "") -> tuple[float, str]:
    """Largest relative difference between two JSON values' numbers (inf where anything
    else differs), and where."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return math.inf, f"{path}: keys {sorted(a.keys() ^ b.keys())}"
        pairs = [max_rel_diff(a[k], b[k], f"{path}.{k}") for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return math.inf, f"{path}: {len(a)} vs {len(b)} items"
        pairs = [max_rel_diff(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b,
                                                                                   strict=True))]
    elif (isinstance(a, int | float) and isinstance(b, int | float)
          and not isinstance(a, bool) and not isinstance(b, bool)):
        if a == b:
            return 0.0, path
        return abs(a - b) / max(1.0, abs(a), abs(b)), path
    else:
        return (0.0, path) if a == b else (math.inf, f"{path}: {a!r} vs {b!r}")
    return max(pairs, default=(0.0, path), key=lambda p: p[0])


def check_same_scores(checks: Checks, what: str, a: Run, b: Run) -> None:
    diff, where = max_rel_diff(a.json(), b.json())
    same = a.output.strip() == b.output.strip()
    n = len(a.json().get("scores", []))
    checks.add(what, diff <= REL_TOL and n > 0,
               f"{n} LPs; " + ("identical JSON" if same else
                               f"max rel diff {diff:.1e} at {where}"))


# --------------------------------------------------------------------------- scenarios


def scenario_one_log(runner: Runner, args: argparse.Namespace, checks: Checks
                     ) -> dict[str, Any]:
    log = ensure_log(args.messages, 0)
    parts = ensure_parts(log, args.parts)
    single_dir, parts_dir = runner.work / "single", runner.work / "parts"
    print(f"\n== A: {_short(log)} ({count_lines(log):,} lines) ingested once, and cut into "
          f"{args.parts} files appended one after another ==", flush=True)
    single = runner.lpscore("one ingest of the whole log",
                            ["ingest", log, "--out", single_dir, "--format", "json"], [log])
    check_ingest(checks, single, 0)
    appends, held = [], 0
    for i, part in enumerate(parts, 1):
        run = runner.lpscore(f"append part {i} of {args.parts} ({count_lines(part):,} lines)",
                             ["ingest", part, "--out", parts_dir, "--append", "--format",
                              "json"], [part])
        held = check_ingest(checks, run, held)
        appends.append(run)
    whole = single.json()
    sums = {k: sum(a.json()[k] for a in appends)
            for k in ("orders", "executions", "fills", "rejects", "cancel_rejects")}
    sums["lines"] = sum(a.json()["files"][0]["lines"] for a in appends)
    sums["events"] = sum(events_of(a.json()) for a in appends)
    want = {k: whole[k] for k in sums if k not in ("lines", "events")}
    want["lines"], want["events"] = whole["files"][0]["lines"], events_of(whole)
    quality: dict[str, int] = {}
    for a in appends:
        for k, v in a.json()["data_quality"].items():
            quality[k] = quality.get(k, 0) + v
    want_quality = {k: v for k, v in whole["data_quality"].items() if v}
    checks.add("the parts add up to the one ingest (lines, events, orders, executions, "
               "fills, rejects, cancel rejects, data-quality counts)",
               sums == want and {k: v for k, v in quality.items() if v} == want_quality,
               f"{sums['events']:,} events vs {want['events']:,}; data quality "
               f"{_nonzero(quality)} vs {_nonzero(whole['data_quality'])}")
    score_single = runner.lpscore("score the single-ingest store", [
        "score", "--history", single_dir, "--format", "json"])
    score_parts = runner.lpscore("score the appended store", [
        "score", "--history", parts_dir, "--format", "json"])
    check_same_scores(checks, "the appended store gives the single-ingest store's scores",
                      score_single, score_parts)
    return {"log": log, "lines": want["lines"], "events": want["events"], "single": single,
            "appends": appends, "scores": [score_single, score_parts],
            "disk_mb": (_disk_mb(single_dir / "history"), _disk_mb(parts_dir / "history"))}


def scenario_days(runner: Runner, args: argparse.Namespace, checks: Checks
                  ) -> dict[str, Any]:
    logs = [ensure_log(args.messages, day) for day in range(args.days)]
    store = runner.work / "days"
    print(f"\n== B: {args.days} logs of {args.messages:,} messages, one a day, appended one "
          "after another, then scored ==", flush=True)
    appends, held = [], 0
    for day, log in enumerate(logs, 1):
        run = runner.lpscore(f"append day {day} of {args.days}",
                             ["ingest", log, "--out", store, "--append", "--format", "json"],
                             [log])
        held = check_ingest(checks, run, held)
        appends.append(run)
    history = store / "history"
    for path in history.rglob("*.parquet"):
        _read_through(path)
    local = runner.lpscore("score --engine local", [
        "score", "--history", store, "--engine", "local", "--format", "json"])
    dask = None
    if not args.skip_dask:
        dask = runner.lpscore("score --engine dask (LocalCluster)", [
            "score", "--history", store, "--engine", "dask", "--format", "json"])
        check_same_scores(checks, "--engine dask gives --engine local's scores", local, dask)
    plan = runner.plan(history)
    checks.add("the plan covers every event of the store", plan.extra["events"] == held,
               f"{plan.extra['events']:,} of {held:,}")
    return {"events": held, "appends": appends, "local": local, "dask": dask, "plan": plan,
            "disk_mb": _disk_mb(history)}


# --------------------------------------------------------------------------- report


def _gb(mb: float) -> str:
    return f"{mb / 1024:.2f}"


def _span(values: Sequence[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else (
        f"{format(lo, fmt)}-{format(hi, fmt)}")


def _table(runs: Sequence[Run | None]) -> list[str]:
    rows = ["| step | command | wall s | peak RSS MB |", "| --- | --- | ---: | ---: |"]
    rows += [f"| {r.label} | `{r.command}` | {r.wall_s:.2f} | {r.peak_mb:,.0f} |"
             for r in runs if r is not None]
    return rows


def figures(a: dict[str, Any], b: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """A line per figure the docs quote, with what this run measured."""
    single, parts, days = a["single"], a["appends"], b["appends"]
    local, dask, plan = b["local"], b["dask"], b["plan"]
    p_wall = [r.wall_s for r in parts]
    p_mb = [r.peak_mb for r in parts]
    d_wall = [r.wall_s for r in days]
    d_mb = [r.peak_mb for r in days]
    ev = plan.extra
    net = plan.peak_mb - ev["rss_imports_mb"]
    rows = [
        "| figure (where) | hand run, 2026-11-24 | measured |", "| --- | --- | --- |",
        f"| one ingest of the log (data-formats.md) | 7.3 s, 1.98 GB | {single.wall_s:.1f} s, "
        f"{_gb(single.peak_mb)} GB |",
        f"| each of {args.parts} appends of {a['lines'] // args.parts:,} lines "
        f"(data-formats.md) | 3.0-3.4 s, 0.86-0.92 GB | {_span(p_wall, '.1f')} s, "
        f"{_span([m / 1024 for m in p_mb], '.2f')} GB |",
        f"| last append vs the first (\"the fourth no more than the first\") | <= 1x | "
        f"{p_wall[-1] / p_wall[0]:.2f}x time, {p_mb[-1] / p_mb[0]:.2f}x memory |",
        f"| each of {args.days} daily appends (data-formats.md) | 5.8-7.4 s, 1.98-2.16 GB | "
        f"{_span(d_wall, '.1f')} s, {_span([m / 1024 for m in d_mb], '.2f')} GB |",
        f"| last daily append vs the first (\"the tenth as the first\") | ~1x | "
        f"{d_wall[-1] / d_wall[0]:.2f}x time, {d_mb[-1] / d_mb[0]:.2f}x memory |",
        f"| the {args.days}-day store (data-formats.md, dask.md) | 9.0 M events, 2.6 M orders, "
        f"5,000 partitions, 522 MB on disk | {b['events'] / 1e6:.2f} M events, "
        f"{ev['orders'] / 1e6:.2f} M orders, {ev['keys']:,} partitions, "
        f"{b['disk_mb']:.0f} MB on disk |",
        f"| `score --history --engine local` (dask.md) | 31 s, 8.9 GB | {local.wall_s:.1f} s, "
        f"{_gb(local.peak_mb)} GB |",
    ]
    if dask is not None:
        rows.append(f"| `score --history --engine dask` (dask.md) | 51 s, 100 packed tasks | "
                    f"{dask.wall_s:.1f} s ({_gb(dask.peak_mb)} GB, largest process), "
                    f"{ev['tasks']:,} tasks |")
    rows.append(f"| planning on the client (dask.md) | 19 s, 5.9 GB, ~650 B an event | "
                f"{ev['plan_s']:.1f} s ({plan.wall_s:.1f} s with start-up), "
                f"{_gb(plan.peak_mb)} GB, {plan.peak_mb * 2**20 / max(ev['events'], 1):,.0f} "
                f"B an event ({net * 2**20 / max(ev['events'], 1):,.0f} B above the "
                f"{ev['rss_imports_mb']:.0f} MB after imports) |")
    return rows


def render(a: dict[str, Any], b: dict[str, Any], checks: Checks, args: argparse.Namespace,
           load: str) -> str:
    m = machine(["polars", "dask", "distributed"])
    at_doc_size = (args.messages, args.days, args.parts) == (DOC_MESSAGES, DOC_DAYS, DOC_PARTS)
    cmd = "python benchmarks/bench_append.py" + ("" if at_doc_size else (
        f" --messages {args.messages} --days {args.days} --parts {args.parts}")) + (
        " --skip-dask" if args.skip_dask else "") + " --write-results"
    size = "" if at_doc_size else (
        f" **Not the docs' sizes** ({DOC_DAYS} days of {DOC_MESSAGES:,} messages, "
        f"{DOC_PARTS} parts): the docs' column is not comparable.")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        TITLE, "",
        f"Measured {stamp} on: {m['nproc']} CPUs ({m['cpu']}), {m['mem']} RAM, {m['os']}, "
        f"Python {m['python']}, Polars {m['polars']}, Dask {m['dask']}, distributed "
        f"{m['distributed']}. Load average before the run: {load} (the machine is shared; "
        "one run of each command).", "",
        f"Input: `benchmarks/gen_fix_log.py` logs of {args.messages:,} messages (eight LP "
        f"sessions, 500 symbols), day 1 `{_short(a['log'])}` (seed {SEED}), day k dated "
        f"{FIRST_DAY:%Y-%m-%d} + k - 1 with seed {SEED} + k - 1; no quotes. Each command runs "
        "in a fresh process (`python -m lpscore.cli`, Polars on every core) with its input "
        "in the page cache; peak RSS is the child's `ru_maxrss` from `os.wait4` (as "
        "`/usr/bin/time -v`; interpreter and imports included; for `--engine dask` the "
        "largest of the client and its worker processes, and the wall time includes the "
        "LocalCluster's start-up, as the CLI runs it); GB = 1024 MB. Planning is "
        "`lpscore.engine.plan.plan_tasks` alone in a fresh process (its own timer; the peak "
        f"is the process's).{size}", "",
        f"Reproduce: `{cmd}` (generates the logs under `benchmarks/data/`, git-ignored, if "
        "missing).", "",
        f"A. One log ({a['lines']:,} lines, {a['events']:,} events) ingested once, and cut "
        f"into {args.parts} files of consecutive lines appended one after another "
        f"(stores {a['disk_mb'][0]:.0f} and {a['disk_mb'][1]:.0f} MB on disk):", "",
        *_table([a["single"], *a["appends"], *a["scores"]]), "",
        f"B. {args.days} logs, one a day, appended one after another ({b['events']:,} events, "
        f"{b['disk_mb']:.0f} MB on disk), then scored and planned:", "",
        *_table([*b["appends"], b["local"], b["dask"], b["plan"]]), "",
        "The docs' figures and this run's:", "",
        *figures(a, b, args), "",
        "Checks:", "",
        *(f"- {'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail else "")
          for what, ok, detail in checks.rows), "",
    ])


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=None,
                        help=f"daily logs appended in scenario B (default {DOC_DAYS}; "
                        "--quick: 2)")
    parser.add_argument("--messages", type=int, default=None,
                        help=f"messages per log (default {DOC_MESSAGES:,}; --quick: 100,000)")
    parser.add_argument("--parts", type=int, default=DOC_PARTS,
                        help="files the one log is cut into for scenario A")
    parser.add_argument("--skip-dask", action="store_true",
                        help="leave out `score --engine dask` (planning still runs)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 days of 100,000 messages")
    parser.add_argument("--keep", action="store_true",
                        help="keep the stores (benchmarks/data/append/run/) after the run")
    parser.add_argument("--write-results", action="store_true",
                        help=f"update {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--plan-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plan_child:
        plan_child(args.plan_child)
        return 0
    if args.days is None:
        args.days = 2 if args.quick else DOC_DAYS
    if args.messages is None:
        args.messages = 100_000 if args.quick else DOC_MESSAGES
    if args.days < 1 or args.parts < 1 or args.messages < args.parts:
        parser.error("--days and --parts must be >= 1 and --messages >= --parts")
    if not args.skip_dask and importlib.util.find_spec("distributed") is None:
        print("distributed is not installed: --skip-dask")
        args.skip_dask = True

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    work = DAYS_DIR / "run"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    steps = 1 + args.parts + 2 + args.days + 1 + (0 if args.skip_dask else 1) + 1
    print(f"{args.days} day(s) of {args.messages:,} messages, {args.parts} parts; stores in "
          f"{_short(work)}; load average {load}", flush=True)
    checks = Checks()
    runner = Runner(work, steps)
    try:
        a = scenario_one_log(runner, args, checks)
        b = scenario_days(runner, args, checks)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    section = render(a, b, checks, args, load)
    print("\n" + section)
    if args.write_results:
        replace_section(RESULTS, TITLE, section)
    if not checks.ok:
        print("CHECKS FAILED: " + ", ".join(w for w, ok, _ in checks.rows if not ok))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
