"""Synthetic desk FIX traffic whose LPs behave by known, true parameters.

    lps = [LpTruth("FAST", fill_prob=0.8, ack_ms=1.0, pi_bps=0.2, impact_bps=3.0), ...]
    events, quotes = simulate(lps, orders_per_lp=500, seed=7)
    result = compute_kpis(events, quotes, Config())   # should recover each LP's truth

Every order is its own episode of ``EPISODE_MS`` (10 s), so that what one LP does to the mid
is still on the book at the 5 s horizon and never leaks into the next order's benchmark:

* 1 ms before the order the book is reset to ``BASE_MID`` -/+ ``HALF_SPREAD`` (100.00, one
  cent either side), so ``m0 = 100`` and ``far0`` is 100.01 for a buy, 99.99 for a sell;
* the LP acks after a lognormal latency (median ``ack_ms``, sigma ``ACK_SIGMA``), then holds
  the order 1-3 ms (uniform) and either fills it in full or rejects it (reason 99,
  "Price moved");
* a fill is priced ``pi`` bps of ``m0`` better than the far touch, ``pi ~ N(pi_bps,
  PI_NOISE_BPS)``, and 1 ms after it the mid moves by ``s * impact_bps / 2`` bps of ``m0``
  and stays there until the next episode's reset.

So, per fill, the KPIs of docs/kpis.md are known in advance: ``pi_bps = pi``,
``impact_bps[h] = impact_bps`` for 1 ms < h < ``EPISODE_MS`` - hold - ack, and
``markout_bps[h] = impact_bps / 2 + pi - HALF_SPREAD_BPS`` (see ``LpTruth.markout_bps``).
Which LP gets each order, its side (buy/sell) and its size (100..1000 in round lots) are
random; everything is drawn from ``numpy.random.default_rng(seed)``, so a seed fixes the
output exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from kpi_builders import Tape, quotes

__all__ = [
    "ACK_SIGMA",
    "BASE_MID",
    "EPISODE_MS",
    "HALF_SPREAD",
    "HALF_SPREAD_BPS",
    "PI_NOISE_BPS",
    "LpTruth",
    "simulate",
]

BASE_MID = 100.00
HALF_SPREAD = 0.01
HALF_SPREAD_BPS = HALF_SPREAD / BASE_MID * 1e4  # 1 bp: the far touch's distance from m0
EPISODE_MS = 10_000.0  # one order per episode; the 5 s horizon falls inside its episode
FIRST_ORDER_MS = 1_000.0
ACK_SIGMA = 0.3
PI_NOISE_BPS = 0.5
HOLD_MS = (1.0, 3.0)
QUOTE_LAG_MS = 1.0  # the reset quote precedes each order, the moved one follows each fill


@dataclass(frozen=True)
class LpTruth:
    """One LP's true behaviour."""

    name: str
    fill_prob: float
    """Probability that an order is filled in full; otherwise it is rejected after the hold
    (OrdRejReason 99, "Price moved")."""
    ack_ms: float
    """Median ack latency, ms (lognormal with sigma ``ACK_SIGMA``)."""
    pi_bps: float
    """Mean price improvement against the far touch, bps of m0 (normal noise, sd
    ``PI_NOISE_BPS``)."""
    impact_bps: float
    """After each of this LP's fills the mid moves by ``s * impact_bps / 2`` bps of m0 and
    stays there, so ``impact_bps[h]`` (twice the signed mid move) equals ``impact_bps``."""

    def markout_bps(self) -> float:
        """Expected ``markout_bps[h]`` of a fill, for horizons within the episode: the mid's
        move (``impact_bps / 2``) plus the fill's edge over the mid (``pi - half spread``)."""
        return self.impact_bps / 2 + self.pi_bps - HALF_SPREAD_BPS

    def eff_spread_bps(self) -> float:
        """Expected ``eff_spread_bps`` of a fill: ``2 * (half spread - pi)``."""
        return 2 * (HALF_SPREAD_BPS - self.pi_bps)


def _counts(lps: Sequence[LpTruth], orders_per_lp: int | Mapping[str, int]) -> list[int]:
    names = [lp.name for lp in lps]
    if len(set(names)) != len(names):
        raise ValueError(f"LP names must be unique, got {names}")
    for lp in lps:
        if not 0.0 <= lp.fill_prob <= 1.0:
            raise ValueError(f"{lp.name}: fill_prob {lp.fill_prob} is not a probability")
        if lp.ack_ms <= 0:
            raise ValueError(f"{lp.name}: ack_ms {lp.ack_ms} must be positive")
    if isinstance(orders_per_lp, Mapping):
        missing = [n for n in names if n not in orders_per_lp]
        if missing:
            raise ValueError(f"orders_per_lp gives no count for {missing}")
        counts = [int(orders_per_lp[n]) for n in names]
    else:
        counts = [int(orders_per_lp)] * len(lps)
    if any(c < 0 for c in counts):
        raise ValueError(f"order counts must be >= 0, got {counts}")
    return counts


def simulate(lps: Sequence[LpTruth], orders_per_lp: int | Mapping[str, int], seed: int,
             symbol: str = "ACME") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, quotes) of ``orders_per_lp`` orders per LP, interleaved in time; seeded.

    ``events`` follows EVENT_SCHEMA (one FIX session ``DESK->{name}`` per LP; ClOrdIDs
    ``{name}-{i}``), ``quotes`` QUOTE_SCHEMA, both in time order. Orders are sent every
    ``EPISODE_MS`` from ``FIRST_ORDER_MS`` after ``kpi_builders.T0``, to LPs in a random
    order; each order is acked, then filled in full or rejected (see the module docstring).
    """
    counts = _counts(lps, orders_per_lp)
    rng = np.random.default_rng(seed)
    who = rng.permutation(np.repeat(np.arange(len(lps)), counts))
    n = len(who)
    side = np.where(rng.random(n) < 0.5, 1, -1)  # EVENT_SCHEMA's side is s: +1 buy, -1 sell
    qty = rng.integers(1, 11, size=n) * 100.0
    ack = np.array([lp.ack_ms for lp in lps])[who] * np.exp(ACK_SIGMA * rng.standard_normal(n))
    hold = rng.uniform(*HOLD_MS, size=n)
    filled = rng.random(n) < np.array([lp.fill_prob for lp in lps])[who]
    pi = np.array([lp.pi_bps for lp in lps])[who] + PI_NOISE_BPS * rng.standard_normal(n)

    tape = Tape()
    book: list[tuple[float, str, float, float]] = []
    sent = [0] * len(lps)
    t_send = FIRST_ORDER_MS
    for k in range(n):
        t_send = FIRST_ORDER_MS + k * EPISODE_MS
        lp = lps[who[k]]
        s = float(side[k])
        book.append((t_send - QUOTE_LAG_MS, symbol, BASE_MID - HALF_SPREAD,
                     BASE_MID + HALF_SPREAD))
        cl_ord_id = f"{lp.name}-{sent[who[k]]}"
        sent[who[k]] += 1
        tape.order(lp.name, cl_ord_id, symbol, int(side[k]), float(qty[k]), t_send)
        t_ack = t_send + float(ack[k])
        tape.ack(lp.name, cl_ord_id, t_ack)
        t_done = t_ack + float(hold[k])
        if not filled[k]:
            tape.reject(lp.name, cl_ord_id, t_done)
            continue
        far0 = BASE_MID + s * HALF_SPREAD
        px = far0 - s * float(pi[k]) * 1e-4 * BASE_MID
        tape.fill(lp.name, cl_ord_id, t_done, float(qty[k]), px)
        mid = BASE_MID * (1.0 + s * lp.impact_bps / 2 * 1e-4)
        book.append((t_done + QUOTE_LAG_MS, symbol, mid - HALF_SPREAD, mid + HALF_SPREAD))
    # a last reset, so the final episode's horizons up to EPISODE_MS are not past the data
    book.append((t_send + EPISODE_MS - QUOTE_LAG_MS, symbol, BASE_MID - HALF_SPREAD,
                 BASE_MID + HALF_SPREAD))
    return tape.events(), quotes(book)
