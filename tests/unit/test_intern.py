"""lpscore.intern numbers string values exactly as a dict of the values would, chunk by chunk,
and its sorted codes are those of a cast to pl.Enum of the sorted distinct values."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from lpscore.intern import intern, sorted_codes
from lpscore.marketdata.nbbo import symbol_codes

WORDS = ["", "a", "ab", "S0001", "S0002", "abcdefghijkl", "abcdefghijkm", "abcdefghijklm",
         "abcdefghijkln", "DESK1->LPG-FIX", "DESK1->LPH-FIX", "é", "x" * 40, "x" * 39 + "y"]
"""Values of up to 12 bytes (held in the view), of 13 and more (compared byte by byte), equal
prefixes, a two-byte character."""


def _series(rng: np.random.Generator, n: int) -> pl.Series:
    values = [WORDS[int(rng.integers(0, len(WORDS)))] if rng.random() < 0.7
              else "".join(rng.choice(list("ab#é"), int(rng.integers(0, 20))))
              for _ in range(n)]
    series = pl.Series(values, dtype=pl.String).set(pl.Series(rng.random(n) < 0.1), None)
    if n and rng.random() < 0.5:  # several chunks, as a Parquet read gives them
        cuts = sorted(int(c) for c in rng.integers(0, n, 3))
        series = pl.concat([series[:cuts[0]], series[cuts[0]:cuts[1]], series[cuts[1]:]],
                           rechunk=False)
    return series


def _reference(values: list[str | None], groups: list[int] | None
               ) -> tuple[list[int], list[str]]:
    numbers: dict[tuple[int, str], int] = {}
    codes = []
    for i, value in enumerate(values):
        group = 0 if groups is None else groups[i]
        if value is None or group < 0:
            codes.append(-1)
        else:
            codes.append(numbers.setdefault((group, value), len(numbers)))
    return codes, [value for _, value in numbers]


@pytest.mark.parametrize("seed", range(60))
def test_values_are_numbered_by_first_appearance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = _series(rng, int(rng.integers(0, 2000)))
    within = rng.integers(-1, 3, len(series)).astype(np.int32) if seed % 2 else None
    if seed % 4 == 2:  # categorical (the compact form): numbered from its physical codes
        series = series.cast(pl.Categorical)
    codes, first = intern(series, within, expected=int(rng.integers(0, 50)))
    want, distinct = _reference(series.to_list(), None if within is None else within.tolist())
    assert codes.tolist() == want
    assert series.gather(first).to_list() == distinct


def test_many_distinct_values_grow_the_table() -> None:
    values = pl.Series([f"C{i % 7000}" if i % 3 else f"a long client order id {i % 5000}"
                        for i in range(30_000)])
    codes, first = intern(values)
    want, distinct = _reference(values.to_list(), None)
    assert codes.tolist() == want and values.gather(first).to_list() == distinct


@pytest.mark.parametrize("seed", range(20))
def test_sorted_codes_are_those_of_an_enum(seed: int) -> None:
    series = _series(np.random.default_rng(seed), 1500).drop_nulls()
    values, codes = sorted_codes(series)
    assert values == series.unique().sort().to_list()
    assert codes.tolist() == series.cast(pl.Enum(values)).to_physical().to_list()
    values_cat, codes_cat = sorted_codes(series.cast(pl.Categorical))
    assert values_cat == values and codes_cat.tolist() == codes.tolist()


@pytest.mark.parametrize("seed", range(10))
def test_symbol_codes_of_categorical_symbols_are_those_of_strings(seed: int) -> None:
    rng = np.random.default_rng(seed)
    series = _series(rng, 800)
    known = sorted({v for v in series.to_list() if v is not None and rng.random() < 0.6})
    enum = pl.Enum(known)
    want = symbol_codes(enum, series)
    assert want.tolist() == [known.index(v) if v in known else -1 for v in series.to_list()]
    assert symbol_codes(enum, series.cast(pl.Categorical)).tolist() == want.tolist()


def test_sorted_codes_refuse_nulls() -> None:
    with pytest.raises(ValueError, match="nulls"):
        sorted_codes(pl.Series(["a", None]))


def test_empty() -> None:
    codes, first = intern(pl.Series([], dtype=pl.String))
    assert len(codes) == 0 and len(first) == 0
    assert sorted_codes(pl.Series([], dtype=pl.String))[0] == []
    codes, first = intern(pl.Series([], dtype=pl.Categorical))
    assert len(codes) == 0 and len(first) == 0

