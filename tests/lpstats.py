"""Comparing statistics at the LP level: a live run against the batch job."""

from __future__ import annotations

import numpy as np
import polars as pl

from lpscore.stats.table import Stats


def by_lp(stats: Stats) -> pl.DataFrame:
    return stats.rollup(["lp"]).sums.sort("lp")


def assert_same_lp_sums(got: Stats, want: Stats) -> None:
    """Every LP's sums equal (to 1e-9), column by column."""
    a, b = by_lp(got), by_lp(want)
    assert a["lp"].to_list() == b["lp"].to_list()
    assert set(a.columns) == set(b.columns)
    for column in b.columns:
        if column != "lp":
            np.testing.assert_allclose(a[column].cast(pl.Float64).to_numpy(),
                                       b[column].cast(pl.Float64).to_numpy(),
                                       rtol=1e-9, atol=1e-9, err_msg=column)
