"""Columnar form of the canonical model: Arrow schemas for events and quotes.

One events table holds every kind (column ``kind`` = the FIX MsgType it came from); columns a
kind does not have are null. Timestamps are ``timestamp[ns, UTC]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

import polars as pl
import pyarrow as pa

from lpscore.model.events import Event, event_from_row

__all__ = [
    "CATEGORICAL_COLUMNS",
    "EVENT_SCHEMA",
    "QUOTE_SCHEMA",
    "TIMESTAMP_COLUMNS",
    "compact",
    "empty_events",
    "iter_events",
    "polars_schema",
    "with_captured",
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
        ("captured", pa.bool_()),
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

CATEGORICAL_COLUMNS = (
    "kind", "session", "sender", "target", "lp", "exec_type", "ord_status", "symbol",
    "ord_type", "time_in_force", "ex_destination", "cxl_rej_response_to", "ref_msg_type",
    "source",
)
"""The string columns of EVENT_SCHEMA and QUOTE_SCHEMA with few distinct values (message
types, sessions, LPs, symbols, enumerations, file names). ``compact`` holds them as
``pl.Categorical``."""

_Frame = TypeVar("_Frame", pl.DataFrame, pl.LazyFrame)


def compact(frame: _Frame) -> _Frame:
    """The compact form of an events or quotes table: the same values in less memory. The
    KPI engine reads either form and gives the same tables (docs/data-formats.md).

    - CATEGORICAL_COLUMNS become ``pl.Categorical`` (those ``frame`` has): a string column
      holds 16 bytes a row before its text, a categorical one 4. Cast a ``pl.LazyFrame``
      from ``pl.scan_parquet`` so that the string columns are never held whole.
    - In a ``pl.DataFrame``, a column with no value at all (replaces, busts and session
      rejects have columns of their own that a log without them leaves empty) is made anew
      as nulls of its type: a Parquet read fills in its values, a new null column is
      zero-filled memory that the system gives as it is touched."""
    names = frame.collect_schema().names()
    present = [c for c in CATEGORICAL_COLUMNS if c in names]
    frame = frame.with_columns(pl.col(present).cast(pl.Categorical))
    if isinstance(frame, pl.DataFrame):
        empty = [s for s in frame.iter_columns() if s.null_count() == len(s) > 0]
        frame = frame.with_columns(pl.repeat(None, frame.height, dtype=s.dtype).alias(s.name)
                                   for s in empty)
    return frame


def with_captured(frame: _Frame) -> _Frame:
    """An events table with the ``captured`` column, null (not known) when it has none:
    events read from a store or a file written before the column was kept."""
    if "captured" in frame.collect_schema().names():
        return frame
    return frame.with_columns(pl.lit(None, dtype=pl.Boolean).alias("captured"))


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
