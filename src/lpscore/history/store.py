"""The history store: events and quotes as Parquet datasets partitioned by date and symbol.

Layout (hive style, so DuckDB and Polars read it with partition pruning):

    ROOT/events/date=2022-01-07/symbol=AMZN-RM/part-000000000000.parquet
    ROOT/quotes/date=2012-06-21/symbol=AMZN/part-000000000000.parquet

``date`` is the UTC date of ``ts_recv`` (events) or ``ts`` (quotes). Symbols are
percent-encoded in directory names (``EUR%2FUSD``); events without a symbol (session rejects,
some cancel rejects) go under ``symbol=__none__``. The files keep every column, so a read
gives back exactly what was written, in the same row order (``_seq`` restores it).

A write replaces the table; an append adds a file to each partition it touches, named by the
``_seq`` of the append's first row (``first_seq``: the rows written before it), so that an
append cut short is undone by removing the files named at or after it (``files_from``;
lpscore.history.state.unfinished).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import polars as pl

from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, compact, polars_schema, with_captured

__all__ = ["append_events", "append_quotes", "files_from", "new_quotes",
           "partitions_of", "read_compact", "read_events", "read_quotes", "store_files",
           "write_events", "write_quotes"]

_NO_SYMBOL = "__none__"


def write_events(root: Path, events: pl.DataFrame) -> int:
    """Replace ``root/events`` with ``events``; returns the number of files written."""
    return _write(root / "events", events, "ts_recv", None)


def write_quotes(root: Path, quotes: pl.DataFrame) -> int:
    """Replace ``root/quotes`` with ``quotes``; returns the number of files written."""
    return _write(root / "quotes", quotes, "ts", None)


def append_events(root: Path, events: pl.DataFrame, first_seq: int) -> int:
    """Add ``events`` after the ``first_seq`` events ``root/events`` holds; returns the
    number of files written."""
    return _write(root / "events", events, "ts_recv", first_seq)


def append_quotes(root: Path, quotes: pl.DataFrame, first_seq: int) -> int:
    """Add ``quotes`` after the ``first_seq`` quotes ``root/quotes`` holds."""
    return _write(root / "quotes", quotes, "ts", first_seq)


def new_quotes(root: Path, quotes: pl.DataFrame) -> pl.DataFrame:
    """``quotes`` without the rows ``root/quotes`` holds already, in their order: the k-th
    copy of a row (every column equal) is new only when the store holds fewer than k copies
    of it. A quote file appended again, or two exports of a day that overlap, so add each
    quote once, while copies within one file stay (one timestamp may see the same book
    twice, with another between). Reads only the partitions of the dates and symbols of
    ``quotes``."""
    if quotes.is_empty():
        return quotes
    parts = quotes.select(_partition("ts")).unique()
    files = [path for day, symbol in parts.iter_rows()
             for path in store_files(root, "quotes", symbol, day)]
    if not files:
        return quotes
    columns = list(polars_schema(QUOTE_SCHEMA).keys())
    held = pl.scan_parquet(files, hive_partitioning=False, glob=False).select(columns).collect()

    def numbered(frame: pl.DataFrame) -> pl.DataFrame:   # each copy of a row, 0, 1, 2...
        return frame.with_columns(pl.int_range(pl.len()).over(columns).alias("_copy"))

    return numbered(quotes).join(numbered(held), on=[*columns, "_copy"], how="anti",
                                 nulls_equal=True, maintain_order="left").drop("_copy")


def _partition(ts_column: str) -> list[pl.Expr]:
    """The partition of each row: the UTC date of ``ts_column`` and the symbol."""
    return [pl.col(ts_column).dt.date().cast(pl.String).fill_null("unknown").alias("_date"),
            pl.col("symbol").fill_null(_NO_SYMBOL).alias("_symbol")]


def _folder(day: object, symbol: object) -> str:
    """A partition's folder under its table's: ``date=.../symbol=...``."""
    return f"date={day}/symbol={quote(str(symbol), safe='')}"


def store_files(root: Path, table: str, symbol: str | None = None,
                day: str | None = None) -> list[Path]:
    """The files of ``root/table`` (``events`` or ``quotes``), or of one symbol's or one
    date's (``YYYY-MM-DD``) partitions, in date, symbol and write order."""
    name = "*" if symbol is None else quote(symbol, safe="")
    return sorted((root / table).glob(f"date={day or '*'}/symbol={name}/*.parquet"))


def partitions_of(table: str, frame: pl.DataFrame) -> list[str]:
    """The partition folders (``events/date=.../symbol=...``, relative to the store) that
    writing ``frame`` to ``table`` touches."""
    pairs = frame.select(_partition("ts_recv" if table == "events" else "ts")).unique()
    return sorted(f"{table}/{_folder(day, symbol)}" for day, symbol in pairs.iter_rows())


def files_from(root: Path, events: int, quotes: int,
               within: Sequence[str] | None = None) -> list[Path]:
    """The files of appends that start at or after the ``events``-th event or the
    ``quotes``-th quote: an append cut short before it was recorded. ``within``: look only
    in these partition folders (``partitions_of``: those the append was to write), not in
    every folder of the store (a year of small days: 55,000 files listed, 1-4 s)."""
    late = []
    for table, first in (("events", events), ("quotes", quotes)):
        if within is None:
            paths = store_files(root, table)
        else:
            paths = [path for folder in within if folder.startswith(f"{table}/")
                     for path in sorted((root / folder).glob("*.parquet"))]
        for path in paths:
            seq = path.stem.removeprefix("part-")
            if seq.isdigit() and int(seq) >= first:
                late.append(path)
    return late


def read_events(root: Path, *, compact_form: bool = False) -> pl.DataFrame:
    """All events of the store, in the order they were written; with ``compact_form`` in
    the compact form (lpscore.model.schema.compact), as the KPI engine should read them."""
    return _read(root / "events", polars_schema(EVENT_SCHEMA), compact_form=compact_form)


def read_quotes(root: Path, *, compact_form: bool = False) -> pl.DataFrame:
    """All quotes of the store, in the order they were written (``read_events``)."""
    return _read(root / "quotes", polars_schema(QUOTE_SCHEMA), compact_form=compact_form)


def scan_tables(path: str | Path | Sequence[Path], *,
                include_file_paths: str | None = None) -> pl.LazyFrame:
    """An events or quotes table of Parquet file(s) as one scan, with the columns of the
    first or the last file, whichever has more: files written before a column was kept
    (``captured``) read it as null, and a store appended to since, whose first files are
    the old ones (files sort by date), keeps the column of its new ones. An events table
    always has ``captured`` (lpscore.model.schema.with_captured)."""
    files = [Path(path)] if isinstance(path, str | Path) else list(path)
    ends = [pl.scan_parquet(p, glob=False, hive_partitioning=False).collect_schema()
            for p in dict.fromkeys([files[0], files[-1]])]
    schema = max(ends, key=len)
    scan = pl.scan_parquet(files, glob=False, hive_partitioning=False, schema=schema,
                           missing_columns="insert", extra_columns="ignore",
                           include_file_paths=include_file_paths)
    return with_captured(scan) if "ts_recv" in schema else scan


def read_compact(path: str | Path | Sequence[Path],
                 columns: Sequence[str] | None = None) -> pl.DataFrame:
    """An events or quotes table from Parquet file(s), only ``columns`` (default: all), in
    the compact form (lpscore.model.schema.compact). The few-valued string columns are made
    categorical as they are read, so that their strings are never held whole: what a caller
    of the KPI engine should read (1M orders and 20M quotes: 1.3 GB instead of 2.0 GB)."""
    lazy = scan_tables(path)
    if columns is not None:
        lazy = lazy.select(columns)
    return compact(compact(lazy).collect())


def _write(directory: Path, frame: pl.DataFrame, ts_column: str, first_seq: int | None) -> int:
    """Write ``frame`` under ``directory``: replacing it (``first_seq`` None) or after the
    ``first_seq`` rows it holds."""
    if first_seq is None:
        if directory.exists():
            shutil.rmtree(directory)
        first_seq = 0
    directory.mkdir(parents=True, exist_ok=True)
    keyed = frame.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + first_seq).alias("_seq"),
        *_partition(ts_column))
    written = 0
    for (day, symbol), part in keyed.group_by("_date", "_symbol", maintain_order=True):
        target = directory / _folder(day, symbol)
        target.mkdir(parents=True, exist_ok=True)
        part.drop("_date", "_symbol").write_parquet(target / f"part-{first_seq:012d}.parquet",
                                                    statistics=True)
        written += 1
    return written


def _read(directory: Path, schema: pl.Schema, *, compact_form: bool) -> pl.DataFrame:
    files = store_files(directory.parent, directory.name)
    if not files:
        empty = pl.DataFrame(schema=schema)
        return compact(empty) if compact_form else empty
    if compact_form:   # the strings made categorical as they are read, never held whole
        return read_compact(files, [*schema.names(), "_seq"]).sort("_seq").drop("_seq")
    frame = scan_tables(files).sort("_seq").drop("_seq").collect()
    return frame.select(list(schema.keys()))
