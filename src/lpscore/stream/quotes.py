"""Live quotes: a quote CSV followed as it grows, for ``lpscore stream --quote-source``.

    feed = QuoteFeed(Path("nbbo.csv"), config.marketdata)
    feed.poll()                  # new complete lines -> validated quotes; how many
    feed.since(mark)             # the quotes read after ``mark`` (a count of chunks)

The file is a quote CSV as ``--quotes`` reads it (header ``ts,symbol,bid,ask[,bid_size,
ask_size]``), appended to by a market-data handler. Lines are read with the same follower
as a FIX log (complete lines only; rotation and truncation handled, lpscore.stream.files)
and parsed and validated by the batch quote loader's functions, so a crossed or zero quote
is quarantined here with the file's byte offset exactly as ``lpscore kpis`` would. A rotated
file starts with its own header.

The feed keeps every quote it read (the processors need the day's quotes: as-of lookups and
volatility regimes), as chunks; each lane remembers how many chunks it has taken. A lane
restored from a checkpoint holds the quotes it had then; ``QuoteFeed.after`` gives it the
later ones (by time; rows equal to ones it holds at its last time are not taken twice). On
a restart the feed reads the file from its start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lpscore.config import MarketDataConfig
from lpscore.marketdata.csvparquet import parse_csv
from lpscore.marketdata.files import Located
from lpscore.marketdata.validate import quote_schema, split
from lpscore.quarantine import Quarantine
from lpscore.stream.decode import Record
from lpscore.stream.files import FollowFile

__all__ = ["QuoteFeed"]


@dataclass
class QuoteFeed:
    """A followed quote CSV (see the module docstring)."""

    path: Path
    config: MarketDataConfig
    quarantine: Quarantine = field(default_factory=Quarantine)
    max_lines: int = 200_000
    chunks: list[pl.DataFrame] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """``lines``, ``quotes``, ``quarantined``, ``blank``."""
    _header: bytes | None = None

    def __post_init__(self) -> None:
        self._follow = FollowFile(self.path)

    def poll(self) -> int:
        """Read the complete lines written since the last poll; the number of valid quotes."""
        records = self._follow.read(self.max_lines)
        if not records:
            return 0
        self.counts["lines"] += len(records)
        rows: list[Record] = []
        for record in records:
            if record.offset == 0:          # a header: the file's first line (or a new file's)
                self._header = record.data
            elif not record.data.strip():
                self.counts["blank"] += 1
            else:
                rows.append(record)
        if not rows:
            return 0
        if self._header is None:
            raise ValueError(f"{self.path}: quote lines before any header line; the file "
                             "must start with a header like ts,symbol,bid,ask")
        good = self._parse(rows)
        if good.height:
            self.chunks.append(good)
        self.counts["quotes"] += good.height
        self.counts["quarantined"] += len(rows) - good.height
        return good.height

    def _parse(self, rows: Sequence[Record]) -> pl.DataFrame:
        assert self._header is not None
        data = b"\n".join([self._header, *(r.data for r in rows)]) + b"\n"

        def locate(indexes: Sequence[int]) -> list[Located]:
            return [(rows[i].offset, -1, rows[i].data.rstrip(b"\r")) for i in indexes]

        parsed = parse_csv(data, self.path, self.config, locate=locate)
        good, _ = split(parsed, self.quarantine)
        return good

    def since(self, mark: int) -> pl.DataFrame:
        """The quotes of the chunks after the first ``mark``."""
        return _concat(self.chunks[mark:])

    def after(self, held: pl.DataFrame, t_ns: int) -> pl.DataFrame:
        """Every quote read at or after ``t_ns`` (epoch ns) that is not a row of ``held`` at
        exactly ``t_ns``: what a lane restored with quotes up to ``t_ns`` lacks."""
        quotes = _concat(self.chunks)
        later = quotes.filter(pl.col("ts").dt.epoch("ns") >= t_ns)
        same = held.filter(pl.col("ts").dt.epoch("ns") == t_ns)
        if same.height:
            later = later.join(same.unique(), on=list(later.columns), how="anti",
                               nulls_equal=True)
        return later

    def lag(self) -> int:
        return self._follow.lag()

    def close(self) -> None:
        self._follow.close()


def _concat(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return pl.DataFrame(schema=quote_schema())
    return pl.concat(list(frames), how="vertical") if len(frames) > 1 else frames[0]
