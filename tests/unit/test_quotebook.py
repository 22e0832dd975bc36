"""QuoteBook: symbol codes, as-of lookups, ties, unknown symbols and empty books."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_builders import at, quotes
from lpscore.marketdata.nbbo import QuoteBook, mid_variance

MS = 1_000_000


def ns(ms: float) -> int:
    return int(pl.Series([at(ms)]).dt.epoch("ns")[0])


BOOK = quotes([
    (0, "XYZ", 10.00, 10.02), (5, "ABC", 20.00, 20.04), (10, "XYZ", 10.01, 10.03),
    (10, "XYZ", 10.02, 10.04),  # same time as the quote before: the last one given wins
    (20, "ABC", 20.02, 20.06),
])


def test_codes_index_sorted_symbols_and_unknown_or_null_is_minus_one() -> None:
    book = QuoteBook(BOOK)
    assert book.symbols == ["ABC", "XYZ"]
    assert book.codes(["XYZ", "NOPE", None, "ABC"]).tolist() == [1, -1, -1, 0]
    assert book.codes(pl.Series(["ABC"], dtype=pl.Categorical)).tolist() == [0]
    assert len(book) == 5


def test_asof_takes_the_last_quote_at_or_before_and_the_last_of_a_tie() -> None:
    book = QuoteBook(BOOK)
    codes = book.codes(["XYZ", "XYZ", "XYZ", "ABC", "ABC", "NOPE"])
    times = np.array([ns(-1), ns(9), ns(10), ns(19), ns(25), ns(10)], dtype=np.int64)
    hit = book.asof(codes, times)
    assert hit.found.tolist() == [False, True, True, True, True, False]
    assert hit.bid[1:5].tolist() == [10.00, 10.02, 20.00, 20.02]
    assert hit.mid[2] == pytest.approx(10.03)
    assert np.isnan(hit.bid[0]) and np.isnan(hit.ask[5])
    assert hit.ts.tolist() == [-1, ns(0), ns(10), ns(5), ns(20), -1]
    assert hit.age_ns(times).tolist() == [-1, 9 * MS, 0, 14 * MS, 5 * MS, -1]
    assert hit.past_end.tolist() == [False, False, False, False, True, False]


def test_quote_order_does_not_matter_but_ties_keep_the_order_given() -> None:
    shuffled = BOOK.sample(fraction=1.0, shuffle=True, seed=1)
    tie = shuffled.filter(pl.col("ts") == at(10))
    book = QuoteBook(shuffled)
    hit = book.asof(book.codes(["XYZ"]), np.array([ns(15)], dtype=np.int64))
    assert hit.bid.tolist() == [tie["bid"][-1]]
    times, mids = book.series(book.codes(["ABC"])[0])
    assert times.tolist() == [ns(5), ns(20)]
    assert mids.tolist() == pytest.approx([20.02, 20.04])


def test_empty_book_and_empty_queries() -> None:
    book = QuoteBook(quotes([]))
    assert book.symbols == [] and len(book) == 0
    codes = book.codes(["XYZ"])
    assert codes.tolist() == [-1]
    hit = book.asof(codes, np.array([ns(1)], dtype=np.int64))
    assert not hit.found.any() and not hit.past_end.any() and np.isnan(hit.mid).all()
    none = QuoteBook(BOOK).asof(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert len(none.bid) == 0


def test_quotes_without_symbol_or_time_are_left_out() -> None:
    bad = pl.concat([BOOK, BOOK.head(2).with_columns(pl.lit(None, pl.String).alias("symbol")),
                     BOOK.head(1).with_columns(pl.lit(None).cast(BOOK.schema["ts"]).alias("ts"))])
    book = QuoteBook(bad)
    assert book.symbols == ["ABC", "XYZ"] and len(book) == len(BOOK)


def test_many_symbols_use_wider_codes() -> None:
    n = 40_000  # more than an int16 code holds
    symbols = [f"S{i:05d}" for i in range(n)]
    book = QuoteBook(pl.DataFrame({
        "ts": [at(i % 7) for i in range(n)], "symbol": symbols[::-1],
        "bid": np.arange(n, dtype=np.float64), "ask": np.arange(n, dtype=np.float64) + 1,
    }, schema_overrides={"ts": BOOK.schema["ts"]}))
    codes = book.codes(["S39999", "S00000"])
    assert codes.tolist() == [n - 1, 0]
    hit = book.asof(codes, np.array([ns(10), ns(10)], dtype=np.int64))
    assert hit.bid.tolist() == [0.0, float(n - 1)]


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 30), st.sampled_from(["ABC", "XYZ", "QQQ"]),
                               st.integers(0, 50)), min_size=1, max_size=40),
       cuts=st.lists(st.integers(0, 40), max_size=4),
       queries=st.lists(st.tuples(st.sampled_from(["ABC", "XYZ", "QQQ", "NOPE"]),
                                  st.integers(-2, 33)), min_size=1, max_size=20))
def test_a_book_extended_piece_by_piece_answers_as_one_made_at_once(
        rows: list[tuple[int, str, int]], cuts: list[int],
        queries: list[tuple[str, int]]) -> None:
    """Quotes taken in pieces (``extend``: a live feed, poll by poll), in time order or
    not, with symbols first seen in a later piece and ties across pieces, give the book
    made from all of them at once: the same symbols, length, series and as-of answers."""
    frame = quotes([(t, sym, 10.0 + price / 100, 10.02 + price / 100)
                    for t, sym, price in rows])
    whole = QuoteBook(frame)
    bounds = sorted({0, *(min(c, frame.height) for c in cuts), frame.height})
    pieces = QuoteBook(frame.slice(0, bounds[1]))
    for lo, hi in itertools.pairwise(bounds[1:]):
        for code in range(len(pieces.symbols)):   # kept up from here on (a live feed's
            pieces.variance(code)                  # regimes read it at every poll)
        pieces.extend(frame.slice(lo, hi - lo))
    assert pieces.symbols == whole.symbols
    assert len(pieces) == len(whole) == frame.height
    for code in range(len(whole.symbols)):
        for a, b in zip(pieces.series(code), whole.series(code), strict=True):
            assert a.tolist() == b.tolist()
        _, mid = whole.series(code)        # the running variance to the last bit
        assert pieces.variance(code)[1].tolist() == mid_variance(mid).tolist()
    symbols = [s for s, _ in queries]
    times = np.array([ns(t) for _, t in queries], dtype=np.int64)
    got, want = (book.asof(book.codes(symbols), times) for book in (pieces, whole))
    for name in ("ts", "found", "past_end"):
        assert getattr(got, name).tolist() == getattr(want, name).tolist()
    for name in ("bid", "ask"):
        assert np.array_equal(getattr(got, name), getattr(want, name), equal_nan=True)
