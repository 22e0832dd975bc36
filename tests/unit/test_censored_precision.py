"""lpscore.learn.censored with decay < 1: the risk sets keep an old observation's exact weight.

The estimator (docs/learn.md, "Estimator") is ``h(u) = d(u) / (n(u) + a)`` with ``n(u)`` a sum
of decayed weights. With ``decay < 1`` an old observation at a large size weighs
``decay ** age``, e.g. 1e-15 of the recent ones after 320 observations at ``decay = 0.9``; a
risk set computed as "total minus what is below u" loses such a weight to rounding (the
estimate then depended on float noise, by up to ~0.9 in probability). These tests compare the
model against the documented formula evaluated directly.
"""

from __future__ import annotations

import bisect
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpscore.learn import CensoredLiquidity


class BruteForceKM:
    """The documented estimator, written out: the weight of the observation of age ``a``
    (0 = latest) is ``decay ** a``, each risk set is summed with ``math.fsum`` over every
    observation, and ``P(K > v)`` multiplies ``1 - d(u) / (n(u) + prior)`` over the event
    values ``u <= v``. Grid values as the model rounds them (``floor(q / unit + 1e-9)``)."""

    def __init__(self, pairs: list[tuple[float, float]], *, unit: float, decay: float,
                 prior: float) -> None:
        self.unit, self.prior = unit, prior
        n = len(pairs)
        # (is_exact, grid value, weight)
        self.obs = [(f < s, math.floor((f if f < s else s) / unit + 1e-9),
                     decay ** (n - 1 - i)) for i, (s, f) in enumerate(pairs)]
        events = sorted({k for exact, k, _ in self.obs if exact})
        self.table = []          # (u, P(K > u)) at each event value, ascending
        surv = 1.0
        for u in events:
            d = math.fsum(w for exact, k, w in self.obs if exact and k == u)
            at_risk = math.fsum(w for exact, k, w in self.obs
                                if (exact and k >= u) or (not exact and k > u))
            surv *= 1.0 - d / (at_risk + prior)
            self.table.append((u, surv))

    def after(self, k: int) -> float:
        """P(K > k): the survival after the last event value ``<= k``."""
        i = bisect.bisect_right([u for u, _ in self.table], k) - 1
        return 1.0 if i < 0 else self.table[i][1]

    def survival(self, v: float) -> float:
        return 1.0 if v < 0 else self.after(math.floor(v / self.unit + 1e-9))

    def at_least(self, v: float) -> float:
        k = math.ceil(v / self.unit - 1e-9)
        return 1.0 if k <= 0 else self.after(k - 1)

    def expected_fill(self, s: float) -> float:
        """``unit * sum_{j=0..m-1} P(K > j)``, ``m = floor(s / unit)``: each step of the
        survival times the number of grid values below ``m`` it covers."""
        m = math.floor(s / self.unit + 1e-9) if s > 0 else 0
        edges = [0] + [min(u, m) for u, _ in self.table] + [m]
        levels = [1.0] + [surv for _, surv in self.table]
        return self.unit * math.fsum((hi - lo) * p for lo, hi, p
                                     in zip(edges[:-1], edges[1:], levels, strict=True)
                                     if hi > lo)


def test_an_old_exact_value_alone_at_risk_keeps_hazard_one() -> None:
    # V = 1000 revealed once, then 320 full fills of 5 (V >= 5). At u = 1000 the risk set is
    # that one observation (the censorings at 5 left it long before), so h(1000) = d / n = 1
    # and P(V > 1000) = 0 exactly, however small its weight 0.9 ** 320 = 2.4e-15 has become.
    model = CensoredLiquidity(decay=0.9)
    model.observe("A", 2000, 1000)
    for _ in range(320):
        model.observe("A", 5, 5)
    assert model.survival("A", 1000) == 0.0          # was 0.444 with "total - running sum"
    assert model.at_least("A", 1001) == 0.0
    assert model.survival("A", 5000) == 0.0
    assert model.survival("A", 999) == 1.0           # no event below 1000
    assert model.at_least("A", 1000) == 1.0
    # E[min(V, 2000)] = sum_{j=1..2000} P(V >= j) = 1000 ones and 1000 zeros
    assert model.expected_fill("A", 2000) == pytest.approx(1000.0, rel=1e-12)
    [(v, events, at_risk)] = model.hazards("A")      # what Thompson sampling reads
    assert v == 1000
    assert events == pytest.approx(0.9 ** 320, rel=1e-12)
    assert at_risk == events


@pytest.mark.parametrize(("decay", "recent"), [(0.9, 300), (0.9, 320), (0.98, 1_600),
                                               (0.99, 3_000)])
def test_the_old_observations_risk_set_at_realistic_decays(decay: float, recent: int) -> None:
    # one old partial fill at 3000 and one at 100, then many small orders (V = 4 or V >= 10);
    # only the two old ones reach 100, so h(100) = w100 / (w100 + w3000), with no event
    # between 4 and 100, and h(3000) = 1.
    model = CensoredLiquidity(decay=decay)
    model.observe("A", 5000, 3000)
    model.observe("A", 5000, 100)
    for i in range(recent):
        model.observe("A", 10, 10 if i % 3 else 4)
    w3000, w100 = decay ** (recent + 1), decay ** recent
    assert model.survival("A", 99) == model.survival("A", 4) > 0
    assert model.survival("A", 100) / model.survival("A", 99) == pytest.approx(
        w3000 / (w100 + w3000), rel=1e-12)
    assert model.survival("A", 3000) == 0.0


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[float, float]], float, float, float]:
    """A few old orders at large sizes, then a long run of small ones, then a few more at any
    size. Long runs at the lower decays put the old weights below 1e-13 of the total (0.9 **
    300 = 2e-14), where "total minus a running sum" lost them; below about 1e-6 of it (0.98
    ** 700) it already missed the 1e-9 tolerance."""
    decay = draw(st.one_of(st.sampled_from([0.9, 0.92, 0.95, 0.98, 0.99, 0.999, 1.0]),
                           st.floats(0.9, 0.999)))
    unit = draw(st.sampled_from([1.0, 10.0, 0.5]))
    prior = draw(st.sampled_from([0.0, 0.0, 1.0, 1e-3]))
    order = st.floats(1.0, 5_000.0).flatmap(
        lambda s: st.tuples(st.just(s), st.one_of(st.just(s), st.floats(0.0, s))))
    old = draw(st.lists(order, min_size=1, max_size=5))
    n_recent = draw(st.one_of(st.sampled_from([300, 400, 700, 900]), st.integers(0, 900)))
    top = draw(st.sampled_from([5.0, 20.0, 60.0]))
    full = draw(st.sampled_from([1.0, 0.9, 0.5]))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    recent = []
    for _ in range(n_recent):
        sent = rng.uniform(1.0, top)
        recent.append((sent, sent if rng.random() < full else rng.uniform(0.0, sent)))
    late = draw(st.lists(order, max_size=3))
    return old + recent + late, unit, decay, prior


@settings(max_examples=150, deadline=None)
@given(histories())
def test_matches_the_documented_formula_summed_directly(
        history: tuple[list[tuple[float, float]], float, float, float]) -> None:
    pairs, unit, decay, prior = history
    model = CensoredLiquidity(unit=unit, decay=decay, prior=prior)
    for sent, filled in pairs:
        model.observe("A", sent, filled)
    ref = BruteForceKM(pairs, unit=unit, decay=decay, prior=prior)
    sizes = {0.0, 0.3, unit, 2.5 * unit, 7.0, 5_000.0, 1e6}
    sizes |= {k * unit + shift for _, k, _ in ref.obs for shift in (-unit, 0.0, unit)}
    for v in sorted(sizes):
        assert model.survival("A", v) == pytest.approx(ref.survival(v), rel=1e-9, abs=1e-12), v
        assert model.at_least("A", v) == pytest.approx(ref.at_least(v), rel=1e-9, abs=1e-12), v
    for s in (unit, 10 * unit, 2_000.0, 6_000.0):
        expected = ref.expected_fill(s)
        assert model.expected_fill("A", s) == pytest.approx(expected, rel=1e-9,
                                                            abs=1e-12 * s), s
    # the hazards Thompson sampling draws from: the same risk sets
    events = {u: d for u, d, _ in model.hazards("A")}
    for u, d, at_risk in model.hazards("A"):
        k = round(u / unit)
        assert d == pytest.approx(math.fsum(w for e, kk, w in ref.obs if e and kk == k),
                                  rel=1e-9)
        assert at_risk == pytest.approx(math.fsum(
            w for e, kk, w in ref.obs if (e and kk >= k) or (not e and kk > k)), rel=1e-9)
    assert len(events) == len(ref.table)
