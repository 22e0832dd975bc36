"""Compiled loops (numba) behind lpscore.fix.batch: one pass over the bytes per job.

Why compiled: a message is ~30 fields of ~10 bytes. Vectorised NumPy needs some thirty
whole-array passes per field (locating SOHs, reading tags, hashing them, gathering values)
and materialises each; a loop reads every byte once, while it is in cache. On the issue-2
benchmark (benchmarks/RESULTS.md) it splits a log several times faster than the NumPy
scanner it replaced.

Each function is plain Python over NumPy arrays, compiled on first use and cached on disk
(``cache=True``: ``__pycache__`` beside this file), so only the first process after an
install pays for compiling. Import this module lazily, as lpscore.fix.batch does: importing
numba takes a moment.

Byte values below: SOH 1, ``=`` 61, ``0``-``9`` 48-57, ``.`` 46, ``-`` 45, ``:`` 58.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["columns", "match_prefix", "parse_timestamps", "scan", "views"]

_JIT: Any = numba.njit(cache=True, nogil=True)
_INLINED: Any = numba.njit(cache=True, nogil=True, inline="always")
"""For the small functions called per field, per message or per value: inlined by numba
itself (left to LLVM, they stayed calls with tuple results: the issue-2 scan of 1M messages
took 0.74 s for one column with them as calls, 0.52 s inlined)."""

I16 = npt.NDArray[np.int16]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

_SOH, _EQUALS, _ZERO, _NINE = 1, 61, 48, 57
_MAX_TAG_DIGITS = 9  # the precise codec's limit (lpscore.fix.codec.split_fields)
_INLINE = 12  # Arrow string views hold values up to 12 bytes themselves
_TILE = 1024  # messages scanned into rows before they are copied out to columns
_LOW32 = np.uint64(0xFFFFFFFF)


def _digits(buf: U8, start: int, end: int, max_digits: int) -> int:
    """The unsigned number in ``buf[start:end]``; -1 unless 1..max_digits ASCII digits."""
    if end <= start or end - start > max_digits:
        return -1
    value = 0
    for p in range(start, end):
        b = buf[p]
        if b < _ZERO or b > _NINE:
            return -1
        value = value * 10 + (b - _ZERO)
    return value


def _is_begin_string(buf: U8, start: int, end: int) -> bool:
    """``FIX.4.2``, ``FIX.4.4`` or ``FIXT.1.1`` (lpscore.fix.codec.BEGIN_STRINGS)."""
    n = end - start
    fix = n >= 4 and buf[start] == 70 and buf[start + 1] == 73 and buf[start + 2] == 88
    if n == 7:
        return bool(fix and buf[start + 3] == 46 and buf[start + 4] == 52
                    and buf[start + 5] == 46 and (buf[start + 6] == 52 or buf[start + 6] == 50))
    return bool(n == 8 and fix and buf[start + 3] == 84 and buf[start + 4] == 46
                and buf[start + 5] == 49 and buf[start + 6] == 46 and buf[start + 7] == 49)


def _tag(buf: U8, p: int, end: int) -> tuple[int, int, int]:
    """The ``TAG=`` at ``p``: (tag, where its value starts, byte sum of ``TAG=``); tag -1
    unless 1-9 digits without a leading zero, then ``=``, before ``end``."""
    tag = 0
    n_digits = 0
    total = 0
    while p < end:
        b = buf[p]
        if b == _EQUALS:
            break
        if b < _ZERO or b > _NINE or (n_digits == 0 and b == _ZERO) or (
                n_digits == _MAX_TAG_DIGITS):
            return -1, p, 0
        tag = tag * 10 + (b - _ZERO)
        total += b
        n_digits += 1
        p += 1
    if n_digits == 0 or p >= end:
        return -1, p, 0
    return tag, p + 1, total + _EQUALS


def _value(buf: U8, start: int, end: int, base: int,
           view: bool) -> tuple[int, int, bool, np.uint64, np.uint64]:
    """The value at ``start``, up to its SOH: (SOH position or -1 if none before ``end``,
    byte sum with the SOH, a byte >= 0x80 in it, and when ``view``, its Arrow string view:
    the length, then the bytes inline up to 12, else the first 4 bytes and the offset from
    ``base`` in data buffer 0).

    The search loop only sums and ors the bytes (the hot loop: every byte of every field);
    the view is built after it from the value's first bytes, still in cache."""
    total = 0
    bits = 0
    p = start
    while p < end:
        b = buf[p]
        if b == _SOH:
            break
        bits |= b
        total += b
        p += 1
    if p >= end:
        return -1, 0, False, np.uint64(0), np.uint64(0)
    n = p - start
    head = np.uint64(n)
    tail = np.uint64(0)
    if view:
        for k in range(min(n, 4)):
            head |= np.uint64(buf[start + k]) << np.uint64(32 + 8 * k)
        if n > _INLINE:
            tail = np.uint64(start - base) << np.uint64(32)
        else:
            for k in range(4, n):
                tail |= np.uint64(buf[start + k]) << np.uint64(8 * (k - 4))
    return p, total + _SOH, bits >= 0x80, head, tail


def _message(buf: U8, start: int, end: int, column_of: I16, base: int, row: int,
             out: tuple[I64, I64, U64, Bool, Bool], written: I16,
             positions: bool) -> tuple[bool, int]:
    """Validate ``buf[start:end]`` as lpscore.fix.codec.decode does with ``lenient=False``
    and record the first value of each wanted tag in tile row ``row`` (``out``: starts and
    ends when ``positions``, views, present, high; see ``_scan``). Returns (passed, how many
    columns it wrote, listed in ``written``); a failing message leaves the precise codec to
    decide, with its reason."""
    value_start, value_end, view, present, high = out
    p = start
    n_fields = 0
    n_written = 0
    checksum = 0
    body_start = 0
    body_length = -1
    while p < end:
        field_start = p
        tag, v_start, tag_sum = _tag(buf, p, end)
        if tag < 0:
            return False, n_written
        c = column_of[tag] if tag < column_of.shape[0] else -1
        wanted = c >= 0 and not present[row, c]
        v_end, value_sum, v_high, head, tail = _value(buf, v_start, end, base, wanted)
        if v_end < 0:
            return False, n_written
        p = v_end + 1
        if n_fields == 0 and (tag != 8 or not _is_begin_string(buf, v_start, v_end)):
            return False, n_written
        if n_fields == 1:
            body_length = _digits(buf, v_start, v_end, 9) if tag == 9 else -1
            if body_length < 0:
                return False, n_written
            body_start = p
        if n_fields == 2 and tag != 35:
            return False, n_written
        if wanted:
            if positions:
                value_start[row, c] = v_start
                value_end[row, c] = v_end
            view[row, c, 0] = head
            view[row, c, 1] = tail
            present[row, c] = True
            high[row, c] = v_high
            written[n_written] = c
            n_written += 1
        if tag == 10 and p == end:  # the trailer: three digits, the last field
            return (n_fields >= 3 and v_end - v_start == 3
                    and _digits(buf, v_start, v_end, 3) == checksum % 256
                    and body_length == field_start - body_start), n_written
        checksum += tag_sum + value_sum
        n_fields += 1
    return False, n_written


def _scan(buf: U8, starts: I64, ends: I64, column_of: I16, positions: bool,
          value_start: I64, value_end: I64, view: list[U64], present: list[Bool],
          high: Bool, ok: Bool) -> int:
    """Scan each message; the passing ones take the output rows in order. Returns how many
    passed.

    Output, for wanted tag ``c`` (``column_of[tag]``) and passing message ``row``:
    ``view[c][row]``, the Arrow string view of its first value (zero: absent; offsets from
    the first message's start); ``present[c][row]``; ``high[c]``, whether some value has a
    byte >= 0x80 (the caller fills ``high`` with False); and only when ``positions``,
    ``value_start[c, row]``/``value_end[c, row]``, the value's byte range (-1: absent).
    ``view`` and ``present`` are lists of one array per column (numba typed lists), so that
    each column can be freed on its own.

    Columns, because Arrow wants them; but one message writes ~20 of them at once, so a
    tile of messages is scanned into rows (a block that stays in cache; a failing
    message's row is cleared and reused) and copied out column by column when full.
    """
    n_columns = len(view)
    n_positions = n_columns if positions else 0
    tile = (np.full((_TILE, n_positions), -1, dtype=np.int64),
            np.full((_TILE, n_positions), -1, dtype=np.int64),
            np.zeros((_TILE, n_columns, 2), dtype=np.uint64),
            np.zeros((_TILE, n_columns), dtype=np.bool_),
            np.zeros((_TILE, n_columns), dtype=np.bool_))
    written = np.empty(n_columns, dtype=np.int16)
    base = starts[0] if starts.shape[0] else 0
    rows = 0  # passing messages copied out
    row = 0  # passing messages in the tile
    for i in range(starts.shape[0]):
        passed, n_written = _message(buf, starts[i], ends[i], column_of, base, row, tile,
                                     written, positions)
        ok[i] = passed
        if not passed:
            _clear(tile, row, written[:n_written], positions)
            continue
        row += 1
        if row == _TILE:
            _copy_out(tile, row, rows, (value_start, value_end, view, present, high),
                      positions)
            rows += row
            row = 0
    _copy_out(tile, row, rows, (value_start, value_end, view, present, high), positions)
    return rows + row


def _clear(tile: tuple[I64, I64, U64, Bool, Bool], row: int, columns: I16,
           positions: bool) -> None:
    """Undo what a failing message wrote to tile row ``row``."""
    for c in columns:
        if positions:
            tile[0][row, c] = -1
            tile[1][row, c] = -1
        tile[2][row, c, 0] = 0
        tile[2][row, c, 1] = 0
        tile[3][row, c] = False
        tile[4][row, c] = False


def _copy_out(tile: tuple[I64, I64, U64, Bool, Bool], n: int, at: int,
              out: tuple[I64, I64, list[U64], list[Bool], Bool], positions: bool) -> None:
    """The first ``n`` rows of the tile into the columns ``out`` from row ``at`` (``high``
    is or-ed over the rows); clears them."""
    t_start, t_end, t_view, t_present, t_high = tile
    value_start, value_end, views, presents, high = out
    for c in range(t_view.shape[1]):
        view = views[c]
        present = presents[c]
        for row in range(n):
            view[at + row, 0] = t_view[row, c, 0]
            view[at + row, 1] = t_view[row, c, 1]
            present[at + row] = t_present[row, c]
            high[c] |= t_high[row, c]
        if positions:
            for row in range(n):
                value_start[c, at + row] = t_start[row, c]
                value_end[c, at + row] = t_end[row, c]
    t_start[:n] = -1
    t_end[:n] = -1
    t_view[:n] = 0
    t_present[:n] = False
    t_high[:n] = False


def _views(buf: U8, base: int, start: I64, end: I64, view: U64, present: Bool) -> None:
    """The Arrow string view (see ``_value``) of each ``buf[start[i]:end[i]]`` into
    ``view[i]``; zero, and ``present[i]`` False, where start is -1."""
    for i in range(start.shape[0]):
        s = start[i]
        present[i] = s >= 0
        head = np.uint64(0)
        tail = np.uint64(0)
        if s >= 0:
            n = end[i] - s
            for k in range(min(n, _INLINE)):
                if k < 4:
                    head |= np.uint64(buf[s + k]) << np.uint64(32 + 8 * k)
                else:
                    tail |= np.uint64(buf[s + k]) << np.uint64(8 * (k - 4))
            head |= np.uint64(n)
            if n > _INLINE:
                tail = np.uint64(s - base) << np.uint64(32)
        view[i, 0] = head
        view[i, 1] = tail


def _match_prefix(buf: U8, starts: I64, ends: I64, template: U8, message_at: int) -> Bool:
    """Lines longer than ``message_at + 20`` whose first bytes have ``template``'s layout (a
    digit where it has a digit, the same byte elsewhere), then ``8=FIX``."""
    ok = np.zeros(starts.shape[0], dtype=np.bool_)
    begin = np.array([56, 61, 70, 73, 88], dtype=np.uint8)  # 8=FIX
    for i in range(starts.shape[0]):
        s = starts[i]
        good = ends[i] - s > message_at + 20
        for k in range(template.shape[0]):
            if not good:
                break
            b, want = buf[s + k], template[k]
            good = _ZERO <= b <= _NINE if _ZERO <= want <= _NINE else b == want
        for k in range(5):
            good = good and buf[s + message_at + k] == begin[k]
        ok[i] = good
    return ok


def columns(arrays: list[npt.NDArray[Any]]) -> object:
    """``arrays`` as a numba typed list, for ``scan``'s per-column outputs."""
    typed = numba.typed.List()
    for array in arrays:
        typed.append(array)
    return typed


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _timestamp(data: U8, s: int, n: int) -> int:
    """Epoch ns of ``YYYYMMDD-HH:MM:SS[.f{1,9}]`` at ``data[s:s+n]``; -1 unless it is exactly
    that, in years 1900-2199, with a valid date and time (no leap second)."""
    if n < 17 or n == 18 or n > 27 or data[s + 8] != 45 or data[s + 11] != 58 or (
            data[s + 14] != 58) or (n > 17 and data[s + 17] != 46):
        return -1
    year = _digits(data, s, s + 4, 4)
    month = _digits(data, s + 4, s + 6, 2)
    day = _digits(data, s + 6, s + 8, 2)
    hour = _digits(data, s + 9, s + 11, 2)
    minute = _digits(data, s + 12, s + 14, 2)
    second = _digits(data, s + 15, s + 17, 2)
    fraction = _digits(data, s + 18, s + n, 9) if n > 17 else 0
    if min(year, month, day, hour, minute, second, fraction) < 0:
        return -1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month_days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (1900 <= year <= 2199 and 1 <= month <= 12 and 1 <= day <= month_days[month - 1]
            and hour <= 23 and minute <= 59 and second <= 59):
        return -1
    for _ in range(27 - n):  # left-aligned: ".5" is 500 ms
        fraction *= 10
    seconds = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    return seconds * 1_000_000_000 + fraction


def _view_at(view: U64, bases: I64, i: int) -> int:
    """Where the bytes of out-of-line view ``i`` start in ``data``: the array's data buffers
    laid end to end, buffer ``b`` from ``bases[b]``."""
    return int(bases[int(view[i, 1] & _LOW32)]) + int(view[i, 1] >> np.uint64(32))


def _parse_timestamps(view: U64, data: U8, bases: I64, valid: Bool, out: I64,
                      parsed: Bool) -> None:
    """``_timestamp`` of each valid Arrow string view (see ``_view_at``; a value of 12 bytes
    or less is inline, never a timestamp: -1)."""
    for i in range(out.shape[0]):
        out[i] = -1
        n = int(view[i, 0] & _LOW32)
        if valid[i] and n > _INLINE:
            out[i] = _timestamp(data, _view_at(view, bases, i), n)
        parsed[i] = out[i] >= 0


# Compiled in dependency order; a compiled function calls the others compiled.
_digits = _INLINED(_digits)
_is_begin_string = _INLINED(_is_begin_string)
_tag = _INLINED(_tag)
_value = _INLINED(_value)
_message = _INLINED(_message)
_clear = _JIT(_clear)
_copy_out = _JIT(_copy_out)
scan = _JIT(_scan)
views = _JIT(_views)
match_prefix = _JIT(_match_prefix)
_days_from_civil = _INLINED(_days_from_civil)
_timestamp = _INLINED(_timestamp)
_view_at = _INLINED(_view_at)
parse_timestamps = _JIT(_parse_timestamps)
