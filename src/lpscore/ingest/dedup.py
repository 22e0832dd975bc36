"""Duplicates count once (KPIS.md): sequence epochs, resends, reused ExecIDs.

A message is a duplicate when its session already delivered its MsgSeqNum in the same
sequence epoch and either it carries PossDup/PossResend (43/97=Y) or it is the same message
(same type, ClOrdID, ExecID, ExecType, quantities); or when it carries PossDup/PossResend and
its ExecID (execution reports) or identity (other messages) was already seen. A repeated
MsgSeqNum on a *different* message without a resend flag is kept and flagged
``seq_num_reused`` (a restart the log does not show; see docs/kpis.md, Deviations).

A sequence epoch starts at a Logon (35=A) with MsgSeqNum 1 or ResetSeqNumFlag (141=Y); its
key is that Logon's SendingTime, so the same log read twice gives the same epochs.

"Already" means earlier in arrival order: receipt time, then file, then offset. The rules
are evaluated on a narrow copy of the key columns in that order, as "first of its key"
tests (hashing, not per-group windows); a message's identity, a long string, is built only
for the few rows that can need it (see ``_identity_flags``).
"""

from __future__ import annotations

from itertools import accumulate

import polars as pl

from lpscore.ingest.records import tag_column

__all__ = ["ARRIVAL_ORDER", "DEDUP_COLUMNS", "FLAGS", "SEQUENCE_RESET", "in_arrival_order",
           "mark_duplicates", "with_flags"]

ARRIVAL_ORDER = ("ts_recv", "file_index", "offset")
_PAIR = ("sender", "target")
_SEQ = (*_PAIR, "epoch", "seq_num")
_IDENTITY = ("kind", "cl_ord_id", "orig_cl_ord_id", "exec_id", "exec_type", "f32", "f31",
             "ref_msg_type", tag_column(45))
DEDUP_COLUMNS = (*_PAIR, *ARRIVAL_ORDER, "sending_time", "seq_num", "poss_dup",
                 tag_column(141), *_IDENTITY)
"""The columns the rules read: they work on these alone, never on a full-width copy."""
FLAGS = ("epoch", "duplicate", "exec_id_reused", "seq_num_reused", "ref_epoch")
SEQUENCE_RESET = (pl.col("kind") == "A") & (
    (pl.col("seq_num") == 1) | (pl.col(tag_column(141)) == "Y"))
"""A Logon starting a sequence epoch: MsgSeqNum 1 or ResetSeqNumFlag (141=Y)."""


def in_arrival_order(frame: pl.DataFrame) -> bool:
    """Whether the rows are strictly increasing in (ts_recv, file_index, offset), none null:
    then sorting them by arrival would change nothing, and can be skipped."""
    if frame.is_empty():
        return True
    ts, file_index, offset = (pl.col(c).to_physical().diff().slice(1) for c in ARRIVAL_ORDER)
    later = (ts > 0) | ((ts == 0) & ((file_index > 0) | ((file_index == 0) & (offset > 0))))
    no_nulls = pl.all_horizontal(pl.col(c).null_count() == 0 for c in ARRIVAL_ORDER)
    return bool(frame.select(no_nulls & later.all()).item())


def mark_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``epoch``, ``duplicate``, ``exec_id_reused``, ``seq_num_reused`` and ``ref_epoch``
    (see the module docstring); rows keep the order they come in.

    A frame of several files has, in every column, a chunk per group of files typed
    together (lpscore.ingest.pipeline); the flags are cut into the same chunks. Added as one
    chunk, they made Polars copy every column of the frame into one chunk at the next
    expression over it (ten files of 100,000 messages: 2.07 GB at the peak instead of
    1.73 GB)."""
    keys = frame.select(DEDUP_COLUMNS).with_row_index("_row")
    ordered = in_arrival_order(keys)
    if not ordered:  # stable: ties keep their input order, as the rules expect
        keys = keys.sort(list(ARRIVAL_ORDER), nulls_last=True, maintain_order=True)
    flags = _flags(keys)
    if not ordered:
        flags = flags.sort("_row")
    return with_flags(frame, flags)


def with_flags(frame: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the flag columns of ``flags`` (row for row), cut into the chunks of
    ``frame``'s columns (see ``mark_duplicates``)."""
    chunks = frame.get_column(frame.columns[0]).chunk_lengths() if frame.width else []
    return frame.with_columns(_chunked(flags.get_column(name), chunks) for name in FLAGS)


def _chunked(column: pl.Series, lengths: list[int]) -> pl.Series:
    """``column`` in chunks of ``lengths`` (slices: no value copied)."""
    if len(lengths) < 2:
        return column
    starts = [0, *accumulate(lengths[:-1])]
    return pl.concat([column.slice(s, n) for s, n in zip(starts, lengths, strict=True)],
                     rechunk=False)


def _first(*columns: str | pl.Expr) -> pl.Expr:
    """True for the first row (in frame order) of each distinct value of ``columns``."""
    return pl.struct(*columns).is_first_distinct()


def _flags(keys: pl.DataFrame) -> pl.DataFrame:
    """``_row`` and the flag columns of ``keys`` (in arrival order)."""
    marked = keys.with_columns(
        pl.when(SEQUENCE_RESET).then(pl.col("sending_time").dt.epoch("ns")).otherwise(None)
        .forward_fill().over(_PAIR).fill_null(0).alias("epoch"),
    )
    is_exec = (pl.col("kind") == "8") & pl.col("exec_id").is_not_null()
    if _no_resends(marked):
        reused = (pl.lit(False) if _distinct_exec_ids(marked, is_exec) else
                  (is_exec & ~pl.col("exec_id").is_first_distinct().over(_PAIR)).fill_null(False))
        marked = marked.with_columns(
            pl.lit(False).alias("duplicate"),
            reused.alias("exec_id_reused"),
            pl.lit(False).alias("seq_num_reused"),
        )
    else:
        marked = _resent_flags(marked, is_exec)
    return _ref_epochs(marked, marked.filter(SEQUENCE_RESET)).select("_row", *FLAGS)


def _no_resends(marked: pl.DataFrame) -> bool:
    """Whether no row carries a resend flag and MsgSeqNums only rise within each session
    and epoch: then no MsgSeqNum repeats, no row is a duplicate or reuses its MsgSeqNum,
    and an ExecID is reused when it is not the first of its session (the usual log)."""
    rising = pl.col("seq_num").diff().over(*_PAIR, "epoch") > 0
    check = (pl.col("seq_num").null_count() == 0) & rising.all() & ~pl.col("poss_dup").any()
    return bool(marked.select(check).item())


def _distinct_exec_ids(marked: pl.DataFrame, is_exec: pl.Expr) -> bool:
    """Whether no two execution reports share an ExecID, in any session: then none reuses
    one. Counting distinct ExecIDs hashes one string column, of the execution reports only;
    "first in its session" hashes three, of every row (0.07 s against 0.2 s a million
    messages).

    Their 64-bit hashes are counted, not the strings: all distinct, the ExecIDs are too
    (equal strings hash equal), and counting integers is cheaper than counting strings
    (0.05 -> 0.03 s a million messages). Two equal hashes (or ExecIDs) answer False, and
    the caller's exact "first in its session" test decides."""
    ids = pl.col("exec_id").filter(is_exec)
    return bool(marked.select(ids.hash().n_unique() == ids.len()).item())


def _resent_flags(marked: pl.DataFrame, is_exec: pl.Expr) -> pl.DataFrame:
    """``duplicate``, ``exec_id_reused`` and ``seq_num_reused`` by the rules in full."""
    earlier_seq = ~_first(*_SEQ)
    resent_exec = is_exec & ~_first(*_PAIR, "exec_id")
    marked = _identity_flags(marked, is_exec)
    poss = pl.col("poss_dup")
    same_again, resent_other = pl.col("_same_again"), pl.col("_resent_other")
    duplicate = (earlier_seq & (poss | same_again)) | (poss & (resent_exec | resent_other))
    marked = marked.with_columns(duplicate.fill_null(False).alias("duplicate"))
    kept = ~pl.col("duplicate")
    reused_exec = is_exec & kept & ~_first(*_PAIR, "exec_id", "duplicate")
    reused_seq = kept & ~_first(*_SEQ, "duplicate")
    return marked.with_columns(
        reused_exec.fill_null(False).alias("exec_id_reused"),
        reused_seq.fill_null(False).alias("seq_num_reused"),
    )


def _identity_flags(marked: pl.DataFrame, is_exec: pl.Expr) -> pl.DataFrame:
    """``marked`` with ``_same_again`` (an earlier row has the same session, epoch, MsgSeqNum
    and identity) and ``_resent_other`` (not an execution report, and an earlier row of the
    session has the same identity).

    Only two kinds of rows can need them: rows sharing their MsgSeqNum with another row
    (same_again counts only after an earlier MsgSeqNum), and resent rows other than execution
    reports (resent_other counts only with a resend flag). Equal identities share their
    session and message type, so the rows of a (session, message type) holding such a
    resend hold every row it can match. Identities are built for those rows alone; every
    other row gets False, which the rules never read.
    """
    poss_other = pl.col("poss_dup").fill_null(False) & ~is_exec
    suspect = pl.struct(*_SEQ).is_duplicated() | poss_other.any().over(*_PAIR, "kind")
    rows = marked.filter(suspect)
    if rows.is_empty():
        return marked.with_columns(pl.lit(False).alias("_same_again"),
                                   pl.lit(False).alias("_resent_other"))
    identity = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in _IDENTITY], separator="\x1f",
    )
    found = rows.select(
        "_row",
        (~_first(*_SEQ, identity)).alias("_same_again"),
        (~is_exec & ~_first(*_PAIR, identity)).alias("_resent_other"),
    )
    return marked.join(found, on="_row", how="left", maintain_order="left").with_columns(
        pl.col("_same_again", "_resent_other").fill_null(False))


def _ref_epochs(marked: pl.DataFrame, resets: pl.DataFrame) -> pl.DataFrame:
    """``ref_epoch`` of a session Reject (35=3): the sequence epoch of the other direction
    when it was received, so that its RefSeqNum (45) names a message of that epoch."""
    logons = resets.select(
        pl.col("target").alias("sender"), pl.col("sender").alias("target"), "ts_recv",
        pl.col("epoch").alias("ref_epoch")).sort("ts_recv")
    rejects = marked.filter(pl.col("kind") == "3").select("_row", "sender", "target", "ts_recv")
    found = rejects.sort("ts_recv").join_asof(
        logons, on="ts_recv", by=["sender", "target"], strategy="backward",
        check_sortedness=False).select("_row", pl.col("ref_epoch").fill_null(0))
    return marked.join(found, on="_row", how="left", maintain_order="left")
