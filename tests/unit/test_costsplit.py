"""lpscore.learn.costsplit: Cont-Kukanov cost by hand, brute force vs SGD, exact projection."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lpscore.learn import CensoredLiquidity
from lpscore.learn.costsplit import (
    CostParams,
    clip_then_rescale,
    expected_cost,
    project,
    sample_liquidity,
    solve_exact,
    solve_sgd,
    subgradient,
)
from lpscore.sim.lps import LpParams, available_survival

S = 10.0


def params(**kwargs) -> CostParams:
    base: dict[str, object] = {"target": S, "half_spread": 1.0, "fee": 0.3, "rebates": (0.2,),
                               "lambda_u": 2.0, "lambda_o": 3.0, "theta": 0.05}
    base.update(kwargs)
    return CostParams(**base)  # type: ignore[arg-type]


def slow_cost(x, p: CostParams, xi) -> float:
    """The module docstring's V, one scenario and one venue at a time, for cross-checks."""
    queues = p.queues or (0.0,) * p.n_venues
    total = 0.0
    for row in np.atleast_2d(xi):
        fills = [min(x[k + 1], max(row[k] - queues[k], 0.0)) for k in range(p.n_venues)]
        a = x[0] + sum(fills)
        short, over = max(p.target - a, 0.0), max(a - p.target, 0.0)
        total += ((p.half_spread + p.fee) * x[0]
                  - sum((p.half_spread + r) * f for r, f in zip(p.rebates, fills, strict=True))
                  + p.lambda_u * short + p.lambda_o * over
                  + p.theta * (x[0] + sum(x[1:]) + short))
    return total / len(np.atleast_2d(xi))


@functools.cache
def lomax_samples() -> np.ndarray:
    """Two simulator venues (zero bin + power-law tail), 2,000 whole-share scenarios each."""
    rng = np.random.default_rng(1)
    a = LpParams(name="A", liquidity_zero_prob=0.2, liquidity_alpha=1.5, liquidity_scale=6.0)
    b = LpParams(name="B", liquidity_zero_prob=0.1, liquidity_alpha=2.5, liquidity_scale=10.0)
    return np.column_stack([
        sample_liquidity(functools.partial(available_survival, a), 2000, rng, 2 * S),
        sample_liquidity(functools.partial(available_survival, b), 2000, rng, 2 * S)])


# -- cost -----------------------------------------------------------------------------------

def test_expected_cost_by_hand() -> None:
    # S = 10, h = 1, f = 0.5, r = 0.25, lambda_u = 3, lambda_o = 2, theta = 0.1, Q = 2;
    # X = (M = 4, L = 8); xi = 2, 8, 20 -> available (xi - Q)^+ = 0, 6, 18.
    #   xi = 2:  fill 0, A = 4,  short 6: 1.5*4 - 0    + 3*6 + 0.1*(12 + 6) = 25.8
    #   xi = 8:  fill 6, A = 10:          1.5*4 - 1.25*6       + 0.1*12     = -0.3
    #   xi = 20: fill 8, A = 12, over 2:  1.5*4 - 1.25*8 + 2*2 + 0.1*12     = 1.2
    # mean = 26.7 / 3 = 8.9
    p = CostParams(target=10, half_spread=1.0, fee=0.5, rebates=(0.25,), lambda_u=3.0,
                   lambda_o=2.0, theta=0.1, queues=(2.0,))
    assert expected_cost([4, 8], p, [[2], [8], [20]]) == pytest.approx(8.9)
    assert expected_cost([4, 8], p, [2, 8, 20]) == pytest.approx(8.9)     # 1-D when K = 1


def test_expected_cost_matches_scalar_reference() -> None:
    rng = np.random.default_rng(5)
    p = params(rebates=(0.2, -0.1, 0.4), queues=(0.0, 3.0, 1.5), lambda_o=0.7)
    xi = rng.uniform(0, 15, size=(50, 3))
    for _ in range(20):
        x = rng.uniform(0, 8, size=4)
        assert expected_cost(x, p, xi) == pytest.approx(slow_cost(x, p, xi), abs=1e-9)


def test_subgradient_is_the_gradient_away_from_kinks() -> None:
    rng = np.random.default_rng(11)
    p = params(rebates=(0.2, 0.35), queues=(1.0, 0.0))
    xi = rng.uniform(0, 20, size=(200, 2))          # continuous: kinks have measure zero
    for _ in range(10):
        x = rng.uniform(0.5, 9, size=3)
        grad = subgradient(x, p, xi)
        for i in range(3):
            e = np.zeros(3)
            e[i] = 1e-7
            fd = (expected_cost(x + e, p, xi) - expected_cost(x - e, p, xi)) / 2e-7
            assert grad[i] == pytest.approx(fd, abs=1e-5)


# -- projection -----------------------------------------------------------------------------

def feasible(x: np.ndarray, p: CostParams, tol: float = 1e-9) -> bool:
    return bool(np.all(x >= -tol) and x[0] <= p.target + tol and x.sum() <= p.cap + tol)


def random_feasible(rng: np.random.Generator, p: CostParams, n: int) -> np.ndarray:
    """Random points of the feasible set, its vertices and points on its faces."""
    k1 = p.n_venues + 1
    pts = [project(rng.normal(0, p.cap, size=k1), p) for _ in range(n)]
    pts += [clip_then_rescale(rng.uniform(0, p.cap, size=k1), p) for _ in range(n)]
    pts.append(np.zeros(k1))
    for i in range(k1):
        v = np.zeros(k1)
        v[i] = p.target if i == 0 else p.cap
        pts.append(v)
        if i > 0:
            w = v.copy()
            w[0], w[i] = p.target, p.cap - p.target
            pts.append(w)
    return np.array(pts)


@pytest.mark.parametrize(("k", "cap"), [(1, None), (2, 10.0), (3, 25.0), (5, 13.0)])
def test_projection_is_the_nearest_feasible_point(k, cap) -> None:
    rng = np.random.default_rng(k)
    p = params(rebates=(0.1,) * k, max_total=cap)
    others = random_feasible(rng, p, 300)
    for _ in range(200):
        y = rng.normal(3, 12, size=k + 1)
        x = project(y, p)
        assert feasible(x, p)
        assert project(x, p) == pytest.approx(x, abs=1e-9)                 # idempotent
        # variational inequality: (y - x) . (z - x) <= 0 for every feasible z
        assert np.max((others - x) @ (y - x)) <= 1e-7
        assert np.linalg.norm(y - x) <= np.min(np.linalg.norm(others - y, axis=1)) + 1e-9
        # KKT: x = clip(y - mu, 0, u) with mu >= 0, mu > 0 only on the cap
        free = (x > 1e-9) & ~((np.arange(k + 1) == 0) & (x >= p.target - 1e-9))
        mu = float(np.mean(y[free] - x[free])) if free.any() else 0.0
        assert mu >= -1e-9
        assert np.allclose(x, np.clip(y - mu, 0.0, p.upper()), atol=1e-7) or not free.any()
        if x.sum() < p.cap - 1e-7:
            assert mu == pytest.approx(0.0, abs=1e-7)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5), st.one_of(st.none(), st.floats(S, 60.0)),
       st.lists(st.floats(-50.0, 50.0), min_size=6, max_size=6), st.integers(0, 2**32 - 1))
def test_projection_is_exact_on_any_input(k: int, cap: float | None, raw: list[float],
                                          seed: int) -> None:
    """Feasible, and no feasible point is nearer (Hypothesis draws the point and the set)."""
    p = params(rebates=(0.1,) * k, max_total=cap)
    y = np.array(raw[:k + 1])
    x = project(y, p)
    assert feasible(x, p)
    others = random_feasible(np.random.default_rng(seed), p, 50)
    assert np.linalg.norm(y - x) <= np.min(np.linalg.norm(others - y, axis=1)) + 1e-9
    assert np.max((others - x) @ (y - x)) <= 1e-7     # the variational inequality


def test_clip_then_rescale_is_feasible_but_not_nearest() -> None:
    p = params(rebates=(0.1, 0.1))                   # S = 10, cap = 20
    y = np.array([0.0, 30.0, 1.0])
    exact, naive = project(y, p), clip_then_rescale(y, p)
    assert exact == pytest.approx([0.0, 20.0, 0.0])  # mu = 10: only L_1 stays positive
    assert naive == pytest.approx([0.0, 600 / 31, 20 / 31])
    assert feasible(naive, p)
    assert np.linalg.norm(y - exact) < np.linalg.norm(y - naive) - 0.5
    assert np.dot(y - naive, exact - naive) > 0       # the optimality check catches it


# -- solvers --------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, 2])
def test_sgd_matches_brute_force(k) -> None:
    xi = lomax_samples()[:, :k]
    p = params(rebates=(0.2, 0.3)[:k])
    x_exact, c_exact = solve_exact(p, xi, np.arange(0, 2 * S + 1))
    x_sgd, c_sgd = solve_sgd(p, xi, seed=3)
    assert feasible(x_sgd, p)
    assert c_exact == pytest.approx(expected_cost(x_exact, p, xi))
    assert c_sgd == pytest.approx(c_exact, abs=0.01)  # costs are O(h S) = O(10)
    assert np.abs(x_sgd - x_exact).max() < 0.5
    assert c_exact < expected_cost([S] + [0.0] * k, p, xi) - 1   # beats "all market"


def test_two_venue_optimum_overbooks_and_the_cap_binds_it() -> None:
    xi = lomax_samples()
    p = params(rebates=(0.2, 0.3))
    x, _ = solve_exact(p, xi, np.arange(0, 2 * S + 1))
    assert x.tolist() == [0.0, 8.0, 9.0]             # 17 shares posted for a target of 10
    capped = params(rebates=(0.2, 0.3), max_total=S)
    xc, cc = solve_exact(capped, xi, np.arange(0, S + 1))
    assert xc.sum() <= S
    xs, cs = solve_sgd(capped, xi, seed=4)
    assert xs.sum() <= S + 1e-9
    assert cs == pytest.approx(cc, abs=0.02)


def test_naive_projection_settles_away_from_the_optimum() -> None:
    # Ample liquidity (xi >= S always fills), no over-booking (cap = S): every limit share
    # fills, so the best is all S on the venue with the larger rebate, cost -(h + r_1) S.
    # Clip-then-rescale keeps the iterate's direction on the cap, so it settles near the
    # split proportional to the gradients, (h + r_1) : (h + r_2), and pays (r_1 - r_2) L_2.
    rng = np.random.default_rng(0)
    xi = rng.integers(int(S), int(2 * S) + 1, size=(500, 2)).astype(float)
    p = CostParams(target=S, half_spread=0.5, fee=0.3, rebates=(0.3, 0.1), lambda_u=2.0,
                   lambda_o=1.0, max_total=S)
    x_exact, c_exact = solve_exact(p, xi, np.arange(0, S + 1))
    assert x_exact.tolist() == [0.0, S, 0.0]
    assert c_exact == pytest.approx(-0.8 * S)
    _, c_sgd = solve_sgd(p, xi, seed=1)
    x_naive, c_naive = solve_sgd(p, xi, seed=1, projection=clip_then_rescale)
    assert c_sgd == pytest.approx(c_exact, abs=1e-3)
    assert x_naive[2] > 0.3 * S
    assert c_naive > c_exact + 0.5                   # about 0.9 worse: 0.2 * 4.5 shares


def test_raising_lambda_u_sends_more() -> None:
    xi = lomax_samples()[:, :1]
    sent = []
    for lam in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
        x, _ = solve_exact(params(lambda_u=lam, lambda_o=1.0), xi, np.arange(0, 2 * S + 1))
        sent.append(x.sum())
    assert sent == sorted(sent)
    assert sent[-1] > sent[0]


def test_raising_market_order_cost_lowers_m() -> None:
    xi = lomax_samples()[:, :1]
    market = []
    for fee in (0.0, 0.3, 0.6, 1.0, 2.0):
        x, _ = solve_exact(params(fee=fee), xi, np.arange(0, 2 * S + 1))
        market.append(x[0])
    assert market == sorted(market, reverse=True)
    assert market[-1] < market[0]


# -- scenarios ------------------------------------------------------------------------------

def test_sample_liquidity_reproduces_a_censored_estimate() -> None:
    model = CensoredLiquidity()
    for sent, filled in [(10, 3), (10, 10), (5, 5), (10, 7), (20, 0)]:
        model.observe("LP_A", sent, filled)      # P(V > v): 0.8 from 0, 0.6 from 3, 0.3 from 7
    draws = sample_liquidity(lambda v: model.survival("LP_A", v), 40_000,
                             np.random.default_rng(2), 12)
    values, counts = np.unique(draws, return_counts=True)
    assert values.tolist() == [0.0, 3.0, 7.0, 12.0]   # the flat tail lands on max_size
    assert counts / draws.size == pytest.approx([0.2, 0.2, 0.3, 0.3], abs=0.01)


def test_sample_liquidity_follows_the_simulator_tail() -> None:
    lp = LpParams(name="A", liquidity_zero_prob=0.25, liquidity_alpha=1.2, liquidity_scale=5.0)
    surv = functools.partial(available_survival, lp)
    draws = sample_liquidity(surv, 50_000, np.random.default_rng(3), 100)
    for v in (0, 1, 4, 10, 30):      # rounded up to whole shares: exact at grid points
        assert np.mean(draws > v) == pytest.approx(surv(v), abs=0.01)


# -- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "message"), [
    ({"target": 0.0}, "target"),
    ({"target": float("nan")}, "target"),
    ({"half_spread": -0.1}, "half_spread"),
    ({"fee": float("inf")}, "fee"),
    ({"rebates": ()}, "rebates"),
    ({"rebates": (0.1, float("nan"))}, r"rebates\[1\]"),
    ({"lambda_u": -1.0}, "lambda_u"),
    ({"lambda_o": -1.0}, "lambda_o"),
    ({"theta": -0.01}, "theta"),
    ({"max_total": 5.0}, "max_total"),
    ({"queues": (1.0, 2.0)}, "queues has 2 entries"),
    ({"queues": (-1.0,)}, r"queues\[0\]"),
])
def test_bad_params_raise(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        params(**change)


def test_bad_inputs_raise() -> None:
    p = params(rebates=(0.1, 0.2))
    xi = np.ones((4, 2))
    with pytest.raises(ValueError, match="samples has shape"):
        expected_cost([1, 1, 1], p, np.ones((4, 3)))
    with pytest.raises(ValueError, match="negative or non-finite"):
        expected_cost([1, 1, 1], p, -xi)
    with pytest.raises(ValueError, match="x has shape"):
        expected_cost([1, 1], p, xi)
    with pytest.raises(ValueError, match="max_candidates"):
        solve_exact(p, xi, np.arange(0, 21), max_candidates=1000)
    with pytest.raises(ValueError, match="grid"):
        solve_exact(p, xi, [-1.0, 0.0])
    with pytest.raises(ValueError, match="steps"):
        solve_sgd(p, xi, steps=1)
    with pytest.raises(ValueError, match="increases"):
        sample_liquidity(lambda v: min(1.0, v / 10), 5, np.random.default_rng(0), 10)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        sample_liquidity(lambda v: 1.5, 5, np.random.default_rng(0), 10)
