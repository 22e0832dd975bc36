"""Quote ingestion: CSV, Parquet and LOBSTER files to one top-of-book quote table.

    load_quotes(paths, config, quarantine) -> QuoteLoad(quotes, files)

``quotes`` has exactly the columns and types of QUOTE_SCHEMA, sorted by symbol then ts
(stable: equal timestamps keep file order, files keep the order given). Invalid rows are
quarantined with a reason (see lpscore.marketdata.validate), never dropped and never fatal;
``files`` reconciles each source as ``rows == kept + quarantined``. Whole-file problems raise:
UnknownFormatError for a file no reader recognises, InputError for a missing required column,
a LOBSTER file without its partner, or an unreadable file. All files are recognised (and LOBSTER
partners found) before any is loaded, so those errors come before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from lpscore.config import MarketDataConfig
from lpscore.marketdata.csvparquet import read_csv, read_parquet
from lpscore.marketdata.files import ACCEPTED_FORMATS, QuoteFormat, detect_format
from lpscore.marketdata.lobster import LobsterPair, lobster_pair, read_lobster
from lpscore.marketdata.validate import REASONS, FileLoad, ParsedFile, quote_schema, split
from lpscore.quarantine import Quarantine

__all__ = [
    "ACCEPTED_FORMATS",
    "REASONS",
    "FileLoad",
    "QuoteFormat",
    "QuoteLoad",
    "detect_format",
    "load_quotes",
]


@dataclass(frozen=True, slots=True)
class QuoteLoad:
    """The quotes loaded from some files, and one reconciliation per file (or LOBSTER pair)."""

    quotes: pl.DataFrame
    files: tuple[FileLoad, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def kept(self) -> int:
        return sum(f.kept for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)


_Source = tuple[QuoteFormat, Path | LobsterPair]


def _plan(paths: Sequence[Path]) -> list[_Source]:
    """Each source once, in the order given; a LOBSTER pair named by both files loads once."""
    sources: list[_Source] = []
    seen_pairs: set[Path] = set()
    for path in paths:
        file_format = detect_format(path)
        if file_format != "lobster":
            sources.append((file_format, path))
            continue
        pair = lobster_pair(path)
        key = pair.orderbook.resolve()
        if key not in seen_pairs:
            seen_pairs.add(key)
            sources.append((file_format, pair))
    return sources


def _parse(source: _Source, config: MarketDataConfig) -> ParsedFile:
    file_format, where = source
    if isinstance(where, LobsterPair):
        return read_lobster(where, config)
    if file_format == "parquet":
        return read_parquet(where, config)
    return read_csv(where, config)


def load_quotes(
    paths: Sequence[Path], config: MarketDataConfig, quarantine: Quarantine
) -> QuoteLoad:
    """Load quote files into one QUOTE_SCHEMA table; bad rows go to ``quarantine``, and a
    row an earlier file gave already is left out (``FileLoad.repeated``)."""
    frames: list[pl.DataFrame] = []
    loads: list[FileLoad] = []
    for source in _plan([Path(p) for p in paths]):
        good, load = split(_parse(source, config), quarantine)
        assert load.rows == load.kept + load.quarantined, load
        frames.append(good)
        loads.append(load)
    frames, loads = _once(frames, loads)
    quotes = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=quote_schema())
    quotes = quotes.sort(["symbol", "ts"], maintain_order=True)
    return QuoteLoad(quotes=quotes, files=tuple(loads))


def _once(frames: list[pl.DataFrame], loads: list[FileLoad]
          ) -> tuple[list[pl.DataFrame], list[FileLoad]]:
    """Each file's quotes without the rows earlier files gave: its k-th copy of a row (every
    column equal) stays only when no earlier file gave k copies of it (the store ends with
    as many copies as the file holding most of them, as appends leave it), so copies within
    one file stay (one timestamp may see the same book twice, with another between) and
    overlapping files give each quote once, as ``lpscore ingest --append`` stores them
    (history.new_quotes).
    Files whose symbols and times overlap no other's are passed as they are."""
    spans = [f.group_by("symbol").agg(pl.col("ts").min().alias("lo"), pl.col("ts").max()
                                      .alias("hi")).with_columns(pl.lit(k).alias("_file"))
             for k, f in enumerate(frames) if f.height]
    if len(spans) < 2:
        return frames, loads
    both = pl.concat(spans).join(pl.concat(spans), on="symbol", nulls_equal=True)
    overlapping = both.filter((pl.col("_file") < pl.col("_file_right"))
                              & (pl.col("lo") <= pl.col("hi_right"))
                              & (pl.col("lo_right") <= pl.col("hi")))
    if overlapping.is_empty():
        return frames, loads
    columns = list(quote_schema())
    marked = pl.concat([f.with_columns(pl.lit(k, dtype=pl.Int32).alias("_file"))
                        for k, f in enumerate(frames)]).with_columns(
        pl.int_range(pl.len()).over([*columns, "_file"]).alias("_copy"))
    first = marked.select(pl.struct(*columns, "_copy").is_first_distinct()).to_series()
    repeated = marked.filter(~first).group_by("_file").len()
    dropped = dict(repeated.iter_rows())
    kept = marked.filter(first).partition_by("_file", as_dict=True, include_key=False)
    return ([kept[(k,)].drop("_copy") if (k,) in kept else f.clear()
             for k, f in enumerate(frames)],
            [replace(load, repeated=dropped.get(k, 0)) for k, load in enumerate(loads)])
