"""The KPIs of docs/kpis.md as pure functions over columns, named as there.

Every function takes numpy arrays (a single value is a 0-d or 1-element array) and returns
float64 arrays with NaN where the KPI is undefined; the batch engine, the stream and the
cluster all call these, so there is one definition of each number. ``s`` is +1 for a buy and
-1 for a sell; prices are in quote currency; results are in basis points (1e4 x fraction)
normalised by ``m0``, the mid as of the routing time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "BPS",
    "e_over_q",
    "eff_spread_bps",
    "impact_bps",
    "markout_bps",
    "pi_amount",
    "pi_bps",
    "quoted_spread_bps",
    "real_spread_bps",
    "reject_cost_bps",
]

F64 = npt.NDArray[np.float64]
BPS = 1e4


def pi_bps(s: F64, p: F64, far0: F64, m0: F64) -> F64:
    """Price improvement against the far touch: ``s·(far0 - p)/m0·1e4`` (higher is better)."""
    return s * (far0 - p) / m0 * BPS


def pi_amount(s: F64, p: F64, far0: F64, q: F64) -> F64:
    """Price improvement in the quote currency: ``q·s·(far0 - p)``, what the fill saved
    against the far touch (higher is better; an LP's total is its sum)."""
    return q * s * (far0 - p)


def eff_spread_bps(s: F64, p: F64, m0: F64) -> F64:
    """Effective spread: ``2·s·(p - m0)/m0·1e4`` (lower is better)."""
    return 2.0 * s * (p - m0) / m0 * BPS


def quoted_spread_bps(s: F64, far0: F64, m0: F64) -> F64:
    """Quoted spread on the order's side: ``2·s·(far0 - m0)/m0·1e4``."""
    return 2.0 * s * (far0 - m0) / m0 * BPS


def e_over_q(s: F64, p: F64, far0: F64, m0: F64) -> F64:
    """Effective over quoted spread; NaN when the quote is locked (quoted spread 0)."""
    quoted = quoted_spread_bps(s, far0, m0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(quoted != 0.0, eff_spread_bps(s, p, m0) / quoted, np.nan)


def markout_bps(s: F64, p: F64, mid_h: F64, m0: F64) -> F64:
    """Markout at horizon h: ``s·(mid(t_exec+h) - p)/m0·1e4`` (higher is better)."""
    return s * (mid_h - p) / m0 * BPS


def real_spread_bps(s: F64, p: F64, mid_h: F64, m0: F64) -> F64:
    """Realized spread at h: ``2·s·(p - mid(t_exec+h))/m0·1e4`` (= -2·markout)."""
    return 2.0 * s * (p - mid_h) / m0 * BPS


def impact_bps(s: F64, mid_h: F64, m0: F64) -> F64:
    """Impact at h: ``2·s·(mid(t_exec+h) - m0)/m0·1e4`` (eff_spread = real_spread + impact)."""
    return 2.0 * s * (mid_h - m0) / m0 * BPS


def reject_cost_bps(s: F64, p_refill: F64, far0_rejected: F64, m0: F64) -> F64:
    """What a reject cost when the child was re-routed: ``s·(p_refill - far0)/m0·1e4``."""
    return s * (p_refill - far0_rejected) / m0 * BPS
