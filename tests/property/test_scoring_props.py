"""Properties of the composite score (KPIS.md "From KPIs to a composite score")."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lpscore.scoring.composite import composite
from lpscore.scoring.normalize import normalize

METHODS = st.sampled_from(["robust_z", "minmax", "rank"])
VALUES = st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False)


@st.composite
def panels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[int], list[float]]:
    """KPI values (LPs x KPIs), weights summing to 1, directions and MAD floors."""
    lps, kpis = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    values = draw(hnp.arrays(np.float64, (lps, kpis), elements=VALUES))
    raw = draw(hnp.arrays(np.float64, kpis, elements=st.floats(0.01, 1.0)))
    better = draw(st.lists(st.sampled_from([1, -1]), min_size=kpis, max_size=kpis))
    floors = draw(st.lists(st.floats(1e-6, 10.0), min_size=kpis, max_size=kpis))
    return values, raw / raw.sum(), better, floors


@given(panels(), METHODS)
def test_contributions_sum_to_a_score_within_0_100(panel: tuple, method: str) -> None:
    values, weights, better, floors = panel
    points = composite(values, weights, better, method, floors)
    score = points.sum(axis=-1)
    assert np.all(points >= 0.0)
    assert np.all(points <= 100.0 * weights + 1e-9)
    assert np.all((score >= -1e-9) & (score <= 100.0 + 1e-9))


@given(panels(), METHODS, st.data())
def test_identical_lps_score_identically(panel: tuple, method: str, data: st.DataObject
                                         ) -> None:
    values, weights, better, floors = panel
    i = data.draw(st.integers(0, values.shape[0] - 1))
    twin = np.vstack([values, values[i]])
    score = composite(twin, weights, better, method, floors).sum(axis=-1)
    assert score[-1] == score[i]


@given(panels(), METHODS, st.data())
def test_an_lp_at_least_as_good_on_every_kpi_never_scores_lower(
        panel: tuple, method: str, data: st.DataObject) -> None:
    values, weights, better, floors = panel
    lps, kpis = values.shape
    i = data.draw(st.integers(0, lps - 1))
    gains = data.draw(hnp.arrays(np.float64, kpis, elements=st.floats(0.0, 1e3)))
    better_lp = values[i] + np.asarray(better) * gains   # as good or better on every KPI
    panel_ = np.vstack([values, better_lp])
    score = composite(panel_, weights, better, method, floors).sum(axis=-1)
    assert score[-1] >= score[i] - 1e-9


@given(hnp.arrays(np.float64, st.integers(1, 10), elements=VALUES), METHODS,
       st.sampled_from([1, -1]))
def test_each_normalisation_is_monotone_in_the_better_direction(
        values: np.ndarray, method: str, better: int) -> None:
    norm = normalize(values, better, method, 1e-3)
    order = np.argsort(better * values, kind="stable")
    assert np.all(np.diff(norm[order]) >= -1e-9)
    assert np.all((norm >= 0.0) & (norm <= 100.0))
