"""Scales, ticks and text measures for the report's SVG charts; pure arithmetic, no markup."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

__all__ = ["linear", "log_edges", "nice_ticks", "text_width", "tick_label"]

_NARROW, _WIDE = set("iljtf.,:;!|'()[] "), set("MWmw@%")


def text_width(text: str, size: float = 12) -> float:
    """Estimated rendered width of ``text`` in a sans-serif font of ``size`` px."""
    em = sum(0.3 if c in _NARROW else 0.9 if c in _WIDE or c.isupper() else 0.58
             for c in text)
    return em * size


def _decimals(step: float) -> int:
    """Decimals that print ``step`` exactly (up to 6)."""
    for d in range(7):
        scaled = step * 10**d
        if abs(scaled - round(scaled)) < 1e-6:
            return d
    return 6


def nice_ticks(lo: float, hi: float, target: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values covering ``lo..hi`` (1, 2, 2.5 or 5 times a power of ten); about
    ``target`` intervals; whole steps only when ``integer``."""
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1.0):
        pad = abs(lo) * 0.5 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / target
    mag = 10.0 ** math.floor(math.log10(raw))
    steps = [m * mag for m in (1, 2, 2.5, 5, 10) if not (integer and m * mag % 1)]
    step = next((m for m in steps if m >= raw * (1 - 1e-9)), 10 * mag)
    if integer:
        step = max(1.0, step)
    start, end = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    d = _decimals(step) + 1
    return [round(i * step, d) for i in range(start, end + 1)]


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """``value`` with as many decimals as the tick step needs."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    d = _decimals(round(step, 9))
    return f"{value:,.{d}f}"


def log_edges(lo: float, hi: float, max_bins: int = 36) -> list[float]:
    """Log-spaced bin edges on whole decades covering ``lo..hi`` (both > 0)."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    k1 = max(k1, k0 + 1)
    per = max(1, min(12, max_bins // (k1 - k0)))
    return [10.0 ** (k0 + i / per) for i in range((k1 - k0) * per + 1)]


def linear(lo: float, hi: float, a: float, b: float) -> Callable[[float], float]:
    """The map of ``lo..hi`` onto ``a..b``."""
    span = hi - lo or 1.0
    return lambda v: a + (v - lo) / span * (b - a)
