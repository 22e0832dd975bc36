"""Every KPI a profile may weight: its direction, how it is estimated from ``Stats`` sums,
and how it is shrunk (docs/scoring.md).

Three kinds, each read from the sufficient statistics of one group (``lpscore.stats``):

- ``rate``: ``num / den`` with an evidence count ``n`` (decayed orders, or the effective
  number of fills for quantity-weighted rates); shrunk with a Beta prior.
- ``mean``: a weighted mean from moment sums ``name__w/__wx/__wxx/__w2``; ``n`` is the
  effective sample size ``(Σw)² / Σw²``; shrunk normal-normal.
- ``quantile``: a sketch quantile of a latency; its sampling scale comes from the sketch's
  slope around the quantile; shrunk like a mean.

``lastlook_asymmetry`` is the difference of two rates, each shrunk on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl

from lpscore.config import KpiConfig
from lpscore.kpi.aggregate import LATENCIES
from lpscore.kpi.engine import horizon_label
from lpscore.stats.table import effective_n

__all__ = ["HIGHER", "LOWER", "KpiSpec", "catalog", "weighable"]

HIGHER = 1
LOWER = -1

Kind = Literal["rate", "mean", "quantile", "rate_diff"]


@dataclass(frozen=True, slots=True)
class KpiSpec:
    """How one KPI is estimated per group and which way is better."""

    name: str
    kind: Kind
    better: int
    """``HIGHER`` (+1) or ``LOWER`` (-1)."""
    unit: str
    mad_floor: float
    """The smallest spread across LPs that counts as a difference (robust-z normalisation)."""
    num: str = ""
    den: str = ""
    count: str = ""
    """Rates: the sums column counting the evidence (``""``: the effective n of ``source``)."""
    source: str = ""
    """Means: the moment-sum prefix. Quantiles: the sketch metric. Rates without ``count``:
    the moment-sum prefix whose effective n is their evidence."""
    q: float = 0.5
    parts: tuple[str, str] = ("", "")
    """``rate_diff``: the two rates whose difference this is."""

    def n_expr(self) -> pl.Expr:
        """The evidence behind one group's value (decayed, effective)."""
        if self.kind == "rate" and self.count:
            return pl.col(self.count)
        return effective_n(pl.col(f"{self.source}__w"), pl.col(f"{self.source}__w2"))


def _rate(name: str, better: int, num: str, den: str, count: str = "",
          source: str = "") -> KpiSpec:
    return KpiSpec(name, "rate", better, "share", 0.01, num=num, den=den, count=count,
                   source=source)


def _mean(name: str, better: int, unit: str, floor: float, source: str = "") -> KpiSpec:
    return KpiSpec(name, "mean", better, unit, floor, source=source or name)


def config_catalog(kpi: KpiConfig) -> dict[str, KpiSpec]:
    """``catalog`` of the horizons a run with ``kpi`` computes (``kpi.horizons_ms``)."""
    return catalog([horizon_label(h) for h in kpi.horizons_ms])


def catalog(horizons: Sequence[str]) -> dict[str, KpiSpec]:
    """Every KPI of KPIS.md that can carry weight, by its name in ``lps.parquet``."""
    specs = [
        _rate("fill_rate", HIGHER, "filled_qty_terminal", "ordered_qty_terminal", "n_terminal"),
        _rate("complete_fill_rate", HIGHER, "n_complete", "n_terminal", "n_terminal"),
        _rate("reject_rate", LOWER, "n_rejected", "n_orders", "n_orders"),
        _rate("session_reject_rate", LOWER, "n_session_rejected", "n_orders", "n_orders"),
        _rate("cancel_reject_rate", LOWER, "n_cancel_rejects", "n_cancel_requests",
              "n_cancel_requests"),
        _rate("pi_rate", HIGHER, "pi_positive_qty", "pi_bps__w", source="pi_bps"),
        _rate("at_or_better_rate", HIGHER, "pi_at_or_better_qty", "pi_bps__w", source="pi_bps"),
        _rate("lastlook_asymmetry#adverse", LOWER, "n_rejected_adverse", "n_decided_adverse",
              "n_decided_adverse"),
        _rate("lastlook_asymmetry#favourable", HIGHER, "n_rejected_favourable",
              "n_decided_favourable", "n_decided_favourable"),
        KpiSpec("lastlook_asymmetry", "rate_diff", LOWER, "share", 0.01,
                parts=("lastlook_asymmetry#adverse", "lastlook_asymmetry#favourable")),
        _mean("pi_bps", HIGHER, "bps", 0.1),
        _mean("eff_spread_bps", LOWER, "bps", 0.1),
        _mean("e_over_q", LOWER, "ratio", 0.01),
        _mean("reject_cost_bps", LOWER, "bps", 0.1),
    ]
    for h in horizons:
        specs += [_mean(f"markout_bps_{h}", HIGHER, "bps", 0.1),
                  _mean(f"real_spread_bps_{h}", LOWER, "bps", 0.1),
                  _mean(f"impact_bps_{h}", LOWER, "bps", 0.1)]
    for name in LATENCIES:
        specs.append(_mean(f"{name}_mean", LOWER, "ms", 0.01, source=name))
        for q in (0.5, 0.95, 0.99):
            specs.append(KpiSpec(f"{name}_p{round(q * 100)}", "quantile", LOWER, "ms", 0.01,
                                 source=name, q=q))
    return {s.name: s for s in specs}


def weighable(specs: dict[str, KpiSpec]) -> list[str]:
    """Names a profile may weight (internal parts of a difference excluded)."""
    return [name for name in specs if "#" not in name]
