"""Columnar form of the canonical model: Arrow schemas for events and quotes.

One events table holds every kind (column ``kind`` = the FIX MsgType it came from); columns a
kind does not have are null. Timestamps are ``timestamp[ns, UTC]``.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pyarrow as pa

from lpscore.model.events import Event, event_from_row

__all__ = [
    "EVENT_SCHEMA",
    "QUOTE_SCHEMA",
    "TIMESTAMP_COLUMNS",
    "empty_events",
    "iter_events",
    "polars_schema",
]

_TS = pa.timestamp("ns", tz="UTC")

EVENT_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("session", pa.string()),
        ("sender", pa.string()),
        ("target", pa.string()),
        ("outbound", pa.bool_()),
        ("lp", pa.string()),
        ("seq_num", pa.int64()),
        ("seq_epoch", pa.int64()),
        ("poss_dup", pa.bool_()),
        ("ts_event", _TS),
        ("ts_recv", _TS),
        ("sending_time", _TS),
        ("transact_time", _TS),
        ("transact_time_subsecond", pa.bool_()),
        ("cl_ord_id", pa.string()),
        ("orig_cl_ord_id", pa.string()),
        ("parent_id", pa.string()),
        ("order_id", pa.string()),
        ("exec_id", pa.string()),
        ("exec_ref_id", pa.string()),
        ("exec_type", pa.string()),
        ("ord_status", pa.string()),
        ("symbol", pa.string()),
        ("side", pa.int8()),
        ("order_qty", pa.float64()),
        ("price", pa.float64()),
        ("ord_type", pa.string()),
        ("time_in_force", pa.string()),
        ("ex_destination", pa.string()),
        ("last_qty", pa.float64()),
        ("last_px", pa.float64()),
        ("cum_qty", pa.float64()),
        ("leaves_qty", pa.float64()),
        ("avg_px", pa.float64()),
        ("ord_rej_reason", pa.int32()),
        ("cxl_rej_reason", pa.int32()),
        ("cxl_rej_response_to", pa.string()),
        ("ref_seq_num", pa.int64()),
        ("ref_epoch", pa.int64()),
        ("ref_msg_type", pa.string()),
        ("ref_tag_id", pa.int32()),
        ("session_reject_reason", pa.int32()),
        ("text", pa.string()),
        ("exec_id_reused", pa.bool_()),
        ("source", pa.string()),
        ("offset", pa.int64()),
        ("line", pa.int64()),
    ]
)

QUOTE_SCHEMA = pa.schema(
    [
        ("ts", _TS),
        ("symbol", pa.string()),
        ("bid", pa.float64()),
        ("ask", pa.float64()),
        ("bid_size", pa.float64()),
        ("ask_size", pa.float64()),
    ]
)

TIMESTAMP_COLUMNS = ("ts_event", "ts_recv", "sending_time", "transact_time")


def polars_schema(schema: pa.Schema) -> pl.Schema:
    """The Polars schema of an Arrow schema."""
    frame = pl.from_arrow(schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.schema


def empty_events() -> pl.DataFrame:
    """An events table with no rows."""
    frame = pl.from_arrow(EVENT_SCHEMA.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def iter_events(frame: pl.DataFrame) -> Iterator[Event]:
    """Typed events of an events table, in row order (timestamps kept to the nanosecond)."""
    as_ints = frame.with_columns(pl.col(c).dt.epoch("ns") for c in TIMESTAMP_COLUMNS)
    for row in as_ints.iter_rows(named=True):
        yield event_from_row(row)
