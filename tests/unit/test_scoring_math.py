"""Normalisation, shrinkage and the composite, against hand-computed values (docs/scoring.md)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from lpscore.scoring.composite import composite
from lpscore.scoring.normalize import normalize
from lpscore.stats.shrink import shrink, unshrunk


def logistic(z: float) -> float:
    return 100 / (1 + math.exp(-z))


def test_robust_z_by_hand() -> None:
    # median 2.5; |x - median| = 1.5, 0.5, 0.5, 7.5 -> MAD 1.0 -> scale 1.4826
    got = normalize([1.0, 2.0, 3.0, 10.0], 1, "robust_z", 0.01)
    want = [logistic((x - 2.5) / 1.4826) for x in (1.0, 2.0, 3.0, 10.0)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[3] == pytest.approx(99.369, abs=1e-3)
    lower = normalize([1.0, 2.0, 3.0, 10.0], -1, "robust_z", 0.01)
    np.testing.assert_allclose(lower, 100 - got, rtol=1e-12)


def test_robust_z_floor_keeps_noise_near_50() -> None:
    got = normalize([1.0, 1.001, 1.002], 1, "robust_z", 0.1)  # MAD 0.001, floor 0.1
    np.testing.assert_allclose(got, [logistic(-0.01), 50.0, logistic(0.01)], rtol=1e-12)


def test_two_lps_split_66_34() -> None:
    got = normalize([0.9, 1.0], 1, "robust_z", 0.001)
    np.testing.assert_allclose(got, [logistic(-1 / 1.4826), logistic(1 / 1.4826)], rtol=1e-12)
    assert got[1] == pytest.approx(66.25, abs=0.01)


def test_minmax_and_rank_by_hand() -> None:
    np.testing.assert_allclose(normalize([1, 2, 3, 5], 1, "minmax", 0.0), [0, 25, 50, 100])
    np.testing.assert_allclose(normalize([1, 2, 3, 5], -1, "minmax", 0.0), [100, 75, 50, 0])
    np.testing.assert_allclose(normalize([4, 4, 4], 1, "minmax", 0.0), [50, 50, 50])
    # 3 beats all three others; 1 none; each 2 beats the 1 and ties the other 2
    np.testing.assert_allclose(normalize([3, 1, 2, 2], 1, "rank", 0.0), [100, 0, 50, 50])
    np.testing.assert_allclose(normalize([3, 1, 2, 2], -1, "rank", 0.0), [0, 100, 50, 50])
    assert normalize([7.0], 1, "rank", 0.0).tolist() == [50.0]


@pytest.mark.parametrize("method", ["robust_z", "minmax", "rank"])
def test_missing_value_is_neutral_and_left_out(method: str) -> None:
    got = normalize([1.0, np.nan, 3.0], 1, method, 0.01)
    assert got[1] == 50.0
    np.testing.assert_allclose(got[[0, 2]], normalize([1.0, 3.0], 1, method, 0.01))
    np.testing.assert_allclose(normalize([np.nan, np.nan], 1, method, 0.01), [50, 50])


def test_draws_map_through_the_reference() -> None:
    reference = np.array([0.0, 10.0])
    draws = np.array([[-5.0, 15.0], [5.0, 5.0]])
    np.testing.assert_allclose(normalize(draws, 1, "minmax", 0.0, reference=reference),
                               [[0, 100], [50, 50]])
    # rank of each draw among the *other* LPs' reference values: 5 < 10 but 5 > 0
    np.testing.assert_allclose(normalize(draws, 1, "rank", 0.0, reference=reference),
                               [[0, 100], [0, 100]])
    z = normalize(draws, 1, "robust_z", 0.0, reference=reference)  # median 5, scale 7.413
    np.testing.assert_allclose(z[1], [50, 50])
    assert z[0, 0] == pytest.approx(logistic(-10 / 7.413), abs=1e-6)


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="robust_z, minmax or rank"):
        normalize([1.0], 1, "zscore", 0.1)


def test_composite_points_by_hand() -> None:
    points = np.array([[1.0, 0.9], [3.0, 0.5]])  # LP x (latency ms, fill rate)
    got = composite(points, [0.6, 0.4], [-1, 1], "minmax", [0.01, 0.01])
    np.testing.assert_allclose(got, [[60.0, 40.0], [0.0, 0.0]])


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"g": pl.String, "r.x": pl.Float64, "r.n": pl.Float64,
                                      "m.x": pl.Float64, "m.n": pl.Float64,
                                      "m.s2": pl.Float64})


def test_shrink_rates_and_means_by_hand() -> None:
    parent = unshrunk(_frame([{"g": None, "r.x": 0.8, "r.n": 100.0, "m.x": 0.0, "m.n": 50.0,
                               "m.s2": 4.0}]), ["r", "m"])
    child = _frame([
        {"g": "a", "r.x": 0.5, "r.n": 10.0, "m.x": 2.0, "m.n": 5.0, "m.s2": 1.0},
        {"g": "b", "r.x": None, "r.n": 0.0, "m.x": None, "m.n": 0.0, "m.s2": None},
    ])
    got = shrink(child, parent.drop("g"), [], ["r"], ["m"], 20.0).sort("g")
    a, b = got.row(0, named=True), got.row(1, named=True)
    assert a["r.x"] == pytest.approx((10 * 0.5 + 20 * 0.8) / 30)  # 0.7
    assert a["r.N"] == 30.0
    assert a["r.raw"] == 0.5
    assert a["m.x"] == pytest.approx((5 * 2.0 + 20 * 0.0) / 25)  # 0.4
    assert a["m.s2"] == pytest.approx((5 * 1.0 + 20 * 4.0) / 25)  # 3.4
    assert (b["r.x"], b["m.x"], b["m.s2"], b["r.raw"]) == (0.8, 0.0, 4.0, None)
    plain = shrink(child, parent.drop("g"), [], ["r"], ["m"], 0.0).sort("g")
    assert plain.row(0, named=True)["r.x"] == 0.5
    assert plain.row(1, named=True)["r.x"] is None
    with pytest.raises(ValueError, match=">= 0"):
        shrink(child, parent.drop("g"), [], ["r"], ["m"], -1.0)
