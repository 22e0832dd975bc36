"""Duplicates count once (KPIS.md): sequence epochs, resends, reused ExecIDs.

A message is a duplicate when its session already delivered its MsgSeqNum in the same
sequence epoch and either it carries PossDup/PossResend (43/97=Y) or it is the same message
(same type, ClOrdID, ExecID, ExecType, quantities); or when it carries PossDup/PossResend and
its ExecID (execution reports) or identity (other messages) was already seen. A repeated
MsgSeqNum on a *different* message without a resend flag is kept and flagged
``seq_num_reused`` (a restart the log does not show; see docs/kpis.md, Deviations).

A sequence epoch starts at a Logon (35=A) with MsgSeqNum 1 or ResetSeqNumFlag (141=Y); its
key is that Logon's SendingTime, so the same log read twice gives the same epochs.
"""

from __future__ import annotations

import polars as pl

from lpscore.ingest.records import tag_column

__all__ = ["mark_duplicates"]

_ORDER = ["ts_recv", "file_index", "offset"]


def mark_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``duplicate``, ``exec_id_reused`` and ``seq_num_reused``; rows come back sorted by
    sender, target and arrival (capture time, then input order)."""
    ordered = frame.sort(["sender", "target", *_ORDER], nulls_last=True, maintain_order=True)
    pair = ["sender", "target"]
    reset = (pl.col("kind") == "A") & (
        (pl.col("seq_num") == 1) | (pl.col(tag_column(141)) == "Y")
    )
    identity = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in
         ("kind", "cl_ord_id", "orig_cl_ord_id", "exec_id", "exec_type", "f32", "f31",
          "ref_msg_type", tag_column(45))],
        separator="\x1f",
    )
    marked = ordered.with_columns(
        pl.when(reset).then(pl.col("sending_time").dt.epoch("ns")).otherwise(None)
        .forward_fill().over(pair).fill_null(0).alias("epoch"),
        identity.alias("identity"),
    )
    seq_group = [*pair, "epoch", "seq_num"]
    earlier_seq = pl.int_range(pl.len()).over(seq_group) > 0
    same_again = pl.int_range(pl.len()).over([*seq_group, "identity"]) > 0
    is_exec = (pl.col("kind") == "8") & pl.col("exec_id").is_not_null()
    resent_exec = is_exec & (pl.int_range(pl.len()).over([*pair, "exec_id"]) > 0)
    resent_other = ~is_exec & (pl.int_range(pl.len()).over([*pair, "identity"]) > 0)
    poss = pl.col("poss_dup")
    duplicate = (earlier_seq & (poss | same_again)) | (poss & (resent_exec | resent_other))
    marked = marked.with_columns(duplicate.fill_null(False).alias("duplicate"))
    kept = ~pl.col("duplicate")
    reused_exec = (
        is_exec & kept
        & (pl.int_range(pl.len()).over([*pair, "exec_id", "duplicate"]) > 0)
    )
    reused_seq = kept & (pl.int_range(pl.len()).over([*seq_group, "duplicate"]) > 0)
    marked = marked.with_columns(
        reused_exec.fill_null(False).alias("exec_id_reused"),
        reused_seq.fill_null(False).alias("seq_num_reused"),
    ).drop("identity")
    return _ref_epochs(marked, marked.filter(reset))


def _ref_epochs(marked: pl.DataFrame, resets: pl.DataFrame) -> pl.DataFrame:
    """``ref_epoch`` of a session Reject (35=3): the sequence epoch of the other direction
    when it was received, so that its RefSeqNum (45) names a message of that epoch."""
    logons = resets.select(
        pl.col("target").alias("sender"), pl.col("sender").alias("target"), "ts_recv",
        pl.col("epoch").alias("ref_epoch")).sort("ts_recv")
    marked = marked.with_row_index("_row")
    rejects = marked.filter(pl.col("kind") == "3").select("_row", "sender", "target", "ts_recv")
    found = rejects.sort("ts_recv").join_asof(
        logons, on="ts_recv", by=["sender", "target"], strategy="backward",
        check_sortedness=False).select("_row", pl.col("ref_epoch").fill_null(0))
    return marked.join(found, on="_row", how="left", maintain_order="left").drop("_row")
