"""Duplicate marking against a carried history: what the stream decoder keeps from poll to
poll, and what an ingest that appends to a history store keeps from ingest to ingest.

    history = remembered(None, rows, window_ns)          # after a first part
    flags = flags_against(history, new_rows)             # the next part's flags, row for row
    history = remembered(history, new_rows, window_ns)

The history holds each session's messages (duplicates too: the rules read earlier
duplicates, a MsgSeqNum or an ExecID they delivered) of its last ``window_ns`` of receipt
time, plus its latest sequence reset, in the columns the rules read
(``DEDUP_COLUMNS``). A part is marked against only the rows of it that the part can depend
on (``linked``), which gives the part's rows the flags the whole history would.
"""

from __future__ import annotations

import polars as pl

from lpscore.ingest.dedup import DEDUP_COLUMNS, FLAGS, SEQUENCE_RESET, mark_duplicates

__all__ = ["flags_against", "latest_recv", "linked", "remembered"]


def flags_against(history: pl.DataFrame | None, new: pl.DataFrame) -> pl.DataFrame:
    """The duplicate flags (``FLAGS``) of the ``new`` rows, row for row, marked with the
    part of ``history`` they can depend on (``linked``)."""
    if history is None or history.is_empty():
        return mark_duplicates(new.select(DEDUP_COLUMNS)).select(FLAGS)
    both = pl.concat([linked(history, new),
                      new.select(*DEDUP_COLUMNS, pl.lit(False).alias("_old"))
                      .with_columns(pl.lit(True).alias("_new"))], how="diagonal_relaxed")
    return (mark_duplicates(both.with_row_index("_i")).filter(pl.col("_new")).sort("_i")
            .select(FLAGS))


def remembered(history: pl.DataFrame | None, new: pl.DataFrame,
               window_ns: int) -> pl.DataFrame:
    """``history`` with the ``new`` rows (a part's messages, duplicates too), cut to each
    session's last ``window_ns`` of receipt time and its latest sequence reset. History
    rows are marked ``_old``."""
    rows = new.select(*DEDUP_COLUMNS, pl.lit(True).alias("_old"))
    if history is not None:
        rows = pl.concat([history, rows], how="diagonal_relaxed", rechunk=True)
    if rows.is_empty():
        return rows
    # each session's own last window: a log may interleave sessions out of time order
    # (files replayed one after another), and a session's duplicates are its own
    cutoff = (pl.col("ts_recv").max().over("sender", "target")
              - pl.duration(nanoseconds=window_ns))
    last_reset = SEQUENCE_RESET & (
        pl.col("ts_recv") == pl.col("ts_recv").filter(SEQUENCE_RESET).max()
        .over("sender", "target"))
    return rows.filter((pl.col("ts_recv") >= cutoff) | last_reset.fill_null(False))


def latest_recv(history: pl.DataFrame | None) -> dict[tuple[str, str], int]:
    """Each session direction's latest receipt time in ``history`` (ns since the epoch): the
    window ``remembered`` keeps always holds the latest message of each."""
    if history is None or history.is_empty():
        return {}
    latest = history.group_by("sender", "target").agg(pl.col("ts_recv").dt.epoch("ns").max())
    return {(s, t): int(ns) for s, t, ns in latest.iter_rows() if ns is not None}


_LINKS = (
    pl.struct("sender", "target", "seq_num").hash(),
    pl.when(pl.col("exec_id").is_not_null())
    .then(pl.struct("sender", "target", "exec_id").hash()),
    pl.struct("sender", "target", "kind", "cl_ord_id").hash(),
)
"""Hashes of the keys through which the duplicate rules (lpscore.ingest.dedup) relate two
messages: every rule is a "first of its key" test on a session's MsgSeqNum, on its ExecID
(execution reports with one), or on a message's identity, which holds its type and ClOrdID
(either possibly missing). Equal keys hash equal; a collision only links a row too many."""


def linked(history: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``history`` that can bear on the duplicate flags of ``new``: those sharing
    a key of ``_LINKS`` with a new row, or with such a row (a history row's own flags, which
    the rules read, depend on the rows it shares keys with), and every sequence reset (they
    set the epochs). Marking these with the new rows gives the new rows the flags the whole
    history would, at the cost of hashing the history's keys, not of marking all of it."""
    names = [f"_link{i}" for i in range(len(_LINKS))]
    rows = history.with_columns(*(e.alias(n) for e, n in zip(_LINKS, names, strict=True)),
                                SEQUENCE_RESET.fill_null(False).alias("_keep"))
    frontier = new.select(*(e.alias(n) for e, n in zip(_LINKS, names, strict=True)))
    while not frontier.is_empty():
        near = pl.any_horizontal(pl.col(n).is_in(frontier.get_column(n).drop_nulls().implode())
                                 for n in names)
        rows = rows.with_columns(near.fill_null(False).alias("_near"))
        frontier = rows.filter(pl.col("_near") & ~pl.col("_keep")).select(names)
        rows = rows.with_columns(pl.col("_keep") | pl.col("_near"))
    return rows.filter(pl.col("_keep")).drop(*names, "_keep", "_near", strict=False)
