"""Vectorised FIX scanning: many well-formed messages in one buffer, validated and split into
string columns without a Python loop per message.

The caller gives the buffer and each message's ``[start, end)``. A message passes the fast
path when it has the standard frame: fields 8, 9, 35 first, 10 last with three digits, a
right BodyLength and a right CheckSum, and every field ``TAG=VALUE`` with a well-formed tag.
Everything else is reported back (``ok`` False) for the precise codec (lpscore.fix.codec) to
decode or quarantine with an exact reason, so both paths give the same events by
construction.

The loops are compiled (lpscore.fix.kernels, loaded on first use); this module gives them
typed arguments and turns their output into Arrow arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["BatchScan", "fix_timestamp", "frames", "lines_with_prefix", "newlines",
           "parse_timestamps", "scan_messages", "string_views", "timestamp_views"]

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]


@functools.cache
def _kernels() -> ModuleType:
    """The compiled loops, imported on first use: importing numba takes a moment."""
    from lpscore.fix import kernels  # noqa: PLC0415

    return kernels


@dataclass(frozen=True)
class BatchScan:
    """Result of a vectorised scan.

    ``ok[i]`` says message i passed the fast path. For the ok messages in order, column by
    column (``tags[c]``): ``views[c]`` holds the Arrow string view of the tag's first value
    (offsets from ``base``; see ``string_views``) and ``present[c]`` whether there is one;
    ``high`` names the tags with a byte >= 0x80 in one of those values (maybe not UTF-8);
    ``times`` holds, for the tags asked for as times, the epoch ns of each value that is an
    exact FIX UTCTimestamp from 1970 on (see ``parse_timestamps``), else -1.
    """

    ok: Bool
    tags: tuple[int, ...]
    views: list[U64]
    present: list[Bool]
    base: int
    high: frozenset[int]
    times: dict[int, I64]
    scanned: tuple[U8, I64, I64]
    """The buffer and message ranges, to find value positions again if asked."""

    @property
    def values(self) -> dict[int, tuple[I64, I64]]:
        """Tag -> (value starts, value ends) in the buffer, -1 where absent."""
        return self.values_of(self.tags)

    def values_of(self, tags: Sequence[int]) -> dict[int, tuple[I64, I64]]:
        """``values`` of some tags. The fast path needs none: they are found by scanning
        again (with positions recorded, for these tags only)."""
        if not tags:
            return {}
        again = _scan(*self.scanned, tuple(tags), positions=True)
        return {tag: (again.value_start[c], again.value_end[c]) for c, tag in enumerate(tags)}

    def string_columns(self, buf: U8) -> dict[int, pa.Array]:
        """Tag -> its values as a string_view array (see ``string_views``); ``buf`` is the
        scanned buffer. Each array keeps its own column of the scan's output alive."""
        data = pa.py_buffer(buf[self.base :])
        return {tag: _view_array(self.views[c], self.present[c], data)
                for c, tag in enumerate(self.tags)}


def scan_messages(buf: U8, starts: I64, ends: I64, tags: Sequence[int],
                  times: Sequence[int] = ()) -> BatchScan:
    """Validate the frame of every message ``buf[starts[i]:ends[i]]`` and locate ``tags``;
    the values of ``times`` (some of ``tags``) are also parsed as FIX UTCTimestamps, while
    their bytes are in cache (read back later from a column of a million rows, they took
    three times as long).

    Ranges must be ordered and lie inside ``buf``; nothing outside ``buf`` is read (whole
    words are, a few bytes past a value). No working memory: the compiled loop writes each
    value into its column; the output is the columns themselves (17 bytes per message and
    tag, 8 more for a time; the pages of a column no message holds are never touched).
    """
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    ends = np.ascontiguousarray(ends, dtype=np.int64)
    found = _scan(buf, starts, ends, tuple(tags), positions=False, times=tuple(times))
    return BatchScan(found.ok, tuple(tags), found.views, found.present,
                     int(starts[0]) if len(starts) else 0, found.high, found.times,
                     (buf, starts, ends))


@dataclass(frozen=True)
class _Found:
    """What the compiled scan returns (see lpscore.fix.kernels.scan), cut to the rows of the
    passing messages; positions are empty unless asked for."""

    ok: Bool
    views: list[U64]
    present: list[Bool]
    value_start: I64
    value_end: I64
    high: frozenset[int]
    times: dict[int, I64]


def _scan(buf: U8, starts: I64, ends: I64, tags: tuple[int, ...], *, positions: bool,
          times: tuple[int, ...] = ()) -> _Found:
    if not tags:  # numba types its lists by their items: scan for tag 0, which never is
        found = _scan(buf, starts, ends, (0,), positions=positions)
        return _Found(found.ok, [], [], found.value_start[:0], found.value_end[:0], frozenset(),
                      {})
    n, n_tags = len(starts), len(tags)
    column_of = np.full(max(tags, default=0) + 1, -1, dtype=np.int16)
    column_of[np.asarray(tags, dtype=np.int64)] = np.arange(n_tags, dtype=np.int16)
    time_of = np.full(n_tags, -1, dtype=np.int16)
    for t, tag in enumerate(times):
        time_of[tags.index(tag)] = t
    ns = np.full((len(times), n), -1, dtype=np.int64)
    shape = (n_tags, n) if positions else (0, 0)
    value_start = np.full(shape, -1, dtype=np.int64)
    value_end = np.full(shape, -1, dtype=np.int64)
    # One array of views per column: each can be freed on its own once typed. Zeroed, an
    # absent value's view is zero: calloc'ed, a page no value is written to is never
    # touched. The flags are packed into bitmaps before that: one allocation (huge pages).
    views = [np.zeros((n, 2), dtype=np.uint64) for _ in tags]
    view_at = np.array([v.ctypes.data for v in views], dtype=np.int64)
    present = np.zeros((n_tags, n), dtype=np.bool_)
    high = np.zeros(n_tags, dtype=np.bool_)
    ok = np.empty(n, dtype=np.bool_)
    kernels = _kernels()
    scratch = (np.empty(n_tags, dtype=np.int16), np.empty(n_tags, dtype=np.bool_))
    rows = int(kernels.scan(buf, *_words(buf), starts, ends, column_of, time_of, positions,
                            value_start, value_end, view_at, present, high, ns, ok, scratch))
    return _Found(ok, [v[:rows] for v in views], [p[:rows] for p in present],
                  value_start[:, :rows], value_end[:, :rows],
                  frozenset(t for c, t in enumerate(tags) if high[c]),
                  {tag: ns[t][:rows] for t, tag in enumerate(times)})


def _words(buf: U8) -> tuple[U64, int]:
    """``buf`` as aligned 8-byte words (no copy), and where the first starts in it."""
    offset = min(-buf.ctypes.data % 8, len(buf))
    return buf[offset : offset + (len(buf) - offset) // 8 * 8].view(np.uint64), offset


def string_views(buf: U8, start: I64, end: I64) -> pa.Array:
    """An Arrow string_view array of ``buf[start[i]:end[i]]``; null where start is -1.

    A view is 16 bytes: the length, then the value itself when it fits in 12 bytes, else its
    first 4 bytes and its offset in the data buffer (``buf`` from the first start on). So no
    value byte is copied, and Polars takes the array as it is. Bytes are not checked: the
    caller sends values with bytes >= 0x80 elsewhere (see lpscore.ingest.records).
    """
    return _string_views(buf, start, end, np.empty(0, dtype=np.int64))


def timestamp_views(buf: U8, start: I64, end: I64) -> tuple[pa.Array, I64]:
    """``string_views`` of FIX UTCTimestamps, and the epoch ns of each exact one from 1970 on
    (-1 where not; see ``parse_timestamps``), parsed in the same pass."""
    times = np.empty(len(start), dtype=np.int64)
    return _string_views(buf, start, end, times), times


def _string_views(buf: U8, start: I64, end: I64, times: I64) -> pa.Array:
    used = start[start >= 0]
    base = int(used.min()) if len(used) else 0
    views = np.empty((len(start), 2), dtype=np.uint64)
    present = np.empty(len(start), dtype=np.bool_)
    _kernels().views(buf, base, np.ascontiguousarray(start), np.ascontiguousarray(end), views,
                     present, times)
    return _view_array(views, present, pa.py_buffer(buf[base:]))


def _view_array(views: U64, present: Bool, data: pa.Buffer) -> pa.Array:
    validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.Array.from_buffers(pa.string_view(), len(present),
                                 [validity, pa.py_buffer(views), data])


def newlines(buf: U8) -> I64:
    """Where the LF bytes of ``buf`` are (a compiled loop: a word at a time; no file-sized
    comparison array)."""
    kernels = _kernels()
    words, offset = _words(buf)
    out = np.empty(len(buf) // 64 + 1024, dtype=np.int64)  # a log's lines are longer
    n = int(kernels.newlines(buf, words, offset, out))
    if n > len(out):
        out = np.empty(n, dtype=np.int64)
        kernels.newlines(buf, words, offset, out)
    return out[:n]


def frames(buf: U8) -> tuple[I64, I64, Bool, int]:
    """The records of a raw SOH stream as lpscore.fix.codec.FixStreamParser frames them
    (a compiled loop): their ``[start, end)``, whether each is a message (else bytes before
    a ``8=FIX``), and where the bytes no record took start (``len(buf)`` when none)."""
    kernels = _kernels()
    size = len(buf) // 128 + 1024   # messages are longer
    while True:
        starts = np.empty(size, dtype=np.int64)
        ends = np.empty(size, dtype=np.int64)
        message = np.empty(size, dtype=np.bool_)
        n, rest = kernels.frames(buf, _BEGIN, _TRAILER, starts, ends, message)
        if n <= size:
            return starts[:n], ends[:n], message[:n], int(rest)
        size = int(n)


_BEGIN = np.frombuffer(b"8=FIX", dtype=np.uint8)
_TRAILER = np.frombuffer(b"\x0110=", dtype=np.uint8)


def lines_with_prefix(buf: U8, starts: I64, ends: I64, template: bytes) -> Bool:
    """Lines longer than ``len(template) + 20`` bytes that start with ``template``'s layout (a
    digit wherever it has a digit, the same byte elsewhere) followed by ``8=FIX``."""
    pattern = np.frombuffer(template, dtype=np.uint8)
    ok: Bool = _kernels().match_prefix(buf, starts, ends, pattern)
    return ok


def parse_timestamps(views: U64, data: U8, bases: I64, valid: Bool) -> tuple[I64, Bool]:
    """Epoch ns of FIX UTCTimestamps ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` among Arrow string views
    (``views``: n x 2, see ``string_views``) where ``valid``, and which were parsed. The
    views' data buffers lie end to end in ``data``, buffer ``b`` from ``bases[b]`` (a column of
    the scan has one, the file's bytes: its strings are read where they are, not copied).
    Only exact, valid ones are parsed (years 1900-2199, no leap second): callers parse the
    rest another way."""
    out = np.empty(len(valid), dtype=np.int64)
    parsed = np.empty(len(valid), dtype=np.bool_)
    _kernels().parse_timestamps(views, data, bases, valid, out, parsed)
    return out, parsed


def fix_timestamp(text: bytes) -> int | None:
    """Epoch ns of one FIX UTCTimestamp by the rule of ``parse_timestamps`` (exact, valid,
    from 1970 on), else None: the compiled parser called once (0.7 us, against 4.4 for
    ``datetime.strptime``)."""
    ns = int(_kernels().timestamp(np.frombuffer(text, dtype=np.uint8), 0, len(text)))
    return ns if ns >= 0 else None
