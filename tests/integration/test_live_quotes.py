"""Live quotes in the incremental processor: markouts complete as their horizons' quotes
arrive, and end equal to the batch job's once every quote is in."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import polars as pl
import pytest

from lpscore.config import Config
from lpscore.ingest import ingest_logs
from lpscore.kpi.aggregate import kpi_stats
from lpscore.kpi.engine import compute_kpis
from lpscore.marketdata import load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine
from lpscore.scoring import catalog, load_profile
from lpscore.stats.table import Stats
from lpscore.stream.processor import Processor
from lpstats import assert_same_lp_sums
from realdata import AMZN_MESSAGES, DEMO_LOG

CHUNKS = 12


@pytest.fixture(scope="module")
def demo() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The demo log's events (four LPs trading AMZN) and the real AMZN book."""
    config = Config()
    events = ingest_logs([DEMO_LOG], config.ingest, Quarantine()).events
    quotes = load_quotes([AMZN_MESSAGES], config.marketdata, Quarantine()).quotes
    return events, quotes


def live_processor(final_after_s: float = 1e9) -> Processor:
    config = Config()
    specs = catalog(["100ms", "1s", "5s", "30s", "60s"])
    profile = dataclasses.replace(load_profile("block", specs), decay=None)
    return Processor(config, profile, pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)),
                     final_after_s=final_after_s, live_quotes=True)


def markout_n(stats: Stats, label: str) -> float:
    column = next(c for c in stats.sums.columns if c.startswith(f"markout_bps_{label}")
                  and c.endswith("__n"))
    return float(stats.sums[column].sum())


def test_markouts_complete_as_quotes_arrive_and_end_as_the_batch(
        demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """The session in twelve slices of time; each slice's quotes arrive before its events.
    Midway, fills whose 60 s horizon is still ahead have no 60 s markout yet (null, as the
    batch job leaves a horizon past its data); at the end every LP's sums and counts equal
    the batch job's on all the quotes (LP level: an order's volatility regime is ranked
    against the quotes known when it was computed)."""
    events, quotes = demo
    proc = live_processor()
    start, end = events["ts_recv"].min(), events["ts_recv"].max()
    assert isinstance(start, datetime) and isinstance(end, datetime)
    cuts = [start + (end - start) * (i / CHUNKS) for i in range(1, CHUNKS)] + [None]
    quarantine = Quarantine()
    low = None
    midway_n = None
    for i, cut in enumerate(cuts):
        q_new = quotes.filter(pl.col("ts") < cut) if cut is not None else quotes
        e_new = events.filter(pl.col("ts_recv") < cut) if cut is not None else events
        if low is not None:
            q_new = q_new.filter(pl.col("ts") >= low)
            e_new = e_new.filter(pl.col("ts_recv") >= low)
        low = cut
        proc.add_quotes(q_new)
        proc.add(e_new, quarantine)
        if i == CHUNKS // 2:
            stats = proc.stats()
            assert stats is not None
            midway_n = (markout_n(stats, "60s"), markout_n(stats, "100ms"))
            assert proc.due, "fills near the cut wait for their horizons' quotes"
    config = Config()
    batch = kpi_stats(compute_kpis(events, quotes, config, Quarantine()), ["lp"])
    final = proc.stats()
    assert final is not None and midway_n is not None
    assert midway_n[0] < markout_n(final, "60s")
    assert midway_n[0] < midway_n[1]        # the 60 s horizon lags the 100 ms one
    assert_same_lp_sums(final, batch)
    counts = final.rollup(["lp"]).counts.sort("lp", "name", "category")
    assert counts.equals(batch.counts.sort("lp", "name", "category"))


def test_a_unit_waiting_for_quotes_is_not_closed(
        demo: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    """With final_after_s = 0, finished orders close at once, except those whose markouts
    still wait for quotes; they close once the quotes are in."""
    events, quotes = demo
    first = events["ts_recv"].min()
    assert isinstance(first, datetime)
    cut = first + (events["ts_recv"].max() - first) / 2     # type: ignore[operator]
    proc = live_processor(final_after_s=0.0)
    quarantine = Quarantine()
    proc.add_quotes(quotes.filter(pl.col("ts") < cut))
    proc.add(events.filter(pl.col("ts_recv") < cut), quarantine)
    proc.close_finished(quarantine)
    waiting = set(proc.due)
    assert waiting and waiting <= set(proc.open)
    proc.add_quotes(quotes.filter(pl.col("ts") >= cut))
    proc.add(events.clear(), quarantine)          # no events: the due units are recomputed
    proc.close_finished(quarantine)
    completed = waiting - set(proc.due)
    assert completed, "the rest of the day's quotes reach every horizon of most of them"
    assert not completed & set(proc.open)


def test_add_quotes_needs_a_live_processor() -> None:
    proc = dataclasses.replace(live_processor(), live_quotes=False)
    with pytest.raises(ValueError, match="live_quotes=True"):
        proc.add_quotes(pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)))
