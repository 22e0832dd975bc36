"""The live pipeline: a replayed log gives the batch job's scores, through a followed file and
through Kafka (librdkafka's mock cluster); crashes and rebalances lose and repeat nothing."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import math
import os
import pickle
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from cards import assert_same_cards
from clirun import command, lpscore
from kafkamock import fresh_topic
from lpscore.cli import app
from lpscore.config import Config, IngestConfig, load_config
from lpscore.errors import InputError
from lpscore.fix.codec import encode
from lpscore.ingest import ingest_logs
from lpscore.kpi import aggregate
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis
from lpscore.marketdata import load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish.publisher import snapshots_of
from lpscore.publish.snapshot import Snapshot, context_key
from lpscore.publish.store import ScoreStore, open_store
from lpscore.quarantine import Quarantine
from lpscore.scoring import Scorecard, catalog, config_catalog, load_profile, score_levels
from lpscore.sim.loop import Simulation
from lpscore.sim.scenario import load_scenario
from lpscore.stats.dense import DenseStats
from lpscore.stats.table import Stats
from lpscore.stream import processor as processor_module
from lpscore.stream import runner as runner_module
from lpscore.stream.decode import Record, StreamDecoder
from lpscore.stream.files import FollowFile
from lpscore.stream.partials import encode_stats
from lpscore.stream.processor import FINEST, Processor, add_all
from lpscore.stream.replay import replay_logs
from lpscore.stream.runner import Settings, Stream
from realdata import AMZN_MESSAGES, DEMO_LOG, MOEX, MOEX_ORDERS

SMALL = Path(__file__).parents[1] / "data" / "sim" / "small.toml"


def no_quotes() -> pl.DataFrame:
    return pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))


def batch_snapshots(log: Path, quotes: pl.DataFrame, config: Config) -> dict[str, Snapshot]:
    """What ``lpscore publish`` would publish for ``log``: context key -> snapshot."""
    q = Quarantine()
    ingested = ingest_logs([log], config.ingest, q)
    result = compute_kpis(ingested.events, quotes, config, q)
    specs = catalog(result.horizons)
    snaps = snapshots_of(result, load_profile("block", specs), specs, now_ns=0)
    return {context_key(snap.context): snap for snap in snaps}


def assert_same_scores(store: ScoreStore, batch: dict[str, Snapshot]) -> None:
    """Every published context equals the batch's: LPs in the same order, scores, intervals,
    evidence and KPI values to 1e-9."""
    assert batch, "the batch run published nothing: the comparison would be empty"
    assert sorted(store.contexts("block")) == sorted(batch)
    for key, want in batch.items():
        got = store.get("block", key)
        assert got is not None, key
        assert [s["lp"] for s in got.scores] == [s["lp"] for s in want.scores], key
        for a, b in zip(got.scores, want.scores, strict=True):
            for name in ("score", "ci_low", "ci_high", "n_orders", "n_eff"):
                assert a[name] == pytest.approx(b[name], rel=1e-9, abs=1e-9), (key, name)
            for kpi, value in b["kpis"].items():
                if value is None:
                    assert a["kpis"][kpi] is None, (key, kpi)
                else:
                    assert a["kpis"][kpi] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, kpi)


def run_file_stream(log: Path, quotes: pl.DataFrame, config: Config, store: ScoreStore,
                    checkpoint: Path | None = None, final_after_s: float = 300.0,
                    max_records: int = 700, close_every_s: float = 1.0,
                    idle_after_s: float = 86_400.0) -> Stream:
    specs = catalog([f"{h // 1000}s" if h % 1000 == 0 else f"{h}ms"
                     for h in config.kpi.horizons_ms])
    settings = Settings(config, load_profile("block", specs), specs, quotes,
                        checkpoint_root=checkpoint, final_after_s=final_after_s,
                        max_records=max_records, close_every_s=close_every_s,
                        idle_after_s=idle_after_s)
    stream = Stream(FollowFile(log), settings, store)
    stream.run(until_idle_s=0.3)
    stream.close()
    return stream


def follow_demo(tmp_path: Path, quotes: pl.DataFrame, **options: Any
                ) -> tuple[Path, Config, ScoreStore, Stream]:
    """A stream following a copy of the demo log under the block profile into a fresh
    memory store, with ``options`` (Settings fields): the log, the config, the store, the
    stream."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    config = Config()
    specs = config_catalog(config.kpi)
    settings = Settings(config, load_profile("block", specs), specs, quotes, **options)
    store = open_store(f"memory://{uuid.uuid4().hex}")
    return log, config, store, Stream(FollowFile(log), settings, store)


@pytest.fixture(scope="module")
def amzn_quotes() -> pl.DataFrame:
    return load_quotes([AMZN_MESSAGES], Config().marketdata, Quarantine()).quotes


@pytest.mark.parametrize(("final_after_s", "close_every_s"), [(1e9, 1.0), (1.0, 0.0),
                                                               (1.0, 1.0)])
def test_followed_log_gives_the_batch_scores(tmp_path: Path, amzn_quotes: pl.DataFrame,
                                             final_after_s: float, close_every_s: float
                                             ) -> None:
    """The demo log (four LPs on the real AMZN book) through a followed file, in polls of
    700 records, with orders kept live to the end or closed one second after they finish,
    after every poll or at most once a second."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    config = Config()
    store = open_store(f"memory://{uuid.uuid4().hex}")
    closes = []
    close = Processor.close_finished

    def counted(self: Processor, quarantine: Quarantine) -> int:
        closes.append(time.monotonic())
        return close(self, quarantine)

    with mock.patch.object(Processor, "close_finished", counted):
        stream = run_file_stream(log, amzn_quotes, config, store, final_after_s=final_after_s,
                                 close_every_s=close_every_s)
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))
    lane = stream.lanes[str(log)]
    counts = lane.decoder.counts
    assert counts["records"] == counts["event"] + counts["admin"] + counts["not_used"] + \
        counts["duplicate"] + counts["quarantined"] + counts["skipped_lines"]
    assert lane.quarantine.by_reason() == {"bad_checksum": 1}
    if final_after_s < 10 and not close_every_s:
        assert lane.processor.counts["closed_units"] > 500  # memory follows open orders
    assert closes and min(map(float.__sub__, closes[1:], closes[:-1]),
                          default=math.inf) >= close_every_s
    assert len(closes) > 1 or close_every_s


def test_a_lanes_state_stays_in_one_chunk_poll_after_poll(tmp_path: Path,
                                                          amzn_quotes: pl.DataFrame) -> None:
    """The frames a lane keeps from poll to poll (the live events and statistics, the
    duplicate history) are put together with each poll's rows; they stay one chunk,
    whose queries do not slow down as a chunk per poll would make them."""
    _, _, _, stream = follow_demo(tmp_path, amzn_quotes, max_records=50)
    polls = 0
    while stream.step() and polls < 40:
        polls += 1
    assert polls == 40
    lane = next(iter(stream.lanes.values()))
    rows = lane.processor.rows
    assert lane.processor.events is not None and rows is not None
    assert lane.decoder.history is not None
    frames = {"events": lane.processor.events, "history": lane.decoder.history,
              "sums": rows.sums, "sketches": rows.sketches, "counts": rows.counts}
    assert all(f.height for f in frames.values()), {k: f.height for k, f in frames.items()}
    assert {k: f.n_chunks("all") for k, f in frames.items()} == {
        k: [1] * f.width for k, f in frames.items()}
    stream.close()


@pytest.mark.parametrize("per_poll", [40, 100])
def test_closed_orders_quarantine_late_messages_and_the_rest_gives_the_batch_scores(
        tmp_path: Path, amzn_quotes: pl.DataFrame, per_poll: int) -> None:
    """Orders closed one second after they finish, in small polls: the demo log's bust
    (and correction) that come tens of seconds after their order closed, and after the
    unit's index was forgotten, are quarantined as late (``late_after_final``), not taken
    for reports of orders never seen; the scores are the batch job's on the log without
    them, so every difference from the batch is a record in the quarantine."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    config = Config()
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = run_file_stream(log, amzn_quotes, config, store, final_after_s=1.0,
                             max_records=per_poll, close_every_s=0.0)
    lane = stream.lanes[str(log)]
    late = {r.offset for r in lane.quarantine.records if r.reason == "late_after_final"}
    data = log.read_bytes()
    bust = data.index(b"\x01150=H\x01")
    assert data.rindex(b"\n", 0, bust) + 1 in late
    assert lane.processor.counts["late_after_final"] == len(late)
    kept = tmp_path / "kept.log"
    lines = data.splitlines(keepends=True)
    offsets = itertools.accumulate(map(len, lines), initial=0)
    kept.write_bytes(b"".join(line for offset, line in zip(offsets, lines, strict=False)
                              if offset not in late))
    assert_same_scores(store, batch_snapshots(kept, amzn_quotes, config))


def test_orders_idle_while_working_close_too_and_the_rest_gives_the_batch_scores(
        tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """``idle_after_s`` (``--idle-after``): a unit with an order still working closes once
    its last event is that old, as it stands; the messages that come for it later are
    quarantined as late, and the scores are the batch job's on the log without them."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    config = Config()
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = run_file_stream(log, amzn_quotes, config, store, final_after_s=1.0,
                             idle_after_s=2.0, max_records=100, close_every_s=0.0)
    processor = stream.lanes[str(log)].processor
    assert processor.counts["closed_working_units"] > 0
    late = {r.offset for r in stream.lanes[str(log)].quarantine.records
            if r.reason == "late_after_final"}
    assert processor.counts["late_after_final"] == len(late) > 0
    data = log.read_bytes()
    lines = data.splitlines(keepends=True)
    offsets = itertools.accumulate(map(len, lines), initial=0)
    kept = tmp_path / "kept.log"
    kept.write_bytes(b"".join(line for offset, line in zip(offsets, lines, strict=False)
                              if offset not in late))
    assert_same_scores(store, batch_snapshots(kept, amzn_quotes, config))
    # by default (a day) nothing in the demo log's hours closes while working
    again = run_file_stream(log, amzn_quotes, config, open_store(f"memory://{uuid.uuid4().hex}"),
                            final_after_s=1.0, max_records=100, close_every_s=0.0)
    assert again.lanes[str(log)].processor.counts["closed_working_units"] == 0


def test_a_restored_lane_takes_this_runs_settings(tmp_path: Path,
                                                  amzn_quotes: pl.DataFrame) -> None:
    """A lane restored from a checkpoint closes and remembers by the restarted worker's
    ``--final-after``, ``--late-after`` and ``--idle-after``, not the saved run's."""
    *_, first = follow_demo(tmp_path, amzn_quotes, checkpoint_root=tmp_path / "ckpt")
    first.step()
    first.close()
    *_, second = follow_demo(tmp_path, amzn_quotes, checkpoint_root=tmp_path / "ckpt",
                             final_after_s=5.0, late_after_s=9.0, idle_after_s=7.0)
    second.step()
    processor = next(iter(second.lanes.values())).processor
    saved = next(iter(first.lanes.values())).processor
    assert processor.counts["recomputed_units"] == saved.counts["recomputed_units"] > 0
    assert (processor.final_after_s, processor.late_after_s, processor.idle_after_s) == (
        5.0, 9.0, 7.0)
    second.close()


def test_a_checkpoint_releases_the_quarantine_it_wrote_and_the_counts_stay(
        tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """Records a checkpoint wrote to its quarantine file leave the lane's memory (a stream
    that runs for months would otherwise hold every poison record); the counts and the
    file still have them all."""
    import json  # noqa: PLC0415

    log, *_, stream = follow_demo(tmp_path, amzn_quotes, checkpoint_root=tmp_path / "ckpt",
                                  checkpoint_every_s=0.0, max_records=500)
    with log.open("ab") as out:
        out.write(b"this is not FIX\n8=FIX.4.4\x019=5\x0135=0\x0110=000\x01\n")
    stream.run(until_idle_s=0.3)
    stream.close()
    lane = next(iter(stream.lanes.values()))
    path = next((tmp_path / "ckpt").glob("*/quarantine.jsonl"))
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert not lane.quarantine.records
    assert len(lane.quarantine) == len(written) == stream.status.quarantined >= 2
    assert lane.quarantine.by_reason() == dict(sorted(Counter(
        r["reason"] for r in written).items()))
    assert {"not_fix", "bad_checksum"} <= set(lane.quarantine.by_reason())


def test_late_after_reaches_every_lane(tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """``Settings.late_after_s`` (``--late-after``) is each lane's processor's."""
    *_, stream = follow_demo(tmp_path, amzn_quotes, late_after_s=5.0)
    stream.step()
    assert [lane.processor.late_after_s for lane in stream.lanes.values()] == [5.0]
    stream.close()


def test_publish_every_coalesces_polls_and_each_publish_covers_what_came_before(
        tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """``publish_every_s`` (``--publish-every``): polls in between only update the
    statistics; an idle poll waits no longer than the interval, so the pending records are
    published about one interval after the last publish; the stop publishes everything."""
    lines = DEMO_LOG.read_bytes().splitlines(keepends=True)
    log = tmp_path / "fix.log"
    half = tmp_path / "half.log"
    half.write_bytes(b"".join(lines[:len(lines) // 2]))
    log.write_bytes(half.read_bytes())
    config = Config()
    specs = config_catalog(config.kpi)
    every = 0.4
    settings = Settings(config, load_profile("block", specs), specs, amzn_quotes,
                        max_records=150, publish_every_s=every)
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = Stream(FollowFile(log), settings, store)
    publishes: list[tuple[float, int]] = []
    publish = stream.publish

    def counted(*, full: bool = True, final: bool = False) -> None:
        publishes.append((time.monotonic(), stream.status.records))
        publish(full=full, final=final)

    stream.publish = counted  # type: ignore[method-assign]
    polls = 0
    while stream.source.lag() or not stream.lanes:
        polls += bool(stream.step())
    assert polls > len(publishes) >= 1                        # polls were coalesced
    starts = [t for t, _ in publishes]
    assert all(b - a >= every for a, b in itertools.pairwise(starts))
    read = stream.status.records
    if publishes[-1][1] < read:                               # records wait: an idle poll
        before = len(publishes)                               # publishes them in time
        waited = time.monotonic()
        while len(publishes) == before:
            assert not stream.step()
            assert time.monotonic() - waited < every + 5.0
    assert publishes[-1][1] == read
    want = batch_snapshots(half, amzn_quotes, config)["*"]   # the `*` level is always fresh
    got = store.get("block", "*")
    assert got is not None
    assert [(s["lp"], s["n_orders"]) for s in got.scores] == \
        [(s["lp"], s["n_orders"]) for s in want.scores]
    for a, b in zip(got.scores, want.scores, strict=True):
        assert a["score"] == pytest.approx(b["score"], rel=1e-9, abs=1e-9)
    with log.open("ab") as f:                                 # the rest, then stop
        f.write(b"".join(lines[len(lines) // 2:]))
    stream.run(until_idle_s=0.3)
    stream.close()
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))


def test_publishes_carry_intervals_and_the_last_one_draws_them(
        tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """Publishes draw at most ``intervals_per_publish`` contexts: the others carry their
    intervals from earlier draws (``intervals_at_ns`` earlier than ``computed_at_ns``) or,
    never drawn yet, publish them pending (null, ``intervals_at_ns`` null) with their
    scores; the last publish draws every context, and the store then holds the batch's
    scores and intervals."""
    log, config, store, stream = follow_demo(tmp_path, amzn_quotes, max_records=400,
                                             intervals_per_publish=4)
    seen = {"drawn": 0, "carried": 0, "pending": 0}
    while stream.source.lag() or not stream.lanes:
        stream.step()
        for key in store.contexts("block"):
            snap = store.get("block", key)
            assert snap is not None
            if snap.intervals_at_ns is None:
                seen["pending"] += 1
                assert all(s["ci_low"] is None and s["ci_high"] is None for s in snap.scores)
                assert all(s["score"] is not None for s in snap.scores)
            else:
                assert snap.intervals_at_ns <= snap.computed_at_ns
                seen["drawn" if snap.intervals_at_ns == snap.computed_at_ns
                     else "carried"] += 1
    assert stream.status.publishes >= 3 and all(seen.values()), seen
    stream.close()
    for key in store.contexts("block"):
        snap = store.get("block", key)
        assert snap is not None and snap.intervals_at_ns == snap.computed_at_ns
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))


@pytest.mark.parametrize("source", ["demo", "moex", "demo-undecayed"])
def test_publishes_between_full_ones_score_what_the_full_path_scores(
        tmp_path: Path, amzn_quotes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch,
        source: str) -> None:
    """Past the first publish, a publish scores from the arrays it keeps up to date
    (``score_dense``, docs/stream.md): at every one, the cards equal ``score_levels`` on
    every lane's statistics merged, for the same contexts and the same draws; so the
    contexts a poll changed were all read back, and nothing else moved. Orders close one
    second after they finish, so rows move from the live to the closed statistics too."""
    log = tmp_path / "fix.log"
    if source.startswith("demo"):
        log.write_bytes(DEMO_LOG.read_bytes())
        quotes = amzn_quotes
    else:
        replay_logs(sorted(MOEX.glob("*.log")), f"file://{log}")
        quotes = no_quotes()
    config = Config()
    specs = config_catalog(config.kpi)
    profile = load_profile("block", specs)
    if source.endswith("undecayed"):
        profile = dataclasses.replace(profile, decay=None)
    settings = Settings(config, profile, specs, quotes, max_records=120, final_after_s=1.0,
                        close_every_s=0.0, intervals_per_publish=3)
    stream = Stream(FollowFile(log), settings, open_store(f"memory://{uuid.uuid4().hex}"))
    scored = runner_module.score_dense
    checked: list[int] = []

    def checking(dense: DenseStats, *args: Any, only: Any = None, draw: Any = None
                 ) -> list[Scorecard]:
        cards = scored(dense, *args, only=only, draw=draw)
        drawn = {context_key(c.context): c.drawn for c in cards}
        total = Stats.merge_all([s for lane in stream.lanes.values()
                                 if (s := lane.processor.stats()) is not None])
        want = score_levels(total, profile, specs, list(FINEST[1:]), only=only,
                            draw=lambda context, lps: drawn[context_key(context)])
        assert_same_cards(cards, want)
        checked.append(len(cards))
        return cards

    monkeypatch.setattr(runner_module, "score_dense", checking)
    while stream.source.lag() or not stream.lanes:
        stream.step()
    assert len(checked) >= 5 and max(checked) > 1, checked
    assert stream.lanes[str(log)].processor.counts["closed_units"]
    stream.close()


@pytest.mark.parametrize("others", [False, True])
def test_a_worker_alone_writes_its_partials_seldom_between_full_publishes(
        tmp_path: Path, amzn_quotes: pl.DataFrame, others: bool) -> None:
    """``partials_alone_every_s``: between full publishes, a worker that finds no other
    worker's partial in the store does not write its own at every exchange (a lane's
    partial is all its statistics); once another worker's partial is there, it writes at
    every exchange again. After the final publish the store holds the lane's statistics."""
    log, config, store, stream = follow_demo(tmp_path, amzn_quotes, max_records=120,
                                             partials_every_s=0.0,
                                             partials_alone_every_s=3_600.0)
    written: list[tuple[str, int]] = []
    put = store.put_partial

    def counting(profile: str, lane: str, data: bytes) -> None:
        written.append((lane, stream.status.publishes))
        put(profile, lane, data)

    store.put_partial = counting  # type: ignore[method-assign]
    stream.step()
    while stream.status.publishes < 1:
        stream.step()
    first = len(written)
    assert first == 1                             # the first publish is a full one
    if others:       # another worker's lane (its content does not matter here)
        put("block", "elsewhere/0", store.partials("block")[str(log)])
    dense_before = stream._dense is not None
    while stream.source.lag():
        stream.step()
    assert dense_before and stream.status.publishes >= 3
    between = len(written) - first
    assert (between >= stream.status.publishes - 2) if others else between == 0, written
    stream.close()
    lane = stream.lanes[str(log)]
    assert lane.stats is not None                  # the final publish left it current
    assert store.partials("block")[str(log)] == encode_stats(lane.stats)
    now = lane.processor.stats()
    assert now is not None
    assert_frame_equal(lane.stats.sums, now.sums, rel_tol=1e-12)   # summed in another order
    if not others:
        assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))


def test_publishes_of_many_changed_contexts_score_with_polars(
        tmp_path: Path, amzn_quotes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``dense_max_contexts`` changed contexts a publish scores the merged statistics
    with Polars, as a full one does, and leaves the arrays to be rebuilt; the stream still
    ends at the batch's scores, and each publish says when the changed contexts were
    visible."""
    log, config, store, stream = follow_demo(tmp_path, amzn_quotes, max_records=150,
                                             dense_max_contexts=0)
    scored = runner_module.score_dense

    def refused(*args: Any, only: Any = None, **kwargs: Any) -> list[Scorecard]:
        assert not stream._touched, "score_dense called past dense_max_contexts"
        return scored(*args, only=only, **kwargs)

    monkeypatch.setattr(runner_module, "score_dense", refused)
    before = time.monotonic()
    while stream.source.lag() or not stream.lanes:
        stream.step()
    visible = stream.status.visible_at
    assert stream.status.publishes >= 3 and visible is not None and visible > before
    stream.close()
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))


def test_lanes_share_one_kpi_run_and_keep_their_own_statistics(
        amzn_quotes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """``add_all`` runs the KPI engine once for the lanes of a poll, and each lane ends with
    the statistics of a lane computed alone, poll after poll, closing orders as they go.
    The lanes share sessions, ClOrdIDs and parent ids (the worst case for linking across
    lanes): two get the demo log's polls, the third the same a microsecond later at prices
    0.1% higher, so that a reject in it would find another lane's refill first, at another
    price, if anything linked across lanes."""
    config = Config()
    profile = load_profile("block", config_catalog(config.kpi))
    lines = DEMO_LOG.read_bytes().splitlines()
    decoder = StreamDecoder(config.ingest)
    polls = [decoder.decode([Record("demo", i + k, line) for k, line in
                             enumerate(lines[i:i + 300])], Quarantine())
             for i in range(0, len(lines), 300)]

    def processor() -> Processor:
        return Processor(config, profile, amzn_quotes, final_after_s=1.0)

    every, later = processor(), processor()
    lanes = [processor(), processor(), processor()]
    us = pl.duration(microseconds=1)
    runs = [0]
    engine = processor_module.compute_kpis

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs[0] += 1
        return engine(*args, **kwargs)

    monkeypatch.setattr(processor_module, "compute_kpis", counted)
    for events in polls:
        shifted = events.with_columns(
            *(pl.col(c) + us for c in ("ts_event", "ts_recv", "sending_time",
                                       "transact_time")),
            *(pl.col(c) * 1.001 for c in ("price", "last_px", "avg_px")))
        want = [every.add(events, Quarantine()), later.add(shifted, Quarantine())]
        before = runs[0]
        got = add_all([(lanes[0], events, Quarantine()), (lanes[1], shifted, Quarantine()),
                       (lanes[2], events, Quarantine())])
        assert runs[0] - before == 1
        assert got == [want[0], want[1], want[0]]
        for each in (every, later, *lanes):
            each.close_finished(Quarantine())
    assert every.counts["closed_units"] > 100
    for lane, alone in zip(lanes, (every, later, every), strict=True):
        expected, stats = alone.stats(), lane.stats()
        assert expected is not None and stats is not None and stats.t_ref == expected.t_ref
        assert lane.counts == alone.counts
        for table in ("sums", "sketches", "counts"):
            assert_frame_equal(getattr(stats, table), getattr(expected, table),
                               check_exact=False, rel_tol=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
def test_kpi_stats_weighs_each_order_against_its_own_reference(
        amzn_quotes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    """``kpi_stats(t_ref=column)``, as ``add_all`` runs it over several lanes at once: each
    part's rows are those of the part alone at its own reference time, the same numbers
    (Polars' sums and the compiled ones), and the result names no reference of its own."""
    monkeypatch.setattr(aggregate, "_COMPILED_FROM_ROWS", 0 if compiled else 10**9)
    config = Config()
    decay = load_profile("block", config_catalog(config.kpi)).decay
    assert decay is not None
    events = ingest_logs([DEMO_LOG], config.ingest, Quarantine()).events
    result = compute_kpis(events, amzn_quotes, config)
    latest = int(result.orders["t_send"].dt.epoch("ns").max())  # type: ignore[arg-type]
    anchors = [latest, latest + 3_600 * 10**9 + 7]
    orders = result.orders.with_row_index("_i").with_columns(
        (pl.col("_i") % 2).cast(pl.Int32).alias("part")).drop("_i").with_columns(
        pl.col("part").replace_strict({0: anchors[0], 1: anchors[1]},
                                      return_dtype=pl.Int64).alias("anchor"))
    keys = [*FINEST, "part"]
    every = kpi_stats(dataclasses.replace(result, orders=orders), keys, decay=decay,
                      t_ref="anchor")
    assert every.t_ref is None
    for part, anchor in enumerate(anchors):
        mine = orders.filter(pl.col("part") == part)
        alone = kpi_stats(dataclasses.replace(
            result, orders=mine.drop("anchor"),
            fills=result.fills.join(mine.select("child_id"), on="child_id", how="semi")),
            keys, decay=decay, t_ref=anchor)
        assert alone.t_ref == anchor and alone.sums.height > 5
        for table in ("sums", "sketches", "counts"):
            assert_frame_equal(getattr(every, table).filter(pl.col("part") == part),
                               getattr(alone, table), check_exact=False, rel_tol=1e-15)


def test_every_symbol_is_rescored_in_turn_within_the_period(
        tmp_path: Path, amzn_quotes: pl.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the first publish no publish re-scores every context; each takes the share of
    the symbols its time since the last publish is of ``full_publish_every_s``, where the
    last share ended, so every symbol comes round once a period."""
    config = Config()
    specs = config_catalog(config.kpi)
    settings = Settings(config, load_profile("block", specs), specs, amzn_quotes,
                        full_publish_every_s=4.0)
    stream = Stream(FollowFile(tmp_path / "none.log"), settings,
                    open_store(f"memory://{uuid.uuid4().hex}"))
    symbols = [f"S{i}" for i in range(10)]
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    stream._turn_at = now[0]
    turns = []
    for step in (1.0, 1.0, 0.4, 1.6, 4.0):          # 25%, 25%, 10%, 40%, then a period
        now[0] += step
        turns.append({s for (s,) in stream._in_turn(symbols[::-1])})
    assert turns == [{"S0", "S1", "S2"}, {"S3", "S4", "S5"}, {"S6"},   # shares rounded up
                     {"S7", "S8", "S9", "S0"}, set(symbols)]


def test_publish_every_option(tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """``lpscore stream --publish-every MS`` runs to the batch's scores; a negative
    interval is refused."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    name = uuid.uuid4().hex
    runner = CliRunner()
    done = runner.invoke(app, ["stream", "--source", f"file://{log}", "--quotes",
                               str(AMZN_MESSAGES), "--store", f"memory://{name}",
                               "--publish-every", "250", "--until-idle", "0.5"])
    assert done.exit_code == 0, done.output
    assert_same_scores(open_store(f"memory://{name}"),
                       batch_snapshots(log, amzn_quotes, Config()))
    refused = runner.invoke(app, ["stream", "--source", f"file://{log}",
                                  "--publish-every", "-1"])
    assert refused.exit_code == 2
    assert "--publish-every" in refused.output


def test_the_status_line_counts_orders_closed_while_working(tmp_path: Path) -> None:
    """``lpscore stream --idle-after``: the final status line says how many units were
    closed with an order still working (and says nothing of them when there were none)."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    runner = CliRunner()
    args = ["stream", "--source", f"file://{log}", "--store", f"memory://{uuid.uuid4().hex}",
            "--until-idle", "0.5", "--final-after", "1"]
    idle = runner.invoke(app, [*args, "--idle-after", "2"])
    assert idle.exit_code == 0, idle.output
    shown = re.search(r"closed while working ([\d,]+)", idle.output)
    assert shown is not None and int(shown.group(1).replace(",", "")) > 0, idle.output
    default = runner.invoke(app, args)
    assert default.exit_code == 0, default.output
    assert "records " in default.output and "closed while working" not in default.output


def test_real_moex_logs_replayed_to_a_file_give_the_batch_scores(tmp_path: Path) -> None:
    """Real exchange logs (rejects, session rejects, PossDup resends, clock skew), pushed by
    ``replay --to file://`` and followed; no quotes."""
    log = tmp_path / "moex.log"
    logs = sorted(MOEX.glob("*.log"))
    assert replay_logs(logs, f"file://{log}") > 1000
    config = Config()
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = run_file_stream(log, no_quotes(), config, store, final_after_s=60.0,
                             max_records=97, close_every_s=0.0)
    assert_same_scores(store, batch_snapshots(log, no_quotes(), config))
    assert stream.lanes[str(log)].processor.counts["closed_units"] > 0


@pytest.mark.parametrize("per_poll", [20, 97, 5000])
def test_each_session_keeps_its_own_window_of_duplicates(tmp_path: Path,
                                                         per_poll: int) -> None:
    """The MOEX logs replayed one after another: a session's messages follow another
    session's later ones. The PossDup resend of MsgSeqNum 65 (a minute after the original)
    is a duplicate in any polls, as in the batch ingest: the decoder's window of history is
    each session's own last hour, not the last hour before the latest message of any."""
    log = tmp_path / "moex.log"
    replay_logs(sorted(MOEX.glob("*.log")), f"file://{log}")
    lines = log.read_bytes().split(b"\n")
    offsets = list(itertools.accumulate((len(line) + 1 for line in lines), initial=0))
    decoder = StreamDecoder(IngestConfig())
    events = [decoder.decode([Record(str(log), offsets[j], lines[j])
                              for j in range(i, min(i + per_poll, len(lines))) if lines[j]],
                             Quarantine()).height for i in range(0, len(lines), per_poll)]
    batch = ingest_logs([log], IngestConfig(), Quarantine())
    assert batch.data_quality["duplicates"] == decoder.counts["duplicate"] == 1
    assert sum(events) == batch.events.height


def test_simulated_log_gives_the_batch_scores(tmp_path: Path) -> None:
    result = Simulation(load_scenario(SMALL)).run()
    log = tmp_path / "sim.log"
    log.write_bytes(result.fix_log)
    config = Config(ingest=IngestConfig(own_comp_ids=("DESK",)))
    store = open_store(f"memory://{uuid.uuid4().hex}")
    run_file_stream(log, result.quotes, config, store, final_after_s=5.0, max_records=300)
    assert_same_scores(store, batch_snapshots(log, result.quotes, config))


def test_follow_survives_partial_lines_rotation_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "fix.log"
    path.write_bytes(b"first\nsecond-half")
    source = FollowFile(path)
    assert [r.data for r in source.read()] == [b"first"]
    assert source.read() == []  # the partial line waits for its newline
    with path.open("ab") as f:
        f.write(b"-done\n")
    got = source.read()
    assert [(r.data, r.offset) for r in got] == [(b"second-half-done", 6)]
    with path.open("ab") as f:
        f.write(b"last of old\n")
    path.rename(tmp_path / "fix.log.1")  # rotation: the rest of the old file comes first
    path.write_bytes(b"new one\n")
    assert [r.data for r in source.read()] == [b"last of old"]
    assert source.read() == []  # end of the old file: switch
    assert [(r.data, r.offset) for r in source.read()] == [(b"new one", 0)]
    assert source.events["rotated"] == 1
    with path.open("wb") as f:  # truncation in place
        f.write(b"x\n")
    assert [r.data for r in source.read() or source.read()] == [b"x"]
    assert source.events["truncated"] == 1


def _raw_stream_of(log: Path) -> bytes:
    """``log``'s messages back to back, without their capture prefixes and line ends."""
    lines = log.read_bytes().splitlines()
    return b"".join(line[line.find(b"8=FIX"):] for line in lines if b"8=FIX" in line)


def test_a_followed_raw_soh_stream_gives_the_batch_scores(tmp_path: Path,
                                                          amzn_quotes: pl.DataFrame) -> None:
    """Messages back to back with no line ends (the batch ingest reads such a file): a
    followed one read a line at a time never gave a record, and the stream idled with its
    whole lag unread."""
    log = tmp_path / "fix.raw"
    log.write_bytes(_raw_stream_of(DEMO_LOG))
    config = Config()
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = run_file_stream(log, amzn_quotes, config, store)
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))
    counts = stream.lanes[str(log)].decoder.counts
    assert counts["records"] == len(DEMO_LOG.read_bytes().splitlines()) - counts[
        "skipped_lines"] and counts["event"] == ingest_logs([log], IngestConfig()).events.height


def test_replay_frames_a_raw_soh_stream(tmp_path: Path) -> None:
    """``lpscore replay`` of a raw stream pushed the whole file as one message."""
    raw = tmp_path / "fix.raw"
    raw.write_bytes(_raw_stream_of(DEMO_LOG))
    out = tmp_path / "replayed.log"
    messages = sum(b"8=FIX" in line for line in DEMO_LOG.read_bytes().splitlines())
    assert replay_logs([raw], f"file://{out}") == messages
    replayed, original = (ingest_logs([p], IngestConfig()).events for p in (out, raw))
    where = ("source", "offset", "line")
    assert replayed.drop(where).equals(original.drop(where))


def test_replay_of_a_raw_soh_stream_keeps_what_lies_between_messages(tmp_path: Path) -> None:
    """The bytes between two messages and a message cut short at the end, which the ingest
    quarantines, were left out of a replay: the worker never saw them."""
    messages = _raw_stream_of(DEMO_LOG).split(b"8=FIX")[1:]
    raw = tmp_path / "fix.raw"
    raw.write_bytes(b"8=FIX" + messages[0] + b"junk between" + b"".join(
        b"8=FIX" + m for m in messages[1:]) + b"8=FIX.4.4\x019=120\x0135=D\x01")
    out = tmp_path / "replayed.log"
    assert replay_logs([raw], f"file://{out}") == len(messages) + 2
    replayed, original = (ingest_logs([p], IngestConfig()) for p in (out, raw))
    where = ("source", "offset", "line")
    assert replayed.events.drop(where).equals(original.events.drop(where))
    assert replayed.files[0].by_reason == original.files[0].by_reason
    assert replayed.files[0].by_reason["not_fix"] == replayed.files[0].by_reason["truncated"] == 1


def test_follow_a_raw_stream_a_message_at_a_time_and_refuse_gzip(tmp_path: Path) -> None:
    one, two, three = (encode("0", [(49, "LP"), (56, "DESK"), (34, n)]) for n in (1, 2, 3))
    path = tmp_path / "fix.raw"
    path.write_bytes(one)
    source = FollowFile(path)
    assert source.read() == [] and source.raw is None   # one message: lines or a stream?
    alone = FollowFile(path)       # the file stays so: a stream, as the batch ingest reads it
    assert alone.read() == [] and [(r.data, r.offset) for r in alone.read()] == [(one, 0)]
    first = tmp_path / "first.log"  # a log's first line, its newline not written yet: waits
    first.write_bytes(b"20120621-13:29:40.020459 : " + one)
    waiting = FollowFile(first)
    assert waiting.read() == waiting.read() == waiting.read() == [] and waiting.raw is None
    first.write_bytes(b"20120621-13:29:40.020459 : " + one + b"\n")
    assert [r.data for r in waiting.read()] == [b"20120621-13:29:40.020459 : " + one]
    assert waiting.raw is False
    path.write_bytes(one + two[:9])
    assert [(r.data, r.offset) for r in source.read()] == [(one, 0)] and source.raw
    assert source.read() == []                          # the second is cut short: it waits
    path.write_bytes(one + two + three)
    assert [(r.data, r.offset) for r in source.read()] == [(two, len(one)),
                                                            (three, len(one + two))]
    lines = tmp_path / "fix.log"
    lines.write_bytes(one + b"\n" + two)
    followed = FollowFile(lines)
    assert [r.data for r in followed.read()] == [one] and followed.raw is False
    packed = tmp_path / "fix.log.gz"
    packed.write_bytes(gzip.compress(one + b"\n"))
    with pytest.raises(InputError, match="gzip-compressed, and a gzip file cannot be followed"):
        FollowFile(packed).read()


def test_a_followed_path_that_is_a_folder_stops_and_a_missing_one_is_awaited(
        tmp_path: Path) -> None:
    with pytest.raises(InputError, match="a folder, not a file; follow a file in it"):
        FollowFile(tmp_path)
    runner = CliRunner()
    for option in ("--source", "--quote-source"):
        extra = [] if option == "--source" else ["--source", f"file://{tmp_path / 'x.log'}"]
        done = runner.invoke(app, ["stream", option, f"file://{tmp_path}", *extra,
                                   "--until-idle", "0"])
        assert done.exit_code == 2, done.output
        assert "a folder, not a file" in " ".join(done.output.split())
    later = tmp_path / "later.log"
    done = runner.invoke(app, ["stream", "--source", f"file://{later}", "--until-idle", "0"])
    assert done.exit_code == 0, done.output
    # the note names the path, which the console may wrap anywhere
    assert "does not exist yet: waiting for it to appear" in " ".join(done.output.split())


def stream_args(source: str, store: str, checkpoint: Path, *extra: str) -> list[str]:
    """The arguments of ``lpscore stream`` from ``source`` into ``store``."""
    return ["stream", "--source", source, "--quotes", str(AMZN_MESSAGES),
            "--store", store, "--checkpoint", str(checkpoint), *extra]


def test_kill_9_mid_stream_then_restart_loses_and_repeats_nothing(
        tmp_path: Path, redis_url: str, amzn_quotes: pl.DataFrame) -> None:
    """A worker killed with SIGKILL while the log is being written; the restarted worker
    resumes from its checkpoint; the final scores and fill counts are the batch's."""
    log = tmp_path / "fix.log"
    lines = DEMO_LOG.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:2000]))
    store_uri = f"{redis_url}?prefix=k{uuid.uuid4().hex[:8]}"
    ckpt = tmp_path / "ckpt"
    worker = subprocess.Popen(command(*stream_args(f"file://{log}", store_uri, ckpt)),
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(ckpt.glob("*/state.pkl")):
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.2)
        with log.open("ab") as f:
            f.write(b"".join(lines[2000:3500]))
        time.sleep(1.5)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    with log.open("ab") as f:
        f.write(b"".join(lines[3500:]))
    done = lpscore(*stream_args(f"file://{log}", store_uri, ckpt, "--until-idle", "1"),
                   timeout=300)
    assert done.returncode == 0, done.stderr
    with open_store(store_uri) as store:
        assert_same_scores(store, batch_snapshots(log, amzn_quotes, Config()))
    assert_same_fill_counts(ckpt, log, amzn_quotes)


def test_sigterm_stops_a_worker_as_ctrl_c_does(tmp_path: Path, redis_url: str,
                                               amzn_quotes: pl.DataFrame) -> None:
    """A service manager's stop (SIGTERM) killed the worker without its last publish, which
    draws every interval, nor its checkpoint: the store kept intervals carried from earlier
    draws. It now unwinds as Ctrl-C does: exit 0, the store the batch's."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    store_uri = f"{redis_url}?prefix=t{uuid.uuid4().hex[:8]}"
    ckpt = tmp_path / "ckpt"
    worker = subprocess.Popen(command(*stream_args(f"file://{log}", store_uri, ckpt)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    with open_store(store_uri) as store:
        while len(store.contexts("block")) < len(batch := batch_snapshots(
                log, amzn_quotes, Config())) and worker.poll() is None:
            assert time.monotonic() < deadline, "nothing published within 60 s"
            time.sleep(0.3)
        time.sleep(1.0)             # the whole log read: the worker idles, publishing done
        worker.send_signal(signal.SIGTERM)
        _, said = worker.communicate(timeout=60)
        assert worker.returncode == 0, said
        assert_same_scores(store, batch)
    assert list(ckpt.glob("*/state.pkl"))


def assert_same_fill_counts(ckpt: Path, log: Path, quotes: pl.DataFrame) -> None:
    """Fills and orders per LP x context from the checkpointed state equal the batch's."""
    total = None
    for state_file in ckpt.glob("*/state.pkl"):
        stats = pickle.loads(state_file.read_bytes())["processor"].stats()
        if stats is not None:
            total = stats if total is None else total.merge(stats)
    assert total is not None
    config = Config()
    result = compute_kpis(ingest_logs([log], config.ingest, Quarantine()).events, quotes, config)
    want = kpi_stats(result, list(FINEST), decay=load_profile(
        "block", catalog(result.horizons)).decay)
    counts = [*FINEST, *(c for c in want.sums.columns if c.endswith("__n"))]
    assert total.sums.select(counts).sort(list(FINEST)).equals(
        want.sums.select(counts).sort(list(FINEST)))


# --- Kafka: librdkafka's mock cluster ---------------------------------------------------

def test_a_kafka_source_on_a_topic_the_brokers_lack_stops_at_once(kafka: str) -> None:
    """It waited for ever, with --until-idle too (never idle before a partition came)."""
    from lpscore.stream.kafka import KafkaSource  # noqa: PLC0415

    with pytest.raises(InputError, match="kafka topic no-such-topic: not found on the brokers"):
        KafkaSource.from_uri(f"kafka://{kafka}/no-such-topic", "g")


def test_kafka_replay_gives_the_batch_scores(kafka: str, tmp_path: Path,
                                             amzn_quotes: pl.DataFrame) -> None:
    """The demo log keyed by symbol onto a 4-partition topic, read by one worker (every
    partition a lane with its own state, merged through the store's partials)."""
    from lpscore.stream.kafka import KafkaSource  # noqa: PLC0415

    topic = fresh_topic(kafka, "fix")
    uri = f"kafka://{kafka}/{topic}"
    sent = replay_logs([DEMO_LOG], uri)
    assert sent >= 7000
    config = load_config(None)
    specs = catalog(["100ms", "1s", "5s", "30s", "60s"])
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = Stream(KafkaSource.from_uri(uri, f"g{uuid.uuid4().hex[:6]}"),
                    Settings(config, load_profile("block", specs), specs, amzn_quotes,
                             checkpoint_root=tmp_path / "ckpt"), store)
    status = stream.run(until_idle_s=2.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("lpscore-lane")]
    stream.close()
    assert status.records == sent
    assert_same_scores(store, batch_snapshots(DEMO_LOG, amzn_quotes, config))


def test_two_kafka_workers_a_kill_9_and_a_rebalance_lose_nothing(
        kafka: str, tmp_path: Path, redis_url: str, amzn_quotes: pl.DataFrame) -> None:
    """Two ``lpscore stream`` processes in one group split the partitions; one is killed
    with SIGKILL mid-stream; the survivor takes its partitions over from their checkpoints
    (a rebalance) and the final scores and counts are the batch's."""
    topic = fresh_topic(kafka, "fix2")
    uri = f"kafka://{kafka}/{topic}"
    store_uri = f"{redis_url}?prefix=r{uuid.uuid4().hex[:8]}"
    ckpt = tmp_path / "ckpt"
    group = f"g{uuid.uuid4().hex[:6]}"
    first = subprocess.Popen(command(*stream_args(uri, store_uri, ckpt, "--group", group)),
                             stderr=subprocess.DEVNULL)
    second = subprocess.Popen(command(*stream_args(uri, store_uri, ckpt, "--group", group,
                                                   "--until-idle", "15")),
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4.0)  # both join the group
        replay_logs([DEMO_LOG], uri, speed=0.0)
        time.sleep(1.0)
        first.send_signal(signal.SIGKILL)
        first.wait()
        _, err = second.communicate(timeout=240)
        assert second.returncode == 0, err
    finally:
        for p in (first, second):
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
    with open_store(store_uri) as store:
        assert_same_scores(store, batch_snapshots(DEMO_LOG, amzn_quotes, Config()))
    assert len(list(ckpt.glob("*/state.pkl"))) == 4


def test_poison_records_go_to_the_dead_letter_topic_and_the_stream_goes_on(
        kafka: str, tmp_path: Path) -> None:
    """Records that cannot be decoded (not FIX, a bad CheckSum) are quarantined with their
    partition and offset, copied as JSON to the dead-letter topic, and the stream still gives
    the batch scores of everything else."""
    import json  # noqa: PLC0415

    from confluent_kafka import Consumer, Producer  # noqa: PLC0415

    from lpscore.stream.kafka import KafkaSource  # noqa: PLC0415

    topic, dead = fresh_topic(kafka, "fix"), fresh_topic(kafka, "dlq")
    uri = f"kafka://{kafka}/{topic}"
    sent = replay_logs([MOEX_ORDERS], uri)
    good = next(line for line in MOEX_ORDERS.read_bytes().splitlines() if b"\x0135=D\x01" in line)
    body = good[good.index(b"8=FIX"):]
    corrupt = body[:body.rindex(b"10=")] + b"10=000\x01"
    producer = Producer({"bootstrap.servers": kafka})
    for value in (b"this is not FIX", corrupt):
        producer.produce(topic, value, partition=0)
    producer.flush(10)
    config = Config()
    specs = catalog(["100ms", "1s", "5s", "30s", "60s"])
    store = open_store(f"memory://{uuid.uuid4().hex}")
    source = KafkaSource.from_uri(uri, f"g{uuid.uuid4().hex[:6]}", dead_letter=dead)
    stream = Stream(source, Settings(config, load_profile("block", specs), specs, no_quotes()),
                    store)
    status = stream.run(until_idle_s=2.0)
    quarantined = [r for lane in stream.lanes.values() for r in lane.quarantine]
    stream.close()
    assert status.records == sent + 2
    assert {r.reason for r in quarantined} >= {"not_fix", "bad_checksum"}
    consumer = Consumer({"bootstrap.servers": kafka, "group.id": f"d{uuid.uuid4().hex[:6]}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([dead])
    copies: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while len(copies) < len(quarantined) and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            copies.append(json.loads(message.value()))
    consumer.close()
    key = lambda r: (r["source"], r["offset"], r["reason"])  # noqa: E731
    assert sorted(map(key, copies)) == sorted(
        (r.source, r.offset, r.reason) for r in quarantined)
    assert_same_scores(store, batch_snapshots(MOEX_ORDERS, no_quotes(), config))


def test_brokers_that_do_not_answer_stop_the_command_with_what_to_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong Kafka address: the source, the quote source and the replay stop with an error
    once the brokers have not answered for REACH_TIMEOUT_S (librdkafka alone retries for
    ever: `lpscore stream --until-idle` never exited, and `replay` died with a
    KafkaException traceback)."""
    from lpscore.stream import kafka  # noqa: PLC0415

    monkeypatch.setattr(kafka, "REACH_TIMEOUT_S", 0.5)
    nowhere = "kafka://127.0.0.1:1/fix"
    message = r"kafka://127.0.0.1:1: the brokers did not answer within 0.5 s .*check the address"
    with pytest.raises(InputError, match=message):
        kafka.KafkaSource.from_uri(nowhere, "g")
    with pytest.raises(InputError, match=message):
        kafka.KafkaLines.from_uri(nowhere)
    with pytest.raises(InputError, match=message):
        kafka.produce_messages([], nowhere)


def test_a_stop_in_the_middle_of_a_poll_loses_nothing(tmp_path: Path,
                                                     amzn_quotes: pl.DataFrame) -> None:
    """Ctrl-C (or an error) while a poll was being taken in: the stop's checkpoint saved the
    file's position past the poll's records, which the state did not hold, and the restart
    went on without them (13,800 of 100,000 records lost in a hand run). The last
    consistent checkpoints now stand, and the restart reads the poll again."""
    log = tmp_path / "fix.log"
    log.write_bytes(DEMO_LOG.read_bytes())
    config = Config()
    specs = config_catalog(config.kpi)
    settings = Settings(config, load_profile("block", specs), specs, amzn_quotes,
                        checkpoint_root=tmp_path / "ckpt", max_records=700,
                        checkpoint_every_s=0.0)
    store = open_store(f"memory://{uuid.uuid4().hex}")
    stream = Stream(FollowFile(log), settings, store)
    for _ in range(3):
        stream.step()
    taken, read = stream.status.records, stream.source.position("")["offset"]
    with mock.patch.object(Stream, "_take_lanes", side_effect=KeyboardInterrupt), \
            pytest.raises(KeyboardInterrupt):
        stream.run(until_idle_s=0.3)
    stream.close()
    assert stream.status.records == taken
    saved = pickle.loads(next((tmp_path / "ckpt").glob("*/state.pkl")).read_bytes())
    assert saved["position"]["offset"] == read      # not past the poll it did not take
    again = Stream(FollowFile(log), settings, store)
    again.run(until_idle_s=0.3)
    again.close()
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))
    (lane,) = again.lanes.values()
    assert lane.decoder.counts["records"] == len(DEMO_LOG.read_bytes().splitlines())


def test_a_line_longer_than_a_read_is_read_not_waited_for(tmp_path: Path) -> None:
    """A line longer than the follower's chunk (4 MiB; a 5 MB junk line in a hand run) was
    never found whole: the stream stopped reading there for good, with its lag growing."""
    path = tmp_path / "fix.log"
    lines = [b"a" * 300, b"short", b"b" * 64, b"c" * 1000]
    path.write_bytes(b"\n".join(lines) + b"\n" + b"d" * 200)    # the last one unfinished
    source = FollowFile(path, chunk_bytes=64)
    got: list[bytes] = []
    while records := source.read():
        got += [r.data for r in records]
    assert got == lines and source.offset == len(b"\n".join(lines) + b"\n")


def test_replay_sends_what_the_ingest_reads_not_only_quickfix_lines(tmp_path: Path) -> None:
    """Lines in another engine's format (text before 8=FIX that is no capture prefix) and
    lines that hold no message were left out of a replay: the stream then scored half the
    orders of such a log, and quarantined fewer lines than the batch job."""
    lines = DEMO_LOG.read_bytes().splitlines()[:600]
    odd = [b"2012-06-21 13:29:40.017459 INFO [FIX-in] " + line[line.find(b"8=FIX"):]
           if i % 2 and b"8=FIX" in line else line for i, line in enumerate(lines)]
    log = tmp_path / "odd.log"
    log.write_bytes(b"\n".join([*odd[:300], b"not a FIX message", *odd[300:]]) + b"\n")
    out = tmp_path / "replayed.log"
    replay_logs([log], f"file://{out}")
    original, replayed = (ingest_logs([p], IngestConfig()) for p in (log, out))
    where = ("source", "offset", "line")
    assert replayed.events.drop(where).equals(original.events.drop(where))
    assert original.events.height > 250
    assert [r.reason for r in replayed.quarantine] == [r.reason for r in original.quarantine]


def test_a_dead_letter_topic_for_a_followed_file_is_refused(tmp_path: Path) -> None:
    """It was taken and never written to."""
    done = CliRunner().invoke(app, ["stream", "--source", f"file://{tmp_path / 'x.log'}",
                                    "--dead-letter", "dl", "--until-idle", "0"])
    assert done.exit_code == 2, done.output
    assert "a Kafka topic, for Kafka sources" in " ".join(done.output.split())


def test_a_log_followed_under_two_spellings_is_one_lane(tmp_path: Path,
                                                        amzn_quotes: pl.DataFrame,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``file://fix.log`` and then ``file://$PWD/fix.log`` into one store: the lane was
    named by the path as typed, so the second run wrote a second partial and every fill
    counted twice (LP_A 964 orders instead of 482 in a hand run)."""
    log, config, store, stream = follow_demo(tmp_path, amzn_quotes)
    monkeypatch.chdir(tmp_path)
    for path in (Path("fix.log"), log, tmp_path / "sub" / ".." / "fix.log"):
        again = Stream(FollowFile(path), stream.settings, store)
        again.run(until_idle_s=0.3)
        again.close()
        assert list(again.lanes) == [str(log)]
    assert_same_scores(store, batch_snapshots(log, amzn_quotes, config))


def test_a_log_rotated_while_the_worker_was_stopped_is_read_to_its_end(
        tmp_path: Path, amzn_quotes: pl.DataFrame) -> None:
    """Stopped with a checkpoint mid-log, the log rotated (``mv fix.log fix.log.1``, a new
    ``fix.log``) before the restart: the restart found another inode under the path and
    read the new file from its start, and the rest of the old one was never read. It is
    now found beside the path by its inode, read to its end, then the new file."""
    lines = DEMO_LOG.read_bytes().splitlines(keepends=True)
    cut, rotate = len(lines) // 3, 2 * len(lines) // 3
    log, config, store, stream = follow_demo(tmp_path, amzn_quotes,
                                             checkpoint_root=tmp_path / "ckpt",
                                             max_records=200)
    log.write_bytes(b"".join(lines[:cut]))
    stream.run(until_idle_s=0.3)
    stream.close()
    with log.open("ab") as f:       # written while the worker is stopped, then rotated
        f.write(b"".join(lines[cut:rotate]))
    log.rename(tmp_path / "fix.log.1")
    (tmp_path / "fix.log.2.gz").write_bytes(b"an older one, compressed")
    log.write_bytes(b"".join(lines[rotate:]))
    source = FollowFile(log)
    again = Stream(source, stream.settings, store)
    again.run(until_idle_s=0.3)
    again.close()
    assert source.events == {"rotated_while_stopped": 1, "rotated": 1}
    whole = tmp_path / "whole.log"
    whole.write_bytes(b"".join(lines))
    assert_same_scores(store, batch_snapshots(whole, amzn_quotes, config))
    (lane,) = again.lanes.values()
    assert lane.decoder.counts["records"] == len(lines)
