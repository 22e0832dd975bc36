"""Ingest FIX logs: files in, one events table out, with a quarantine and a reconciliation.

Per file, every record ends in exactly one place:
``records = events + quarantined + skipped`` (skipped: blank, comment, admin, not_used,
duplicate), and the totals are asserted before the result is returned.

An ingest can carry on from earlier ones (``Carried``: a history store that later logs are
appended to): its messages are marked as duplicates against the earlier messages they can
depend on (lpscore.ingest.carried), its files are numbered after theirs, and our CompIDs
inferred from them stay ours. It must come after them in each session's receipt time.
"""

from __future__ import annotations

import mmap
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import polars.selectors as cs

from lpscore.config import IngestConfig
from lpscore.errors import ConfigError, InputError, LpscoreError
from lpscore.ingest.carried import flags_against, latest_recv, remembered
from lpscore.ingest.decode import attribute, classify, infer_own_comp_ids, typed_rows, wanted_tags
from lpscore.ingest.dedup import (
    ARRIVAL_ORDER,
    DEDUP_COLUMNS,
    in_arrival_order,
    mark_duplicates,
    with_flags,
)
from lpscore.ingest.records import (
    TIME_TAGS,
    LogBytes,
    MessageRows,
    read_bytes,
    split_messages,
    tag_column,
    time_column,
)
from lpscore.model.enums import FILL_EXEC_TYPES
from lpscore.model.schema import EVENT_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

__all__ = ["Carried", "FileReport", "IngestResult", "canonical_events", "ingest_logs",
           "typed_messages"]

Session = tuple[str, str]
"""A session's direction: (SenderCompID, TargetCompID)."""


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


@dataclass(frozen=True)
class Carried:
    """What an ingest needs of the ingests before it to give the events an ingest of all
    their files together would (module docstring)."""

    history: pl.DataFrame | None = None
    """The duplicate rules' history (lpscore.ingest.carried.remembered)."""
    files: int = 0
    """Files ingested so far: the next file's ``file_index``."""
    own_comp_ids: tuple[str, ...] = ()
    """Our CompIDs as inferred so far (unused when ``ingest.own_comp_ids`` is set)."""
    window_ns: int = 3_600 * 10**9
    """How much of each session's receipt time the history keeps (as the stream does)."""


@dataclass
class IngestResult:
    """Events of all files, their reconciliations, the quarantine and data-quality counts."""

    events: pl.DataFrame
    files: list[FileReport]
    quarantine: Quarantine
    data_quality: dict[str, int]
    own_comp_ids: list[str]
    carried: Carried | None = None
    """What a later ingest carries on from, when this one was given ``carried``."""

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
    carried: Carried | None = None,
) -> IngestResult:
    """Read, validate, decode and de-duplicate FIX logs into canonical events; with
    ``carried``, as the continuation of the ingests it carries (module docstring), and the
    result carries this one."""
    quarantine = Quarantine() if quarantine is None else quarantine
    first_record = len(quarantine.records)   # held records: a list index
    first_file = carried.files if carried is not None else 0
    reports, typed, raw_data = _read_logs(paths, config, quarantine, progress, first_file)
    # Each stage lets go of what it no longer needs: at a million messages, a frame of raw
    # or typed columns is most of a GB.
    bad = typed.filter(pl.col("reason").is_not_null())
    # A clean log has no bad row: then filtering would only copy every column.
    good = typed if bad.is_empty() else typed.filter(pl.col("reason").is_null())
    sessions = {} if carried is None else latest_recv(carried.history)
    if carried is None:
        good = mark_duplicates(good)
    else:
        _check_after(good, sessions)
        good = with_flags(good, flags_against(carried.history, good))
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
    quality = _data_quality(typed, good)
    del typed
    _count(reports, first_file, bad, good)
    # Only the columns the events are made of: a filter copies every column it is given.
    kept = good.select(_EVENT_INPUTS).filter(good["status"] == "event")
    keys = None if carried is None else good.select(DEDUP_COLUMNS)
    del good
    inferred = tuple(infer_own_comp_ids(kept)) if not config.own_comp_ids else ()
    if carried is not None:
        inferred = _own_still(carried, inferred, sessions)
    own = list(config.own_comp_ids) or list(inferred)
    _check_own(config.own_comp_ids, kept)
    events = canonical_events(kept, own, config.lp_map)
    for report in reports:
        report.by_reason = quarantine.by_reason(report.path)
        if not report.balanced:
            raise LpscoreError(f"internal error: {report.path} does not reconcile: {report}")
    result = IngestResult(events, reports, quarantine, quality, own)
    if carried is not None and keys is not None:
        result.carried = _carry(carried, keys, len(paths), inferred)
    return result


def _check_own(own: Sequence[str], kept: pl.DataFrame) -> None:
    """ConfigError when ``ingest.own_comp_ids`` is set and none of them sends or receives
    an event of ``kept``: every message would be taken for the LPs' (a misspelt CompID
    made our own desk the one LP, its orders all answered by nobody)."""
    if not own or kept.is_empty():
        return
    seen = set(kept.select(pl.concat([pl.col("sender"), pl.col("target")]).unique())
               .to_series().drop_nulls().to_list())
    if not seen & set(own):
        raise ConfigError(
            f"ingest.own_comp_ids = {list(own)}: none of them sends or receives a message "
            f"of these logs, whose CompIDs are {', '.join(sorted(seen)[:10])}; set it to "
            "ours among those, or leave it out to infer it")


def _check_after(good: pl.DataFrame, last_recv: dict[Session, int]) -> None:
    """Raise InputError unless every session's messages in ``good`` were received no
    earlier than the latest of that session (either direction) in the ingests carried."""
    if not last_recv or good.is_empty():
        return
    firsts = good.group_by("sender", "target").agg(
        pl.col("ts_recv").dt.epoch("ns").min().alias("first"),
        pl.col("source").sort_by("ts_recv").first())
    for sender, target, first, source in firsts.iter_rows():
        last = max(last_recv.get((sender, target), -1), last_recv.get((target, sender), -1))
        if first is not None and first < last:
            raise InputError(
                f"{source}: session {sender}->{target} has messages received at "
                f"{_iso(first)}, before the latest of that session already ingested "
                f"({_iso(last)}); appending must follow each session in time: ingest these "
                "files together with the earlier ones instead, without --append")


def _iso(ns: int) -> str:
    return str(pl.Series([ns]).cast(pl.Datetime("ns"))[0])


def _own_still(carried: Carried, inferred: tuple[str, ...],
               sessions: Iterable[Session]) -> tuple[str, ...]:
    """Our CompIDs inferred from the earlier ingests and this one; InputError when this one
    makes ours a CompID the earlier ones saw in a session (``sessions``) but did not take as
    ours (their events would have been attributed otherwise)."""
    earlier = set(carried.own_comp_ids)
    seen = {comp for session in sessions for comp in session}
    turned = sorted((set(inferred) - earlier) & seen)
    if turned:
        took = ", ".join(sorted(earlier)) or "none"
        raise InputError(
            f"these logs make {', '.join(turned)} one of our CompIDs, but the earlier ingests, "
            f"whose sessions held it, did not take it as ours (they took: {took}): set "
            "ingest.own_comp_ids in lpscore.toml and ingest everything again")
    return tuple(sorted(earlier | set(inferred)))


def _carry(carried: Carried, keys: pl.DataFrame, files: int,
           own: tuple[str, ...]) -> Carried:
    """What the next ingest carries on from: ``carried`` and this ingest's marked messages
    (``keys``: the duplicate rules' columns), duplicates too: the rules read them."""
    history = remembered(carried.history, keys, carried.window_ns)
    return Carried(history, carried.files + files, own, carried.window_ns)


def _read_logs(
    paths: Sequence[Path], config: IngestConfig, quarantine: Quarantine,
    progress: Callable[[Path, int], None] | None, first_file: int,
) -> tuple[list[FileReport], pl.DataFrame, dict[str, LogBytes]]:
    """Each file's first reconciliation counts, the typed messages of all
    (``typed_messages``, with ``file_index``) and each file's bytes by path (framing
    rejects are quarantined).

    Files' rows are typed a group at a time (``_TYPED_ROWS``), each group as it is read:
    only the typed frames, which keep two of the raw tag columns, are put together, a chunk
    per group in every column, and ``mark_duplicates`` cuts its flags into the same
    chunks. Against the raw rows of all files put together and typed at once (measured
    before logs were mapped; benchmarks/RESULTS.md has the later figures): ten files of
    100,000 messages peaked at 1.73 GB instead of 2.13 GB, in the same time; a hundred of
    10,000 at 1.89 GB instead of 2.25 GB, in 1.82-1.91 s instead of 1.94-2.13 s."""
    tags = wanted_tags(config)
    reports: list[FileReport] = []
    frames: list[pl.DataFrame] = []
    group: list[pl.DataFrame] = []      # files read, not typed yet
    pending = 0                         # their rows
    raw_data: dict[str, LogBytes] = {}
    maps = 0
    for index, path in enumerate(paths):
        data = read_bytes(path, memory_map=config.memory_map and maps < _MAX_MAPS)
        maps += isinstance(data, mmap.mmap)
        source = str(path)
        raw_data[source] = data
        rows: MessageRows = split_messages(data, source, tags, quarantine, lenient=config.lenient)
        reports.append(FileReport(
            path=source, lines=rows.records, messages=rows.framing_rejects,
            quarantined=rows.quarantined, skipped=sum(rows.skipped.values()),
            skipped_by_reason=dict(rows.skipped),
        ))
        group.append(rows.frame.with_columns(
            pl.lit(first_file + index, dtype=pl.Int64).alias("file_index")))
        pending += rows.frame.height
        del rows
        if pending >= _TYPED_ROWS:
            frames.append(_typed_group(group, config))
            group, pending = [], 0
        if progress is not None:
            progress(path, len(data))
    if group:
        frames.append(_typed_group(group, config))
    return reports, pl.concat(frames, how="vertical"), raw_data


def _typed_group(group: list[pl.DataFrame], config: IngestConfig) -> pl.DataFrame:
    """``typed_messages`` of the rows of a group of files; several files' rows are put in
    one chunk first, so that the typed columns made anew and those passed through are
    chunked alike."""
    rows = group[0] if len(group) == 1 else pl.concat(group, how="vertical").rechunk()
    return typed_messages(rows, config)


_MAX_MAPS = 256
"""Files an ingest maps at most (lpscore.ingest.records.read_bytes; the others are read):
each map holds a file descriptor while the events point into it, and a process may have
no more than 1,024 open on many systems."""


_TYPED_ROWS = 50_000
"""Message rows typed at a time (whole files, as many as reach it): a run of typing costs
some 5 ms whatever its size, and a hundred files of 10,000 messages typed one by one took
2.20-2.31 s, against 1.77-1.91 s in groups of five."""


_RAW_DONE = (cs.matches(r"^t\d+$") - cs.by_name(tag_column(141), tag_column(45))
             | cs.by_name(time_column("capture"), *map(time_column, map(tag_column, TIME_TAGS)),
                          require_all=False))
"""Raw tag columns once typed, and the parsed times beside them: only de-duplication reads
two of them again (and each filter of the rows would copy them all)."""


def typed_messages(rows: pl.DataFrame, config: IngestConfig) -> pl.DataFrame:
    """Raw message rows (lpscore.ingest.records) typed, classified, with ``reason`` (null or
    why the row cannot be an event) and the two timestamps ``ts_recv`` and ``ts_event``; of
    the raw tag columns only ``t141`` and ``t45`` remain (lpscore.ingest.dedup reads them)."""
    typed = typed_rows(classify(rows), config)
    return typed.with_columns(
        pl.coalesce("capture_time", "sending_time").alias("ts_recv"),
        pl.col("capture_time").is_not_null().alias("captured"),
        pl.when(pl.col("kind") == "8").then(pl.coalesce("transact_time", "sending_time"))
        .otherwise(pl.col("sending_time")).alias("ts_event"),
    ).drop(_RAW_DONE)


def _quarantine_rows(bad: pl.DataFrame, raw_data: dict[str, LogBytes],
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


def _count(reports: list[FileReport], first_file: int, bad: pl.DataFrame,
           good: pl.DataFrame) -> None:
    by_file = dict(enumerate(reports, start=first_file))
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
    grouped = frame.select("file_index", column).group_by("file_index", column).len()
    return {(int(i), str(v)): int(n) for i, v, n in grouped.iter_rows()}


_EVENT_NAMES = {
    "f38": "order_qty", "f44": "price", "f32": "last_qty", "f31": "last_px", "f14": "cum_qty",
    "f151": "leaves_qty", "f6": "avg_px", "i103": "ord_rej_reason", "i102": "cxl_rej_reason",
    "i45": "ref_seq_num", "i371": "ref_tag_id", "i373": "session_reject_reason",
}
"""Typed tag columns of lpscore.ingest.decode -> their names in EVENT_SCHEMA."""


_EVENT_INPUTS = cs.by_name(
    *sorted(set(EVENT_SCHEMA.names) - {"session", "outbound", "lp", "seq_epoch",
                                       *_EVENT_NAMES.values()}),
    *_EVENT_NAMES, "epoch", *ARRIVAL_ORDER)
"""The columns ``canonical_events`` reads (its ``attribute`` reads sender, target, kind and
ex_destination, all in EVENT_SCHEMA)."""


def canonical_events(frame: pl.DataFrame, own: Sequence[str],
                     lp_map: dict[str, str]) -> pl.DataFrame:
    """Typed, de-duplicated event rows as EVENT_SCHEMA, attributed (direction, session, LP)
    and sorted by receipt time and input order."""
    out = attribute(frame, own, lp_map).with_columns(
        *(pl.col(typed).alias(name) for typed, name in _EVENT_NAMES.items()),
        pl.col("epoch").alias("seq_epoch"),
    )
    if not in_arrival_order(out):  # usually they are: a log is written as it is received
        out = out.sort(*ARRIVAL_ORDER)
    schema = polars_schema(EVENT_SCHEMA)
    return out.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _data_quality(typed: pl.DataFrame, good: pl.DataFrame) -> dict[str, int]:
    # Sums over a few columns: a filter or group-by of these wide frames would copy them all.
    event = pl.col("status") == "event"
    counts: Counter[str] = Counter(good.select(
        (event & pl.col("exec_id_reused")).sum().alias("exec_id_reused"),
        (event & pl.col("seq_num_reused")).sum().alias("seq_num_reused"),
        (pl.col("status") == "duplicate").sum().alias("duplicates"),
    ).row(0, named=True))
    counts["capture_prefix_unparsed"] = typed.select(
        (pl.col("capture").is_not_null() & pl.col("capture_time").is_null()).sum()).item()
    for warning, n in typed.select("frame_warning").group_by("frame_warning").len().iter_rows():
        if warning is not None:
            counts[f"lenient_{warning}"] = int(n)
    return {name: int(n) for name, n in sorted(counts.items())}
