"""The incremental scorecard: events in, the same statistics as the batch job out.

    proc = Processor(config, profile, specs, quotes)
    proc.add(events, quarantine)      # one poll's events (lpscore.stream.decode)
    stats = proc.stats()              # == kpi_stats(compute_kpis(all events), finest keys)

Each poll's events are given their units (lpscore.stream.units); every touched unit is
recomputed by the batch engine itself (compute_kpis on the unit's events, then kpi_stats per
finest context and unit), and its rows replace the unit's previous rows. A unit whose orders
are all done and whose last event is older than ``final_after_s`` (receipt time) is *closed*:
its rows are folded into the closed statistics and its events dropped, so memory follows the
open orders, not the history. The total is the closed statistics merged with the live rows
rolled up, never a difference, so no rounding residue can appear where a count is zero.

Decay (time clock only): rows are weighed against a fixed anchor and the total is decayed to
the latest send time, which is the batch job's ``t_ref``.

Quotes are either complete from the start (files, ``lpscore stream --quotes``) or live
(``live_quotes=True``: ``add_quotes`` appends them as they arrive, as the simulator does).
With live quotes a unit is computed with the quotes known so far: a markout whose horizon
lies past the last quote is null, exactly as the batch job leaves it when its data ends
there, and the unit is *due* again at that time (``t_exec + h``; or at the next quote, when
a send or decision time is past the last quote: its as-of quote can still change), per
symbol: a symbol's own latest quote says how far its quotes are known (so several
partitions may arrive out of step, as long as each symbol's quotes come in time order). The
next ``add`` recomputes the units whose due time the new quotes reached, so markouts
complete as their horizons' quotes arrive; a unit is not closed while anything in it is
due. An order's volatility regime is that of the quotes known when its unit was last
computed (the batch job ranks it against the whole day's quotes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import polars as pl

from lpscore.config import Config
from lpscore.errors import ConfigError
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.marketdata.nbbo import QuoteBook
from lpscore.publish.publisher import HIERARCHY
from lpscore.quarantine import Quarantine, QuarantinedRecord
from lpscore.scoring import Profile
from lpscore.stats.table import Decay, Stats
from lpscore.stream.lanes import lane_prefix, prefixed
from lpscore.stream.units import CLOSED, Units

__all__ = ["FINEST", "Context", "Processor", "Rows", "Work", "add_all"]

FINEST = ("lp", *HIERARCHY)
"""The keys of the statistics a stream keeps: every published level rolls up from them."""
Context = tuple[str | None, ...]
"""A finest context: its values of HIERARCHY (symbol, size bucket, volatility regime)."""
_UNIT = "_unit"
_COMPACT = 16
"""Closes whose statistics are held apart (``Processor.closing``) before they are merged."""
_MAX_AFTER_S = 1e9
"""The longest --final-after, --late-after and --idle-after, some 31 years (for ever, in
effect): a few times longer overflowed the nanosecond arithmetic of closing."""


@dataclass
class _Open:
    """What the processor keeps about a live unit between polls."""

    last_ns: int
    done: bool
    """No order still working (all terminal or refused by the session)."""
    records: list[QuarantinedRecord] = field(default_factory=list)
    """KPI-stage quarantine records of its last computation, written when it closes."""


@dataclass(frozen=True)
class Work:
    """A recomputation ``Processor.prepare`` set up: the units, the units merged away, and
    the units' events (with their unit in ``_unit``)."""

    units: set[str]
    merged: set[str]
    part: pl.DataFrame


@dataclass
class Processor:
    """Live state of one stream (one partition of a bus, or one followed log)."""

    config: Config
    profile: Profile
    quotes: pl.DataFrame
    final_after_s: float = 300.0
    late_after_s: float = 86_400.0
    """How long (receipt time) a closed order's ClOrdIDs are remembered, so that a message
    naming one is quarantined as late (``late_after_final``) rather than taken for a
    report of an order never seen (lpscore.stream.units); about 100 bytes an order."""
    idle_after_s: float = 86_400.0
    """A unit with an order still working is closed once its last event is this old
    (receipt time; at least ``final_after_s``): an order whose end never comes (a day
    order that expired without a report, a drop copy that missed the cancel) would
    otherwise stay live, and its rows in every poll's work, for ever. Its orders count
    as working, as in a batch run over a log that ends there; a later message for it is
    quarantined as late."""
    units: Units = field(default_factory=Units)
    events: pl.DataFrame | None = None
    """The events of live units, with their unit in ``_unit``."""
    rows: Stats | None = None
    """Live units' statistics keyed ``[*FINEST, _unit]``."""
    closed: Stats | None = None
    """The statistics of the closed units, keyed FINEST (with ``closing``: all of them)."""
    closing: tuple[Stats, ...] = ()
    """The statistics of units closed since ``closed`` was last merged, one part per close:
    a close appends its units' rows instead of merging them into every closed unit's, and
    ``_COMPACT`` parts are merged at once (``stats`` merges them all with the live rows
    anyway)."""
    open: dict[str, _Open] = field(default_factory=dict)
    t_ref: int | None = None
    """The latest send time (ns) of any order: the batch job's decay reference."""
    watermark_ns: int = 0
    """The latest receipt time seen."""
    counts: Counter[str] = field(default_factory=Counter)
    live_quotes: bool = False
    """Quotes arrive with the events (``add_quotes``) instead of being complete up front."""
    symbol_ns: dict[str, int] = field(default_factory=dict)
    """With live quotes: symbol -> the time of its latest quote (epoch ns)."""
    due: dict[str, dict[str, int]] = field(default_factory=dict)
    """With live quotes: unit -> symbol -> the next time (epoch ns) at which a quote of the
    symbol completes more of the unit's KPIs (see the module docstring)."""
    _book: QuoteBook | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        decay = self.profile.decay
        if decay is not None and decay.clock != "time":
            raise ConfigError(f"profile {self.profile.name!r} decays by orders "
                              "(half_life_orders): the stream needs a time half-life "
                              "(half_life = \"4h\") or none")
        for name in ("final_after_s", "late_after_s", "idle_after_s"):
            value = getattr(self, name)
            if not 0 <= value <= _MAX_AFTER_S:      # NaN and inf too
                raise ConfigError(f"stream {name} = {value:g}: give a number of seconds from "
                                  f"0 to {_MAX_AFTER_S:g}")
        if self.live_quotes and self.quotes.height and not self.symbol_ns:
            self._advance(self.quotes)                   # the quotes it starts with

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_book"] = None  # rebuilt from the quotes
        # not pickled: the quote files are read again, and live quotes are saved apart
        # (lpscore.stream.checkpoint; Stream._resume puts them back)
        state["quotes"] = None
        return state

    @property
    def book(self) -> QuoteBook:
        if self._book is None:
            self._book = QuoteBook(self.quotes)
        return self._book

    def add_quotes(self, quotes: pl.DataFrame) -> None:
        """Take live quotes (QUOTE_SCHEMA, normally later than those held); the units they
        make due are recomputed by the next ``add``."""
        if not self.live_quotes:
            raise ValueError("add_quotes needs Processor(live_quotes=True)")
        if quotes.is_empty():
            return
        self.quotes = pl.concat([self.quotes, quotes], how="vertical_relaxed")
        if self._book is not None:
            self._book.extend(quotes)       # what they add, not the day's quotes again
        self._advance(quotes)

    def _advance(self, quotes: pl.DataFrame) -> None:
        latest = quotes.group_by("symbol").agg(pl.col("ts").dt.epoch("ns").max())
        for symbol, t in latest.iter_rows():
            if symbol is not None and t is not None:
                self.symbol_ns[symbol] = max(self.symbol_ns.get(symbol, -1), int(t))

    def _ready(self) -> set[str]:
        """The due units some symbol's quotes have reached."""
        known = self.symbol_ns
        return {u for u, times in self.due.items()
                if any(t <= known.get(s, -1) for s, t in times.items())}

    def add(self, events: pl.DataFrame, quarantine: Quarantine) -> set[Context]:
        """Take one poll's events (may be empty) and recompute the units they touch, with
        the units new quotes made due; returns the finest contexts (values of HIERARCHY)
        whose statistics changed."""
        work = self.prepare(events, quarantine)
        if work is None:
            return set()
        return self.finish(work, *self.compute(work))

    def prepare(self, events: pl.DataFrame, quarantine: Quarantine) -> Work | None:
        """The first part of ``add``: the events given their units and held; the units to
        recompute and their events (None: nothing to recompute)."""
        ready = self._ready()
        if events.is_empty():
            return self._work(ready, set()) if ready else None
        self.counts["events"] += events.height
        self.watermark_ns = max(self.watermark_ns, _max_ns(events["ts_recv"]))
        assigned, touched = self.units.assign(events)
        events = events.with_columns(pl.Series(_UNIT, assigned, dtype=pl.String))
        late = events.filter(pl.col(_UNIT) == CLOSED)
        for source, offset, line, kind in late.select(
                "source", "offset", "line", "kind").iter_rows():
            quarantine.add(source, offset, line, "late_after_final", b"",
                           f"a {kind} message for an order closed more than "
                           f"{self.final_after_s:g} s before (stream final_after_s); the "
                           "batch job (lpscore score) counts it", stage="stream")
        self.counts["late_after_final"] += late.height
        events = events.filter(pl.col(_UNIT) != CLOSED)
        merged = self.units.take_merged()
        frames = [events] if self.events is None else [self.events, events]
        live = pl.concat(frames, how="vertical_relaxed", rechunk=True)  # _replace_units
        if merged:
            roots = {u: self.units.find(u) for u in merged}
            live = live.with_columns(pl.col(_UNIT).replace(roots))
            touched |= {self.units.find(u) for u in merged}
        self.events = live
        ready = {self.units.find(u) for u in ready} - merged
        return self._work(touched | ready, merged)

    def _work(self, units: set[str], merged: set[str]) -> Work:
        assert self.events is not None
        return Work(units, merged, self.events.filter(pl.col(_UNIT).is_in(list(units))))

    def compute(self, work: Work) -> tuple[KpiResult, Quarantine]:
        """The KPI engine on the work's events, and what it quarantined."""
        scratch = Quarantine()
        return compute_kpis(work.part.drop(_UNIT), self.quotes, self.config, scratch,
                            book=self.book), scratch

    def finish(self, work: Work, result: KpiResult, scratch: Quarantine) -> set[Context]:
        """The last part of ``add``: the rows of the work's units from ``result`` (the KPI
        engine on its events), the rows of merged units dropped; the contexts of the rows
        replaced and of the new ones."""
        result = self.united(result)
        new = kpi_stats(result, [*FINEST, _UNIT], decay=self.profile.decay,
                        t_ref=self._anchor())
        return self.settle(work, result, new, scratch)

    def united(self, result: KpiResult) -> KpiResult:
        """``result`` with each order's unit (``_unit``); the latest send time moved on."""
        orders = result.orders.with_columns(
            pl.col("parent_id").replace_strict(
                {p: self.units.find(p) for p in result.orders["parent_id"].unique().to_list()
                 if p is not None}, default=None, return_dtype=pl.String).alias(_UNIT))
        if orders.height:
            self.t_ref = max(self.t_ref or 0, _max_ns(orders["t_send"]))
        return replace(result, orders=orders)

    def settle(self, work: Work, result: KpiResult, new: Stats, scratch: Quarantine
               ) -> set[Context]:
        """The rest of ``finish``, given ``new``, the statistics of the ``united`` result
        keyed ``[*FINEST, _unit]`` at the ``_anchor``."""
        units, merged, part = work.units, work.merged, work.part
        orders = result.orders
        self.counts["recomputed_units"] += len(units)
        changed = _contexts(new.sums)
        if self.rows is not None:
            changed |= _contexts(self.rows.sums.filter(pl.col(_UNIT).is_in(list(units | merged))))
        self.rows = _replace_units(self.rows, units | merged, new)
        last = part.group_by(_UNIT).agg(pl.col("ts_recv").max().dt.epoch("ns"))
        working = orders.filter(~pl.col("terminal") & (pl.col("state") != "session_rejected"))
        busy = set(working[_UNIT].drop_nulls().to_list())
        by_child = _records_by_unit(scratch, part)
        for unit in merged:
            self.open.pop(unit, None)
            self.due.pop(unit, None)
        for unit, t in last.iter_rows():
            self.open[unit] = _Open(int(t), unit not in busy, by_child.get(unit, []))
        if self.live_quotes:
            self._set_due(units, orders, result.fills)
        return changed

    def _set_due(self, units: set[str], orders: pl.DataFrame, fills: pl.DataFrame) -> None:
        """When each of ``units`` must be recomputed, per symbol. A horizon ``t_exec + h``
        past the symbol's latest quote is null (past the end, as in batch) until a quote
        reaches it: due at ``t_exec + h``. An as-of lookup at a send or decision time past
        the latest quote takes that quote if fresh enough, so any newer quote can change it:
        due at the next quote (latest + 1 ns)."""
        for unit in units:
            self.due.pop(unit, None)
        known = pl.col("symbol").replace_strict(self.symbol_ns, default=-1,
                                                return_dtype=pl.Int64)
        times = [orders.select(_UNIT, "symbol", pl.col(name).dt.epoch("ns").alias("t"))
                 .filter(pl.col("t") > known).with_columns((known + 1).alias("t"))
                 for name in ("t_send", "t_decision")]
        if fills.height:
            unit_of = orders.select("child_id", _UNIT)
            t_exec = fills.join(unit_of, on="child_id", how="inner").select(
                _UNIT, "symbol", pl.col("t_exec").dt.epoch("ns"))
            times += [t_exec.select(_UNIT, "symbol",
                                    (pl.col("t_exec") + h * 1_000_000).alias("t"))
                      .filter(pl.col("t") > known)
                      for h in self.config.kpi.horizons_ms]
        waiting = (pl.concat(times).drop_nulls([_UNIT, "symbol"])
                   .group_by(_UNIT, "symbol").agg(pl.col("t").min()))
        for unit, symbol, t in waiting.iter_rows():
            self.due.setdefault(unit, {})[symbol] = int(t)

    def _anchor(self) -> int | None:
        """The decay reference of rows: fixed once set, so rows of different polls merge
        without rescaling (Stats.merge brings them to the later one)."""
        if self.profile.decay is None:
            return None
        held = self.closed if self.closed is not None else (
            self.closing[0] if self.closing else None)
        if held is not None and held.t_ref is not None:
            return held.t_ref
        if self.rows is not None and self.rows.t_ref is not None:
            return self.rows.t_ref
        return self.t_ref

    def close_finished(self, quarantine: Quarantine) -> int:
        """Close the units done for ``final_after_s``, and those idle for ``idle_after_s``
        with an order still working; returns how many were closed."""
        cutoff = self.watermark_ns - int(self.final_after_s * 1e9)
        idle = self.watermark_ns - int(max(self.idle_after_s, self.final_after_s) * 1e9)
        done = {u for u, o in self.open.items()
                if o.last_ns <= (cutoff if o.done else idle) and u not in self.due}
        if done:
            self.counts["closed_working_units"] += sum(not self.open[u].done for u in done)
            self._close(done, quarantine)
        self.units.forget(cutoff - int(self.final_after_s * 1e9))
        self.units.expire(cutoff - int(self.late_after_s * 1e9))
        return len(done)

    def close_all(self, quarantine: Quarantine) -> int:
        """Close every live unit (the end of a bounded stream): nothing stays pending."""
        units = set(self.open)
        if units:
            self._close(units, quarantine)
        return len(units)

    def _close(self, units: set[str], quarantine: Quarantine) -> None:
        assert self.rows is not None
        assert self.events is not None
        mine = _select_units(self.rows, units, keep=True).rollup(list(FINEST))
        self.closing = (*self.closing, mine)
        if len(self.closing) >= _COMPACT:
            self.closed = Stats.merge_all(
                [*([] if self.closed is None else [self.closed]), *self.closing])
            self.closing = ()
        self.rows = _select_units(self.rows, units, keep=False)
        self.events = self.events.filter(~pl.col(_UNIT).is_in(list(units)))
        for unit in units:
            quarantine.extend(self.open.pop(unit).records)
            self.due.pop(unit, None)
        self.units.close(units, self.watermark_ns)
        self.counts["closed_units"] += len(units)

    def stats(self) -> Stats | None:
        """Every unit's statistics keyed FINEST, decayed to the latest send time."""
        parts = [s for s in (self.closed, *self.closing, self.rows.rollup(list(FINEST))
                             if self.rows is not None else None) if s is not None]
        if not parts:
            return None
        total = Stats.merge_all(parts)
        return total.decayed_to(self.t_ref) if self.profile.decay is not None else total

    def rows_of(self, contexts: Collection[Context]) -> Rows | None:
        """The rows of ``stats()`` in the finest ``contexts`` (values of HIERARCHY), not
        summed: sums and sketch rows keyed FINEST, a group's statistics the sum of its
        rows (lpscore.stats.dense sums them), at the held rows' reference time (the
        ``_anchor``). What a publish re-reads after a poll changed those contexts."""
        held = [s for s in (self.closed, *self.closing, self.rows) if s is not None]
        if not held:
            return None
        if len({s.t_ref for s in held}) > 1:     # not expected: bring them to one
            latest = max(s.t_ref or 0 for s in held)
            held = [s.decayed_to(latest) for s in held]
        wanted = pl.DataFrame([pl.Series(k, [c[i] for c in contexts], dtype=pl.String)
                               for i, k in enumerate(HIERARCHY)])

        def pick(frames: list[pl.DataFrame], how: Literal["diagonal_relaxed",
                                                           "vertical_relaxed"]
                 ) -> pl.DataFrame:
            # only the live rows are keyed by unit: the others need no copy
            frame = pl.concat([f.drop(_UNIT) if _UNIT in f.columns else f for f in frames],
                              how=how)
            return frame.join(wanted.cast(frame.select(HIERARCHY).schema),
                              on=list(HIERARCHY), how="semi", nulls_equal=True)

        return Rows(pick([s.sums for s in held], "diagonal_relaxed"),
                    pick([s.sketches for s in held], "vertical_relaxed"), held[0].t_ref)


@dataclass(frozen=True)
class Rows:
    """Statistics rows not summed per group (``Processor.rows_of``)."""

    sums: pl.DataFrame
    sketches: pl.DataFrame
    t_ref: int | None


def _replace_units(rows: Stats | None, units: set[str], new: Stats) -> Stats:
    if rows is None:
        return new
    kept = _select_units(rows, units, keep=False).decayed_to(new.t_ref)
    # one chunk (rechunk) here, in prepare's events and in the decoder's history: these
    # are filtered, joined and read at every poll, and each poll's concatenation added a
    # chunk to every column (14-18 after a few hundred polls; queries on them slowed
    # several times over)
    return replace(
        kept,
        sums=pl.concat([kept.sums, new.sums], how="diagonal_relaxed", rechunk=True),
        sketches=pl.concat([kept.sketches, new.sketches], how="vertical_relaxed",
                           rechunk=True),
        counts=pl.concat([kept.counts, new.counts], how="vertical_relaxed", rechunk=True),
    )


def _contexts(sums: pl.DataFrame) -> set[Context]:
    return set(sums.select(HIERARCHY).unique().iter_rows())


def _select_units(rows: Stats, units: set[str], *, keep: bool) -> Stats:
    chosen = pl.col(_UNIT).is_in(list(units))
    where = chosen if keep else ~chosen
    return replace(rows, sums=rows.sums.filter(where), sketches=rows.sketches.filter(where),
                   counts=rows.counts.filter(where))


def _records_by_unit(scratch: Quarantine, part: pl.DataFrame) -> dict[str, list[QuarantinedRecord]]:
    """The KPI stage's records (negative latencies) per unit, by the order's source row;
    a record naming no row of ``part`` is not this processor's (another lane's, from a
    shared run of the engine, ``add_all``)."""
    if not len(scratch):
        return {}
    where = {(s, o): u for s, o, u in part.select("source", "offset", _UNIT).iter_rows()}
    out: dict[str, list[QuarantinedRecord]] = {}
    for record in scratch:
        unit = where.get((record.source, record.offset))
        if unit is not None:
            out.setdefault(unit, []).append(record)
    return out


def _max_ns(column: pl.Series) -> int:
    value = column.dt.epoch("ns").max()
    return int(value) if value is not None else 0  # type: ignore[arg-type]


def add_all(items: Sequence[tuple[Processor, pl.DataFrame, Quarantine]]) -> list[set[Context]]:
    """``processor.add(events, quarantine)`` for every item (the lanes of a poll), with one
    run of the KPI engine and one of ``kpi_stats`` for the processors that share their
    quotes, configuration and decay instead of one each: each costs a poll tens of
    milliseconds whatever its size. Each processor's sessions and parent ids are told apart
    by a prefix, so that nothing links across processors, and the engine's orders and fills
    go back to their own; the statistics are those of ``add`` one by one
    (tests/integration/test_stream.py)."""
    works = [processor.prepare(events, quarantine) for processor, events, quarantine in items]
    shared: dict[tuple[int, int, Decay | None], list[int]] = {}
    for i, ((processor, _, _), work) in enumerate(zip(items, works, strict=True)):
        if work is not None and work.part.height and not processor.live_quotes:
            shared.setdefault((id(processor.quotes), id(processor.config),
                               processor.profile.decay), []).append(i)
    done: dict[int, tuple[KpiResult, Stats, Quarantine]] = {}
    for (_, _, decay), group in shared.items():
        parts = [w.part for i in group if (w := works[i]) is not None]
        if len(group) < 2 or any(p["session"].null_count() for p in parts):
            continue
        first = items[group[0]][0]
        scratch = Quarantine()
        result = compute_kpis(pl.concat(
            [prefixed(part, k, _LINKED) for k, part in enumerate(parts)], how="vertical_relaxed"
        ).drop(_UNIT), first.quotes, first.config, scratch, book=first.book)
        results = [items[i][0].united(_unqualified(result, k)) for k, i in enumerate(group)]
        stats = _stats_together(results, [items[i][0]._anchor() for i in group], decay)
        for i, mine, new in zip(group, results, stats, strict=True):
            done[i] = (mine, new, scratch)      # settle takes its own records
    out: list[set[Context]] = []
    for i, ((processor, _, _), work) in enumerate(zip(items, works, strict=True)):
        if work is None:
            out.append(set())
        elif i in done:
            out.append(processor.settle(work, *done[i]))
        else:
            out.append(processor.finish(work, *processor.compute(work)))
    return out


_LANE, _ANCHOR = "_lane", "_anchor"
_LINKED = ("session", "parent_id")
"""The columns through which the KPI engine links events (``add_all`` prefixes them by
lane)."""


def _stats_together(results: Sequence[KpiResult], anchors: Sequence[int | None],
                    decay: Decay | None) -> list[Stats]:
    """``kpi_stats(result, [*FINEST, _unit], t_ref=anchor)`` of each ``united`` result, in
    one run: the orders of result ``k`` keyed by lane ``k`` too and weighed against their
    own lane's anchor, the statistics split back by lane (the same rows, in the same
    order, as each run alone gives)."""
    orders = pl.concat([r.orders.with_columns(pl.lit(k, dtype=pl.Int32).alias(_LANE),
                                              pl.lit(a, dtype=pl.Int64).alias(_ANCHOR))
                        for k, (r, a) in enumerate(zip(results, anchors, strict=True))],
                       how="vertical_relaxed")
    fills = pl.concat([r.fills for r in results], how="vertical_relaxed")
    every = kpi_stats(replace(results[0], orders=orders, fills=fills), [*FINEST, _UNIT, _LANE],
                      decay=decay, t_ref=_ANCHOR)

    def split(frame: pl.DataFrame) -> list[pl.DataFrame]:
        parts = frame.partition_by(_LANE, as_dict=True, include_key=False)
        empty = frame.drop(_LANE).clear()
        return [parts.get((k,), empty) for k in range(len(results))]

    return [Stats(keys=(*FINEST, _UNIT), sums=sums, sketches=sketches, counts=counts,
                  t_ref=anchor if decay is not None else None, decay=decay)
            for sums, sketches, counts, anchor in zip(
                split(every.sums), split(every.sketches), split(every.counts), anchors,
                strict=True)]


def _unqualified(result: KpiResult, lane: int) -> KpiResult:
    """The orders and fills of ``lane`` in a run over parts prefixed by their lanes
    (``_LINKED``), as a run over its part alone gives them (the other tables stay the
    run's: ``settle`` reads none)."""
    prefix = lane_prefix(lane)

    def mine(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("session").str.starts_with(prefix)).with_columns(
            pl.col(c).str.strip_prefix(prefix) for c in _LINKED if c in frame.columns)

    return replace(result, orders=mine(result.orders), fills=mine(result.fills))
