"""Live pipeline benchmarks (issue 8): sustained throughput of one worker, and latency from a
fill on the bus to its score visible in the store at 5,000 fills/s.

    python benchmarks/bench_stream.py --write-results

Input: the synthetic FIX log of benchmarks/gen_fix_log.py (8 LPs, ~60% execution reports),
without quotes (markouts null; the quote joins are measured in the KPI benchmark).

- throughput: the log replayed onto a 4-partition topic of librdkafka's mock cluster, a
  round of ``ROUND`` messages at a time (the mock cluster deletes older records past about
  5 MB a partition), and one ``Stream`` worker reads each round to its end: execution reports
  per second from the bus to published scores, over the polls that brought records (every
  poll publishes, or ``--throughput-publish-every``). The run fails unless the worker read
  every record. One more run (``--sustained-messages``, 1,000,000 by default) on a longer
  log of the same generator shows what the rate becomes as a running worker's state grows
  (the target row takes the lower of the two). Baseline in the same run: the naive loop,
  which re-runs the batch job (ingest, compute_kpis, publish) over everything received so
  far at every poll, on the first polls only (its cost grows with the history).
- latency: a producer thread paces the log at 5,000 fills/s onto the topic while the worker
  runs with an embedded Valkey store; a record's latency is from its produce call to the
  store write, in the first publish that covers its offset, of the contexts the polls
  changed (``Status.visible_at``: a write a reader sees at once; a publish between full
  ones writes those first, then the symbols it re-scores in turn); once
  per ``--publish-every`` interval (ms; 0: every poll publishes). The worker first takes
  ``--history`` messages of the same log unpaced (a running worker knows its contexts and
  carries their intervals, docs/stream.md); one more run starts cold, from nothing, and one
  paces the log at ``--steady-fills`` (default 1,000 fills/s), a rate a worker keeps up with.

A warm-up first decodes, computes and scores a small log, so that one-time costs (numba
compiling the FIX scanner, first calls) stay out of the measurements.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import polars as pl
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).parent))
from gen_fix_log import generate
from harness import machine, replace_section
from lpscore.config import Config
from lpscore.heap import settle_heap
from lpscore.ingest import ingest_logs
from lpscore.kpi.engine import compute_kpis
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish.publisher import publish_result, snapshots_of_stats
from lpscore.publish.store import open_store
from lpscore.quarantine import Quarantine
from lpscore.scoring import catalog, load_profile
from lpscore.stream.decode import Record, StreamDecoder
from lpscore.stream.kafka import KafkaSource
from lpscore.stream.processor import Processor
from lpscore.stream.replay import LogMessage, log_messages
from lpscore.stream.runner import Settings, Stream

RESULTS = Path(__file__).parent / "RESULTS.md"
TITLE = "## Live pipeline: throughput and latency (issue 8)"


def mock_cluster() -> tuple[object, str]:
    owner = Producer({"test.mock.num.brokers": 3})
    brokers = owner.list_topics(timeout=10).brokers.values()
    return owner, ",".join(f"{b.host}:{b.port}" for b in brokers)


def settings(max_records: int, publish_every_s: float = 0.0) -> Settings:
    specs = catalog(["100ms", "1s", "5s", "30s", "60s"])
    return Settings(Config(), load_profile("block", specs), specs,
                    pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)), final_after_s=30.0,
                    max_records=max_records, publish_every_s=publish_every_s)


def warm_up(seed: int) -> float:
    """Decode, compute and score a 300-message log once, so that the measured runs pay no
    one-time costs (numba compiling the FIX scanner, imports, first Polars calls): seconds."""
    start = time.perf_counter()
    lines, _ = generate(300, seed)
    s = settings(1_000)
    records = [Record("warm-up", i, m.value, m.capture_ns)
               for i, m in enumerate(log_messages_of(b"".join(lines)))]
    processor = Processor(s.config, s.profile, s.quotes, final_after_s=s.final_after_s)
    quarantine = Quarantine()
    processor.add(StreamDecoder(s.config.ingest).decode(records, quarantine), quarantine)
    stats = processor.stats()
    if stats is not None:
        snapshots_of_stats(stats, s.profile, s.specs)
    return time.perf_counter() - start


def log_messages_of(data: bytes) -> list[LogMessage]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm.log"
        path.write_bytes(data)
        return list(log_messages([path]))


def produce(messages: list[LogMessage], bootstrap: str, topic: str,
            fills_per_s: float | None, sent: dict[tuple[int, int], float]) -> int:
    """Produce ``messages``; ``sent`` gets (partition, offset) -> produce time."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    fills = np.cumsum([b"\x0139=" in m.value and b"\x01150=F" in m.value for m in messages])
    started = time.monotonic()
    for i, message in enumerate(messages):
        if fills_per_s:
            wait = started + fills[i] / fills_per_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        at = time.monotonic()

        def done(err: object, msg: object, at: float = at) -> None:
            if err is None:
                sent[(msg.partition(), msg.offset())] = at  # type: ignore[attr-defined]

        headers = [("capture_ns", str(message.capture_ns).encode())] if message.capture_ns else []
        partition = {} if message.key else {"partition": 0}
        producer.produce(topic, message.value, key=message.key, headers=headers,
                         on_delivery=done, **partition)
        producer.poll(0)
    producer.flush(60)
    return len(messages)


ROUND = 40_000
"""Messages a throughput run puts on the topic at a time. librdkafka's mock cluster keeps
about 5 MB a partition and deletes older records: a consumer behind them skips ahead (to the
new earliest offset) and never sees them. So the log goes onto the topic a round at a time,
untimed, and the worker reads each round to its end (timed) before the next is produced;
40,000 messages of about 300 bytes over 4 partitions stay well inside that."""

STALL_S = 30.0
"""A throughput run fails when no record comes for this long while some are missing."""


def throughput(log: Path, bootstrap: str, n_execs: int, publish_every_s: float = 0.0,
               max_records: int = 50_000) -> dict[str, float]:
    """One worker reading the log from the topic in rounds (``ROUND``), timed while it has
    records to read, and until the publish that covers the last of them. Fails unless it
    read every record produced."""
    topic = f"tp-{uuid.uuid4().hex[:6]}"
    messages = list(log_messages([log]))
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = Stream(KafkaSource(bootstrap, topic, f"g{uuid.uuid4().hex[:6]}"),
                    settings(max_records, publish_every_s), store)
    settle_heap()   # as `lpscore stream` does; the log read above is set aside with the rest
    busy = 0.0  # the polls that brought records: group join and idle polls left out
    publishing = 0.0
    cpu = 0.0   # process CPU seconds of those polls (every thread: Polars', librdkafka's)
    polls = 0
    covered = 0   # publishes when the last records came: one more must follow them
    produced = 0
    for start in range(0, len(messages), ROUND):
        produced += produce(messages[start:start + ROUND], bootstrap, topic, None, {})
        quiet = time.monotonic()
        while stream.status.records < produced or stream.status.publishes <= covered:
            if time.monotonic() - quiet > STALL_S:
                raise RuntimeError(
                    f"read {stream.status.records:,} of {produced:,} records produced: the "
                    "mock cluster deleted records before the worker read them (make ROUND "
                    "smaller)")
            if stream.status.records >= produced and start + ROUND < len(messages):
                break   # the round is read: the publish that covers it may come later
            clock, ticks = time.perf_counter(), time.process_time()
            published = stream.status.publishes
            got = stream.step()
            took = (stream.status.publish_ms or 0.0) / 1e3
            if stream.status.publishes == published:
                took = 0.0
            if got:
                quiet = time.monotonic()
                busy += time.perf_counter() - clock
                cpu += time.process_time() - ticks
                polls += 1
                covered = stream.status.publishes - (stream.status.publishes != published)
            elif took:   # a publish on an idle poll (--publish-every): its work, not the wait
                busy += took
                cpu += time.process_time() - ticks
            publishing += took
    stream.close()
    if stream.status.records != len(messages):
        raise RuntimeError(f"read {stream.status.records:,} records of {len(messages):,}")
    return {"wall_s": busy, "execs_per_s": n_execs / busy,
            "publish_share": publishing / busy, "contexts": len(store.contexts("block")),
            "cpu_s": cpu, "polls": polls, "publishes": stream.status.publishes,
            "process_execs_per_s": n_execs / (busy - publishing),
            "records": stream.status.records}


def naive(log: Path, polls: int, per_poll: int) -> dict[str, float]:
    """Re-run the batch job over everything so far at each of the first ``polls`` polls."""
    lines = log.read_bytes().splitlines(keepends=True)
    config = Config()
    specs = catalog(["100ms", "1s", "5s", "30s", "60s"])
    profile = load_profile("block", specs)
    store = open_store(f"memory://{uuid.uuid4().hex}")
    quotes = pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
    with tempfile.TemporaryDirectory() as tmp:
        part = Path(tmp) / "so_far.log"
        start = time.perf_counter()
        execs = 0
        for k in range(1, polls + 1):
            chunk = lines[:k * per_poll]
            part.write_bytes(b"".join(chunk))
            ingested = ingest_logs([part], config.ingest, Quarantine())
            publish_result(compute_kpis(ingested.events, quotes, config), profile, specs, store)
            execs = sum(b"\x0135=8\x01" in line for line in chunk)
        wall = time.perf_counter() - start
    return {"wall_s": wall, "execs_per_s": execs / wall, "polls": polls}


def latency(log: Path, bootstrap: str, fills_per_s: float,
            publish_every_s: float = 0.0, history: Path | None = None) -> dict[str, float]:
    """Latency of ``log`` produced at ``fills_per_s``; with ``history``, a stream that has
    already taken that log (unpaced) and published it: the steady state of a running
    worker, whose contexts are known, not a worker meeting every context for the first
    time."""
    topic = f"lat-{uuid.uuid4().hex[:6]}"
    store = open_store("valkey+embedded://")
    stream = Stream(KafkaSource(bootstrap, topic, f"g{uuid.uuid4().hex[:6]}"),
                    settings(20_000, publish_every_s), store)
    settle_heap()   # as `lpscore stream` does
    Producer({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    while not stream.lanes:
        stream.step()
    if history is not None:
        total = produce(list(log_messages([history])), bootstrap, topic, None, {})
        while stream.status.records < total:
            stream.step()
        stream.publish()                       # every context, intervals drawn or carried
    sent: dict[tuple[int, int], float] = {}
    covered: list[tuple[float, dict[int, int]]] = []
    polls: list[tuple[float, float]] = []   # (poll ms, publish ms) of polls that published
    published = stream.status.publishes
    n = [0]
    producer = threading.Thread(target=lambda: n.__setitem__(
        0, produce(list(log_messages([log])), bootstrap, topic, fills_per_s, sent)))
    producer.start()
    idle = 0
    read: dict[int, int] = {}
    while producer.is_alive() or idle < 3:
        start = time.perf_counter()
        got = stream.step()
        read = {int(k.rpartition("/")[2]): int(stream.source.position(k)["offset"])
                for k in stream.lanes}
        if stream.status.publishes != published:    # a publish: it covers what was read
            published = stream.status.publishes
            visible = stream.status.visible_at       # when it had written what changed
            covered.append((time.monotonic() if visible is None else visible, read))
            polls.append(((time.perf_counter() - start) * 1e3, stream.status.publish_ms or 0.0))
        idle = 0 if got or producer.is_alive() else idle + 1
    stream.close()
    store.close()
    lat = []
    for (partition, offset), at in sent.items():
        for when, positions in covered:
            if positions.get(partition, 0) > offset:
                lat.append((when - at) * 1e3)
                break
    values = np.array(lat)
    cost = np.array(polls)
    return {"n": len(values), "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)), "max_ms": float(values.max()),
            "publishes": len(polls), "poll_ms_p50": float(np.median(cost[:, 0])),
            "publish_ms_p50": float(np.median(cost[:, 1]))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--latency-messages", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=20_000,
                        help="messages a latency run's worker takes before the paced ones")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--publish-every", type=float, nargs="+", default=[0.0, 50.0],
                        help="publish intervals (ms) of the latency runs")
    parser.add_argument("--throughput-publish-every", type=float, nargs="+",
                        default=[0.0, 1000.0],
                        help="publish intervals (ms) of the throughput runs (the first is "
                        "the one profiled in the text)")
    parser.add_argument("--max-records", type=int, default=50_000,
                        help="records a throughput poll takes at most (the micro-batch)")
    parser.add_argument("--steady-fills", type=float, default=1_000.0,
                        help="fills/s of one more latency run, at a rate a worker keeps up with")
    parser.add_argument("--sustained-messages", type=int, default=1_000_000,
                        help="messages of one more throughput run, at the last "
                        "--throughput-publish-every, long enough that the state grows as a "
                        "running worker's does (0: skip)")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    owner, bootstrap = mock_cluster()
    print(f"warm-up {warm_up(args.seed + 2):.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "fix.log"
        lines, _ = generate(args.messages, args.seed)
        log.write_bytes(b"".join(lines))
        n_execs = sum(b"\x0135=8\x01" in line for line in lines)
        short, past = Path(tmp) / "short.log", Path(tmp) / "history.log"
        both, _ = generate(args.history + args.latency_messages, args.seed + 1)
        past.write_bytes(b"".join(both[:args.history]))
        short.write_bytes(b"".join(both[args.history:]))
        paced_fills = sum(b"\x0139=" in line and b"\x01150=F" in line
                          for line in both[args.history:])
        print(f"{args.messages:,} messages, {n_execs:,} execution reports", flush=True)
        tps = {}
        for every in args.throughput_publish_every:
            tps[every] = throughput(log, bootstrap, n_execs, every / 1e3, args.max_records)
            print(f"throughput (publish every {every:g} ms)", tps[every], flush=True)
        tp = tps[args.throughput_publish_every[0]]
        best = max(tps.values(), key=lambda r: r["execs_per_s"])
        sustained: dict[str, float] | None = None
        if args.sustained_messages:
            long_log = Path(tmp) / "long.log"
            long_lines, _ = generate(args.sustained_messages, args.seed)
            long_log.write_bytes(b"".join(long_lines))
            long_execs = sum(b"\x0135=8\x01" in line for line in long_lines)
            del long_lines
            every = args.throughput_publish_every[-1]
            sustained = {**throughput(long_log, bootstrap, long_execs, every / 1e3,
                                      args.max_records), "execs": long_execs, "every": every}
            print(f"sustained throughput, {args.sustained_messages:,} messages (publish "
                  f"every {every:g} ms)", sustained, flush=True)
        base = ({"wall_s": 0.0, "execs_per_s": 0.0, "polls": 0} if args.skip_naive
                else naive(log, polls=4, per_poll=50_000))
        print("naive", base, flush=True)
        lats = {}
        for every in args.publish_every:
            lats[every] = latency(short, bootstrap, 5_000, every / 1e3,
                                  past if args.history else None)
            print(f"latency (publish every {every:g} ms)", lats[every], flush=True)
        lat = min(lats.values(), key=lambda r: r["p99_ms"])
        cold = latency(short, bootstrap, 5_000, args.publish_every[0] / 1e3)
        print(f"latency, cold (publish every {args.publish_every[0]:g} ms)", cold, flush=True)
        steady = latency(short, bootstrap, args.steady_fills, args.publish_every[0] / 1e3,
                         past if args.history else None)
        print(f"latency at {args.steady_fills:g} fills/s", steady, flush=True)
    del owner
    rate = best["execs_per_s"] if sustained is None else min(best["execs_per_s"],
                                                               sustained["execs_per_s"])
    if args.write_results:
        info = machine(["polars", "confluent-kafka", "redis"])
        after = " ".join(f"{x:.2f}" for x in os.getloadavg())
        latency_rows = [
            f"| {label} | {every:g} | {r['publishes']:,} | {r['poll_ms_p50']:,.0f} | "
            f"{r['publish_ms_p50']:,.0f} | {r['p50_ms']:,.0f} | {r['p99_ms']:,.0f} | "
            f"{r['max_ms']:,.0f} |"
            for label, every, r in [
                *((f"after {args.history:,} messages of history", e, r)
                  for e, r in lats.items()),
                ("cold: the worker meets every context for the first time",
                 args.publish_every[0], cold),
                (f"after {args.history:,} messages of history, paced at "
                 f"{args.steady_fills:,.0f} fills/s instead", args.publish_every[0], steady)]]
        section = "\n".join([
            TITLE, "",
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on: {info['nproc']} "
            f"CPUs ({info['cpu']}), {info['mem']} RAM, {info['os']}, Python {info['python']}, "
            f"Polars {info['polars']}, confluent-kafka {info['confluent-kafka']}. Load average "
            f"before the run: {load_before}, after: {after} (the machine is shared; other work "
            "on it lands in the wall times).", "",
            f"Input: `benchmarks/gen_fix_log.py` (seed {args.seed}), {args.messages:,} messages "
            f"({n_execs:,} execution reports), no quotes. Bus: librdkafka's mock cluster, "
            "3 brokers, a 4-partition topic keyed by symbol; one worker; profile block. One "
            "warm-up before measuring (a 300-message log decoded, computed and scored: numba "
            "compiles the FIX scanner, about 2 s that the earlier runs counted as busy "
            "time).", "",
            "Reproduce: `python benchmarks/bench_stream.py --write-results`.", "",
            f"Throughput: the log goes onto the topic {ROUND:,} messages at a time (librdkafka's "
            "mock cluster keeps about 5 MB a partition and deletes older records, which a "
            "consumer behind them never sees); the worker reads each round to its end before "
            "the next is produced, and only its polls that brought records (and publishes) are "
            "timed. It must read every record produced, or the run fails. The first publish "
            "re-scores every context present then, and a run ends with the publish that covers "
            "its last record (its time counted, not the wait for it).", "",
            "| contender | execution reports/s | wall s | process CPU s |",
            "| --- | ---: | ---: | ---: |",
            *(f"| lpscore stream, polls of up to {args.max_records:,} records, "
              f"{'every poll publishes' if not every else f'--publish-every {every:g}'} "
              f"({r['polls']} polls with records, {r['publishes']} publishes, "
              f"{r['contexts']:,} contexts) | {r['execs_per_s']:,.0f} | {r['wall_s']:.1f} | "
              f"{r['cpu_s']:.1f} |" for every, r in tps.items()),
            f"| the first run without its publish time (decode and KPI engine only) | "
            f"{tp['process_execs_per_s']:,.0f} | "
            f"{tp['wall_s'] * (1 - tp['publish_share']):.1f} | |",
            *([] if sustained is None else [
                f"| sustained: the same worker on {args.sustained_messages:,} messages "
                f"({sustained['execs']:,.0f} execution reports) of the same generator, "
                f"--publish-every {sustained['every']:g} ({sustained['polls']:.0f} polls with "
                f"records, {sustained['publishes']:.0f} publishes, {sustained['contexts']:,.0f} "
                f"contexts; publishing {100 * sustained['publish_share']:.0f}% of the time, "
                f"the rest {sustained['process_execs_per_s']:,.0f} ER/s) | "
                f"{sustained['execs_per_s']:,.0f} | {sustained['wall_s']:.1f} | "
                f"{sustained['cpu_s']:.1f} |"]),
            f"| naive loop: the batch job over everything so far at each poll (first "
            f"{base['polls']} polls of 50,000 lines) | {base['execs_per_s']:,.0f} | "
            f"{base['wall_s']:.1f} | |", "",
            f"Latency at 5,000 fills/s ({args.latency_messages:,} messages, {paced_fills:,} "
            "fills, paced by fills; embedded Valkey store), from the produce call to the store "
            "write of the changed contexts in the publish that covers the record "
            "(`Status.visible_at`; a publish between full ones writes them before the symbols "
            "it re-scores in turn), per `--publish-every` interval. A running "
            f"worker has seen its contexts before: it first takes {args.history:,} messages of "
            "the same log unpaced and publishes them; the cold run starts from nothing, so "
            "every context is new to it (and drawn); the last run paces the same log at "
            f"{args.steady_fills:,.0f} fills/s:", "",
            "| worker | publish every (ms) | publishes | median poll ms | median publish ms | "
            "p50 ms | p99 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", *latency_rows, "",
            "| target | required | measured | result |", "| --- | ---: | ---: | --- |",
            "| sustained throughput, one worker | >= 50,000 ER/s | "
            + (f"{best['execs_per_s']:,.0f} ER/s" if sustained is None else
               f"{sustained['execs_per_s']:,.0f} ER/s over {args.sustained_messages:,} "
               f"messages ({best['execs_per_s']:,.0f} over {args.messages:,})")
            + f" | {'PASS' if rate >= 50_000 else 'MISS'} |",
            f"| bus -> score visible, p99 at 5,000 fills/s | <= 5 ms | {lat['p99_ms']:,.0f} ms | "
            f"{'PASS' if lat['p99_ms'] <= 5 else 'MISS'} |", "",
            f"Where the time goes now: publishing took {100 * tp['publish_share']:.0f}% of the "
            "first throughput run's busy time. A publish draws the posterior intervals of at "
            "most 32 contexts and carries or leaves pending the others' (docs/stream.md, "
            "'Intervals are carried'); the rest of it is scoring the contexts it re-scores and "
            "merging the lanes' statistics. What is left is the processing of a poll: "
            "decoding, the KPI engine on the touched orders and the statistics roll-ups, "
            "several of them over the whole live state (the live rows replaced, the closed "
            "units filtered out, the lane's statistics rolled up for the publish): "
            f"{tp['process_execs_per_s']:,.0f} execution reports/s in polls of "
            f"{args.max_records:,} records without the publishes. The latency runs offer "
            f"{paced_fills:,} fills in {args.latency_messages:,} messages at 5,000 fills/s, "
            "more messages a second than a worker processes in small polls, so the polls grow "
            "to the backlog (median poll "
            f"{lat['poll_ms_p50']:,.0f} ms in the run with the lowest p99) and the p99 is the "
            "time of the largest poll. See docs/stream.md, Performance, for what would close "
            "the gap.", ""])
        replace_section(RESULTS, TITLE, section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
