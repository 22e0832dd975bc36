"""Ingest FIX logs: files in, one events table out, with a quarantine and a reconciliation.

Per file, every record ends in exactly one place:
``records = events + quarantined + skipped`` (skipped: blank, comment, admin, not_used,
duplicate), and the totals are asserted before the result is returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lpscore.config import IngestConfig
from lpscore.errors import LpscoreError
from lpscore.ingest.decode import attribute, classify, infer_own_comp_ids, typed_rows, wanted_tags
from lpscore.ingest.dedup import mark_duplicates
from lpscore.ingest.records import MessageRows, read_bytes, split_messages
from lpscore.model.enums import FILL_EXEC_TYPES
from lpscore.model.schema import EVENT_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

__all__ = ["FileReport", "IngestResult", "canonical_events", "ingest_logs", "typed_messages"]


@dataclass
class FileReport:
    """The reconciliation of one input file."""

    path: str
    lines: int = 0
    messages: int = 0
    events: int = 0
    quarantined: int = 0
    skipped: int = 0
    by_msg_type: dict[str, int] = field(default_factory=dict)
    by_reason: dict[str, int] = field(default_factory=dict)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.lines == self.events + self.quarantined + self.skipped


@dataclass
class IngestResult:
    """Events of all files, their reconciliations, the quarantine and data-quality counts."""

    events: pl.DataFrame
    files: list[FileReport]
    quarantine: Quarantine
    data_quality: dict[str, int]
    own_comp_ids: list[str]

    def totals(self) -> dict[str, int]:
        ev = self.events
        execs = ev.filter(pl.col("kind") == "8")
        return {
            "orders": ev.filter(pl.col("kind") == "D").height,
            "executions": execs.height,
            "fills": execs.filter(pl.col("exec_type").is_in(FILL_EXEC_TYPES)).height,
            "rejects": execs.filter(pl.col("exec_type") == "8").height,
            "cancel_rejects": ev.filter(pl.col("kind") == "9").height,
        }


def ingest_logs(
    paths: Sequence[Path],
    config: IngestConfig,
    quarantine: Quarantine | None = None,
    progress: Callable[[Path, int], None] | None = None,
) -> IngestResult:
    """Read, validate, decode and de-duplicate FIX logs into canonical events."""
    quarantine = Quarantine() if quarantine is None else quarantine
    first_record = len(quarantine)
    tags = wanted_tags(config)
    reports: list[FileReport] = []
    frames: list[pl.DataFrame] = []
    raw_data: dict[str, bytes] = {}
    for index, path in enumerate(paths):
        data = read_bytes(path)
        source = str(path)
        raw_data[source] = data
        rows: MessageRows = split_messages(data, source, tags, quarantine, lenient=config.lenient)
        reports.append(FileReport(
            path=source, lines=rows.records, messages=rows.framing_rejects,
            quarantined=rows.quarantined, skipped=sum(rows.skipped.values()),
            skipped_by_reason=dict(rows.skipped),
        ))
        frames.append(rows.frame.with_columns(pl.lit(index, dtype=pl.Int64).alias("file_index")))
        if progress is not None:
            progress(path, len(data))
    typed = typed_messages(pl.concat(frames, how="vertical"), config)
    bad = typed.filter(pl.col("reason").is_not_null())
    good = mark_duplicates(typed.filter(pl.col("reason").is_null()))
    _quarantine_rows(bad, raw_data, quarantine)
    order = {str(p): i for i, p in enumerate(paths)}
    quarantine.records[first_record:] = sorted(
        quarantine.records[first_record:], key=lambda r: (order[r.source], r.offset))
    status = (
        pl.when(pl.col("category") != "event").then(pl.col("category"))
        .when(pl.col("duplicate")).then(pl.lit("duplicate"))
        .otherwise(pl.lit("event"))
    )
    good = good.with_columns(status.alias("status"))
    _count(reports, bad, good)
    own = list(config.own_comp_ids) or infer_own_comp_ids(good.filter(pl.col("status") == "event"))
    events = canonical_events(good.filter(pl.col("status") == "event"), own, config.lp_map)
    quality = _data_quality(typed, good)
    for report in reports:
        report.by_reason = quarantine.by_reason(report.path)
        if not report.balanced:
            raise LpscoreError(f"internal error: {report.path} does not reconcile: {report}")
    return IngestResult(events, reports, quarantine, quality, own)


def typed_messages(rows: pl.DataFrame, config: IngestConfig) -> pl.DataFrame:
    """Raw message rows (lpscore.ingest.records) typed, classified, with ``reason`` (null or
    why the row cannot be an event) and the two timestamps ``ts_recv`` and ``ts_event``."""
    typed = typed_rows(classify(rows), config)
    return typed.with_columns(
        pl.coalesce("capture_time", "sending_time").alias("ts_recv"),
        pl.when(pl.col("kind") == "8").then(pl.coalesce("transact_time", "sending_time"))
        .otherwise(pl.col("sending_time")).alias("ts_event"),
    )


def _quarantine_rows(bad: pl.DataFrame, raw_data: dict[str, bytes],
                     quarantine: Quarantine) -> None:
    for source, offset, length, line, reason in bad.select(
        "source", "offset", "length", "line", "reason"
    ).iter_rows():
        raw = raw_data[source][offset : offset + length]
        quarantine.add(source, offset, line, reason, raw, _detail(reason))


def _detail(reason: str) -> str:
    if reason.startswith("missing_tag:"):
        return f"required tag {reason.split(':')[1]} is absent"
    if reason.startswith("bad_value:"):
        return f"tag {reason.split(':')[1]} has a value of the wrong type or range"
    return ""


def _count(reports: list[FileReport], bad: pl.DataFrame, good: pl.DataFrame) -> None:
    by_file = dict(enumerate(reports))
    for (index, _reason), n in _counts(bad, "reason").items():
        by_file[index].quarantined += n
        by_file[index].messages += n
    for (index, status), n in _counts(good, "status").items():
        report = by_file[index]
        report.messages += n
        if status == "event":
            report.events += n
        else:
            report.skipped += n
            report.skipped_by_reason[status] = report.skipped_by_reason.get(status, 0) + n
    for (index, kind), n in _counts(pl.concat([bad.select("file_index", "kind"),
                                                good.select("file_index", "kind")]),
                                     "kind").items():
        by_file[index].by_msg_type[str(kind)] = n


def _counts(frame: pl.DataFrame, column: str) -> dict[tuple[int, str], int]:
    grouped = frame.group_by("file_index", column).len()
    return {(int(i), str(v)): int(n) for i, v, n in grouped.iter_rows()}


_EVENT_NAMES = {
    "f38": "order_qty", "f44": "price", "f32": "last_qty", "f31": "last_px", "f14": "cum_qty",
    "f151": "leaves_qty", "f6": "avg_px", "i103": "ord_rej_reason", "i102": "cxl_rej_reason",
    "i45": "ref_seq_num", "i371": "ref_tag_id", "i373": "session_reject_reason",
}
"""Typed tag columns of lpscore.ingest.decode -> their names in EVENT_SCHEMA."""


def canonical_events(frame: pl.DataFrame, own: Sequence[str],
                     lp_map: dict[str, str]) -> pl.DataFrame:
    """Typed, de-duplicated event rows as EVENT_SCHEMA, attributed (direction, session, LP)
    and sorted by receipt time and input order."""
    out = attribute(frame, own, lp_map).with_columns(
        *(pl.col(typed).alias(name) for typed, name in _EVENT_NAMES.items()),
        pl.col("epoch").alias("seq_epoch"),
    )
    schema = polars_schema(EVENT_SCHEMA)
    return (
        out.sort("ts_recv", "file_index", "offset")
        .select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
    )


def _data_quality(typed: pl.DataFrame, good: pl.DataFrame) -> dict[str, int]:
    counts: Counter[str] = Counter()
    events = good.filter(pl.col("status") == "event")
    counts["exec_id_reused"] = int(events["exec_id_reused"].sum())
    counts["seq_num_reused"] = int(events["seq_num_reused"].sum())
    counts["duplicates"] = good.filter(pl.col("status") == "duplicate").height
    counts["capture_prefix_unparsed"] = typed.filter(
        pl.col("capture").is_not_null() & pl.col("capture_time").is_null()).height
    for warning, n in typed.group_by("frame_warning").len().iter_rows():
        if warning is not None:
            counts[f"lenient_{warning}"] = int(n)
    return dict(sorted(counts.items()))
