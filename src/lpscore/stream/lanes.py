"""Several lanes' rows in one run of a stateless step, told apart by a prefix.

    frame = prefixed(part, 2, ("session", "parent_id"))   # "2\x1fDESK->LP_A", ...
    mine = frame.filter(pl.col("session").str.starts_with(lane_prefix(2)))

The lanes of a poll share one run of the typing, duplicate marking and KPI engine
(lpscore.stream.decode.decode_all, lpscore.stream.processor.add_all): prefixing the columns
that key a session (or a parent order) by the lane keeps every lane's sessions apart, so
nothing links across lanes.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

__all__ = ["lane_prefix", "prefixed"]


def lane_prefix(lane: int) -> str:
    """What ``prefixed`` puts before a value of lane ``lane`` (a unit separator ends it)."""
    return f"{lane}\x1f"


def prefixed(frame: pl.DataFrame, lane: int, columns: Sequence[str]) -> pl.DataFrame:
    """``frame`` with the string ``columns`` prefixed by ``lane_prefix(lane)`` (null stays
    null)."""
    prefix = pl.lit(lane_prefix(lane))
    return frame.with_columns((prefix + pl.col(c)).alias(c) for c in columns)
