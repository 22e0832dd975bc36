"""Quote CSV (plain or gzip) and Parquet files to parsed, not yet validated, quote frames.

Both share one header contract: ``ts, symbol, bid, ask`` required, ``bid_size, ask_size``
optional (missing -> null), other columns ignored, names matched case-insensitively and
``timestamp`` accepted for ``ts`` (the nautilus/Binance layout). A file without a required
column is a user error (InputError), not a bad row.

CSV cells are read as text and converted per column without raising, so one bad cell costs
its row, not the file. A size that is present but not a number becomes NaN (-> bad_size).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError
from lpscore.marketdata.files import LineIndex, Located, read_bytes
from lpscore.marketdata.timestamps import parse_ts_text, ts_from_series
from lpscore.marketdata.validate import ROW, ParsedFile

__all__ = ["EXPECTED_HEADER", "parse_csv", "read_csv", "read_parquet", "resolve_columns"]

EXPECTED_HEADER = "ts,symbol,bid,ask,bid_size,ask_size"
_REQUIRED = ("ts", "symbol", "bid", "ask")
_OPTIONAL = ("bid_size", "ask_size")
_ALIASES = {"timestamp": "ts"}
_DUPLICATED = re.compile(r"_duplicated_\d+$")


def _key(name: str) -> str:
    """A header name as matched: no BOM, quotes, spaces or case, and not Polars' suffix for
    a name the header repeats (its second "ts" is "ts_duplicated_0")."""
    return _DUPLICATED.sub("", name.strip().lstrip("\ufeff").strip('"').lower())


def resolve_columns(path: Path, names: Sequence[str]) -> dict[str, str]:
    """Canonical column name -> the file's own name; InputError naming what is missing."""
    found: dict[str, str] = {}
    for name in names:
        key = _key(name)
        canonical = _ALIASES.get(key, key)
        if canonical not in _REQUIRED + _OPTIONAL:
            continue
        if canonical in found and _key(found[canonical]) == key:
            raise InputError(f"{path}: column {canonical!r} appears twice in the header "
                             f"({found[canonical]!r}, {_DUPLICATED.sub('', name)!r}); keep "
                             "one, so that it is clear which values are meant")
        # An exact "ts" wins over the "timestamp" alias whatever the column order.
        if canonical not in found or key == canonical:
            found[canonical] = name
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)} (found: "
            f"{', '.join(names) or 'no columns'}); expected a header {EXPECTED_HEADER} "
            "(bid_size and ask_size optional, 'timestamp' accepted for ts)"
        )
    return found


def _number(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().cast(pl.Float64, strict=False)


def _size(text: pl.Expr) -> pl.Expr:
    value = text.str.strip_chars()
    return (
        pl.when(value.is_null() | (value == ""))
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise(value.cast(pl.Float64, strict=False).fill_null(float("nan")))
    )


def _render(frame: pl.DataFrame, rows: Sequence[int]) -> list[bytes]:
    """Rows of ``frame`` (by 0-based row number) re-rendered as comma-joined bytes."""
    picked = frame.select(pl.all().gather(list(rows)).cast(pl.String).fill_null(""))
    return [",".join(values).encode("utf-8") for values in picked.iter_rows()]


def read_csv(path: Path, config: MarketDataConfig) -> ParsedFile:
    """Parse one quote CSV (see the module docstring)."""
    data, compressed = read_bytes(path)
    if not data.strip():
        raise InputError(f"{path}: empty file; expected a header {EXPECTED_HEADER} and rows")
    return parse_csv(data, path, config, offsets=not compressed)


def parse_csv(data: bytes, path: Path, config: MarketDataConfig, *, offsets: bool = True,
              locate: Callable[[Sequence[int]], list[Located]] | None = None) -> ParsedFile:
    """Parse quote CSV text (a header line, then rows) read from ``path``; ``locate``
    places data rows for the quarantine when ``data`` is not the file itself (a followed
    file's new lines: lpscore.stream.quotes)."""
    try:
        text = pl.read_csv(
            data,
            infer_schema=False,
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{path}: not readable as CSV ({exc}); expected a header {EXPECTED_HEADER}"
        ) from exc
    cols = resolve_columns(path, text.columns)
    empty = pl.all_horizontal(pl.col(name).is_null() for name in text.columns)
    rows = text.with_row_index(ROW).filter(~empty)
    frame = rows.select(
        pl.col(ROW).cast(pl.Int64),
        parse_ts_text(rows.get_column(cols["ts"]), config.csv_tz).alias("ts"),
        pl.col(cols["symbol"]).str.strip_chars().alias("symbol"),
        _number(pl.col(cols["bid"])).alias("bid"),
        _number(pl.col(cols["ask"])).alias("ask"),
        *(
            (_size(pl.col(cols[name])) if name in cols else pl.lit(None, dtype=pl.Float64)).alias(
                name
            )
            for name in _OPTIONAL
        ),
    )
    index = LineIndex(data=data, first_line=2, rows=text.height, offsets=offsets)

    def in_file(rows: Sequence[int]) -> list[Located]:
        found = index.locate(rows)
        if all(place is not None for place in found):
            return [place for place in found if place is not None]
        # Lines and rows disagree (a quoted field spans lines): no line, values re-rendered.
        return [(-1, -1, raw) for raw in _render(text, rows)]

    return ParsedFile(path, "csv", frame, locate or in_file,
                      empty_rows=text.height - frame.height)


def read_parquet(path: Path, config: MarketDataConfig) -> ParsedFile:
    """Parse one quote Parquet file; ts may be int64 ns, text, or a timestamp of any unit/tz.

    Parquet has no lines: quarantine records carry offset -1 and the 1-based row number as
    their line, with the row's values comma-joined as raw.
    """
    try:
        cols = resolve_columns(path, pl.scan_parquet(path, glob=False).collect_schema().names())
        source = pl.read_parquet(path, columns=list(cols.values()), glob=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    ts = ts_from_series(source.get_column(cols["ts"]), config.csv_tz, str(path))
    frame = source.with_row_index(ROW).select(
        pl.col(ROW).cast(pl.Int64),
        ts.alias("ts"),
        pl.col(cols["symbol"]).cast(pl.String).str.strip_chars().alias("symbol"),
        pl.col(cols["bid"]).cast(pl.Float64, strict=False).alias("bid"),
        pl.col(cols["ask"]).cast(pl.Float64, strict=False).alias("ask"),
        *(
            (
                pl.col(cols[name]).cast(pl.Float64, strict=False)
                if name in cols
                else pl.lit(None, dtype=pl.Float64)
            ).alias(name)
            for name in _OPTIONAL
        ),
    )

    def locate(rows: Sequence[int]) -> list[Located]:
        return [(-1, row + 1, raw) for row, raw in zip(rows, _render(source, rows), strict=True)]

    return ParsedFile(path, "parquet", frame, locate)
