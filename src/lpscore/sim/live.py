"""The simulator's scorecard: the live pipeline's incremental statistics, fed message by message.

    card = LiveScorecard(ingest, config, profile, store)
    card.log(t_ns, raw, line_length)    # every FIX message we send or receive, as logged
    card.quotes(market.quotes(...))     # quotes as they become final
    card.rescore(now_ns)                # decode what was logged, update, publish changes

The messages go through the stream's decoder (the batch ingest's functions) and its
Processor (the batch KPI engine on the touched parent orders, mergeable statistics), so a
fill changes only its own order's rows; the changed contexts of the symbol are scored and
published to the store like ``lpscore stream`` does. Quotes are live: a markout completes
when its horizon's quote is final (lpscore.stream.processor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from lpscore.config import Config, IngestConfig
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.publish.publisher import HIERARCHY, dense_capacities, snapshots_of_cards
from lpscore.publish.store import ScoreStore
from lpscore.quarantine import Quarantine
from lpscore.scoring import Profile, config_catalog
from lpscore.scoring.dense import score_dense
from lpscore.stats.dense import DenseStats
from lpscore.stream.decode import Record, StreamDecoder
from lpscore.stream.processor import FINEST, Processor

__all__ = ["LiveScorecard"]

SOURCE = "sim.log"


@dataclass
class LiveScorecard:
    """Incremental scores of a simulated session (see the module docstring)."""

    ingest: IngestConfig
    config: Config
    profile: Profile
    store: ScoreStore
    final_after_s: float = 300.0
    quarantine: Quarantine = field(default_factory=Quarantine)
    rescores: int = 0
    """Rescores that published (some statistics had changed)."""
    taken: int = 0
    """Messages handed to the decoder so far."""
    _pending: list[Record] = field(default_factory=list)
    _offset: int = 0
    _touched: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._decoder = StreamDecoder(self.ingest)
        empty = pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
        self._processor = Processor(self.config, self.profile, empty,
                                    final_after_s=self.final_after_s, live_quotes=True)
        self._specs = config_catalog(self.config.kpi)
        self._dense = DenseStats(FINEST, self.profile.decay)

    def log(self, t_ns: int, raw: bytes, line_length: int) -> None:
        """A message we sent or received at ``t_ns`` (capture time), ``line_length`` bytes
        in the FIX log (so quarantine offsets point into it)."""
        self._pending.append(Record(SOURCE, self._offset, raw, capture_ns=t_ns))
        self._offset += line_length

    def quotes(self, quotes: pl.DataFrame) -> None:
        """Quotes that will not change any more (later than any given before); the next
        ``rescore`` completes the markouts they reach."""
        self._processor.add_quotes(quotes)

    def rescore(self, now_ns: int) -> bool:
        """Decode the messages logged since the last call, update the statistics, close
        the parent orders done for ``final_after_s``, and publish the contexts whose scores
        changed; True when a snapshot changed."""
        records, self._pending = self._pending, []
        self.taken += len(records)
        events = (self._decoder.decode(records, self.quarantine) if records
                  else pl.DataFrame())
        self._touched |= {symbol for symbol, *_ in self._processor.add(events, self.quarantine)
                          if symbol is not None}
        self._processor.close_finished(self.quarantine)
        if not self._touched:
            return False
        stats = self._processor.stats()
        symbols, self._touched = self._touched, set()
        if stats is None or stats.sums.is_empty():
            return False
        # scored from arrays, as a stream's publishes between full ones are: a session's
        # statistics are small, and Polars' per-query cost made up most of a rescore
        self._dense.set_part(SOURCE, stats)
        only = {(s,) for s in symbols}
        cards = score_dense(self._dense, self.profile, self._specs, HIERARCHY, only=only)
        capacity = dense_capacities(self._dense, HIERARCHY, only=only)
        done = self.store.publish(snapshots_of_cards(cards, capacity, now_ns))
        self.rescores += 1
        return any(p.changed for p in done)
