"""Benchmark: FIX log -> columnar events, messages per second on one core (issue 2).

Contenders, each in a fresh subprocess (so peak RSS is per contender) on the same file:

    lpscore         ingest_logs([path], IngestConfig()): file bytes -> validated (BodyLength,
                    CheckSum, required tags, value types), de-duplicated, typed events table.
                    One core: POLARS_MAX_THREADS=1 and the process pinned to one CPU.
    lpscore-mt      the same with Polars' default thread pool and no pinning (secondary line).
    naive           per line: strip the capture prefix, split on SOH into a {tag: value} dict.
    naive-validate  the same, plus BodyLength and CheckSum computed and compared.
    simplefix       simplefix.FixParser: append_buffer(message) then get_message() until None
                    (message part only: simplefix loops forever on a log prefix).

The slow contenders run on the first ``--baseline-sample`` lines and are extrapolated as
messages per second. Every contender is timed best of ``--repeat`` with a warm page cache.

    .venv/bin/python benchmarks/bench_fix_ingest.py --write-results
    .venv/bin/python benchmarks/bench_fix_ingest.py --profile      # where lpscore's time goes
"""

from __future__ import annotations

import os
import sys

# One core: must happen before anything imports polars (here or in a child process).
if "--all-threads" not in sys.argv:
    os.environ["POLARS_MAX_THREADS"] = "1"
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import argparse
import datetime as dt
import gc
import json
import re
import subprocess
import time
from pathlib import Path

from harness import (
    count_lines,
    cpu_times,
    machine,
    peak_rss_mb,
    pin_one_cpu,
    replace_section,
    run_contender,
    write_profile,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_FILE = HERE / "data" / "fix_1m.log"
RESULTS = HERE / "RESULTS.md"
SECTION = "## FIX log -> columnar events (issue 2)"
PROFILE_SECTION = "## FIX log -> columnar events: where lpscore's time goes (issue 2)"
SOH = b"\x01"

TARGET_RATE = 1_000_000
TARGET_VS_NAIVE = 5.0
TARGET_VS_SIMPLEFIX = 50.0


# --------------------------------------------------------------------------- helpers


def _prefix_bytes(path: Path, lines: int) -> int:
    """Byte length of the first ``lines`` lines of the file."""
    size = 0
    with path.open("rb") as fh:
        for _ in range(lines):
            line = fh.readline()
            if not line:
                break
            size += len(line)
    return size


# --------------------------------------------------------------------------- contenders


def run_lpscore(path: Path, repeat: int, messages: int) -> dict[str, object]:
    from lpscore.config import IngestConfig  # noqa: PLC0415
    from lpscore.ingest import ingest_logs  # noqa: PLC0415

    rss_import = peak_rss_mb()
    walls: list[float] = []
    cpus: list[tuple[float, float]] = []
    info: dict[str, object] = {}
    for _ in range(repeat):
        gc.collect()
        u0, s0 = cpu_times()
        t0 = time.perf_counter()
        result = ingest_logs([path], IngestConfig())
        wall = time.perf_counter() - t0
        u1, s1 = cpu_times()
        cpus.append((u1 - u0, s1 - s0))
        walls.append(wall)
        report = result.files[0]
        info = {
            "lines": report.lines,
            "events": report.events,
            "skipped": report.skipped,
            "quarantined": report.quarantined,
            "balanced": report.balanced,
            "events_rows": result.events.height,
            "events_columns": result.events.width,
            "by_msg_type": report.by_msg_type,
        }
        ok = (report.balanced and report.events + report.skipped == messages
              and result.events.height == report.events)
        info["checks_ok"] = ok
        del result
    return {"messages": messages, "walls": walls, "cpus": cpus, "rss_import_mb": rss_import,
            **info}


# The naive loop is the fastest of the obvious variants measured on this file (bytes keys and
# an explicit loop with partition beat dict(f.split(b"=", 1) ...) by ~20%, str by ~40%, and
# int(tag) keys by ~45%), so the 5x target is measured against the strongest naive baseline.


def _naive(lines: list[bytes]) -> int:
    n = 0
    for line in lines:
        _, msg = line.split(b" : ", 1)
        fields = {}
        for field in msg.split(SOH)[:-1]:
            tag, _, value = field.partition(b"=")
            fields[tag] = value
        n += len(fields) > 0
    return n


def _naive_validate(lines: list[bytes]) -> tuple[int, int]:
    n = bad = 0
    for line in lines:
        _, msg = line.split(b" : ", 1)
        fields = {}
        for field in msg.split(SOH)[:-1]:
            tag, _, value = field.partition(b"=")
            fields[tag] = value
        trailer = msg.rfind(b"\x0110=") + 1
        body_start = msg.index(SOH, msg.index(SOH) + 1) + 1
        if (int(fields[b"10"]) != sum(msg[:trailer]) % 256
                or int(fields[b"9"]) != trailer - body_start):
            bad += 1
        n += 1
    return n, bad


def run_baseline(name: str, path: Path, repeat: int, sample: int) -> dict[str, object]:
    nbytes = _prefix_bytes(path, sample) if sample else path.stat().st_size
    walls: list[float] = []
    cpus: list[tuple[float, float]] = []
    info: dict[str, object] = {}
    if name == "simplefix":
        import simplefix  # noqa: PLC0415
    for _ in range(repeat):
        gc.collect()
        u0, s0 = cpu_times()
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            lines = fh.read(nbytes).splitlines()
        if name == "naive":
            count = _naive(lines)
        elif name == "naive-validate":
            count, bad = _naive_validate(lines)
            info["bad_frames"] = bad
        else:
            parser = simplefix.FixParser()
            count = 0
            for line in lines:
                parser.append_buffer(line.split(b" : ", 1)[1])
                while parser.get_message() is not None:
                    count += 1
        walls.append(time.perf_counter() - t0)
        u1, s1 = cpu_times()
        cpus.append((u1 - u0, s1 - s0))
        info["lines"] = len(lines)
        info["checks_ok"] = count == len(lines)
        del lines
    return {"messages": info["lines"], "walls": walls, "cpus": cpus, **info}


def contender_main(name: str, args: argparse.Namespace) -> None:
    cpu = None if name == "lpscore-mt" else pin_one_cpu()
    if name.startswith("lpscore"):
        out = run_lpscore(args.file, args.repeat, args.messages_in_file)
    else:
        out = run_baseline(name, args.file, args.repeat, args.baseline_sample)
    walls: list[float] = out["walls"]  # type: ignore[assignment]
    best = min(walls)
    user, system = out["cpus"][walls.index(best)]  # type: ignore[index]
    out.update({
        "best_user": user,
        "best_sys": system,
        "name": name,
        "cpu": cpu,
        "polars_max_threads": os.environ.get("POLARS_MAX_THREADS", "default"),
        "best_wall": best,
        "rate": out["messages"] / best,  # type: ignore[operator]
        "peak_rss_mb": peak_rss_mb(),
    })
    print("RESULT " + json.dumps(out))


# --------------------------------------------------------------------------- profile


def profile_main(args: argparse.Namespace) -> str:
    """One lpscore run untraced, one with per-line timing of the stage functions, one under
    cProfile (single core). Prints them and returns the text."""
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    from lpscore.config import IngestConfig  # noqa: PLC0415
    from lpscore.ingest import ingest_logs  # noqa: PLC0415

    out: list[str] = []

    def emit(text: str) -> None:
        print(text, flush=True)
        out.append(text)

    cpu = pin_one_cpu()
    emit(f"profile of lpscore.ingest_logs on {args.file.name} ({args.messages_in_file:,} "
         f"messages), POLARS_MAX_THREADS={os.environ.get('POLARS_MAX_THREADS')}, pinned to "
         f"cpu {cpu}")
    args.file.read_bytes()  # warm the page cache
    _warm_up(args.file)
    gc.collect()
    u0, s0 = cpu_times()
    t0 = time.perf_counter()
    ingest_logs([args.file], IngestConfig())
    plain = time.perf_counter() - t0
    u1, s1 = cpu_times()
    emit(f"untraced: wall {plain:.3f} s, user {u1 - u0:.2f} s, sys {s1 - s0:.2f} s, "
         f"peak RSS {peak_rss_mb():.0f} MB")

    tracer = _LineTimer(_profile_targets())
    gc.collect()
    t0 = time.perf_counter()
    sys.settrace(tracer.global_trace)
    try:
        ingest_logs([args.file], IngestConfig())
    finally:
        sys.settrace(None)
    traced = time.perf_counter() - t0
    emit(f"line-traced: wall {traced:.3f} s (inclusive wall seconds per source line, top "
         "lines per function; a line's time includes the functions it calls)\n")
    emit(tracer.report(args.profile_lines))

    prof = cProfile.Profile()
    gc.collect()
    t0 = time.perf_counter()
    prof.enable()
    ingest_logs([args.file], IngestConfig())
    prof.disable()
    emit(f"\ncProfile: wall {time.perf_counter() - t0:.3f} s")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats(key).print_stats(args.profile_lines)
        text = buf.getvalue()
        text = text[text.find("   ncalls"):].replace(str(ROOT) + "/", "")
        text = re.sub(r"\S*/site-packages/", "", text)
        emit(f"\ncProfile, top {args.profile_lines} by {key}:\n{text.rstrip()}")
    return "\n".join(out)


def _warm_up(path: Path) -> None:
    """Ingest the file's first lines once, so that no timed run loads (or, after an install,
    compiles) the scanner's numba loops: a one-off cost, reported apart."""
    import tempfile  # noqa: PLC0415

    from lpscore.config import IngestConfig  # noqa: PLC0415
    from lpscore.ingest import ingest_logs  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        head = Path(tmp) / "head.log"
        head.write_bytes(path.read_bytes()[: _prefix_bytes(path, 2_000)])
        t0 = time.perf_counter()
        ingest_logs([head], IngestConfig())
        print(f"warm-up (imports, numba loops loaded or compiled): "
              f"{time.perf_counter() - t0:.2f} s", flush=True)


def _profile_targets() -> list[object]:
    """Functions whose lines are timed: the ingest pipeline, framing and typing stages."""
    from lpscore.fix import batch  # noqa: PLC0415
    from lpscore.ingest import (  # noqa: PLC0415
        decode,
        dedup,
        pipeline,
        records,
    )

    names = {
        pipeline: ["ingest_logs", "_read_logs", "typed_messages", "canonical_events", "_count",
                   "_data_quality", "_quarantine_rows"],
        records: ["split_messages", "_scan_lines", "_line_bounds", "_capture",
                  "_fast_candidates"],
        batch: ["scan_messages", "string_views", "_scan"],
        decode: ["typed_rows", "classify", "attribute", "infer_own_comp_ids", "fix_timestamps"],
        dedup: ["mark_duplicates", "_flags", "_ref_epochs"],
    }
    return [getattr(mod, n) for mod, ns in names.items() for n in ns if hasattr(mod, n)]


class _LineTimer:
    """Inclusive wall time per executed source line of a few functions (sys.settrace).

    The timed functions run vectorised code, a handful of lines each, so tracing them costs
    little; every other function is left untraced.
    """

    def __init__(self, funcs: list[object]) -> None:
        import inspect  # noqa: PLC0415

        self.codes = {f.__code__: f"{f.__module__}.{f.__qualname__}"  # type: ignore[attr-defined]
                      for f in funcs}
        # Source as imported (other people may edit the files while this runs).
        self.source: dict[object, dict[int, str]] = {}
        for f in funcs:
            lines, first = inspect.getsourcelines(f)  # type: ignore[arg-type]
            self.source[f.__code__] = {  # type: ignore[attr-defined]
                first + i: text.strip() for i, text in enumerate(lines)}
        self.times: dict[tuple[object, int], float] = {}
        self.calls: dict[object, float] = {}

    def global_trace(self, frame, event, arg):
        code = frame.f_code
        if event != "call" or code not in self.codes:
            return None
        state = {"line": None, "t": time.perf_counter(), "start": time.perf_counter()}

        def local(frame, event, arg):
            now = time.perf_counter()
            if state["line"] is not None:
                key = (code, state["line"])
                self.times[key] = self.times.get(key, 0.0) + now - state["t"]
            if event == "line":
                state["line"] = frame.f_lineno
            elif event == "return":
                self.calls[code] = self.calls.get(code, 0.0) + now - state["start"]
                state["line"] = None
            state["t"] = time.perf_counter()
            return local

        return local

    def report(self, top: int) -> str:
        out = []
        for code, name in self.codes.items():
            total = self.calls.get(code)
            if total is None or total < 0.01:
                continue
            lines = sorted(((t, ln) for (c, ln), t in self.times.items() if c is code),
                           reverse=True)
            out.append(f"{name}  total {total:.3f} s")
            for t, ln in lines[: min(top, 8)]:
                if t < 0.005:
                    break
                src = self.source[code].get(ln, "?")
                out.append(f"  {t:7.3f} s  L{ln:<4d} {src[:96]}")
        return "\n".join(out)


# --------------------------------------------------------------------------- driver


def _child(name: str, args: argparse.Namespace, messages: int) -> dict[str, object]:
    extra = ["--all-threads"] if name == "lpscore-mt" else []
    res = run_contender(name, Path(__file__).resolve(), [
        "--file", str(args.file), "--repeat", str(args.repeat),
        "--baseline-sample", str(args.baseline_sample), "--messages-in-file", str(messages),
        *extra], all_threads=name == "lpscore-mt")
    walls = ", ".join(f"{w:.3f}" for w in res["walls"])
    print(f"  {res['rate']:>12,.0f} msg/s  best {res['best_wall']:.3f} s of [{walls}] "
          f"(user {res['best_user']:.2f} s, sys {res['best_sys']:.2f} s) "
          f"on {res['messages']:,} messages; peak RSS {res['peak_rss_mb']:.0f} MB; "
          f"checks {'ok' if res['checks_ok'] else 'FAILED'}", flush=True)
    return res


def _machine() -> dict[str, str]:
    return machine(("polars", "numpy", "simplefix"))


def _table(results: dict[str, dict[str, object]]) -> tuple[list[str], list[str]]:
    lp = results["lpscore"]
    lp_rate = float(lp["rate"])  # type: ignore[arg-type]
    rows = [
        "| contender | messages/s (wall) | lpscore (1 core) / contender | messages timed | "
        "best wall s | CPU user + sys s | messages per CPU s | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    labels = {
        "lpscore": "lpscore `ingest_logs`, 1 core (validated, de-duplicated, typed)",
        "naive": "naive split on SOH into dict",
        "naive-validate": "naive + BodyLength/CheckSum check",
        "simplefix": f"simplefix {_machine()['simplefix']} FixParser",
        "lpscore-mt": "lpscore `ingest_logs`, default Polars threads (secondary)",
    }
    for name in ("lpscore", "naive", "naive-validate", "simplefix", "lpscore-mt"):
        r = results.get(name)
        if r is None:
            continue
        rate = float(r["rate"])  # type: ignore[arg-type]
        user, system = float(r["best_user"]), float(r["best_sys"])  # type: ignore[arg-type]
        per_cpu = float(r["messages"]) / max(user + system, 1e-9)  # type: ignore[arg-type]
        rows.append(
            f"| {labels[name]} | {rate:,.0f} | {lp_rate / rate:.2f} | {r['messages']:,} | "
            f"{r['best_wall']:.3f} | {user:.2f} + {system:.2f} | {per_cpu:,.0f} | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    targets = [
        "| target | required | measured | result |",
        "| --- | ---: | ---: | --- |",
        f"| lpscore messages/s on one core | >= {TARGET_RATE:,} | {lp_rate:,.0f} | "
        f"{'PASS' if lp_rate >= TARGET_RATE else 'MISS'} |",
    ]
    for name, need in (("naive", TARGET_VS_NAIVE), ("simplefix", TARGET_VS_SIMPLEFIX)):
        if name in results:
            ratio = lp_rate / float(results[name]["rate"])  # type: ignore[arg-type]
            targets.append(f"| lpscore vs {name} | >= {need:g}x | {ratio:.2f}x | "
                           f"{'PASS' if ratio >= need else 'MISS'} |")
    return rows, targets


def _write_results(results: dict[str, dict[str, object]], args: argparse.Namespace,
                   messages: int, size: int) -> None:
    m = _machine()
    m["load"] = args.load_before
    rows, targets = _table(results)
    lp = results["lpscore"]
    cmd = "python benchmarks/bench_fix_ingest.py --write-results"
    if args.messages != 1_000_000:
        cmd += f" --messages {args.messages}"
    text = [
        SECTION,
        "",
        f"Measured {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on: "
        f"{m['nproc']} CPUs ({m['cpu']}), {m['os']}, Python {m['python']}, "
        f"Polars {m['polars']}, NumPy {m['numpy']}, simplefix {m['simplefix']}. "
        f"Load average before the run: {m['load']} (the machine is shared; numbers are "
        "best of the repeats).",
        "",
        f"Input: {messages:,} synthetic FIX 4.4 messages, {size / 1e6:.0f} MB, QuickFIX-style "
        "lines with nanosecond capture prefixes, from `benchmarks/gen_fix_log.py` (seeded; "
        "~25% 35=D, ~60% 35=8 with some 453 groups, ~5% 35=F/9, ~10% 35=0). "
        f"lpscore reads the whole file, best of {args.repeat}; the baselines read the first "
        f"{args.baseline_sample:,} lines (extrapolated), best of {args.repeat}. Each contender "
        "runs in a fresh process pinned to one CPU with POLARS_MAX_THREADS=1 (except the "
        "secondary multi-threaded line), so peak RSS (ru_maxrss, includes the interpreter "
        "and imports) is per contender. Page cache warm.",
        "",
        "Reproduce: `" + cmd + "` (generates `benchmarks/data/fix_1m.log`, git-ignored, if "
        "missing).",
        "",
        *rows,
        "",
        *targets,
        "",
        f"Checks: lpscore file report balanced={lp['balanced']}, events {lp['events']:,} + "
        f"skipped (admin) {lp['skipped']:,} = {messages:,} messages, quarantined "
        f"{lp['quarantined']}; events table {lp['events_rows']:,} rows x "
        f"{lp['events_columns']} columns. lpscore peak RSS after imports, before ingest: "
        f"{float(lp['rss_import_mb']):.0f} MB. lpscore's runs took "  # type: ignore[arg-type]
        + ", ".join(f"{w:.2f}" for w in lp["walls"])  # type: ignore[attr-defined]
        + " s (the first also loads the scanner's compiled numba loops from their disk cache;"
        " compiling them, once after an install, takes ~10 s more). Naive-validate found "
        f"{results.get('naive-validate', {}).get('bad_frames', 'n/a')} bad frames; simplefix "
        "does not verify CheckSum or BodyLength.",
        "",
    ]
    replace_section(RESULTS, SECTION, "\n".join(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000,
                        help="messages to generate when the file is missing")
    parser.add_argument("--file", type=Path, default=None,
                        help="FIX log (default benchmarks/data/fix_1m.log, or fix_<N>.log)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-sample", type=int, default=200_000,
                        help="lines timed for the slow baselines (0: the whole file)")
    parser.add_argument("--write-results", action="store_true",
                        help=f"update {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--contenders", default="lpscore,naive,naive-validate,simplefix,"
                        "lpscore-mt")
    parser.add_argument("--profile", action="store_true",
                        help="profile the lpscore run instead of benchmarking")
    parser.add_argument("--profile-lines", type=int, default=15)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--messages-in-file", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--all-threads", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.file is None:
        args.file = DEFAULT_FILE if args.messages == 1_000_000 else (
            HERE / "data" / f"fix_{args.messages}.log")

    if args.contender:
        contender_main(args.contender, args)
        return 0
    if not args.file.exists():
        print(f"generating {args.file} ...", flush=True)
        subprocess.run([sys.executable, str(HERE / "gen_fix_log.py"), "--messages",
                        str(args.messages), "--out", str(args.file)], check=True)
    messages = count_lines(args.file)
    args.messages_in_file = messages
    if args.profile:
        text = profile_main(args)  # in this process: POLARS_MAX_THREADS=1, one CPU
        if args.write_results:
            write_profile(RESULTS, PROFILE_SECTION,
                          "python benchmarks/bench_fix_ingest.py --profile --write-results",
                          "same machine and file as above; one core", text)
        return 0
    size = args.file.stat().st_size
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.file}: {messages:,} messages, {size / 1e6:.1f} MB; load average "
          f"{args.load_before}")
    results: dict[str, dict[str, object]] = {}
    for name in args.contenders.split(","):
        results[name] = _child(name.strip(), args, messages)
    if "lpscore" in results:
        rows, targets = _table(results)
        print("\n" + "\n".join(rows) + "\n\n" + "\n".join(targets))
        if args.write_results:
            _write_results(results, args, messages, size)
    failed = [n for n, r in results.items() if not r.get("checks_ok")]
    if failed:
        print(f"CHECKS FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
