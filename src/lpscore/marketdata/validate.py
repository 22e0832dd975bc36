"""Quote validation: one reason code per bad row, computed over columns, then quarantined.

Reasons, first match wins (so each bad row is counted once):

    bad_timestamp   ts missing or unparseable (or a local time skipped by a DST change)
    bad_symbol      symbol missing or empty
    bad_price       bid or ask missing, NaN, infinite, <= 0, or a LOBSTER empty side
    crossed_quote   bid > ask (a locked quote, bid == ask, is valid: KPIS.md "NBBO")
    bad_size        a size that is negative, NaN, infinite or not a number (missing is fine)

Only the bad rows are turned into Python objects (quarantine records); the good path stays
columnar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lpscore.marketdata.files import Located, QuoteFormat
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

__all__ = ["QUOTE_COLUMNS", "REASONS", "FileLoad", "ParsedFile", "quote_schema", "split"]

REASONS = ("bad_timestamp", "bad_symbol", "bad_price", "crossed_quote", "bad_size")
QUOTE_COLUMNS = tuple(QUOTE_SCHEMA.names)
ROW = "_row"
"""Column of parsed frames: the 0-based data row in the source file."""

_STAGE = "marketdata"


def quote_schema() -> pl.Schema:
    """QUOTE_SCHEMA as a Polars schema."""
    return polars_schema(QUOTE_SCHEMA)


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One source parsed into QUOTE_COLUMNS plus ``_row``, not yet validated.

    ``locate`` gives (offset, line, raw) for data rows, used for quarantined rows only.
    ``empty_rows`` counts rows with no value at all (blank lines), left out of ``frame``.
    """

    path: Path
    file_format: QuoteFormat
    frame: pl.DataFrame
    locate: Callable[[Sequence[int]], list[Located]]
    empty_rows: int = 0


@dataclass(frozen=True, slots=True)
class FileLoad:
    """Reconciliation of one source: ``rows == kept + quarantined`` always holds.

    ``rows`` counts data rows; for a LOBSTER pair, orderbook rows (``path`` is the orderbook
    file). Blank lines are not rows: they are counted in ``empty_rows``.
    """

    path: Path
    file_format: QuoteFormat
    rows: int
    kept: int
    quarantined: int
    by_reason: Mapping[str, int]
    empty_rows: int = 0
    repeated: int = 0
    """Of ``kept``, the rows an earlier file of the same load gave already (its k-th copy
    of a row when the earlier files gave k or more), left out of the quotes: two exports
    of a day that overlap give each quote once, as appending them does."""

    def __post_init__(self) -> None:
        assert self.rows == self.kept + self.quarantined, self
        assert sum(self.by_reason.values()) == self.quarantined, self
        assert 0 <= self.repeated <= self.kept, self


def _bad_price(col: pl.Expr) -> pl.Expr:
    return col.is_null() | col.is_nan() | col.is_infinite() | (col <= 0)


def _bad_size(col: pl.Expr) -> pl.Expr:
    return col.is_not_null() & (col.is_nan() | col.is_infinite() | (col < 0))


def reason_expr() -> pl.Expr:
    """The quarantine reason of each row, null for a valid quote."""
    bid, ask, symbol = pl.col("bid"), pl.col("ask"), pl.col("symbol")
    return (
        pl.when(pl.col("ts").is_null())
        .then(pl.lit("bad_timestamp"))
        .when(symbol.is_null() | (symbol == ""))
        .then(pl.lit("bad_symbol"))
        .when(_bad_price(bid) | _bad_price(ask))
        .then(pl.lit("bad_price"))
        .when(bid > ask)
        .then(pl.lit("crossed_quote"))
        .when(_bad_size(pl.col("bid_size")) | _bad_size(pl.col("ask_size")))
        .then(pl.lit("bad_size"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def _detail(reason: str, row: dict[str, object]) -> str:
    if reason in {"bad_price", "crossed_quote"}:
        return f"bid={row['bid']} ask={row['ask']}"
    if reason == "bad_size":
        return f"bid_size={row['bid_size']} ask_size={row['ask_size']}"
    if reason == "bad_timestamp":
        return "ts is missing, unparseable, or a local time that does not exist"
    return "symbol is empty"


def split(parsed: ParsedFile, quarantine: Quarantine) -> tuple[pl.DataFrame, FileLoad]:
    """Valid quotes of ``parsed`` (QUOTE_SCHEMA, file order) and its reconciliation; every
    invalid row goes to ``quarantine`` with its source, offset, line, raw bytes and reason."""
    frame = parsed.frame.with_columns(reason_expr().alias("_reason"))
    is_bad = pl.col("_reason").is_not_null()
    good = frame.filter(~is_bad).select(QUOTE_COLUMNS).cast(quote_schema())
    bad = frame.filter(is_bad)
    if bad.height:
        rows = bad.get_column(ROW).to_list()
        located = parsed.locate(rows)
        source = str(parsed.path)
        for (offset, line, raw), values in zip(located, bad.iter_rows(named=True), strict=True):
            reason = str(values["_reason"])
            quarantine.add(
                source=source,
                offset=offset,
                line=line,
                reason=reason,
                raw=raw,
                detail=_detail(reason, values),
                stage=_STAGE,
            )
    counts = bad.get_column("_reason").value_counts()
    pairs = zip(counts["_reason"].to_list(), counts["count"].to_list(), strict=True)
    by_reason = {str(reason): int(n) for reason, n in sorted(pairs)}
    load = FileLoad(
        path=parsed.path,
        file_format=parsed.file_format,
        rows=frame.height,
        kept=good.height,
        quarantined=bad.height,
        by_reason=by_reason,
        empty_rows=parsed.empty_rows,
    )
    return good, load
