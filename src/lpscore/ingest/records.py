"""From a FIX log's bytes to one row per message, plus the lines that hold no message.

A *record* is a line (or, in a raw SOH stream with no newlines, one framed message or run of
garbage). Every record ends as exactly one of: a message row, a skipped line (blank, comment)
or a quarantined record, so that ``records = messages + skipped + quarantined`` per file.

Lines of SOH-delimited logs with the file's usual capture prefix go through the vectorised
scanner (lpscore.fix.batch); every other line, and every message the scanner does not pass,
goes through the precise codec (lpscore.fix.codec) one by one.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.errors import FixError, InputError
from lpscore.fix.batch import byte_words, pad_buffer, scan_messages, strings_from_ranges
from lpscore.fix.codec import SOH, FixStreamParser, decode
from lpscore.quarantine import Quarantine

__all__ = ["MessageRows", "read_bytes", "split_messages", "tag_column"]

_PREFIX = re.compile(rb"^(\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)\s?:\s?$")
_PIPE_SPLIT = re.compile(rb"\|(?=\d{1,9}=)")
_SPACE_SPLIT = re.compile(rb" (?=\d{1,9}=)")
_BEGIN = int.from_bytes(b"8=FIX", "little")


def tag_column(tag: int) -> str:
    """Name of the raw string column holding a tag's first value."""
    return f"t{tag}"


def read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when it is gzip (by magic bytes, whatever its name)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path} looks gzip-compressed but cannot be decompressed "
                             f"({exc}); is the file complete?") from exc
    return data


@dataclass
class MessageRows:
    """The messages of one file as raw string columns (``t35``, ``t49``...), with metadata.

    Metadata columns: ``source``, ``offset`` and ``length`` (of the record in the file),
    ``line`` (1-based), ``capture`` (the capture-prefix text, or null) and ``frame_warning``
    (a reason accepted under --lenient, or null).
    """

    frame: pl.DataFrame
    records: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    quarantined: int = 0
    framing_rejects: int = 0
    """Quarantined records that held a FIX message (everything but ``not_fix``)."""


def split_messages(
    data: bytes, source: str, tags: Sequence[int], quarantine: Quarantine, *, lenient: bool
) -> MessageRows:
    """Split ``data`` (one file) into message rows carrying the first value of each tag."""
    sample = data[:65536]
    if b"\n" not in data and SOH in sample:
        return _raw_stream(data, source, tags, quarantine, lenient)
    delimiter = _delimiter(sample)
    buf = pad_buffer(data)
    payload = buf[: len(data)]
    newlines = np.flatnonzero(payload == 10)
    starts = np.r_[0, newlines + 1].astype(np.int64)
    ends = np.r_[newlines, len(data)].astype(np.int64)
    if len(data) and data.endswith(b"\n"):
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))
    rows = MessageRows(pl.DataFrame(), records=len(starts))
    frames: list[pl.DataFrame] = []
    slow = np.ones(len(starts), dtype=bool)
    if delimiter == SOH:
        template, ts_len = _prefix_layout(data, starts, ends)
        prefix_len = len(template)
        fast = _fast_candidates(buf, starts, ends, template)
        idx = np.flatnonzero(fast)
        scan = scan_messages(buf, starts[idx] + prefix_len, ends[idx], tags)
        passed = idx[scan.ok]
        slow[passed] = False
        cols: dict[str, object] = {
            "source": pl.repeat(source, len(passed), eager=True, dtype=pl.String),
            "offset": starts[passed],
            "length": ends[passed] - starts[passed],
            "line": passed + 1,
            "capture": _capture(buf, starts[passed], prefix_len, ts_len),
            "frame_warning": pl.repeat(None, len(passed), eager=True, dtype=pl.String),
        }
        for tag in tags:
            s, e = scan.values[tag]
            cols[tag_column(tag)] = _text_series(buf, s, e)
        frames.append(pl.DataFrame(cols))
    slow_rows = []
    for i in np.flatnonzero(slow).tolist():
        line = data[int(starts[i]) : int(ends[i])]
        row = _slow_line(line, delimiter, tags, quarantine, rows, source, int(starts[i]), i + 1,
                         lenient)
        if row is not None:
            slow_rows.append(row)
    frames.append(_rows_frame(slow_rows, tags))
    rows.frame = pl.concat(frames, how="vertical").sort("offset")
    return rows


def _delimiter(sample: bytes) -> bytes:
    if SOH in sample:
        return SOH
    if b"^A" in sample:
        return b"^A"
    if re.search(rb"\|\d{1,9}=", sample):
        return b"|"
    return b" "


def _prefix_layout(data: bytes, starts: npt.NDArray[np.int64],
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
    words = byte_words(buf)
    long_enough = ends - starts > len(template) + 20
    at = np.where(long_enough, starts, 0)
    ok = long_enough & (
        (words[at + len(template)] & np.uint64(0xFFFFFFFFFF)) == np.uint64(_BEGIN))
    for k, expected in enumerate(template):
        byte = buf[at + k]
        if 0x30 <= expected <= 0x39:
            ok &= (byte >= 0x30) & (byte <= 0x39)
        else:
            ok &= byte == expected
    result: npt.NDArray[np.bool_] = ok
    return result


def _capture(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], prefix_len: int,
             ts_len: int) -> pl.Series:
    if not prefix_len:
        return pl.repeat(None, len(starts), eager=True, dtype=pl.String)
    return pl.Series(strings_from_ranges(buf, starts, starts + ts_len)).cast(pl.String)


def _text_series(buf: npt.NDArray[np.uint8], start: npt.NDArray[np.int64],
                 end: npt.NDArray[np.int64]) -> pl.Series:
    """Values as strings: UTF-8 where valid, else decoded as Latin-1 (never lost)."""
    arr = strings_from_ranges(buf, start, end)
    if len(arr) and int(np.frombuffer(arr.buffers()[2], dtype=np.uint8).max(initial=0)) >= 0x80:
        values = [
            None if s < 0 else _text(bytes(buf[s:e]))
            for s, e in zip(start.tolist(), end.tolist(), strict=True)
        ]
        return pl.Series(values, dtype=pl.String)
    return pl.Series(arr).cast(pl.String)


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
    message = _normalise(line[at:], delimiter)
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


def _raw_stream(data: bytes, source: str, tags: Sequence[int], quarantine: Quarantine,
                lenient: bool) -> MessageRows:
    parser = FixStreamParser()
    parser.feed(data)
    rows = MessageRows(pl.DataFrame())
    out = []
    for offset, raw, is_message in parser:
        rows.records += 1
        if not is_message:
            if raw.strip():
                _reject(quarantine, rows, source, offset, 1, "not_fix", raw, "between messages")
            else:
                rows.skipped["blank"] += 1
            continue
        row = _message_row(raw, raw, tags, quarantine, rows, source, offset, 1, None, lenient)
        if row is not None:
            out.append(row)
    tail = parser.pending()
    if tail:
        rows.records += 1
        _reject(quarantine, rows, source, parser.offset, 1, "truncated", tail, "at end of file")
    rows.frame = _rows_frame(out, tags)
    return rows


def _rows_frame(rows: list[dict[str, object]], tags: Sequence[int]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {
        "source": pl.String(), "offset": pl.Int64(), "length": pl.Int64(), "line": pl.Int64(),
        "capture": pl.String(), "frame_warning": pl.String(),
    }
    schema.update({tag_column(t): pl.String() for t in tags})
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)
