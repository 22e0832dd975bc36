"""Live quotes for ``lpscore stream --quote-source``: a quote CSV followed as it grows, or a
Kafka topic of quote rows.

    feed = QuoteFeed.open("file://nbbo.csv", config.marketdata)   # or kafka://host:9092/nbbo
    feed.poll()                  # new complete lines -> validated quotes; how many
    feed.since(mark)             # the quotes read after ``mark`` (a count of chunks)
    feed.missing(held)           # the quotes read that a restored lane does not hold

The file is a quote CSV as ``--quotes`` reads it (header ``ts,symbol,bid,ask[,bid_size,
ask_size]``), appended to by a market-data handler. Lines are read with the same follower
as a FIX log (complete lines only; rotation and truncation handled, lpscore.stream.files)
and parsed and validated by the batch quote loader's functions, so a crossed or zero quote
is quarantined here with the file's byte offset exactly as ``lpscore kpis`` would. A rotated
file starts with its own header. A Kafka topic (lpscore.stream.kafka.KafkaLines) carries
one row per record, without a header, in the order ``ts,symbol,bid,ask,bid_size,ask_size``;
a quarantined row names its partition (``kafka:TOPIC/N``) and offset.

The feed keeps every quote it read (the processors need the day's quotes: as-of lookups and
volatility regimes), as chunks; each lane remembers how many chunks it has taken. A lane
restored from a checkpoint holds the quotes it had then; ``QuoteFeed.missing`` gives it the
others. On a restart the feed reads its source from the start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import polars as pl

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError
from lpscore.marketdata.csvparquet import EXPECTED_HEADER, parse_csv
from lpscore.marketdata.files import Located
from lpscore.marketdata.validate import quote_schema, split
from lpscore.quarantine import Quarantine
from lpscore.stream.decode import Record
from lpscore.stream.files import FollowFile

__all__ = ["QuoteFeed"]


class Lines(Protocol):
    """Where quote lines come from: lpscore.stream.files.FollowFile, or KafkaLines."""

    def read(self, max_records: int = 100_000) -> list[Record]: ...

    def lag(self) -> int: ...

    def close(self) -> None: ...


@dataclass
class QuoteFeed:
    """Quote rows from a followed CSV or a topic (see the module docstring)."""

    name: str
    """The file, or the topic's URI (what errors name)."""
    config: MarketDataConfig
    lines: Lines
    header: bytes | None = None
    """The column names of a source without header lines (a topic). None for a file: its
    first line (a rotated file's too) is its header."""
    quarantine: Quarantine = field(default_factory=Quarantine)
    max_lines: int = 200_000
    chunks: list[pl.DataFrame] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """``lines``, ``quotes``, ``quarantined``, ``blank``."""

    def __post_init__(self) -> None:
        self._from_file = self.header is None

    @classmethod
    def open(cls, uri: str, config: MarketDataConfig) -> QuoteFeed:
        """``file://PATH`` or ``kafka://HOST:PORT/TOPIC``; InputError for anything else."""
        if uri.startswith("file://"):
            path = Path(uri.removeprefix("file://"))
            return cls(str(path), config, FollowFile(path))
        if uri.startswith("kafka://"):
            from lpscore.stream.kafka import KafkaLines  # noqa: PLC0415 - only Kafka needs it
            return cls(uri, config, KafkaLines.from_uri(uri),
                       header=EXPECTED_HEADER.encode())
        raise InputError(f"--quote-source {uri}: use file://PATH (a quote CSV that grows) or "
                         "kafka://HOST:PORT/TOPIC (one quote row per record)")

    def poll(self) -> int:
        """Read the lines written since the last poll; the number of valid quotes."""
        records = self.lines.read(self.max_lines)
        if not records:
            return 0
        self.counts["lines"] += len(records)
        rows: list[Record] = []
        for record in records:
            if self._from_file and record.offset == 0:
                self.header = record.data
            elif not record.data.strip():
                self.counts["blank"] += 1
            else:
                rows.append(record)
        if not rows:
            return 0
        if self.header is None:
            raise InputError(f"{self.name}: quote lines before any header line; the file "
                             "must start with a header like ts,symbol,bid,ask")
        by_source: dict[str, list[Record]] = {}
        for record in rows:            # a topic's partitions each have their own offsets
            by_source.setdefault(record.source, []).append(record)
        good = _concat([self._parse(source, part) for source, part in by_source.items()])
        if good.height:
            self.chunks.append(good)
        self.counts["quotes"] += good.height
        self.counts["quarantined"] += len(rows) - good.height
        return good.height

    def _parse(self, source: str, rows: Sequence[Record]) -> pl.DataFrame:
        """Valid quotes of ``rows`` (all from ``source``); the others quarantined there."""
        assert self.header is not None
        data = b"\n".join([self.header, *(r.data for r in rows)]) + b"\n"

        def locate(indexes: Sequence[int]) -> list[Located]:
            return [(rows[i].offset, -1, rows[i].data.rstrip(b"\r")) for i in indexes]

        parsed = parse_csv(data, Path(source), self.config, locate=locate)
        good, _ = split(parsed, self.quarantine)
        return good

    def since(self, mark: int) -> pl.DataFrame:
        """The quotes of the chunks after the first ``mark``."""
        return _concat(self.chunks[mark:])

    def missing(self, held: pl.DataFrame) -> pl.DataFrame:
        """Every quote read that is not a row of ``held``: what a lane restored from a
        checkpoint lacks (a row repeated in the source and held once is not taken again)."""
        quotes = _concat(self.chunks)
        if not held.height:
            return quotes
        return quotes.join(held.unique(), on=list(quotes.columns), how="anti",
                           nulls_equal=True)

    def lag(self) -> int:
        return self.lines.lag()

    def close(self) -> None:
        self.lines.close()


def _concat(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=quote_schema())
    return pl.concat(list(frames), how="vertical") if len(frames) > 1 else frames[0]
