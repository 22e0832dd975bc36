"""Quote timestamps as Polars expressions giving ``Datetime("ns", "UTC")``, null when unusable.

Text may be ISO-8601 with an offset (``Z``, ``+02:00``, ``+0200``, ``-05``), ISO-8601 without
one (read in the configured zone), or integer epoch nanoseconds; a row's form is decided per
row, so a file mixing them still parses. Null means "quarantine as bad_timestamp".
"""

from __future__ import annotations

import polars as pl

from lpscore.errors import InputError

__all__ = ["UTC_NS", "epoch_ns", "localize", "parse_ts_text", "ts_from_column"]

UTC_NS = pl.Datetime("ns", "UTC")

_AWARE = "%Y-%m-%dT%H:%M:%S%.f%#z"
_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_INTEGER = r"^[+-]?\d+$"


def localize(naive: pl.Expr, tz: str) -> pl.Expr:
    """Wall-clock times in ``tz`` to UTC; a time skipped by a DST change becomes null."""
    return (
        naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .cast(UTC_NS)
    )


def epoch_ns(ints: pl.Expr) -> pl.Expr:
    """Integer epoch nanoseconds to UTC timestamps."""
    return pl.from_epoch(ints.cast(pl.Int64, strict=False), time_unit="ns").dt.replace_time_zone(
        "UTC"
    )


def parse_ts_text(text: pl.Expr, naive_tz: str) -> pl.Expr:
    """Parse timestamp text (see the module docstring), row by row, without raising."""
    norm = text.str.strip_chars().str.replace(" ", "T", literal=True)
    aware = norm.str.to_datetime(_AWARE, time_unit="ns", strict=False).cast(UTC_NS)
    naive = localize(norm.str.to_datetime(_NAIVE, time_unit="ns", strict=False), naive_tz)
    return (
        pl.when(norm.str.contains(_INTEGER))
        .then(epoch_ns(norm.cast(pl.Int64, strict=False)))
        .otherwise(pl.coalesce(aware, naive))
    )


def ts_from_column(name: str, dtype: pl.DataType, naive_tz: str, where: str) -> pl.Expr:
    """A typed (Parquet) timestamp column to UTC ns: text, integer epoch ns, or a timestamp
    of any unit, tz-aware or naive (naive read in ``naive_tz``)."""
    col = pl.col(name)
    if dtype == pl.String:
        return parse_ts_text(col, naive_tz)
    if dtype.is_integer():
        return epoch_ns(col)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return localize(col.cast(pl.Datetime("ns")), naive_tz)
        return col.dt.convert_time_zone("UTC").cast(UTC_NS)
    raise InputError(
        f"{where}: column {name!r} has type {dtype}; store timestamps as int64 epoch "
        "nanoseconds, a timestamp column (any unit, with or without a time zone) or ISO-8601 text"
    )
