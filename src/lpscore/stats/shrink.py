"""Hierarchical shrinkage of per-group estimates toward their parent group (KPIS.md).

Each estimate is a column triple ``{k}.x`` (value), ``{k}.n`` (evidence: decayed orders, or
an effective sample size) and, for means, ``{k}.s2`` (per-observation variance). Shrinking a
child group toward its parent with strength ``m`` pseudo-observations gives

- rates (Beta prior centred on the parent's rate ``p``): ``x' = (n·x + m·p)/(n + m)``, the mean
  of ``Beta(n·x + m·p, n·(1-x) + m·(1-p))``;
- means (normal-normal): ``x' = (n·x + m·μ)/(n + m)``, posterior variance ``s2'/(n + m)`` with
  ``s2' = (n·s2 + m·s2_parent)/(n + m)``, so that a group of one observation borrows its
  spread from the parent as well as its level.

The result keeps ``{k}.raw`` (the child's own value), ``{k}.n`` (its own evidence) and adds
``{k}.N = n + m``, the posterior's strength. A child with no evidence takes the parent's value;
with ``m = 0`` it stays null.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["shrink", "unshrunk"]


def unshrunk(frame: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """Estimates that borrow nothing (the top of a hierarchy): ``raw = x``, ``N = n``."""
    return frame.with_columns(
        e for k in names for e in (pl.col(f"{k}.x").alias(f"{k}.raw"),
                                   pl.col(f"{k}.n").fill_null(0.0).alias(f"{k}.N")))


def shrink(child: pl.DataFrame, parent: pl.DataFrame, on: Sequence[str], rates: Sequence[str],
           means: Sequence[str], m: float) -> pl.DataFrame:
    """``child`` estimates shrunk toward ``parent``'s, joined on ``on`` (empty: one parent)."""
    if m < 0:
        raise ValueError(f"shrinkage strength must be >= 0, got {m}")
    cols = [f"{k}.x" for k in [*rates, *means]] + [f"{k}.s2" for k in means]
    prior = parent.select(*on, *(pl.col(c).alias(f"{c}.p") for c in cols))
    joined = (child.join(prior, on=list(on), how="left", nulls_equal=True) if on
              else child.join(prior, how="cross"))
    exprs: list[pl.Expr] = []
    for k in [*rates, *means]:
        n = pl.col(f"{k}.n").fill_null(0.0)
        x, p = pl.col(f"{k}.x"), pl.col(f"{k}.x.p")
        own = (n > 0) & x.is_not_null()
        n = pl.when(own).then(n).otherwise(0.0)
        total = n + m
        value = (pl.when(own & (p.is_null() | (m == 0))).then(x)
                 .when(p.is_not_null() & (total > 0))
                 .then((n * x.fill_null(0.0) + m * p) / total))
        exprs += [x.alias(f"{k}.raw"), value.alias(f"{k}.x"), total.alias(f"{k}.N")]
        if k in means:
            s2, s2p = pl.col(f"{k}.s2"), pl.col(f"{k}.s2.p")
            blended = (pl.when(own & (s2p.is_null() | (m == 0))).then(s2)
                       .when(s2p.is_not_null() & (total > 0))
                       .then((n * s2.fill_null(0.0) + m * s2p) / total))
            exprs.append(blended.alias(f"{k}.s2"))
    return joined.with_columns(exprs).drop(f"{c}.p" for c in cols)
