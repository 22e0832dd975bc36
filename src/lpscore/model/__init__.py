"""Canonical events: child orders, cancel/replace requests, execution reports, rejects, quotes."""

from lpscore.model.enums import EventKind, ExecType, OrdStatus, Side, side_sign
from lpscore.model.events import (
    CancelReject,
    CancelRequest,
    ChildOrder,
    Event,
    ExecutionReport,
    ReplaceRequest,
    SessionReject,
    event_from_row,
)
from lpscore.model.quote import Quote
from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, empty_events, iter_events

__all__ = [
    "EVENT_SCHEMA",
    "QUOTE_SCHEMA",
    "CancelReject",
    "CancelRequest",
    "ChildOrder",
    "Event",
    "EventKind",
    "ExecType",
    "ExecutionReport",
    "OrdStatus",
    "Quote",
    "ReplaceRequest",
    "SessionReject",
    "Side",
    "empty_events",
    "event_from_row",
    "iter_events",
    "side_sign",
]
