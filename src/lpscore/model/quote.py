"""A top-of-book quote (NBBO or one venue's best bid and offer)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Quote"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """Best bid and offer of one symbol at ``ts_event``, captured at ``ts_recv`` (ns, UTC).

    Valid quotes have ``0 < bid <= ask`` (a locked quote, bid == ask, is valid); anything else is
    quarantined at ingestion and never reaches the KPI engine.
    """

    symbol: str
    bid: float
    ask: float
    bid_size: float | None
    ask_size: float | None
    ts_event: int
    ts_recv: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0
