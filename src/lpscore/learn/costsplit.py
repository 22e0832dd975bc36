"""Cost-aware order splitting after Cont and Kukanov (docs/learn.md, "Cost-aware splitting").

    params = CostParams(target=1000, half_spread=0.01, fee=0.003, rebates=(0.002, 0.0025),
                        lambda_u=0.05, lambda_o=0.02, theta=0.0005)
    xi = np.column_stack([sample_liquidity(surv_a, 5000, rng, 3000),
                          sample_liquidity(surv_b, 5000, rng, 3000)])
    x, cost = solve_sgd(params, xi, seed=7)           # x = (M, L_1, L_2)
    x, cost = solve_exact(params, xi, np.arange(0, 2001, 100.0))   # small K only

The single-period model of R. Cont and A. Kukanov, "Optimal order placement in limit order
markets", Quantitative Finance 17(1), 2017 (arXiv:1210.1625), Section 2. A buyer must get
``S`` shares within a short horizon. The allocation is ``X = (M, L_1, ..., L_K)``: ``M``
shares as a market order, which fills surely, and ``L_k`` shares as a limit order at venue
``k``. With ``Q_k`` shares queued ahead and ``xi_k`` shares of outflow (the random liquidity)
at venue ``k`` over the horizon, the limit order fills ``min(L_k, (xi_k - Q_k)^+)`` and

    A(X, xi) = M + sum_k min(L_k, (xi_k - Q_k)^+)                     shares filled
    V(X, xi) = (h + f) M - sum_k (h + r_k) min(L_k, (xi_k - Q_k)^+)   spread, fees, rebates
               + lambda_u (S - A)^+ + lambda_o (A - S)^+                under-/over-fill
               + theta (M + sum_k L_k + (S - A)^+)                      market impact

Costs are per share relative to the mid price: the market order pays the half-spread ``h``
and the taker fee ``f``; a filled limit order earns the half-spread and the rebate ``r_k``;
an unfilled remainder is bought afterwards, at the penalty ``lambda_u`` per share; an
over-fill (over-booked orders that all filled) is sold back at ``lambda_o`` per share; and
impact is ``theta`` per share sent, the catch-up market order included. This is the paper's
cost with ``min(L, (xi - Q)^+)`` written for its ``(xi - Q)^+ - (xi - Q - L)^+``, equal for
``L >= 0``. The objective is ``E[V(X, xi)]``, estimated by the mean over the caller's
scenarios of ``xi``.

Feasible set: ``M >= 0``, ``L_k >= 0``, ``M <= S`` (never take more than the target), and
``M + sum_k L_k <= max_total`` (over-booking: the limit orders may together exceed what is
left, up to a cap, default ``2 S``).

Solvers: ``solve_exact`` searches every allocation on a grid (exact on that grid);
``solve_sgd`` is the paper's stochastic-approximation method: projected stochastic
subgradient descent with the exact Euclidean projection onto the feasible set (``project``),
not the naive ``clip_then_rescale``, whose fixed points are not the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "CostParams",
    "clip_then_rescale",
    "expected_cost",
    "project",
    "sample_liquidity",
    "solve_exact",
    "solve_sgd",
    "subgradient",
]

FloatArray = npt.NDArray[np.float64]
Projection = Callable[[FloatArray, "CostParams"], FloatArray]

CHUNK_ELEMENTS = 4_000_000
"""``solve_exact`` evaluates allocations in chunks of about this many (allocation x scenario
x venue) values, about 32 MB of float64 per temporary."""
MAX_CANDIDATES = 2_000_000
"""``solve_exact`` refuses grids with more feasible allocations than this by default."""


@dataclass(frozen=True)
class CostParams:
    """The cost parameters of one parent order (module docstring for the model).

    Symbols as in Cont and Kukanov: ``target`` = ``S``, ``half_spread`` = ``h``, ``fee`` =
    ``f``, ``rebates`` = ``(r_1, ..., r_K)``, ``lambda_u``, ``lambda_o``, ``theta``,
    ``queues`` = ``(Q_1, ..., Q_K)``. All costs are per share, in one currency unit.
    """

    target: float
    """``S``: shares to buy, > 0."""
    half_spread: float
    """``h``: paid by a market order, earned by a filled limit order; >= 0."""
    fee: float
    """``f``: taker fee per market-order share (negative for a taker rebate)."""
    rebates: tuple[float, ...]
    """``r_k``: maker rebate per filled limit share at venue ``k`` (negative for a maker
    fee); one per venue, at least one venue."""
    lambda_u: float
    """Under-fill penalty per share short of ``S``; >= 0."""
    lambda_o: float
    """Over-fill penalty per share beyond ``S``; >= 0."""
    theta: float = 0.0
    """Linear market impact per share sent (market, limit and catch-up orders); >= 0."""
    max_total: float | None = None
    """Cap on ``M + sum_k L_k``; >= ``target``. None (default) is ``2 * target``."""
    queues: tuple[float, ...] | None = None
    """``Q_k``: shares queued ahead at venue ``k``; None (default) is 0 everywhere."""

    def __post_init__(self) -> None:
        _finite(self.target, "target", "the parent order's size S in shares", low=0.0,
                strict=True)
        _finite(self.half_spread, "half_spread", "h, per share", low=0.0)
        _finite(self.fee, "fee", "the taker fee f per share (negative for a rebate)")
        _finite(self.lambda_u, "lambda_u", "the under-fill penalty per share", low=0.0)
        _finite(self.lambda_o, "lambda_o", "the over-fill penalty per share", low=0.0)
        _finite(self.theta, "theta", "the impact per share sent", low=0.0)
        if not self.rebates:
            raise ValueError("rebates = (): give one maker rebate per venue, e.g. "
                             "rebates=(0.002,) for one venue")
        for k, r in enumerate(self.rebates):
            _finite(r, f"rebates[{k}]", "the maker rebate per share (negative for a fee)")
        if self.queues is not None:
            if len(self.queues) != len(self.rebates):
                raise ValueError(f"queues has {len(self.queues)} entries, rebates "
                                 f"{len(self.rebates)}: give one queue size per venue")
            for k, q in enumerate(self.queues):
                _finite(q, f"queues[{k}]", "the shares queued ahead, >= 0", low=0.0)
        if self.max_total is not None:
            _finite(self.max_total, "max_total", "the cap on M + sum L in shares",
                    low=0.0, strict=True)
            if self.max_total < self.target:
                raise ValueError(f"max_total = {self.max_total!r} < target = "
                                 f"{self.target!r}: the cap on M + sum L must allow the "
                                 "whole target (None means 2 * target)")

    @property
    def n_venues(self) -> int:
        """``K``: the number of limit-order venues; allocations have ``K + 1`` entries."""
        return len(self.rebates)

    @property
    def cap(self) -> float:
        """The over-booking cap on ``M + sum_k L_k`` (``max_total``, default ``2 S``)."""
        return 2.0 * self.target if self.max_total is None else float(self.max_total)

    def upper(self) -> FloatArray:
        """Per-coordinate upper bounds: ``S`` for ``M``, none (inf) for each ``L_k``."""
        upper = np.full(self.n_venues + 1, np.inf)
        upper[0] = self.target
        return upper

    def queue_array(self) -> FloatArray:
        """``(Q_1, ..., Q_K)`` as an array (zeros when ``queues`` is None)."""
        if self.queues is None:
            return np.zeros(self.n_venues)
        return np.asarray(self.queues, dtype=np.float64)


def _finite(value: float, name: str, what: str, *, low: float | None = None,
            strict: bool = False) -> None:
    ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if strict else value >= low
    if not ok:
        bound = "" if low is None else f" {'>' if strict else '>='} {low:g}"
        raise ValueError(f"{name} = {value!r}: give {what}, a finite number{bound}")


# -- cost ---------------------------------------------------------------------------------

def _scenarios(params: CostParams, samples: npt.ArrayLike) -> FloatArray:
    """The available liquidity ``(xi - Q)^+`` per scenario, shape (n, K), validated."""
    xi = np.asarray(samples, dtype=np.float64)
    if xi.ndim == 1 and params.n_venues == 1:
        xi = xi[:, None]
    if xi.ndim != 2 or xi.shape[1] != params.n_venues or xi.shape[0] == 0:
        raise ValueError(f"samples has shape {xi.shape}: give an array (n_scenarios, K) "
                         f"with K = {params.n_venues} venues and n_scenarios >= 1")
    if not np.all(np.isfinite(xi)) or np.any(xi < 0):
        raise ValueError("samples holds a negative or non-finite liquidity: give the "
                         "shares each venue could fill, finite and >= 0")
    return np.maximum(xi - params.queue_array(), 0.0)


def _allocation(params: CostParams, x: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != (params.n_venues + 1,):
        raise ValueError(f"x has shape {arr.shape}: give (M, L_1, ..., L_K), "
                         f"{params.n_venues + 1} numbers")
    return arr


def _mean_costs(xs: FloatArray, params: CostParams, eta: FloatArray) -> FloatArray:
    """``E[V]`` over the scenarios for each row of ``xs`` (m, K+1); ``eta`` = ``(xi-Q)^+``."""
    h, s, th = params.half_spread, params.target, params.theta
    gain = h + np.asarray(params.rebates, dtype=np.float64)          # (K,)
    m, lim = xs[:, 0], xs[:, 1:]
    fills = np.minimum(lim[:, None, :], eta[None, :, :])              # (m, n, K)
    filled = m[:, None] + fills.sum(axis=2)                           # (m, n)
    short = np.maximum(s - filled, 0.0)
    over = np.maximum(filled - s, 0.0)
    per_scenario = ((params.lambda_u + th) * short + params.lambda_o * over
                    - fills @ gain)                                   # (m, n)
    sure = (h + params.fee + th) * m + th * lim.sum(axis=1)
    result: FloatArray = sure + per_scenario.mean(axis=1)
    return result


def expected_cost(x: npt.ArrayLike, params: CostParams, samples: npt.ArrayLike) -> float:
    """``E[V(X, xi)]``: the mean cost of allocation ``x = (M, L_1, ..., L_K)`` over the
    scenarios ``samples`` (shape (n, K): venue ``k``'s outflow ``xi_k`` per scenario; a 1-D
    array is accepted when K = 1). Does not check feasibility."""
    arr = _allocation(params, x)
    return float(_mean_costs(arr[None, :], params, _scenarios(params, samples))[0])


def subgradient(x: npt.ArrayLike, params: CostParams, samples: npt.ArrayLike) -> FloatArray:
    """A subgradient of ``E[V]`` at ``x`` estimated on ``samples`` (the mean over them).

    Per scenario, with ``u = 1{A < S}``, ``o = 1{A > S}`` and ``eta_k = (xi_k - Q_k)^+``:

        dV/dM   = h + f + theta - (lambda_u + theta) u + lambda_o o
        dV/dL_k = theta + 1{L_k < eta_k} (-(h + r_k) - (lambda_u + theta) u + lambda_o o)

    (``d min(L, eta)/dL`` is 1 below ``eta`` and 0 at or above it; at a kink this is one
    one-sided derivative, a valid choice where the cost is locally convex.)
    """
    arr = _allocation(params, x)
    eta = _scenarios(params, samples)
    return _subgradient(arr, params, eta)


def _subgradient(x: FloatArray, params: CostParams, eta: FloatArray) -> FloatArray:
    h, s, th = params.half_spread, params.target, params.theta
    gain = h + np.asarray(params.rebates, dtype=np.float64)
    lim = x[1:]
    below = lim[None, :] < eta                                        # (n, K)
    filled = x[0] + np.where(below, lim[None, :], eta).sum(axis=1)    # (n,)
    pressure = ((params.lambda_u + th) * (filled < s)
                - params.lambda_o * (filled > s))                     # (n,)
    grad = np.empty_like(x)
    grad[0] = h + params.fee + th - pressure.mean()
    grad[1:] = th - (below * (gain[None, :] + pressure[:, None])).mean(axis=0)
    return grad


# -- projections --------------------------------------------------------------------------

def project(y: npt.ArrayLike, params: CostParams) -> FloatArray:
    """The Euclidean projection of ``y = (M, L_1..L_K)`` onto the feasible set
    ``{x >= 0, x_0 <= S, sum(x) <= cap}``: the nearest feasible point, exactly.

    KKT: ``x_i = clip(y_i - mu, 0, u_i)`` (``u_0 = S``, ``u_k = inf``) with ``mu >= 0``,
    and ``mu = 0`` unless the sum constraint binds. ``g(mu) = sum_i clip(y_i - mu, 0,
    u_i)`` is continuous, non-increasing and linear between the breakpoints ``y_i`` and
    ``y_i - u_i``; ``mu`` solves ``g(mu) = cap`` by locating the bracketing breakpoints
    (sorting) and interpolating linearly: exact, ``O(K log K)`` plus ``O(K^2)`` to evaluate
    ``g`` at every breakpoint (K is small).
    """
    return _project_box_budget(np.asarray(y, dtype=np.float64), params.upper(), params.cap)


def _project_box_budget(y: FloatArray, upper: FloatArray, cap: float) -> FloatArray:
    clipped: FloatArray = np.clip(y, 0.0, upper)
    if clipped.sum() <= cap:
        return clipped
    lows = y - upper
    points = np.concatenate([y, lows[np.isfinite(lows)]])
    points = np.unique(points[points > 0.0])
    points = np.concatenate([[0.0], points])
    sums = np.clip(y[None, :] - points[:, None], 0.0, upper[None, :]).sum(axis=1)
    j = int(np.argmax(sums <= cap))          # first breakpoint where g <= cap; exists: g(max y) = 0
    a, b, ga, gb = points[j - 1], points[j], sums[j - 1], sums[j]
    mu = a + (ga - cap) * (b - a) / (ga - gb)
    result: FloatArray = np.clip(y - mu, 0.0, upper)
    return result


def clip_then_rescale(y: npt.ArrayLike, params: CostParams) -> FloatArray:
    """The naive map onto the feasible set, for comparison only: clip each coordinate to
    its box, then, if the sum exceeds the cap, scale every coordinate down by the same
    factor. Feasible, but not the nearest point: projected SGD with it settles where the
    gradient is proportional to ``x`` on the cap, not at the optimum (docs/learn.md)."""
    clipped: FloatArray = np.clip(np.asarray(y, dtype=np.float64), 0.0, params.upper())
    total = float(clipped.sum())
    if total > params.cap:
        clipped = clipped * (params.cap / total)
    return clipped


# -- solvers ------------------------------------------------------------------------------

def solve_exact(params: CostParams, samples: npt.ArrayLike, grid: npt.ArrayLike, *,
                max_candidates: int = MAX_CANDIDATES) -> tuple[FloatArray, float]:
    """The allocation of least mean cost among every feasible ``(M, L_1..L_K)`` whose
    coordinates are all in ``grid`` (a 1-D array of share quantities), and its cost.

    Brute force: ``|grid|^(K+1)`` allocations, each costed on all ``n`` scenarios, so
    ``O(|grid|^(K+1) n K)`` time; meant for K = 1 or 2 (a reference for ``solve_sgd``).
    Exact on the grid; with integer liquidity samples a step-1 grid from 0 to ``cap`` is
    the best whole-share allocation. Ties go to the first allocation in lexicographic order
    of ``(M, L_1, ...)``. Raises ValueError past ``max_candidates`` allocations.
    """
    eta = _scenarios(params, samples)
    values = np.unique(np.asarray(grid, dtype=np.float64))
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) \
            or values[0] < 0:
        raise ValueError("grid: give a 1-D array of share quantities, finite and >= 0, "
                         "e.g. np.arange(0, 2 * S + 1)")
    dims = params.n_venues + 1
    if values.size ** dims > max_candidates:
        raise ValueError(f"grid of {values.size} values for {dims} coordinates gives "
                         f"{values.size ** dims} allocations > max_candidates = "
                         f"{max_candidates}: use a coarser grid, or solve_sgd")
    mesh = np.meshgrid(*([values] * dims), indexing="ij")
    cands = np.stack([g.ravel() for g in mesh], axis=1)
    tol = 1e-9 * max(1.0, params.cap)
    cands = cands[(cands[:, 0] <= params.target + tol) & (cands.sum(axis=1) <= params.cap + tol)]
    if cands.shape[0] == 0:
        raise ValueError("grid has no feasible allocation: include 0")
    chunk = max(1, CHUNK_ELEMENTS // (eta.shape[0] * params.n_venues))
    costs = np.concatenate([_mean_costs(cands[i:i + chunk], params, eta)
                            for i in range(0, cands.shape[0], chunk)])
    best = int(np.argmin(costs))
    return cands[best].copy(), float(costs[best])


def solve_sgd(params: CostParams, samples: npt.ArrayLike, *, steps: int = 4000,
              lr: float = 0.1, lr_power: float = 0.5, batch: int = 32, seed: int = 0,
              x0: npt.ArrayLike | None = None,
              projection: Projection = project) -> tuple[FloatArray, float]:
    """Projected stochastic subgradient descent on ``E[V]`` (Cont and Kukanov's
    stochastic approximation); returns the averaged allocation and its mean cost on
    ``samples``.

    Step ``n`` (from 0) draws ``batch`` scenarios from ``samples`` with replacement,
    moves ``x`` by ``-gamma_n * subgradient`` with ``gamma_n = lr * S / (n + 1)**lr_power``
    (``lr`` is in units of ``S`` per unit of per-share cost, so it does not depend on the
    order size), then applies ``projection`` (default: the exact ``project``). The result
    is the mean of the iterates of the second half (Polyak-Ruppert averaging, feasible
    because the set is convex). ``x0`` defaults to ``S / (K + 1)`` in every coordinate.
    A generative source of ``xi`` is used by drawing ``samples`` from it first (e.g.
    ``sample_liquidity``), which also gives the sample the final cost is measured on.
    """
    if steps < 2:
        raise ValueError(f"steps = {steps!r}: give at least 2 steps (thousands in practice)")
    if batch < 1:
        raise ValueError(f"batch = {batch!r}: give the scenarios per step, >= 1")
    if not (math.isfinite(lr) and lr > 0) or not 0 <= lr_power <= 1:
        raise ValueError(f"lr = {lr!r}, lr_power = {lr_power!r}: give lr > 0 and lr_power "
                         "in [0, 1] (0.5 is the usual choice for a nonsmooth cost)")
    eta = _scenarios(params, samples)
    k1 = params.n_venues + 1
    start = np.full(k1, params.target / k1) if x0 is None else _allocation(params, x0)
    x = projection(start.copy(), params)
    rng = np.random.default_rng(seed)
    n = eta.shape[0]
    total = np.zeros(k1)
    averaged = 0
    for step in range(steps):
        rows = eta[rng.integers(0, n, size=batch)]
        gamma = lr * params.target / (step + 1) ** lr_power
        x = projection(x - gamma * _subgradient(x, params, rows), params)
        if step >= steps // 2:
            total += x
            averaged += 1
    x_bar: FloatArray = total / averaged
    return x_bar, float(_mean_costs(x_bar[None, :], params, eta)[0])


# -- scenarios ----------------------------------------------------------------------------

def sample_liquidity(survival_fn: Callable[[float], float], n: int,
                     rng: np.random.Generator, max_size: float, *,
                     unit: float = 1.0) -> FloatArray:
    """``n`` draws of a venue's liquidity ``V`` from its survival function
    ``survival_fn(v) = P(V > v)``, by inverse transform on the grid ``0, unit, 2 unit, ...,
    ceil(max_size / unit) unit``.

    A draw is the first grid point ``v`` with ``P(V > v) <= U`` (``U`` uniform), so ``V`` is
    rounded up to the grid: exact for a distribution on the grid (``CensoredLiquidity``
    with the same ``unit``), optimistic by less than ``unit`` for a continuous one (use a
    finer ``unit``). Mass beyond the grid lands on its last point. Use with
    ``lambda v: model.survival("LP_A", v)`` or
    ``functools.partial(lpscore.sim.lps.available_survival, lp_params)``.
    """
    if n < 0:
        raise ValueError(f"n = {n!r}: give the number of draws, >= 0")
    if not (math.isfinite(unit) and unit > 0):
        raise ValueError(f"unit = {unit!r}: give the grid step in shares, finite and > 0")
    if not (math.isfinite(max_size) and max_size > 0):
        raise ValueError(f"max_size = {max_size!r}: give the largest size worth drawing, "
                         "finite and > 0 (e.g. the over-booking cap)")
    grid = unit * np.arange(math.ceil(max_size / unit - 1e-9) + 1, dtype=np.float64)
    surv = np.array([survival_fn(float(v)) for v in grid], dtype=np.float64)
    if not np.all((surv >= 0) & (surv <= 1)):
        raise ValueError("survival_fn returned a value outside [0, 1]: give P(V > v)")
    if np.any(np.diff(surv) > 1e-12):
        raise ValueError("survival_fn increases somewhere on the grid: give P(V > v), "
                         "which never increases with v")
    u = rng.random(n)
    # first j with surv[j] <= u  <=>  first j with -surv[j] >= -u (-surv is ascending)
    idx = np.searchsorted(-surv, -u, side="left")
    draws: FloatArray = grid[np.minimum(idx, grid.size - 1)]
    return draws
