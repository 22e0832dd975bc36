"""From a FIX log's bytes to one row per message, plus the lines that hold no message.

A *record* is a line (or, in a raw SOH stream with no newlines, one framed message or run of
garbage). Every record ends as exactly one of: a message row, a skipped line (blank, comment)
or a quarantined record, so that ``records = messages + skipped + quarantined`` per file.

Lines of SOH-delimited logs with the file's usual capture prefix go through the vectorised
scanner (lpscore.fix.batch); every other line, and every message the scanner does not pass,
goes through the precise codec (lpscore.fix.codec) one by one.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from lpscore.errors import FixError, InputError
from lpscore.fix.batch import (
    frames,
    lines_with_prefix,
    newlines,
    parse_timestamps,
    scan_messages,
    timestamp_views,
)
from lpscore.fix.codec import SOH, decode
from lpscore.gzipped import gunzip, is_gzip
from lpscore.intern import string_buffers
from lpscore.quarantine import Quarantine

__all__ = ["MAP_MIN_BYTES", "TIME_TAGS", "LogBytes", "MessageRows", "exact_timestamps",
           "is_raw_stream", "raw_records", "read_bytes", "split_messages", "tag_column",
           "time_column"]

TIME_TAGS = (52, 60)
"""Tags read as times (SendingTime, TransactTime): with the capture prefix, the columns
that carry their parsed values beside them (``time_column``)."""

_PREFIX = re.compile(rb"^(\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)\s?:\s?$")
_PIPE_SPLIT = re.compile(rb"\|(?=\d{1,9}=)")
_SPACE_SPLIT = re.compile(rb" (?=\d{1,9}=)")
_LINE_DELIMITER = re.compile(rb"8=FIXT?\.[0-9A-Za-z.]{1,16}?(\x01|\^A|\||[ ]+)9=")
"""A message's delimiter, as it follows its BeginString (``_line_delimiter``)."""


def tag_column(tag: int) -> str:
    """Name of the raw string column holding a tag's first value."""
    return f"t{tag}"


def time_column(column: str) -> str:
    """Name of the Int64 column beside a raw time column (``capture``, ``t52``, ``t60``) that
    holds ``exact_timestamps`` of its values."""
    return f"{column}_ns"


LogBytes = bytes | mmap.mmap
"""A log's bytes: a memory map of an uncompressed file, or the bytes read (see
``read_bytes``). Both slice to ``bytes``."""

MAP_MIN_BYTES = 16 << 20
"""Smaller files are read, not mapped: mapping saves some 0.4 ms a MB (the page faults of
reading), nothing worth the file descriptor that a map holds while anything points into
it (``read_bytes``)."""


@overload
def read_bytes(path: Path, *, memory_map: Literal[False]) -> bytes: ...
@overload
def read_bytes(path: Path, *, memory_map: bool = True) -> LogBytes: ...
def read_bytes(path: Path, *, memory_map: bool = True) -> LogBytes:
    """A file's bytes, gunzipped when it is gzip (by magic bytes, whatever its name).

    An uncompressed regular file of ``MAP_MIN_BYTES`` or more is memory-mapped when
    ``memory_map``: its pages are the page cache's own, where reading it copies it into
    fresh memory (a 305 MB log: 0.12 s of page faults against 5 ms to map it). The map
    stays open, with a file descriptor of its own, while anything points into it: the
    message rows, and the events' strings longer than 12 bytes. A file truncated in place
    meanwhile (logrotate's ``copytruncate``) takes those pages away, and reading them kills
    the process (SIGBUS): ``ingest.memory_map = false`` reads such logs instead. Renaming a
    log to rotate it is safe."""
    try:
        with path.open("rb") as file:
            mapped = _mapped(file.fileno()) if memory_map else None
            data: LogBytes = file.read() if mapped is None else mapped
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    return gunzip(data, path) if is_gzip(data) else data  # from the map or the bytes read


def _mapped(fd: int) -> mmap.mmap | None:
    """A read-only map of a regular file of ``MAP_MIN_BYTES`` or more; None for anything
    else (a small file, a pipe, a file system that cannot map), which is read instead."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size < MAP_MIN_BYTES:
        return None
    try:
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):  # ValueError: an empty file
        return None


@dataclass
class MessageRows:
    """The messages of one file as raw string columns (``t35``, ``t49``...), with metadata.

    Metadata columns: ``source``, ``offset`` and ``length`` (of the record in the file),
    ``line`` (1-based), ``capture`` (the capture-prefix text, or null) and ``frame_warning``
    (a reason accepted under --lenient, or null); and beside ``capture`` and the TIME_TAGS'
    columns, their ``exact_timestamps`` (``time_column``: ``capture_ns``, ``t52_ns``...).
    """

    frame: pl.DataFrame
    records: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    framing_rejects: int = 0
    """Quarantined records that held a FIX message (everything but ``not_fix``)."""


def split_messages(
    data: LogBytes, source: str, tags: Sequence[int], quarantine: Quarantine, *,
    lenient: bool,
) -> MessageRows:
    """Split ``data`` (one file) into message rows carrying the first value of each tag."""
    if is_raw_stream(data):
        return _raw_stream(data, source, tags, quarantine, lenient)
    delimiter = _delimiter(data[:65536])   # per line on the slow path (_line_delimiter)
    buf = np.frombuffer(data, dtype=np.uint8)  # no copy: the rows' strings point into it
    starts, ends = _line_bounds(buf)
    rows = MessageRows(pl.DataFrame(), records=len(starts))
    frames: list[pl.DataFrame] = []
    slow = np.ones(len(starts), dtype=bool)
    if delimiter == SOH:
        template, ts_len = _prefix_layout(data, starts, ends)
        fast = np.flatnonzero(_fast_candidates(buf, starts, ends, template))
        frame, passed = _scan_lines(buf, source, fast, starts, ends, (len(template), ts_len),
                                    tags)
        slow[passed] = False
        frames.append(frame)
    slow_rows = []
    for i in np.flatnonzero(slow).tolist():
        line = data[int(starts[i]) : int(ends[i])]
        row = _slow_line(line, delimiter, tags, quarantine, rows, source, int(starts[i]), i + 1,
                         lenient)
        if row is not None:
            slow_rows.append(row)
    if slow_rows or not frames:
        frames.append(_rows_frame(slow_rows, tags))
    rows.frame = _in_file_order(frames)
    return rows


def _in_file_order(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The fast and slow rows together, by offset. The fast rows come in file order; only
    slow rows among them need a sort. Either way each column is one chunk: Polars would
    rechunk a frame whose columns are chunked differently on every later with_columns."""
    frame = pl.concat(frames, how="vertical")
    return frame.rechunk() if frame["offset"].is_sorted() else frame.sort("offset")


def _line_bounds(buf: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.int64],
                                                     npt.NDArray[np.int64]]:
    """``[start, end)`` of every line, without its line end (LF or CRLF); a last line without
    a newline counts, an empty one after the last newline does not."""
    at = newlines(buf)
    starts = np.r_[0, at + 1].astype(np.int64)
    ends = np.r_[at, len(buf)].astype(np.int64)
    if len(buf) and buf[-1] == 10:
        starts, ends = starts[:-1], ends[:-1]
    filled = np.flatnonzero(ends > starts)
    ends[filled] -= buf[ends[filled] - 1] == 13
    return starts, ends


def _scan_lines(buf: npt.NDArray[np.uint8], source: str, lines: npt.NDArray[np.int64],
                starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64],
                prefix: tuple[int, int], tags: Sequence[int],
                ) -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
    """Rows of the ``lines`` the scanner passes, and those lines. ``prefix``: the capture
    prefix's length and the length of the timestamp at its start."""
    prefix_len, ts_len = prefix
    times = [tag for tag in TIME_TAGS if tag in tags]
    scan = scan_messages(buf, starts[lines] + prefix_len, ends[lines], tags, times)
    passed = lines[scan.ok]
    capture, capture_ns = _capture(buf, starts[passed], prefix_len, ts_len)
    cols: dict[str, pl.Series | npt.NDArray[np.int64]] = {
        "source": pl.repeat(source, len(passed), eager=True, dtype=pl.String),
        "offset": starts[passed],
        "length": ends[passed] - starts[passed],
        "line": passed + 1,
        "capture": capture,
        "frame_warning": pl.repeat(None, len(passed), eager=True, dtype=pl.String),
    }
    high = scan.values_of(sorted(scan.high))
    for tag, views in scan.string_columns(buf).items():
        # Polars takes views unchecked: values with bytes >= 0x80 are decoded one by one.
        cols[tag_column(tag)] = _decoded(buf, *high[tag]) if tag in high else pl.Series(views)
    cols[time_column("capture")] = capture_ns
    for tag in times:
        cols[time_column(tag_column(tag))] = _epoch_ns(scan.times[tag])
    return pl.DataFrame(cols), passed


def _epoch_ns(ns: npt.NDArray[np.int64]) -> pl.Series:
    """Epoch ns as an Int64 series, null where negative (not parsed)."""
    return pl.Series(pa.array(ns, mask=ns < 0))


def exact_timestamps(values: pl.Series) -> pl.Series:
    """Epoch ns of the strings that are exactly FIX UTCTimestamps ``YYYYMMDD-HH:MM:SS[.f{1,9}]``
    with a valid date and time after 1970 (lpscore.fix.batch.parse_timestamps), else null:
    what the scanner gives for TIME_TAGS (lpscore.ingest.decode.fix_timestamps parses the
    others with Polars)."""
    ns, parsed = parse_timestamps(*string_buffers(values), values.is_not_null().to_numpy())
    return pl.Series(values.name + "_ns", pa.array(ns, mask=~parsed))


def _delimiter(sample: bytes) -> bytes:
    if SOH in sample:
        return SOH
    if b"^A" in sample:
        return b"^A"
    if re.search(rb"\|\d{1,9}=", sample):
        return b"|"
    return b" "


def _line_delimiter(message: bytes, guess: bytes) -> bytes:
    """The delimiter of the message ``message`` starts with: what separates its BeginString
    from ``9=``; the file's ``guess`` when that is not there to read (the message is then
    framed as well as it can be, and most likely quarantined). Per line, so a junk byte at
    the top of a file does not decide how its other lines split, and a stream's polls split
    a line as the batch ingest splits it, whatever else the poll holds."""
    found = _LINE_DELIMITER.match(message)
    if found is None:
        return guess
    delimiter = found.group(1)
    return b" " if delimiter.startswith(b" ") else delimiter


def _prefix_layout(data: LogBytes, starts: npt.NDArray[np.int64],
                   ends: npt.NDArray[np.int64]) -> tuple[bytes, int]:
    """(prefix bytes, timestamp length) of the first message line; (b"", 0) without a prefix."""
    for s, e in zip(starts[:200].tolist(), ends[:200].tolist(), strict=True):
        line = data[s:e]
        at = line.find(b"8=FIX")
        if at < 0:
            continue
        match = _PREFIX.match(line[:at])
        if at == 0 or match is None:
            return b"", 0
        return line[:at], len(match.group(1))
    return b"", 0


def _fast_candidates(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
                     ends: npt.NDArray[np.int64], template: bytes) -> npt.NDArray[np.bool_]:
    """Lines whose prefix has exactly the first message line's layout (a digit wherever it has
    a digit, the same byte elsewhere) followed by ``8=FIX``; every other line takes the precise
    path, so both paths read the same capture times."""
    return lines_with_prefix(buf, starts, ends, template)


def _capture(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], prefix_len: int,
             ts_len: int) -> tuple[pl.Series, pl.Series]:
    """The capture column of fast lines and its ``exact_timestamps``."""
    if not prefix_len:
        empty = pl.repeat(None, len(starts), eager=True, dtype=pl.String)
        return empty, exact_timestamps(empty)
    # Fast lines match the first line's prefix byte for byte or digit for digit: ASCII.
    views, ns = timestamp_views(buf, starts, starts + ts_len)
    return pl.Series(views), _epoch_ns(ns)


def _decoded(buf: npt.NDArray[np.uint8], start: npt.NDArray[np.int64],
             end: npt.NDArray[np.int64]) -> pl.Series:
    """Values as strings: UTF-8 where valid, else decoded as Latin-1 (never lost)."""
    values = [
        None if s < 0 else _text(bytes(buf[s:e]))
        for s, e in zip(start.tolist(), end.tolist(), strict=True)
    ]
    return pl.Series(values, dtype=pl.String)


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _normalise(message: bytes, delimiter: bytes) -> bytes:
    """An SOH-delimited message from text that uses another delimiter between fields only."""
    if delimiter == SOH:
        return message
    if delimiter == b"^A":
        out = message.replace(b"^A", SOH)
    else:
        split = _PIPE_SPLIT if delimiter == b"|" else _SPACE_SPLIT
        out = split.sub(SOH, message.rstrip(b" " if delimiter == b" " else b""))
        if out.endswith(delimiter):
            out = out[: -len(delimiter)]
    return out if out.endswith(SOH) else out + SOH


def _slow_line(line: bytes, delimiter: bytes, tags: Sequence[int], quarantine: Quarantine,
               rows: MessageRows, source: str, offset: int, line_no: int,
               lenient: bool) -> dict[str, object] | None:
    stripped = line.strip()
    if not stripped:
        rows.skipped["blank"] += 1
        return None
    if stripped.startswith(b"#"):
        rows.skipped["comment"] += 1
        return None
    at = line.find(b"8=FIX")
    if at < 0:
        _reject(quarantine, rows, source, offset, line_no, "not_fix", line, "no 8=FIX")
        return None
    match = _PREFIX.match(line[:at])
    capture = match.group(1).decode() if match else None
    message = _normalise(line[at:], _line_delimiter(line[at:], delimiter))
    return _message_row(message, line, tags, quarantine, rows, source, offset, line_no, capture,
                        lenient)


def _message_row(message: bytes, raw: bytes, tags: Sequence[int], quarantine: Quarantine,
                 rows: MessageRows, source: str, offset: int, line_no: int,
                 capture: str | None, lenient: bool) -> dict[str, object] | None:
    try:
        decoded = decode(message, lenient=lenient)
    except FixError as exc:
        _reject(quarantine, rows, source, offset, line_no, exc.reason, raw, exc.detail)
        return None
    values = decoded.first_values()
    row: dict[str, object] = {
        "source": source, "offset": offset, "length": len(raw), "line": line_no,
        "capture": capture, "frame_warning": decoded.warning or None,
    }
    for tag in tags:
        value = values.get(tag)
        row[tag_column(tag)] = None if value is None else _text(value)
    return row


def _reject(quarantine: Quarantine, rows: MessageRows, source: str, offset: int, line_no: int,
            reason: str, raw: bytes, detail: str) -> None:
    quarantine.add(source, offset, line_no, reason, raw, detail)
    rows.quarantined += 1
    rows.framing_rejects += reason != "not_fix"


def is_raw_stream(data: LogBytes) -> bool:
    """Whether one file's ``data`` is a raw SOH stream (messages back to back): SOH in its
    first 64 KB and no line end anywhere."""
    # find, not ``in``: a mapped file's ``in`` reads it a byte at a time (0.7 s for 55 MB)
    return SOH in data[:65536] and data.find(b"\n") < 0


def raw_records(data: LogBytes) -> Iterator[bytes]:
    """The records of a raw SOH stream as the ingest frames them (``frames``), in order: each
    message, the bytes between two messages that are not blank, and a message cut short at
    the end: everything the ingest counts as a record, so that a worker fed these records
    (``lpscore replay``) quarantines what the ingest quarantines."""
    starts, ends, _, rest = frames(np.frombuffer(data, dtype=np.uint8))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        record = bytes(data[start:end])
        if record.strip():
            yield record
    if rest < len(data):
        yield bytes(data[rest:])


def _raw_stream(data: LogBytes, source: str, tags: Sequence[int], quarantine: Quarantine,
                lenient: bool) -> MessageRows:
    """Rows of a raw SOH stream: framed as FixStreamParser frames it (``frames``), each
    frame a record (``line`` 1); the frames go through the vectorised scanner as lines
    without a capture prefix would, and those it does not pass through the precise codec."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends, message, rest = frames(buf)
    rows = MessageRows(pl.DataFrame(), records=len(starts) + (rest < len(data)))
    first_record = len(quarantine.records)
    for i in np.flatnonzero(~message).tolist():
        offset = int(starts[i])
        raw = data[offset : int(ends[i])]
        if raw.strip():
            _reject(quarantine, rows, source, offset, 1, "not_fix", raw, "between messages")
        else:
            rows.skipped["blank"] += 1
    if rest < len(data):
        _reject(quarantine, rows, source, rest, 1, "truncated", data[rest:], "at end of file")
    starts, ends = starts[message], ends[message]
    fast, passed = _scan_lines(buf, source, np.arange(len(starts), dtype=np.int64), starts,
                               ends, (0, 0), tags)
    slow = np.ones(len(starts), dtype=bool)
    slow[passed] = False
    out = []
    for i in np.flatnonzero(slow).tolist():
        raw = data[int(starts[i]) : int(ends[i])]
        row = _message_row(raw, raw, tags, quarantine, rows, source, int(starts[i]), 1, None,
                           lenient)
        if row is not None:
            out.append(row)
    # in stream order, as they were found when every frame was decoded in turn
    quarantine.records[first_record:] = sorted(quarantine.records[first_record:],
                                               key=lambda r: r.offset)
    rows.frame = _in_file_order([fast.with_columns(pl.lit(1, dtype=pl.Int64).alias("line")),
                                 _rows_frame(out, tags)])
    return rows


def _rows_frame(rows: list[dict[str, object]], tags: Sequence[int]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "source": pl.String(), "offset": pl.Int64(), "length": pl.Int64(), "line": pl.Int64(),
        "capture": pl.String(), "frame_warning": pl.String(),
    }
    schema.update({tag_column(t): pl.String() for t in tags})
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)
    times = ["capture", *(tag_column(tag) for tag in TIME_TAGS if tag in tags)]
    return frame.with_columns(exact_timestamps(frame[name]).alias(time_column(name))
                              for name in times)
