"""The compiled per-group sums of kpi_stats equal the Polars aggregation bit for bit."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from lpscore.kpi import aggregate
from lpscore.kpi.aggregate import LATENCIES, per_fill_kpis
from lpscore.stats.groupsum import Groups

HORIZONS = ["100ms", "5s"]


def _floats(rng: np.random.Generator, n: int, scale: float, nulls: float) -> pl.Series:
    values = rng.normal(size=n) * scale * 10.0 ** rng.integers(-2, 3, n)
    return pl.Series(values).set(pl.Series(rng.random(n) < nulls), None)


def _bools(rng: np.random.Generator, n: int, nulls: float) -> pl.Series:
    return pl.Series(rng.random(n) < 0.5).set(pl.Series(rng.random(n) < nulls), None)


def _frames(seed: int, n: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    keys = {"lp": pl.Series([f"LP{i}" for i in rng.integers(0, 4, n)]),
            "symbol": pl.Series([f"S{i}" for i in rng.integers(0, 30, n)]).set(
                pl.Series(rng.random(n) < 0.02), None)}
    decay = pl.Series(0.5 ** rng.random(n))
    orders = pl.DataFrame({
        **keys, "_d": decay,
        "terminal": _bools(rng, n, 0.05), "complete": _bools(rng, n, 0.05),
        "rejected": _bools(rng, n, 0.0), "session_rejected": _bools(rng, n, 0.0),
        "adverse_move": _bools(rng, n, 0.3),
        "t_decision": pl.Series([datetime(2026, 1, 1, tzinfo=UTC)] * n).set(
            pl.Series(rng.random(n) < 0.3), None),
        "n_cancel_requests": pl.Series(rng.integers(0, 3, n)),
        "n_cancel_rejects": pl.Series(rng.integers(0, 2, n)),
        "order_qty": _floats(rng, n, 1e3, 0.0).abs(), "filled_qty": _floats(rng, n, 1e3, 0.1),
        **{name: _floats(rng, n, 50.0, 0.3) for name in (*LATENCIES, "reject_cost_bps")},
    })
    fills = pl.DataFrame({
        **keys, "_d": decay, "q": _floats(rng, n, 1e3, 0.01).abs(),
        "has_benchmark": _bools(rng, n, 0.02),
        **{name: _floats(rng, n, 5.0, 0.1) for name in (*per_fill_kpis(HORIZONS),
                                                        "pi_amount")},
    })
    return orders, fills


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("keys", [["lp"], ["lp", "symbol"]])
def test_compiled_sums_equal_polars(seed: int, keys: list[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    orders, fills = _frames(seed, int(np.random.default_rng(seed).integers(1, 3000)))
    monkeypatch.setattr(aggregate, "_COMPILED_FROM_ROWS", 10**9)  # Polars
    expected = (aggregate._order_sums(orders, keys),
                aggregate._fill_sums(fills, keys, HORIZONS))
    monkeypatch.setattr(aggregate, "_COMPILED_FROM_ROWS", 0)  # compiled
    groups = Groups.of(orders, keys)
    assert groups is not None
    got = (aggregate._order_sums_of(orders, groups),
           aggregate._fill_sums_of(fills, groups, HORIZONS))
    for a, b in zip(got, expected, strict=True):
        assert a.sort(keys, nulls_last=True).equals(b.sort(keys, nulls_last=True))


def test_nan_and_sorted_keys_fall_back_to_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    orders, fills = _frames(1, 500)
    nan_fills = fills.with_columns(pl.col("pi_bps").fill_null(float("nan")))
    monkeypatch.setattr(aggregate, "_COMPILED_FROM_ROWS", 10**9)
    expected = aggregate._fill_sums(nan_fills, ["lp"], HORIZONS)
    monkeypatch.setattr(aggregate, "_COMPILED_FROM_ROWS", 0)
    got = aggregate._fill_sums(nan_fills, ["lp"], HORIZONS)
    assert got.filter(pl.col("pi_bps__wx").is_nan()).height > 0
    assert got.sort("lp").equals(expected.sort("lp"))
    assert Groups.of(orders.sort("lp"), ["lp"]) is None  # Polars sums sorted slices its way
    assert Groups.of(orders.head(0), ["lp"]) is None
