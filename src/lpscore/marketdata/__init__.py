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
from dataclasses import dataclass
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
    """Load quote files into one QUOTE_SCHEMA table; bad rows go to ``quarantine``."""
    frames: list[pl.DataFrame] = []
    loads: list[FileLoad] = []
    for source in _plan([Path(p) for p in paths]):
        good, load = split(_parse(source, config), quarantine)
        assert load.rows == load.kept + load.quarantined, load
        frames.append(good)
        loads.append(load)
    quotes = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=quote_schema())
    quotes = quotes.sort(["symbol", "ts"], maintain_order=True)
    return QuoteLoad(quotes=quotes, files=tuple(loads))
