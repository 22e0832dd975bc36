"""Quote timestamps to ``Datetime("ns", "UTC")`` columns, null where unusable (-> bad_timestamp).

Text may be ISO-8601 with an offset (``Z``, ``+02:00``, ``+0200``, ``-05``), ISO-8601 without
one (read in the configured zone), or integer epoch nanoseconds. The form is decided per row,
so a file mixing them still parses; but each parser runs only when some row needs it, because
a datetime parse costs about 0.45 s per million rows and most files use a single form.
"""

from __future__ import annotations

import polars as pl

from lpscore.errors import InputError

__all__ = ["UTC_NS", "epoch_ns", "localize", "parse_ts_text", "ts_from_series"]

UTC_NS = pl.Datetime("ns", "UTC")

_AWARE = "%Y-%m-%dT%H:%M:%S%.f%#z"
_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_INTEGER = r"^[+-]?\d+$"
_OFFSET = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_MISSING, _EPOCH, _WITH_OFFSET, _NAIVE_FORM = 0, 1, 2, 3


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


def parse_ts_text(text: pl.Series, naive_tz: str) -> pl.Series:
    """Parse timestamp text (see the module docstring), row by row, without raising."""
    norm = pl.col("t")
    form = (
        pl.when(norm.is_null())
        .then(pl.lit(_MISSING))
        .when(norm.str.contains(_INTEGER))
        .then(pl.lit(_EPOCH))
        .when(norm.str.contains(_OFFSET))
        .then(pl.lit(_WITH_OFFSET))
        .otherwise(pl.lit(_NAIVE_FORM))
    )
    frame = pl.DataFrame(
        {"t": text.cast(pl.String).str.strip_chars().str.replace(" ", "T", literal=True)}
    ).with_columns(form.alias("form"))
    forms = set(frame.get_column("form").unique().to_list())
    by_form = {
        _EPOCH: epoch_ns(norm),
        _WITH_OFFSET: norm.str.to_datetime(_AWARE, time_unit="ns", strict=False),
        _NAIVE_FORM: localize(norm.str.to_datetime(_NAIVE, time_unit="ns", strict=False), naive_tz),
    }
    # Building an expression costs nothing; only those selected here are evaluated.
    parsed = [
        pl.when(pl.col("form") == code).then(expr.cast(UTC_NS))
        for code, expr in by_form.items()
        if code in forms
    ]
    if not parsed:
        return pl.Series(text.name, [None] * len(text), dtype=UTC_NS)
    return frame.select(pl.coalesce(parsed).alias(text.name)).to_series()


def ts_from_series(series: pl.Series, naive_tz: str, where: str) -> pl.Series:
    """A typed (Parquet) timestamp column to UTC ns: text, integer epoch ns, or a timestamp
    of any unit, tz-aware or naive (naive read in ``naive_tz``)."""
    dtype = series.dtype
    if dtype == pl.String:
        return parse_ts_text(series, naive_tz)
    col = pl.col(series.name)
    if dtype.is_integer():
        expr = epoch_ns(col)
    elif isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        expr = localize(col.cast(pl.Datetime("ns")), naive_tz)
    elif isinstance(dtype, pl.Datetime):
        expr = col.dt.convert_time_zone("UTC").cast(UTC_NS)
    else:
        raise InputError(
            f"{where}: column {series.name!r} has type {dtype}; store timestamps as int64 epoch "
            "nanoseconds, a timestamp column (any unit, with or without a time zone) or "
            "ISO-8601 text"
        )
    return series.to_frame().select(expr).to_series()
