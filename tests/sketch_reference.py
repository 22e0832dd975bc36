"""The exact weighted lower quantile the sketch tests compare against (no sketch involved)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from lpscore.stats.sketch import QUANTILE_EPS


def lower_quantile(values: npt.ArrayLike, weights: npt.ArrayLike, q: float) -> float:
    """The smallest raw value whose cumulative weight reaches q of the total."""
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    return float(v[order][np.argmax(cum >= cum[-1] * (q - QUANTILE_EPS))])
