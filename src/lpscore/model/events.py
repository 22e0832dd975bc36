"""Canonical events: immutable, typed, two timestamps each.

Every event carries ``ts_event`` (when it happened, per its sender: TransactTime for execution
reports when present, else SendingTime) and ``ts_recv`` (when we captured it: the log line's
capture prefix when the log has one, else SendingTime). Timestamps are integer nanoseconds
since the Unix epoch, UTC.

Batch work uses the columnar form (lpscore.model.schema.EVENT_SCHEMA, one row per event); the
dataclasses here are the row view, used by streams, the simulator and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from lpscore.model.enums import EventKind, ExecType, Side

__all__ = [
    "CancelReject",
    "CancelRequest",
    "ChildOrder",
    "Event",
    "ExecutionReport",
    "ReplaceRequest",
    "SessionReject",
    "event_from_row",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every canonical event has."""

    kind: ClassVar[EventKind]

    session: str
    """``OURS->THEIRS`` CompIDs of the FIX session, the same for both directions."""
    lp: str
    """Liquidity provider the event belongs to (KPIS.md: ExDestination, else the LP CompID)."""
    seq_num: int
    poss_dup: bool
    ts_event: int
    ts_recv: int
    sending_time: int
    source: str
    offset: int
    line: int
    captured: bool | None = None
    """``ts_recv`` is our capture time (the log line's prefix), not the SendingTime that
    stands in for it without one; None: not known (events stored before it was kept)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _OrderRequest(Event):
    cl_ord_id: str
    parent_id: str
    symbol: str
    side: Side
    order_qty: float
    ord_type: str
    price: float | None
    time_in_force: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildOrder(_OrderRequest):
    """A NewOrderSingle (35=D) we sent to one LP."""

    kind: ClassVar[EventKind] = EventKind.CHILD_ORDER
    ex_destination: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequest(Event):
    """An OrderCancelRequest (35=F); links to its child order by OrigClOrdID."""

    kind: ClassVar[EventKind] = EventKind.CANCEL_REQUEST
    cl_ord_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceRequest(_OrderRequest):
    """An OrderCancelReplaceRequest (35=G); links to its child order by OrigClOrdID."""

    kind: ClassVar[EventKind] = EventKind.REPLACE_REQUEST
    orig_cl_ord_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionReport(Event):
    """An ExecutionReport (35=8) of any ExecType, including trade cancel (H) and correct (G)."""

    kind: ClassVar[EventKind] = EventKind.EXECUTION_REPORT
    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    order_id: str | None
    exec_id: str | None
    exec_ref_id: str | None
    exec_type: ExecType
    ord_status: str | None
    symbol: str | None
    side: Side | None
    order_qty: float | None
    last_qty: float | None
    last_px: float | None
    cum_qty: float | None
    leaves_qty: float | None
    avg_px: float | None
    transact_time: int | None
    transact_time_subsecond: bool
    ord_rej_reason: int | None
    text: str | None
    exec_id_reused: bool = False

    @property
    def is_fill(self) -> bool:
        return self.exec_type.is_fill


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelReject(Event):
    """An OrderCancelReject (35=9) answering a cancel (434=1) or replace (434=2) request."""

    kind: ClassVar[EventKind] = EventKind.CANCEL_REJECT
    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    order_id: str | None
    ord_status: str | None
    cxl_rej_response_to: str | None
    cxl_rej_reason: int | None
    text: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionReject(Event):
    """A session-level Reject (35=3) of one of our messages, named by RefSeqNum (45)."""

    kind: ClassVar[EventKind] = EventKind.SESSION_REJECT
    ref_seq_num: int | None
    ref_msg_type: str | None
    ref_tag_id: int | None
    session_reject_reason: int | None
    text: str | None


_CLASSES: dict[str, type[Event]] = {
    cls.kind.value: cls
    for cls in (ChildOrder, CancelRequest, ReplaceRequest, ExecutionReport, CancelReject,
                SessionReject)
}


def event_from_row(row: dict[str, Any]) -> Event:
    """The typed event of one row of an EVENT_SCHEMA table, timestamps as integer nanoseconds.

    ``lpscore.model.schema.iter_events`` produces such rows from a DataFrame.
    """
    cls = _CLASSES[row["kind"]]
    values: dict[str, Any] = {}
    for f in fields(cls):
        value = row.get(f.name)
        if f.name == "side" and value is not None:
            value = Side(value)
        elif f.name == "exec_type":
            value = ExecType(str(value))
        values[f.name] = value
    return cls(**values)

