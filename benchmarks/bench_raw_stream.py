"""A raw SOH stream (messages back to back, no newlines, no capture prefix) -> columnar
events, against the same messages one per line and a naive per-message loop
(lpscore.fix.codec.FixStreamParser framing, then lpscore.fix.codec.decode of each message,
the heart of lpscore's raw path before it was compiled), in the same run, on one core.

    python benchmarks/bench_raw_stream.py [--messages 200000] [--repeat 3] [--write-results]

The messages are those of ``benchmarks/gen_fix_log.py`` (seed 20261122), generated on the
fly, with their capture prefixes cut off. Each contender reads the file from disk as
``lpscore ingest`` would (``ingest_logs``, validation on); the codec loop frames and decodes
a sample of the stream and is scaled to the whole.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from gen_fix_log import generate
from harness import machine, pin_one_cpu, replace_section
from lpscore.config import IngestConfig
from lpscore.fix.codec import FixStreamParser, decode
from lpscore.ingest.pipeline import ingest_logs

RESULTS = Path(__file__).parent / "RESULTS.md"
TITLE = "## FIX log -> columnar events: raw SOH streams (issue 2)"
SEED = 20261122


def _best(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """The best wall time of ``repeat`` runs after one warm-up, and what a run returns."""
    count = run()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        count = run()
        best = min(best, time.perf_counter() - started)
    return best, count


def _codec_loop(data: bytes) -> int:
    """What raw streams cost before: frame in Python, decode every message precisely."""
    parser = FixStreamParser()
    parser.feed(data)
    return sum(1 for _, raw, is_message in parser if is_message and decode(raw) is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=20_000,
                        help="messages the codec loop decodes (scaled to the whole)")
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args(argv)
    cpu = pin_one_cpu()
    lines, _ = generate(args.messages, SEED)
    messages = [line[line.index(b" : ") + 3 : -1] for line in lines]
    config = IngestConfig()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lpscore-raw-") as tmp:
        raw, by_line = Path(tmp) / "raw.fix", Path(tmp) / "lines.log"
        raw.write_bytes(b"".join(messages))
        by_line.write_bytes(b"".join(m + b"\n" for m in messages))
        for name, path in (("lpscore, raw SOH stream", raw),
                           ("lpscore, the same messages one per line", by_line)):
            seconds, events = _best(lambda p=path: ingest_logs([p], config).events.height,
                                    args.repeat)
            rows.append((name, seconds, events))
        sample = b"".join(messages[: args.sample])
        seconds, decoded = _best(lambda: _codec_loop(sample), 1)
        rows.append(("naive: FixStreamParser framing + codec.decode per message, scaled",
                     seconds * len(messages) / decoded, 0))
    table = ["| contender | messages/s | seconds | events |", "| --- | ---: | ---: | ---: |"]
    for name, seconds, events in rows:
        table.append(f"| {name} | {len(messages) / seconds:,.0f} | {seconds:.3f} | "
                     f"{events:,} |" if events else
                     f"| {name} | {len(messages) / seconds:,.0f} | {seconds:.3f} | |")
    info = machine(["polars", "numba"])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    section = "\n".join([
        TITLE, "",
        f"Measured {when} on: {info['nproc']} CPUs ({info['cpu']}), {info['mem']} RAM, "
        f"Python {info['python']}, Polars {info['polars']}, numba {info['numba']}; pinned to "
        f"CPU {cpu}; load {info['load']}.", "",
        f"Input: {len(messages):,} messages of `benchmarks/gen_fix_log.py` (seed {SEED}) "
        "without their capture prefixes, back to back (a raw SOH stream) and one per line. "
        f"Best of {args.repeat} after a warm-up, `ingest_logs` with validation on; the codec "
        f"loop decodes {args.sample:,} messages, scaled.", "",
        "Reproduce: `python benchmarks/bench_raw_stream.py --write-results`.", "",
        *table, ""])
    print(section)
    if args.write_results:
        replace_section(RESULTS, TITLE, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
