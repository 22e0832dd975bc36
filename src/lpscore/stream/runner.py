"""The stream loop: poll, decode, update, publish, checkpoint (docs/stream.md).

    stream = Stream(source, settings, store)
    stream.run(until_idle_s=5.0, on_status=print)

A source delivers records per *lane*: a followed file is one lane, a Kafka partition is one.
Each lane has its own decoder, processor and checkpoint directory, so a lane can move to
another worker (a consumer-group rebalance) with its state. Every worker publishes its
lanes' statistics as *partials* in the store and scores the merge of every worker's
partials, so the published scores cover all lanes wherever they run. Between full
publishes it keeps that merge as arrays (lpscore.stats.dense), overwrites the contexts its
polls changed and scores from them (lpscore.scoring.dense), exchanging partials at most
once per ``Settings.partials_every_s``.

With a quote feed (lpscore.stream.quotes), every lane's processor takes live quotes: each
poll hands the new quotes to every lane, and lanes without new records are still
recomputed where the quotes completed a markout.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from lpscore.config import Config
from lpscore.errors import InputError
from lpscore.publish.intervals import Intervals
from lpscore.publish.publisher import (
    HIERARCHY,
    dense_capacities,
    snapshots_of_cards,
    snapshots_of_stats,
)
from lpscore.publish.snapshot import Snapshot, context_key
from lpscore.publish.store import ScoreStore
from lpscore.quarantine import Quarantine
from lpscore.scoring import KpiSpec, Profile
from lpscore.scoring.dense import score_dense
from lpscore.stats.dense import DenseStats
from lpscore.stats.table import Stats
from lpscore.stream.checkpoint import Checkpoint
from lpscore.stream.decode import Record, StreamDecoder, decode_all
from lpscore.stream.partials import decode_stats, encode_stats
from lpscore.stream.processor import FINEST, Context, Processor, add_all
from lpscore.stream.quotes import QuoteFeed

__all__ = ["Lane", "Settings", "Source", "Status", "Stream"]


class Source(Protocol):
    """Where records come from (lpscore.stream.files, lpscore.stream.kafka)."""

    def poll(self, max_records: int, timeout_s: float) -> dict[str, list[Record]]:
        """Records per lane; waits up to ``timeout_s`` when there are none."""

    def start(self, open_lane: Callable[[str], Mapping[str, Any] | None],
              close_lane: Callable[[str], None]) -> None:
        """Begin: call ``open_lane(lane)`` for each lane this worker gets (it returns the
        position to resume from, or None to start at the beginning) and ``close_lane`` for
        each it loses (a rebalance), before the lane's records go elsewhere."""

    def position(self, lane: str) -> dict[str, Any]: ...

    def lag(self) -> int:
        """Records (or bytes, for a file) not read yet."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Settings:
    """How a stream computes and publishes (the ``lpscore stream`` options)."""

    config: Config
    profile: Profile
    specs: Mapping[str, KpiSpec]
    quotes: pl.DataFrame
    checkpoint_root: Path | None = None
    final_after_s: float = 300.0
    late_after_s: float = 86_400.0
    """How long a closed order's ClOrdIDs are remembered (``Processor.late_after_s``)."""
    idle_after_s: float = 86_400.0
    """When a unit with an order still working is closed (``Processor.idle_after_s``)."""
    checkpoint_every_s: float = 1.0
    max_records: int = 20_000
    full_publish_every_s: float = 10.0
    """Every context is re-scored at least this often: a publish re-scores the ``*`` level
    and the contexts whose statistics changed since the last publish, with the levels
    above them, and, in turn, the symbols whose share of this period has come (all of a
    symbol's contexts); the others' shrinkage targets move a little meanwhile
    (docs/stream.md)."""
    publish_every_s: float = 0.0
    """At most one publish per this many seconds: the polls in between only update the
    statistics, and the next publish covers every record received before it. 0: every
    poll that brought records publishes."""
    intervals_max_age_s: float = 60.0
    """Publishes carry each context's score intervals from its last posterior draws
    (lpscore.publish.intervals) and draw a context again once its draws are older than
    this; the stream's last publish draws every context."""
    intervals_per_publish: int = 32
    """Contexts one publish draws at most (new ones and those with old draws, first come);
    a context not drawn yet publishes its intervals pending (null)."""
    partials_every_s: float = 1.0
    """Between full publishes, a worker writes its lanes' partials to the store and reads
    the other workers' at most this often (a publish scores its own lanes' changes at once,
    other workers' within this time)."""
    partials_alone_every_s: float = 30.0
    """Between full publishes, a worker that found no other worker's partial in the store
    writes its own at most this often (it still looks for others' every
    ``partials_every_s``, and writes every time once it has found some): a lane's partial
    is all its statistics, so writing it costs in proportion to everything the lane has
    seen (gathering them took 46 ms a lane, four lanes after 1,000,000 messages, before
    the encoding), for no reader. A worker
    that joins triggers a rebalance, after which the next publish is a full one, which
    writes every partial."""
    dense_max_contexts: int = 500
    """A publish between full ones scores from arrays (``_publish_dense``) when the polls
    changed at most this many finest contexts; more (a large backlog), and Polars, which
    scores many contexts faster, does it from the merged statistics."""
    batch_lanes: bool = True
    """The lanes of a poll share one run of the KPI engine (``processor.add_all``; the same
    statistics as one run per lane, for a fraction of the fixed cost)."""
    lane_threads: int = 2
    """Lanes (Kafka partitions) of one poll decoded and computed at once on this many
    threads; 1: one after the other."""
    close_every_s: float = 1.0
    """A lane closes its finished orders (``Processor.close_finished``) at most this often:
    a close costs a dozen Polars queries whatever it closes, and an order stays open
    ``final_after_s`` anyway (0: after every poll)."""


@dataclass
class Lane:
    """One lane's state: decoder, processor, quarantine and checkpoint."""

    key: str
    decoder: StreamDecoder
    processor: Processor
    quarantine: Quarantine = field(default_factory=Quarantine)
    checkpoint: Checkpoint | None = None
    saved_at: float = 0.0
    dirty: bool = False
    quote_mark: int | None = 0
    """Chunks of the quote feed this lane's processor has taken; None for a lane restored
    from a checkpoint, which takes the quotes later than those it holds."""
    stats: Stats | None = None
    """The processor's statistics as last published (None: to be computed)."""
    touched: set[Context] = field(default_factory=set)
    """Finest contexts whose statistics changed since the last publish."""
    closed_at: float = -math.inf
    """When it last closed finished orders (``time.monotonic``)."""


@dataclass
class Status:
    """What the status line shows."""

    records: int = 0
    events: int = 0
    quotes: int = 0
    """Live quotes read (``--quote-source``)."""
    rate: float = 0.0
    lag: int = 0
    lanes: int = 0
    live_units: int = 0
    closed_working: int = 0
    """Units closed with an order still working (``--idle-after``) by this worker's lanes."""
    quarantined: int = 0
    published: int = 0
    """Snapshots that got a new version."""
    publishes: int = 0
    """Publish runs."""
    publish_ms: float | None = None
    visible_at: float | None = None
    """``time.monotonic()`` when the last publish had written the contexts that polls
    changed (a publish between full ones writes them first, then the symbols in turn)."""


class Stream:
    """Runs a source into a store (see the module docstring)."""

    def __init__(self, source: Source, settings: Settings, store: ScoreStore,
                 quote_feed: QuoteFeed | None = None) -> None:
        self.source = source
        self.quote_feed = quote_feed
        self.settings = settings
        self.store = store
        self.lanes: dict[str, Lane] = {}
        self.status = Status()
        self._rate_mark = (time.monotonic(), 0)
        self._started = False
        self._touched: set[Context] = set()
        self._pending = False
        """Records or quotes taken since the last publish."""
        self._partial = False
        """The last publish left contexts out."""
        self._carried = False
        """A publish since the last final one carried intervals."""
        self._first_record: float | None = None
        self._last_record: float | None = None
        self._turn = 0
        """Where the next publish's share of the symbols starts (``_in_turn``)."""
        self._turn_at = 0.0
        self._published_at = -float("inf")
        self._others: dict[str, tuple[bytes, Stats]] = {}
        """Other workers' partials, decoded once per content."""
        self._intervals = Intervals(settings.intervals_max_age_s,
                                    settings.intervals_per_publish)
        self._dense: DenseStats | None = None
        """Every part's statistics as arrays, kept by the publishes between full ones
        (None: the next publish is a full one, which builds it)."""
        self._dense_others: dict[str, Stats] = {}
        """Other workers' partials as the arrays hold them."""
        self._partials_at = -float("inf")
        self._written_at = -float("inf")
        """When the lanes' partials were last written (``_exchange_partials``)."""
        self._few = 0
        """Publishes in a row with at most ``dense_max_contexts`` changed contexts."""
        self._taking = False
        """A poll's records are being taken into the lanes: the sources' positions are past
        records the lanes' state may not hold yet, so no checkpoint may be saved (one
        interrupted there, by Ctrl-C or an error, lost the poll's records on restart), nor a
        final publish made of lanes some of which took them."""
        self._pool: ThreadPoolExecutor | None = None

    def step(self) -> int:
        """One poll: every lane with records is updated, then scores are published."""
        if not self._started:
            self.source.start(self._resume, self._release)
            self._started = True
        quoted = self._take_quotes()
        wait = 0.0 if quoted else 0.2
        if self._pending:   # wake up in time for the next publish
            wait = min(wait, max(0.0, self._published_at + self.settings.publish_every_s
                                 - time.monotonic()))
        polled = self.source.poll(self.settings.max_records, wait)
        self._taking = bool(polled)     # the sources' positions are past these records now
        started = time.monotonic()
        n = 0
        work: list[tuple[Lane, Sequence[Record]]] = []
        for key, records in polled.items():
            if key not in self.lanes:
                self._resume(key)
            work.append((self.lanes[key], records))
            n += len(records)
        for (lane, _), (seen, events, changed) in zip(work, self._take_lanes(work),
                                                       strict=True):
            self._touched |= changed
            lane.touched |= changed
            lane.stats = None
            self._dead_letter(lane, seen)
            lane.dirty = True
            self.status.events += events
        if quoted:   # markouts the new quotes completed, in lanes that had no records
            for key, lane in self.lanes.items():
                if key not in polled:
                    changed = lane.processor.add(pl.DataFrame(), lane.quarantine)
                    self._touched |= changed
                    lane.touched |= changed
                    lane.dirty = lane.dirty or bool(changed)
                    if changed:
                        lane.stats = None
        self._taking = False
        self.status.records += n
        if n:
            self._first_record = self._first_record or started
            self._last_record = time.monotonic()
        self._pending = self._pending or bool(n) or bool(self._touched)
        now = time.monotonic()
        if self._pending and now - self._published_at >= self.settings.publish_every_s:
            self.publish(full=not self.status.publishes)   # the first re-scores everything
        # housekeeping after the publish, out of the way of the scores: closing finished
        # orders moves their rows from the live to the closed statistics, the same sums
        at = time.monotonic()
        for key in polled:
            lane = self.lanes[key]
            if at - lane.closed_at < self.settings.close_every_s:
                continue
            lane.closed_at = at
            seen = len(lane.quarantine)
            lane.processor.close_finished(lane.quarantine)
            self._dead_letter(lane, seen)     # a closed order's KPI-stage records
        self._checkpoint(force=False)
        return n + quoted

    def _take_lanes(self, work: list[tuple[Lane, Sequence[Record]]]
                    ) -> Iterable[tuple[int, int, set[Context]]]:
        """Decode every lane's records, on ``Settings.lane_threads`` threads when there are
        several (lanes share nothing, and most of the work, Polars and the compiled
        kernels, runs outside the GIL), then update the lanes' processors: with one run of
        the KPI engine for all of them (``processor.add_all``), or with
        ``Settings.batch_lanes`` off each on its own, on the threads too. Per lane: its
        quarantine count before, its events, the finest contexts whose statistics
        changed."""
        threads = self.settings.lane_threads
        pooled = threads > 1 and len(work) > 1
        if pooled and self._pool is None:
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="lpscore-lane")
        run = self._pool.map if pooled and self._pool is not None else map
        if not self.settings.batch_lanes:
            return list(run(_take, work))
        seen = [len(lane.quarantine) for lane, _ in work]
        decoded = list(zip(seen, decode_all(
            [(lane.decoder, records, lane.quarantine) for lane, records in work], run),
            strict=True))
        changed = add_all([(lane.processor, events, lane.quarantine)
                           for (lane, _), (_, events) in zip(work, decoded, strict=True)])
        return [(seen, events.height, c)
                for (seen, events), c in zip(decoded, changed, strict=True)]

    def _dead_letter(self, lane: Lane, seen: int) -> None:
        """Copy the lane's quarantine records after the first ``seen`` to the source's dead
        letter topic, if it has one."""
        dead_letter = getattr(self.source, "dead_letter", None)
        if dead_letter is not None and len(lane.quarantine) > seen:
            dead_letter(lane.quarantine.since(seen))

    def _take_quotes(self) -> int:
        """Read the quote feed; every lane takes the quotes it has not taken yet."""
        feed = self.quote_feed
        if feed is None:
            return 0
        new = feed.poll()
        self.status.quotes += new
        for lane in self.lanes.values():
            held = lane.processor
            if lane.quote_mark is None:
                held.add_quotes(feed.missing(held.quotes))
            elif lane.quote_mark < len(feed.chunks):
                held.add_quotes(feed.since(lane.quote_mark))
            lane.quote_mark = len(feed.chunks)
        return new

    def run(self, until_idle_s: float | None = None,
            on_status: Callable[[Status], None] | None = None,
            stop: Callable[[], bool] | None = None) -> Status:
        """Poll until ``stop()``, or until no record came for ``until_idle_s``."""
        if until_idle_s is not None and not until_idle_s >= 0:
            raise InputError(f"--until-idle {until_idle_s}: give a number of seconds >= 0")
        quiet_since = time.monotonic()
        shown = 0.0
        try:
            while stop is None or not stop():
                if self.step() or not self.lanes:  # idle counts once a lane is assigned
                    quiet_since = time.monotonic()
                elif until_idle_s is not None and time.monotonic() - quiet_since >= until_idle_s:
                    break
                if on_status is not None and time.monotonic() - shown >= 0.5:
                    on_status(self._refresh_status())
                    shown = time.monotonic()
        finally:
            self._publish_final()
            self._checkpoint(force=True)
            self._stop_threads()
        status = self._refresh_status()
        busy = (self._last_record or 0.0) - (self._first_record or 0.0)
        if busy > 0:
            status.rate = status.records / busy  # the whole run's average, not the last 0.5 s
        return status

    def publish(self, *, full: bool = True, final: bool = False) -> None:
        """Publish the lanes' partials, then score the merge of every worker's partials:
        every context (``full``) or the ``*`` level and the contexts whose statistics
        changed since the last publish, with the levels above them. Intervals are carried
        where they are recent enough, except in the ``final`` publish (every context,
        every interval drawn: what the batch job publishes). A publish that is not full
        scores from the arrays the last full one left (``_publish_dense``)."""
        full = full or final
        start = time.perf_counter()
        few = len(self._touched) <= self.settings.dense_max_contexts
        self._few = self._few + 1 if few else 0
        if full or not few or self._dense is None:
            # rebuilding the arrays costs about a full Polars publish: worth it for a run
            # of publishes with few changes, not for one between large ones (a backlog)
            self._publish_full(full, final, rebuild=not final and (full or self._few >= 2))
        else:
            self._publish_dense()
        self._touched.clear()
        for lane in self.lanes.values():
            lane.touched.clear()
        self._pending = False
        self._published_at = time.monotonic()
        if full:
            self._turn_at = self._published_at
        self.status.publishes += 1
        self.status.publish_ms = (time.perf_counter() - start) * 1e3

    def _publish_full(self, full: bool, final: bool, *, rebuild: bool) -> None:
        """Every lane's statistics as a partial in the store, merged with the other
        workers', scored with Polars (``snapshots_of_stats``); the arrays rebuilt
        (``rebuild``) or else dropped, to be rebuilt by the next publish that needs
        them."""
        profile = self.settings.profile
        parts = self._exchange_partials()
        total = Stats.merge_all(list(parts.values())) if parts else None
        if total is not None:
            only = None if full else self._touched | self._in_turn(
                total.sums.get_column("symbol").unique().to_list())
            snapshots = snapshots_of_stats(total, profile, self.settings.specs, only=only,
                                           intervals=self._intervals, carry=not final)
            self._send(snapshots, full=full, final=final)
        self.status.visible_at = time.monotonic()
        if not rebuild:
            self._dense = None
            return
        dense = DenseStats(FINEST, profile.decay)
        for key, part in parts.items():
            dense.set_part(key, part)
        self._dense = dense
        self._dense_others = {k: p for k, p in parts.items() if k not in self.lanes}

    def _exchange_partials(self, *, write: bool = True) -> dict[str, Stats]:
        """Write each lane's statistics to the store as its partial; every partial in the
        store by key, ours as computed (not decoded), the others' decoded once per
        content. Without ``write``, only the other workers' partials: ours are neither
        computed nor written."""
        profile = self.settings.profile
        if write:
            for lane in self.lanes.values():
                if lane.stats is None:
                    lane.stats = lane.processor.stats()
                    if lane.stats is not None:
                        self.store.put_partial(profile.name, lane.key,
                                               encode_stats(lane.stats))
            self._written_at = time.monotonic()
        # our own as computed, neither fetched nor decoded; a lane of ours without
        # statistics yet may have a partial from its previous owner
        parts = {key: lane.stats for key, lane in self.lanes.items() if lane.stats is not None}
        mine = parts if write else self.lanes
        for key, data in self.store.partials(profile.name, exclude=mine).items():
            known = self._others.get(key)
            if known is None or known[0] != data:
                known = self._others[key] = (data, decode_stats(data))
            parts[key] = known[1]
        self._partials_at = time.monotonic()
        return parts

    def _publish_dense(self) -> None:
        """Re-read the contexts the polls changed from their lanes into the arrays, score
        them with the levels above them and the ``*`` level, without Polars
        (``scoring.score_dense``), and write them; then, every ``partials_every_s``,
        exchange partials with the other workers, and score and write the symbols in
        turn."""
        dense = self._dense
        assert dense is not None
        profile = self.settings.profile
        for lane in self.lanes.values():
            if lane.touched:
                rows = lane.processor.rows_of(lane.touched)
                if rows is not None:
                    latest = lane.processor.t_ref if profile.decay is not None else None
                    dense.set_rows(lane.key, rows.sums, rows.sketches, rows.t_ref,
                                   latest=latest, only=lane.touched)
        now = time.time_ns()
        self._intervals.begin(now)
        # what the polls changed first (with the levels above it and `*`), then the symbols
        # in turn, leaving out the contexts the first write had
        done = self._send_dense(self._touched, now, set())
        self.status.visible_at = time.monotonic()
        # the exchange with other workers after the first write, out of the way of the
        # changed scores: their partials count from the symbols in turn on
        if time.monotonic() - self._partials_at >= self.settings.partials_every_s:
            write = bool(self._dense_others) or (time.monotonic() - self._written_at
                                                 >= self.settings.partials_alone_every_s)
            others = {k: p for k, p in self._exchange_partials(write=write).items()
                      if k not in self.lanes}       # ours are in the arrays already
            for key in set(self._dense_others) - set(others):
                dense.drop_part(key)
            for key, part in others.items():
                if self._dense_others.get(key) is not part:     # decoded anew: changed
                    dense.set_part(key, part)
            self._dense_others = others
        in_turn = self._in_turn([c[0] for c in dense.contexts(1)])
        if in_turn:
            self._send_dense(in_turn, now, done)

    def _send_dense(self, only: set[Context], now: int, done: set[str]) -> set[str]:
        """Score ``only`` (with the levels above them and ``*``) from the arrays and write
        the snapshots of the contexts not ``done`` already; ``done`` with them."""
        assert self._dense is not None
        cards = [c for c in score_dense(self._dense, self.settings.profile,
                                        self.settings.specs, HIERARCHY, only=only,
                                        draw=self._intervals.needs_draws)
                 if context_key(c.context) not in done]
        capacity = dense_capacities(self._dense, HIERARCHY, only=only)
        self._send(snapshots_of_cards(cards, capacity, now, self._intervals),
                   full=False, final=False)
        return done | {context_key(c.context) for c in cards}

    def _send(self, snapshots: list[Snapshot], *, full: bool, final: bool) -> None:
        done = self.store.publish(snapshots)
        self.status.published += sum(p.changed for p in done)
        self._partial = not full
        self._carried = not final and (self._carried or any(
            s.intervals_at_ns != s.computed_at_ns for s in snapshots))

    def _in_turn(self, symbols: Sequence[str | None]) -> set[Context]:
        """The symbols this publish re-scores in turn (as ``(symbol,)``: all their
        contexts): the share of the symbols that the time since the last publish is of
        ``full_publish_every_s``, continuing where the last share ended, so that every
        context is re-scored at least that often, a little at every publish rather than
        all at once."""
        now = time.monotonic()
        symbols = sorted(symbols, key=str)
        share = (now - self._turn_at) / max(self.settings.full_publish_every_s, 1e-9)
        count = min(len(symbols), math.ceil(len(symbols) * share - 1e-9))  # float noise
        self._turn_at = now
        if not count:
            return set()
        start = self._turn % len(symbols)
        self._turn = start + count
        return {(symbol,) for symbol in (symbols[start:] + symbols[:start])[:count]}

    def close(self) -> None:
        """Publish what is pending (every context, if publishes left some out), save the
        checkpoints, close the source."""
        self._publish_final()
        self._checkpoint(force=True)
        self.source.close()
        self._stop_threads()

    def _stop_threads(self) -> None:
        """End the lane threads (a later poll starts them again)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _publish_final(self) -> None:
        """The final publish (every context, every interval drawn), unless the store already
        holds it."""
        if self._taking:    # stopped mid-poll: the store keeps the last consistent publish
            return
        if self._pending or self._partial or self._carried:
            self.publish(final=True)

    def _release(self, key: str) -> None:
        self._dense = None      # the lanes changed: the next publish is a full one
        lane = self.lanes.pop(key, None)
        if lane is not None:
            self._save(lane)

    def _resume(self, key: str) -> Mapping[str, Any] | None:
        """Open lane ``key`` from its checkpoint; the position to resume from."""
        self._dense = None      # the lanes changed: the next publish is a full one
        s = self.settings
        feed = self.quote_feed
        quotes = s.quotes if feed is None else pl.concat([s.quotes, feed.since(0)],
                                                        how="vertical_relaxed")
        processor = Processor(s.config, s.profile, quotes, final_after_s=s.final_after_s,
                              late_after_s=s.late_after_s,
                              idle_after_s=s.idle_after_s, live_quotes=feed is not None)
        lane = Lane(key, StreamDecoder(s.config.ingest), processor,
                    quote_mark=0 if feed is None else len(feed.chunks))
        self.lanes[key] = lane
        if s.checkpoint_root is None:
            return None
        lane.checkpoint = Checkpoint(s.checkpoint_root / _safe(key))
        state = lane.checkpoint.load(lane.quarantine)
        if state is None:
            return None
        lane.decoder = state["decoder"]
        lane.processor = state["processor"]
        # this run's settings, not those of the run that saved it
        lane.processor.final_after_s = s.final_after_s
        lane.processor.late_after_s = s.late_after_s
        lane.processor.idle_after_s = s.idle_after_s
        if feed is None or not lane.processor.live_quotes:
            lane.processor.quotes = s.quotes     # not kept in the checkpoint: read again
            lane.processor.live_quotes = False
            lane.processor.due.clear()
        else:       # it holds the quotes it had: the later ones come from the feed
            if "quotes" in state or lane.processor.quotes is None:   # else pickled with it
                lane.processor.quotes = state.get("quotes", s.quotes.clear())
            lane.quote_mark = None
        position: Mapping[str, Any] = state["position"]
        return position

    def _checkpoint(self, *, force: bool) -> None:
        if self._taking:    # stopped mid-poll: the last checkpoints are the consistent ones
            return
        now = time.monotonic()
        every = self.settings.checkpoint_every_s
        for lane in self.lanes.values():
            if force or (lane.dirty and now - lane.saved_at >= every):
                self._save(lane)

    def _save(self, lane: Lane) -> None:
        if lane.checkpoint is None:
            return
        held = lane.processor
        lane.checkpoint.save({"decoder": lane.decoder, "processor": held,
                              "position": self.source.position(lane.key)}, lane.quarantine,
                             quotes=held.quotes if held.live_quotes else None)
        lane.saved_at = time.monotonic()
        lane.dirty = False

    def _refresh_status(self) -> Status:
        now = time.monotonic()
        mark, seen = self._rate_mark
        if now - mark >= 0.5:
            self.status.rate = (self.status.records - seen) / (now - mark)
            self._rate_mark = (now, self.status.records)
        self.status.lag = self.source.lag()
        self.status.lanes = len(self.lanes)
        self.status.live_units = sum(len(lane.processor.open) for lane in self.lanes.values())
        self.status.closed_working = sum(lane.processor.counts["closed_working_units"]
                                         for lane in self.lanes.values())
        self.status.quarantined = sum(len(lane.quarantine) for lane in self.lanes.values())
        return self.status


def _take(item: tuple[Lane, Sequence[Record]]) -> tuple[int, int, set[Context]]:
    """Decode a lane's records and update its processor: the lane's quarantine count
    before, the events, the finest contexts whose statistics changed."""
    lane, records = item
    seen = len(lane.quarantine)
    events = lane.decoder.decode(records, lane.quarantine)
    return seen, events.height, lane.processor.add(events, lane.quarantine)


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
