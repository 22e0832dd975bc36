"""``lpscore stream --quote-source``: a quote CSV followed while the FIX log grows, or a Kafka
topic of quote rows; bad quotes quarantined with their offsets; a restart from the
checkpoint takes the quotes it lacks."""

from __future__ import annotations

import dataclasses
import pickle
import time
import uuid
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from kafkamock import fresh_topic
from lpscore.config import Config
from lpscore.ingest import ingest_logs
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis, horizon_label
from lpscore.marketdata import load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish.store import open_store
from lpscore.quarantine import Quarantine
from lpscore.scoring import catalog, load_profile
from lpscore.stats.table import Stats
from lpscore.stream.files import FollowFile
from lpscore.stream.quotes import QuoteFeed
from lpscore.stream.runner import Settings, Stream
from lpstats import assert_same_lp_sums
from realdata import AMZN_MESSAGES, DEMO_LOG

STEPS = 8
CROSSED = b"2012-06-21T13:30:00.5Z,AMZN,221.0,220.0,100,100\n"


@pytest.fixture(scope="module")
def day() -> tuple[list[bytes], list[datetime], pl.DataFrame]:
    """The demo log's lines with their capture times, and the AMZN quotes."""
    lines = DEMO_LOG.read_bytes().splitlines(keepends=True)
    times = [datetime.strptime(line[:24].decode(), "%Y%m%d-%H:%M:%S.%f")
             if line[:2] == b"20" else None for line in lines]
    last = None
    filled = []
    for t in times:          # a line without a prefix goes with the one before it
        last = t or last
        filled.append(last)
    quotes = load_quotes([AMZN_MESSAGES], Config().marketdata, Quarantine()).quotes
    return lines, filled, quotes  # type: ignore[return-value]


def csv_lines(quotes: pl.DataFrame) -> list[bytes]:
    text = quotes.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.9fZ")).write_csv(
        include_header=False)
    return [line.encode() + b"\n" for line in text.splitlines()]


def settings(checkpoint: Path | None) -> Settings:
    config = Config()
    specs = catalog([horizon_label(h) for h in config.kpi.horizons_ms])
    profile = dataclasses.replace(load_profile("block", specs), decay=None)
    return Settings(config, profile, specs, pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)),
                    checkpoint_root=checkpoint, checkpoint_every_s=0.0)


def assert_same_as_batch(stats: Stats | None, quotes: pl.DataFrame) -> None:
    config = Config()
    events = ingest_logs([DEMO_LOG], config.ingest, Quarantine()).events
    batch = kpi_stats(compute_kpis(events, quotes, config, Quarantine()), ["lp"])
    assert stats is not None
    assert_same_lp_sums(stats, batch)


def feed_in_steps(tmp_path: Path, day: tuple[list[bytes], list[datetime], pl.DataFrame],
                  steps: range, checkpoint: Path | None,
                  files: tuple[Path, Path] | None = None) -> tuple[Stream, tuple[Path, Path]]:
    """Append step ``i``'s quotes, then its log lines, then poll, for ``i`` in ``steps``."""
    lines, times, quotes = day
    log, nbbo = files or (tmp_path / "fix.log", tmp_path / "nbbo.csv")
    if files is None:
        log.write_bytes(b"")
        nbbo.write_bytes(b"ts,symbol,bid,ask,bid_size,ask_size\n")
    start, end = times[0], times[-1]
    cuts = [start + (end - start) * (i / STEPS) for i in range(1, STEPS)] + [None]
    feed = QuoteFeed.open(f"file://{nbbo}", Config().marketdata)
    stream = Stream(FollowFile(log), settings(checkpoint),
                    open_store(f"memory://{uuid.uuid4().hex}"), quote_feed=feed)
    q_ts = quotes["ts"].dt.replace_time_zone(None)
    for i in steps:
        lo = cuts[i - 1] if i else None
        hi = cuts[i]
        pick = pl.Series([True] * quotes.height)
        if lo is not None:
            pick &= q_ts >= lo
        if hi is not None:
            pick &= q_ts < hi
        with nbbo.open("ab") as f:
            f.write(b"".join(csv_lines(quotes.filter(pick))))
            if i == 1:
                f.write(CROSSED)
        with log.open("ab") as f:
            f.write(b"".join(line for line, t in zip(lines, times, strict=True)
                             if (lo is None or t >= lo) and (hi is None or t < hi)))
        while stream.step():
            pass
    return stream, (log, nbbo)


def test_followed_quotes_complete_the_markouts_as_the_batch(
        tmp_path: Path, day: tuple[list[bytes], list[datetime], pl.DataFrame]) -> None:
    stream, (log, nbbo) = feed_in_steps(tmp_path, day, range(STEPS), None)
    lane = stream.lanes[str(log)]
    assert stream.status.quotes == day[2].height
    feed = stream.quote_feed
    assert feed is not None
    assert feed.counts["quarantined"] == 1 and feed.counts["lines"] == day[2].height + 2
    (record,) = feed.quarantine.records
    assert record.reason == "crossed_quote" and record.source == str(nbbo)
    assert nbbo.read_bytes()[record.offset:].startswith(CROSSED)
    assert_same_as_batch(lane.processor.stats(), day[2])
    stream.close()


def test_a_restart_takes_the_quotes_it_lacks(
        tmp_path: Path, day: tuple[list[bytes], list[datetime], pl.DataFrame]) -> None:
    """Half the day, a checkpoint, a new process (a new feed reading the quote file from
    its start), the rest of the day: the batch job's numbers, nothing taken twice."""
    ckpt = tmp_path / "ckpt"
    first, files = feed_in_steps(tmp_path, day, range(STEPS // 2), ckpt)
    held = first.lanes[str(files[0])].processor.quotes.height
    first.close()
    (lane_dir,) = ckpt.iterdir()       # the quotes apart from the pickle, each row once
    assert pickle.loads((lane_dir / "state.pkl").read_bytes())["processor"].quotes is None
    parts = sorted(lane_dir.glob("quotes-*.arrow"))
    assert len(parts) > 1 and sum(pl.read_ipc(p.read_bytes()).height for p in parts) == held > 0
    second, _ = feed_in_steps(tmp_path, day, range(STEPS // 2, STEPS), ckpt, files)
    lane = second.lanes[str(files[0])]
    assert lane.processor.quotes.height == day[2].height
    assert_same_as_batch(lane.processor.stats(), day[2])
    second.close()


def test_a_kafka_quote_topic(kafka: str, tmp_path: Path,
                             day: tuple[list[bytes], list[datetime], pl.DataFrame]) -> None:
    """The day's quotes as one row per record on a 4-partition topic keyed by symbol (each
    symbol's quotes in order in one partition), plus a crossed row and another symbol's
    quotes in other partitions; the demo log followed from a file, all there from the
    start, so units are computed before their quotes arrive and recomputed when they do."""
    from confluent_kafka import Producer  # noqa: PLC0415

    _, _, quotes = day
    topic = fresh_topic(kafka, "nbbo")
    # idempotent: a retried batch cannot overtake a later one, so each partition stays in
    # time order (what the quote feed asks of its producer, docs/stream.md)
    producer = Producer({"bootstrap.servers": kafka, "enable.idempotence": True})
    others = quotes.head(300).with_columns(pl.lit("XYZ").alias("symbol"))
    for row in csv_lines(others):                 # noise: another symbol, read first
        producer.produce(topic, value=row, key=b"XYZ")
    for row in [*csv_lines(quotes), CROSSED]:
        producer.produce(topic, value=row, key=b"AMZN")
    assert producer.flush(10) == 0
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    feed = QuoteFeed.open(f"kafka://{kafka}/{topic}", Config().marketdata)
    stream = Stream(FollowFile(log), settings(None),
                    open_store(f"memory://{uuid.uuid4().hex}"), quote_feed=feed)
    deadline = time.monotonic() + 30
    while feed.counts["lines"] < quotes.height + 301 and time.monotonic() < deadline:
        stream.step()
    stream.run(until_idle_s=0.5)
    assert feed.counts["quotes"] == quotes.height + 300 and feed.counts["quarantined"] == 1
    (record,) = feed.quarantine.records
    assert record.reason == "crossed_quote" and record.source.startswith(f"kafka:{topic}/")
    assert record.raw == CROSSED.rstrip().decode()
    assert_same_as_batch(stream.lanes[str(log)].processor.stats(), quotes)
    stream.close()
    feed.close()
