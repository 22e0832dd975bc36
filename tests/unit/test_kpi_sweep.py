"""The engine's fast paths give the answers of the paths they replace, bit for bit: the quote
sweep (kpi.sweep) those of QuoteBook and symbol_regimes, the compiled report facts those of
the Polars aggregation, and compute_kpis the same tables with or without a sweep."""

from __future__ import annotations

import itertools
import random
from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_builders import T0, Tape, quotes
from lpscore.config import Config, ContextConfig
from lpscore.ingest.orders import link_child_orders
from lpscore.kpi import sweep as sweep_module
from lpscore.kpi.context import _vol_regime
from lpscore.kpi.engine import _in_receipt_order, _with_orders, compute_kpis
from lpscore.kpi.lifecycle import (
    _REPORT_COLUMNS,
    KEY,
    _report_facts,
    _report_facts_of,
    child_keys,
)
from lpscore.kpi.sweep import QuoteSweep
from lpscore.marketdata.nbbo import QuoteBook

MS = 1_000_000


def _feed(seed: int, n: int = 400) -> pl.DataFrame:
    """Quotes in time order with ties in time, a symbol quoted once, and a wide range."""
    rng = random.Random(seed)
    rows, t = [], 0.0
    for _ in range(n):
        t += rng.choice([0.0, 0.0, 1.0, 7.5, 250.0])
        symbol = rng.choice(["ABC", "XYZ", "XYZ", "QQQ"])
        bid = 100 + rng.randint(-50, 50) / 100
        rows.append((t, symbol, bid, bid + rng.choice([0.0, 0.01, 0.02])))
    rows.append((t / 2, "ONCE", 10.0, 10.01))
    rows.sort(key=lambda r: r[0])  # stable: ties keep their order
    return quotes(rows)


def _assert_same_asof(book: QuoteBook, sweep: QuoteSweep, codes: np.ndarray,
                      times: np.ndarray) -> None:
    want, got = book.asof(codes, times), sweep.asof(codes, times)
    for name in ("bid", "ask", "ts", "found", "past_end"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


def _chunked(frame: pl.DataFrame, rng: random.Random) -> pl.DataFrame:
    """``frame`` as chunks of random lengths (as quotes concatenated file by file)."""
    cuts = sorted({0, frame.height, *(rng.randrange(frame.height) for _ in range(6))})
    return pl.concat([frame.slice(a, b - a) for a, b in itertools.pairwise(cuts)],
                     rechunk=False)


# (rows in a part at most, at least): one part; parts of single quotes; parts cut inside
# chunks and at their ends; short chunks copied together
PARTS = [(1 << 20, 1 << 16), (1, 1), (7, 1), (50, 20)]


@pytest.mark.parametrize(("most", "least"), PARTS)
@pytest.mark.parametrize("seed", range(20))
def test_sweep_answers_as_the_quote_book(seed: int, most: int, least: int,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "_PART", most)
    monkeypatch.setattr(sweep_module, "_MIN_PART", least)
    feed = _feed(seed)
    if seed % 2:
        feed = _chunked(feed, random.Random(seed))
    book, sweep = QuoteBook(feed), QuoteSweep.of(feed)
    assert sweep is not None and sweep.symbols == book.symbols and len(sweep) == len(book)
    rng = np.random.default_rng(seed)
    symbols = pl.Series(rng.choice(["ABC", "XYZ", "QQQ", "ONCE", "NOPE"], 300))
    np.testing.assert_array_equal(sweep.codes(symbols), book.codes(symbols))
    codes = book.codes(symbols)
    t0 = int(feed["ts"].dt.epoch("ns")[0])
    times = t0 + rng.integers(-5 * MS, 200_000 * MS, 300)
    exact = feed["ts"].dt.epoch("ns").to_numpy()[rng.integers(0, feed.height, 300)]
    for query in (times, np.sort(times), exact, np.sort(exact)):
        _assert_same_asof(book, sweep, codes, query)
    _assert_same_asof(book, sweep, codes[:0], times[:0])


def test_sweep_holds_views_of_the_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of ``_MIN_PART`` rows or more are not copied: a part's columns are views of the
    frame's memory (20M quotes would otherwise be copied once more, 480 MB)."""
    monkeypatch.setattr(sweep_module, "_MIN_PART", 10)
    feed = _chunked(_feed(3, n=2_000), random.Random(3))
    feed = pl.concat([feed, feed.tail(3).with_columns(pl.col("ts").dt.offset_by("1s"))],
                     rechunk=False)        # a short last chunk: copied alone, still a part
    sweep = QuoteSweep.of(feed)
    assert sweep is not None
    parts = sweep._parts
    assert sum(len(p.ts) for p in parts) == feed.height and len(parts) > 3
    long = [p for p in parts if len(p.ts) >= 10]
    assert long and all(not a.flags.owndata for p in long for a in (p.ts, p.bid, p.ask))


def test_sweep_of_quotes_whose_times_go_back_between_chunks() -> None:
    feed = _feed(2)
    half = feed.height // 2
    swapped = pl.concat([feed.slice(half), feed.slice(0, half)], rechunk=False)
    assert QuoteSweep.of(swapped) is None


def test_sweep_needs_quotes_in_time_order() -> None:
    feed = _feed(1)
    assert QuoteSweep.of(feed.reverse()) is None
    empty = QuoteSweep.of(feed.head(0))
    assert empty is not None and len(empty) == 0
    hit = empty.asof(empty.codes(["ABC", None]), np.array([1, 2], dtype=np.int64))
    assert not hit.found.any() and np.isnan(hit.bid).all()


@pytest.mark.parametrize("part", [1, 7, 1 << 20])
@pytest.mark.parametrize("seed", range(10))
def test_sweep_regimes_are_those_of_the_quote_book(seed: int, part: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_module, "_PART", part)   # the sweep resumed part by part
    monkeypatch.setattr(sweep_module, "_MIN_PART", 1)
    rng = random.Random(seed)
    rows = [(t * rng.choice([50.0, 100.0]), sym, 100 + rng.randint(-20, 20) / 100, 0.0)
            for t in range(600) for sym in ("XYZ", "ABC")]
    rows.append((30_000.0, "SHORT", 10.0, 0.0))
    rows.sort(key=lambda r: r[0])
    feed = quotes([(t, s, b, b + 0.02) for t, s, b, _ in rows])
    orders = pl.DataFrame({
        "symbol": [rng.choice(["XYZ", "ABC", "SHORT", "NOPE", None]) for _ in range(300)],
        "t_send": [T0 + timedelta(milliseconds=rng.randint(-5_000, 70_000))
                   for _ in range(300)],
    })
    sweep = QuoteSweep.of(feed)
    assert sweep is not None
    for config in (ContextConfig(vol_window_s=2.0, vol_sample_s=1.0), ContextConfig()):
        want = _vol_regime(orders, QuoteBook(feed), config)
        assert _vol_regime(orders, sweep, config).to_list() == want.to_list()


def _tape(seed: int) -> Tape:
    rng = random.Random(seed)
    tape, t = Tape(), 0.0
    for _ in range(40):
        t += rng.choice([0, 1, 3])
        lp, cl = rng.choice(["LP_A", "LP_B"]), rng.choice(["C0", "C1", "C2"])
        step = rng.random()
        if step < 0.3:
            tape.order(lp, cl, "XYZ", rng.choice([1, -1]), 100, t)
        elif step < 0.45:
            tape.ack(lp, cl, t)
        elif step < 0.7:
            tape.fill(lp, cl, t, 50, 100.02, leaves=rng.choice([0, 50]))
        else:
            tape.reject(lp, rng.choice([cl, "NOBODY"]), t, reason=rng.choice([3, 99, None]))
        if rng.random() < 0.1:  # a resend: MsgSeqNums go back
            tape.rows[-1].update(seq_num=1, poss_dup=True)
    return tape


@pytest.mark.parametrize("seed", range(30))
def test_compiled_report_facts_are_the_polars_ones(seed: int) -> None:
    events = _tape(seed).events()
    linked = child_keys(link_child_orders(_in_receipt_order(events)))
    reports = linked.select(KEY, *_REPORT_COLUMNS).filter(
        (pl.col("kind") == "8") & pl.col(KEY).is_not_null())
    keys = linked.filter(pl.col("kind") == "D")[KEY]
    want = keys.to_frame().join(_report_facts(reports, KEY), on=KEY, how="left",
                                maintain_order="left").drop(KEY)
    assert_frame_equal(_report_facts_of(reports, keys), want)
    assert_frame_equal(_report_facts_of(reports.reverse(), keys), want)


def test_compute_kpis_is_the_same_with_a_quote_book() -> None:
    tape = _tape(3)
    feed = _feed(3, 200)
    with_sweep = compute_kpis(tape.events(), feed, Config())
    with_book = compute_kpis(tape.events(), feed, Config(), book=QuoteBook(feed))
    assert_frame_equal(with_sweep.orders, with_book.orders)
    assert_frame_equal(with_sweep.fills, with_book.fills)
    assert with_sweep.data_quality == with_book.data_quality


@pytest.mark.parametrize("seed", range(10))
def test_fills_get_their_orders_as_the_join_gives_them(seed: int) -> None:
    """``_with_orders`` (a gather when the orders are in key order) pairs the rows of the
    inner join on the key, in the fills' order: fills of no order (null key, a key past the
    orders) left out, an order with several fills or none."""
    rng = random.Random(seed)
    n = rng.randint(0, 30)
    orders = pl.DataFrame({KEY: pl.int_range(n, eager=True, dtype=pl.Int64),
                           "lp": [rng.choice(["LP_A", "LP_B", None]) for _ in range(n)],
                           "m0": [rng.random() for _ in range(n)]})
    fills = pl.DataFrame({KEY: [rng.choice([None, n, n + 3, *range(n)]) for _ in range(50)],
                          "q": [float(i) for i in range(50)]}, schema_overrides={KEY: pl.Int64})
    for table in (orders, orders.sample(fraction=1.0, shuffle=True, seed=seed),
                  pl.concat([orders, orders.head(2)])):   # the join's path: not in key order
        want = fills.join(table, on=KEY, how="inner", maintain_order="left").drop(KEY)
        assert_frame_equal(_with_orders(fills, table), want)


def test_sweep_of_quotes_in_other_types() -> None:
    """Times in microseconds, symbols as categories, prices as Float32 with a null: the
    sweep reads them as the quote book does."""
    feed = _chunked(_feed(4), random.Random(4)).with_columns(
        pl.col("ts").dt.cast_time_unit("us"), pl.col("symbol").cast(pl.Categorical),
        pl.col("bid").cast(pl.Float32), pl.col("ask").cast(pl.Float32))
    feed = feed.with_columns(pl.when(pl.int_range(pl.len()) == 5).then(None)
                             .otherwise(pl.col("bid")).alias("bid"))
    book, sweep = QuoteBook(feed), QuoteSweep.of(feed)
    assert sweep is not None and sweep.symbols == book.symbols
    codes = book.codes(pl.Series(["ABC", "XYZ", "QQQ", "ONCE", "NOPE"] * 40))
    times = feed["ts"].dt.epoch("ns").to_numpy()[np.random.default_rng(4).integers(
        0, feed.height, 200)]
    _assert_same_asof(book, sweep, codes, times)
