"""lpscore.learn.censored: Kaplan-Meier by hand, against the simulator's truth, discounting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lpscore.learn
from lpscore.learn import CensoredLiquidity
from lpscore.sim.lps import LpParams, available_survival

# The worked example. Observations (sent, filled) -> what they say about V:
#   (10, 3) V = 3   (10, 10) V >= 10   (5, 5) V >= 5   (10, 7) V = 7   (20, 0) V = 0
# Hazard h(u) = P(V = u | V >= u); risk set at u = exact values >= u and censorings c > u.
#   u = 0: at risk all 5, 1 event -> P(V > 0) = 4/5              = 0.8
#   u = 3: at risk {3, 7, >=5, >=10} = 4, 1 event -> 0.8 * 3/4   = 0.6
#   u = 7: at risk {7, >=10} = 2 (>=5 left after 4), 1 event -> 0.6 * 1/2 = 0.3
#   u >= 10: no one at risk at 10 (>=10 cannot tell 10 from more): flat at 0.3.
EXAMPLE = [(10, 3), (10, 10), (5, 5), (10, 7), (20, 0)]
EXAMPLE_SURVIVAL = {0: 0.8, 1: 0.8, 2: 0.8, 3: 0.6, 4: 0.6, 5: 0.6, 6: 0.6, 7: 0.3, 8: 0.3,
                    9: 0.3, 10: 0.3, 50: 0.3}


def fitted(pairs, **kwargs) -> CensoredLiquidity:
    model = CensoredLiquidity(**kwargs)
    for sent, filled in pairs:
        model.observe("LP", sent, filled)
    return model


def test_exports():
    assert lpscore.learn.__all__ == ["CensoredLiquidity"]


def test_hand_computed_example():
    model = fitted(EXAMPLE)
    for v, p in EXAMPLE_SURVIVAL.items():
        assert model.survival("LP", v) == pytest.approx(p, abs=1e-12), v
        assert model.at_least("LP", v + 1) == pytest.approx(p, abs=1e-12), v
    assert model.at_least("LP", 0) == 1.0
    assert model.at_least("LP", 1) == pytest.approx(0.8)
    assert [v for v, _ in model.steps("LP")] == [0, 3, 7]
    assert [p for _, p in model.steps("LP")] == pytest.approx([0.8, 0.6, 0.3])
    assert model.n("LP") == 5
    # E[min(V, 8)] = sum_{v=1..8} P(V >= v) = 3 * 0.8 + 4 * 0.6 + 0.3
    assert model.expected_fill("LP", 8) == pytest.approx(3 * 0.8 + 4 * 0.6 + 0.3)
    assert model.marginal("LP", 6) == pytest.approx(0.6)   # P(V >= 7)
    assert model.marginal("LP", 7) == pytest.approx(0.3)   # P(V >= 8)


def test_tie_between_an_event_and_a_censoring():
    # V = 10 (sent 20) and V >= 10 (sent 10): the censoring supports P(V >= 10) only, so the
    # one exact value is the whole risk set at 10: P(V >= 10) = 1, P(V > 10) = 0.
    model = fitted([(20, 10), (10, 10)])
    assert model.at_least("LP", 10) == 1.0
    assert model.survival("LP", 10) == 0.0


def test_uncensored_is_the_empirical_survival():
    rng = np.random.default_rng(11)
    values = rng.integers(0, 60, size=500)
    model = fitted((1000, int(x)) for x in values)
    for v in range(-1, 65):
        assert model.survival("LP", v) == pytest.approx(np.mean(values > v), abs=1e-12)
        assert model.at_least("LP", v) == pytest.approx(np.mean(values >= v), abs=1e-12)


def test_grid_counts_whole_units():
    # unit = 100: V = 250 is 2 lots, a full fill of 150 says V >= 1 lot.
    model = fitted([(300, 250), (150, 150), (500, 40)], unit=100)
    # lots: exact 2, censored >= 1, exact 0 -> P(K > 0) = 2/3, P(K > 2) = 2/3 * 0 = 0
    assert model.survival("LP", 0) == pytest.approx(2 / 3)
    assert model.at_least("LP", 100) == pytest.approx(2 / 3)
    assert model.at_least("LP", 150) == pytest.approx(2 / 3)     # V on the grid: >= 200
    assert model.at_least("LP", 200) == pytest.approx(2 / 3)
    assert model.at_least("LP", 201) == 0.0
    assert [v for v, _ in model.steps("LP")] == [0, 200]
    assert [p for _, p in model.steps("LP")] == pytest.approx([2 / 3, 0.0])
    assert model.expected_fill("LP", 250) == pytest.approx(100 * (2 / 3 + 2 / 3))
    assert model.expected_fill("LP", 99) == 0.0


def test_unseen_keys_use_the_prior():
    optimistic = CensoredLiquidity()
    assert optimistic.at_least("new", 1e6) == 1.0
    assert optimistic.n("new") == 0.0
    cautious = CensoredLiquidity(unseen=0.25)
    assert cautious.at_least("new", 0) == 1.0
    assert cautious.at_least("new", 5) == 0.25
    assert cautious.survival("new", 0) == 0.25
    assert cautious.expected_fill("new", 8) == pytest.approx(2.0)
    cautious.observe(("LP", "ACME"), 10, 10)            # tuple keys; all censored: flat at 1
    assert cautious.at_least(("LP", "ACME"), 1e6) == 1.0
    assert cautious.keys() == [("LP", "ACME")]


def km_reference(exact: np.ndarray, censored: np.ndarray, k: int) -> tuple[float, float]:
    """P(K >= k) and its Greenwood standard error, straight from the raw observations."""
    s, var = 1.0, 0.0
    for u in np.unique(exact[exact < k]):
        n = np.sum(exact >= u) + np.sum(censored > u)
        d = np.sum(exact == u)
        s *= 1 - d / n
        var += d / (n * (n - d)) if n > d else 0.0
    return s, s * math.sqrt(var)


def test_recovers_the_simulators_liquidity_truth():
    params = LpParams(name="LP_T", liquidity_zero_prob=0.5, liquidity_alpha=1.5,
                      liquidity_scale=200.0)
    rng = np.random.default_rng(20240611)
    n = 4000
    # as SimulatedLp draws it: 0 w.p. zero_prob, else scale * Lomax(alpha); fills floored
    lomax = np.expm1(-np.log1p(-rng.random(n)) / params.liquidity_alpha)
    available = np.where(rng.random(n) < params.liquidity_zero_prob, 0.0,
                         params.liquidity_scale * lomax)
    sent = rng.integers(1, 1000, size=n)
    filled = np.floor(np.minimum(sent, available))
    model = fitted(zip(sent.tolist(), filled.tolist(), strict=True))
    assert model.n("LP") == n
    is_exact = filled < sent
    exact, censored = filled[is_exact], sent[~is_exact]
    for v in (1, 20, 100, 200, 400, 700):
        truth = available_survival(params, v)      # P(V > v) = P(V >= v) = P(floor V >= v)
        estimate = model.at_least("LP", v)
        reference, se = km_reference(exact, censored, v)
        assert estimate == pytest.approx(reference, abs=1e-12), v
        assert abs(estimate - truth) < 4 * se, (v, estimate, truth, se)
        assert se < 0.03
    assert model.survival("LP", 0) == pytest.approx(model.at_least("LP", 1))


def test_expected_fill_is_the_sum_of_tail_probabilities():
    rng = np.random.default_rng(3)
    pairs = [(int(s), int(min(s, v))) for s, v in zip(rng.integers(1, 80, 300),
                                                       rng.integers(0, 60, 300), strict=True)]
    model = fitted(pairs, decay=0.98)
    for s in (0, 1, 7, 30, 59, 60, 79, 120):
        direct = sum(model.at_least("LP", v) for v in range(1, s + 1))
        assert model.expected_fill("LP", s) == pytest.approx(direct, abs=1e-9), s
        assert model.expected_fill("LP", s + 1) - model.expected_fill("LP", s) == (
            pytest.approx(model.marginal("LP", s), abs=1e-9))


def test_decay_weights_by_hand():
    # decay 0.5: V = 0 (weight 0.5), then V = 5 (weight 1): P(V > 0) = 1 - 0.5 / 1.5
    model = fitted([(10, 0), (10, 5)], decay=0.5)
    assert model.n("LP") == pytest.approx(1.5)
    assert model.survival("LP", 0) == pytest.approx(2 / 3)
    assert model.survival("LP", 5) == 0.0


def test_prior_by_hand():
    # prior a = 1: one pseudo-observation censored at infinity joins every risk set.
    #   u = 0: 1 event of 5 at risk + 1 -> P(V > 0) = 5/6
    #   u = 3: 1 event of 4 + 1           -> 5/6 * 4/5 = 2/3
    #   u = 7: 1 event of 2 + 1 (>=5 left) -> 2/3 * 2/3 = 4/9, flat from there
    model = fitted(EXAMPLE, prior=1.0)
    for v, p in {0: 5 / 6, 2: 5 / 6, 3: 2 / 3, 6: 2 / 3, 7: 4 / 9, 50: 4 / 9}.items():
        assert model.survival("LP", v) == pytest.approx(p, abs=1e-12), v
    assert model.n("LP") == 5                          # the prior is not evidence
    assert model.expected_fill("LP", 8) == pytest.approx(3 * 5 / 6 + 4 * 2 / 3 + 4 / 9)
    # a key seen once at zero is not written off: P(V > 0) = a / (1 + a)
    assert fitted([(10, 0)], prior=1.0).survival("LP", 0) == pytest.approx(0.5)
    assert fitted([(10, 0)], prior=0.5).survival("LP", 0) == pytest.approx(1 / 3)
    assert fitted([(10, 0)]).survival("LP", 0) == 0.0


def test_prior_is_not_discounted():
    # decay 0.5: V = 0 twice (weights 0.5 and 1), the prior keeps weight 1:
    # P(V > 0) = 1 - 1.5 / (1.5 + 1) = 0.4, however long ago the first observation was
    model = fitted([(10, 0), (10, 0)], decay=0.5, prior=1.0)
    assert model.survival("LP", 0) == pytest.approx(0.4)
    long = fitted([(10, 0)] * 5_000, decay=0.5, prior=1.0)   # past a rescale
    assert long.n("LP") == pytest.approx(2.0)
    assert long.survival("LP", 0) == pytest.approx(1 / 3)     # 1 - 2 / (2 + 1)


def test_decay_rescales_without_overflow():
    model = fitted([(10, i % 7) for i in range(20_000)], decay=0.5)
    assert model.n("LP") == pytest.approx(2.0)        # 1 + 1/2 + 1/4 + ...
    # the last value was 19_999 % 7 = 0, as was every 7th before it: V = 0 has weight
    # 1 + 2**-7 + 2**-14 + ... = 128/127 of 2, so P(V > 0) = 1 - 64/127
    assert model.survival("LP", 0) == pytest.approx(63 / 127, abs=1e-9)
    assert math.isfinite(model.expected_fill("LP", 10))


def test_decay_follows_a_change():
    before = LpParams(name="LP_T", liquidity_zero_prob=0.5, liquidity_alpha=1.5,
                      liquidity_scale=100.0)
    after = LpParams(name="LP_T", liquidity_zero_prob=0.1, liquidity_alpha=1.5,
                     liquidity_scale=1000.0)
    rng = np.random.default_rng(7)
    decayed, plain = CensoredLiquidity(decay=0.99), CensoredLiquidity()
    for params, n in ((before, 3000), (after, 600)):
        for _ in range(n):
            lomax = math.expm1(-math.log1p(-rng.random()) / params.liquidity_alpha)
            v = 0.0 if rng.random() < params.liquidity_zero_prob else (
                params.liquidity_scale * lomax)
            sent = int(rng.integers(1, 2000))
            filled = float(math.floor(min(sent, v)))
            decayed.observe("LP", sent, filled)
            plain.observe("LP", sent, filled)
    assert decayed.n("LP") == pytest.approx(100, rel=0.01)
    for v in (1, 100, 500):
        truth = available_survival(after, v)
        assert abs(decayed.at_least("LP", v) - truth) < 0.12, v
        assert abs(plain.at_least("LP", v) - truth) > 0.2, v


@pytest.mark.parametrize(("sent", "filled", "match"), [
    (0, 0, "positive"), (-5, 0, "positive"), (math.nan, 0, "positive"),
    (math.inf, 1, "positive"), (10, -1, ">= 0"), (10, math.nan, ">= 0"),
    (10, 11, "cannot fill more"),
])
def test_bad_observations(sent, filled, match):
    model = CensoredLiquidity()
    with pytest.raises(ValueError, match=match):
        model.observe("LP", sent, filled)
    assert model.n("LP") == 0.0


@pytest.mark.parametrize("kwargs", [
    {"unit": 0}, {"unit": -1}, {"unit": math.inf}, {"decay": 0}, {"decay": 1.5},
    {"decay": math.nan}, {"unseen": -0.1}, {"unseen": 1.1}, {"unseen": math.nan},
    {"prior": -1}, {"prior": math.inf}, {"prior": math.nan},
])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CensoredLiquidity(**kwargs)


observations = st.lists(
    st.tuples(st.integers(1, 40), st.integers(0, 40)).map(lambda p: (p[0], min(p)))
    | st.tuples(st.integers(1, 40), st.just(-1)).map(lambda p: (p[0], p[0])),   # censored
    min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(observations, st.sampled_from([1.0, 0.9, 0.5]), st.sampled_from([1.0, 3.0]),
       st.sampled_from([0.0, 0.5, 2.0]))
def test_survival_is_a_tail_probability(pairs, decay, unit, prior):
    model = fitted(pairs, decay=decay, unit=unit, prior=prior)
    plain = fitted(pairs, decay=decay, unit=unit)
    previous = 1.0
    for v in range(-1, 45):
        s, a = model.survival("LP", v), model.at_least("LP", v)
        assert 0.0 <= s <= 1.0
        assert 0.0 <= a <= 1.0
        assert s <= previous + 1e-12
        assert a >= s - 1e-12
        assert s >= plain.survival("LP", v) - 1e-12     # the prior only adds optimism
        previous = s
    assert model.expected_fill("LP", 40) <= 40 + 1e-9
