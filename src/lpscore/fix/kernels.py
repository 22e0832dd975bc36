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

Byte values below: SOH 1, LF 10, ``=`` 61, ``0``-``9`` 48-57, ``.`` 46, ``-`` 45, ``:`` 58.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.core.base import BaseContext
from numba.core.typing.templates import Signature
from numba.extending import intrinsic

__all__ = ["frames", "match_prefix", "newlines", "parse_timestamps", "scan", "views"]

_JIT: Any = numba.njit(cache=True, nogil=True)
_BARE: Any = numba.njit(cache=True, nogil=True, _nrt=False)  # type: ignore[call-overload]
"""For a loop that allocates nothing (its caller hands it any scratch) and calls inlined
functions with arrays: compiled without numba's runtime, so without reference counting.
With it, each inlined call took a reference on every array it was given and dropped them
after (some two dozen calls of the runtime a message in ``scan``, each with a
``vzeroupper``): the issue-2 scan of 1M messages took 0.74 s, 0.34 s without. (``_nrt`` is
numba's own flag, the one its tests use; its type stubs do not list it.)"""
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
_LOW32 = np.uint64(0xFFFFFFFF)
_ALL_BYTES = np.uint64(0xFFFFFFFFFFFFFFFF)
_EVEN_BYTES = np.uint64(0x00FF00FF00FF00FF)
_EVEN_PAIRS = np.uint64(0x0000FFFF0000FFFF)
_HIGH_BITS = np.uint64(0x8080808080808080)
_LOW7_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)
_LF = 10
_LF_BYTES = np.uint64(0x0A0A0A0A0A0A0A0A)
_DIGIT_BYTES = np.uint64(0x3030303030303030)
_DIGIT_LIMIT = np.uint64(0x7676767676767676)  # + a digit's value (0-9) stays below 0x80


def _load_word(typingctx: object, buf: types.Type, at: types.Type,
               ) -> tuple[Signature, Callable[..., ir.Value]]:
    """``_load(buf, at)``: the 8 bytes of ``buf[at:at + 8]`` as one little-endian word, in a
    single unaligned load (the caller keeps it inside the buffer). NumPy cannot view a byte
    array as words at any offset; shifting them out of the aligned words under them takes
    several steps more."""
    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: list[ir.Value]) -> ir.Value:
        make_array: Callable[[types.Type], Callable[..., Any]] = context.make_array
        array = make_array(signature.args[0])(context, builder, args[0])
        address = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(address, ir.IntType(64).as_pointer()), align=1)
    return types.uint64(buf, types.intp), codegen


_load: Any = intrinsic(_load_word)


def _store_word(typingctx: object, address: types.Type, value: types.Type,
                ) -> tuple[Signature, Callable[..., ir.Value]]:
    """``_store(address, value)``: write the word ``value`` at memory address ``address``
    (8-byte aligned, in an array the caller keeps alive); gives ``value`` back."""
    def codegen(context: BaseContext, builder: ir.IRBuilder, signature: Signature,
                args: list[ir.Value]) -> ir.Value:
        builder.store(args[1], builder.inttoptr(args[0], ir.IntType(64).as_pointer()), align=8)
        return args[1]
    return types.uint64(types.int64, types.uint64), codegen


_store: Any = intrinsic(_store_word)


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


def _soh(buf: U8, p: int, end: int) -> int:
    """The first SOH in ``buf[p:end]``, or -1."""
    while p < end:
        if buf[p] == _SOH:
            return p
        p += 1
    return -1


def _frame(buf: U8, start: int, end: int) -> tuple[int, int]:
    """Check the frame of ``buf[start:end]``: ``8=`` a BeginString, ``9=`` a BodyLength, and
    exactly where that BodyLength puts it, ``10=`` three digits and the last SOH at
    ``end - 1``. Returns (where the trailer ``10=`` starts, the CheckSum it gives), or -1 and 0.

    Why first: the trailer found from the BodyLength bounds the fields before any is read,
    with an SOH just before it, so the field loops need no bounds check (they stop at that
    SOH) and the CheckSum is one sum over the bytes a word at a time (``_byte_sum``), not a
    running sum in the field loops. A message passes only if its fields also split at SOHs
    into well-formed ``TAG=VALUE`` up to ``end`` (``_message``): then the trailer is its last
    field, with the BodyLength and CheckSum lpscore.fix.codec.decode checks."""
    if end - start < 5 or buf[start] != 56 or buf[start + 1] != _EQUALS:  # 8=
        return -1, 0
    begin_end = _soh(buf, start + 2, end)
    if begin_end < 0 or not _is_begin_string(buf, start + 2, begin_end):
        return -1, 0
    p = begin_end + 1
    if end - p < 3 or buf[p] != 57 or buf[p + 1] != _EQUALS:  # 9=
        return -1, 0
    length_end = _soh(buf, p + 2, end)
    body_length = _digits(buf, p + 2, length_end, 9) if length_end >= 0 else -1
    if body_length < 0:
        return -1, 0
    trailer = length_end + 1 + body_length
    if trailer + 7 != end or buf[trailer - 1] != _SOH or buf[trailer] != 49 or (
            buf[trailer + 1] != _ZERO or buf[trailer + 2] != _EQUALS or buf[end - 1] != _SOH):
        return -1, 0
    return trailer, _digits(buf, trailer + 3, end - 1, 3)


def _lanes(word: np.uint64) -> np.uint64:
    """The 8 bytes of ``word`` summed pairwise into four 16-bit lanes."""
    return (word & _EVEN_BYTES) + ((word >> np.uint64(8)) & _EVEN_BYTES)


def _fold(lanes: np.uint64) -> int:
    """The sum of four 16-bit lanes."""
    pairs = (lanes & _EVEN_PAIRS) + ((lanes >> np.uint64(16)) & _EVEN_PAIRS)
    return int((pairs & _LOW32) + (pairs >> np.uint64(32)))


def _byte_sum(buf: U8, words: U64, offset: int, start: int, end: int) -> tuple[int, bool]:
    """The sum of ``buf[start:end]`` and whether a byte is >= 0x80. ``words``: the buffer as
    aligned words, word ``j`` holding bytes ``offset + 8 * j`` on.

    Why words: summed a byte at a time, the ~270 bytes of a message took 0.14 s a million
    messages (LLVM does not vectorise the short loop), a word at a time (the two partial
    words masked, 16-bit lanes folded every 64 words, before they can overflow) 0.04 s."""
    s, e = start - offset, end - offset
    if s < 0 or e + 8 > 8 * words.shape[0] or e - s < 16:  # at the buffer's edges; short
        return _byte_sum_bytes(buf, start, end)
    j, last_word = (s >> 3) + 1, e >> 3  # bytes [8 * last_word, e) are in words[last_word]
    first = words[j - 1] & (_ALL_BYTES << np.uint64(8 * (s & 7)))
    last = words[last_word] & ((np.uint64(1) << np.uint64(8 * (e & 7))) - np.uint64(1))
    lanes = _lanes(first) + _lanes(last)
    bits64 = first | last
    total = 0
    while j < last_word:
        stop = min(j + 64, last_word)
        for k in range(j, stop):
            lanes += _lanes(words[k])
            bits64 |= words[k]
        total += _fold(lanes)
        lanes = np.uint64(0)
        j = stop
    return total + _fold(lanes), (bits64 & _HIGH_BITS) != np.uint64(0)


def _byte_sum_bytes(buf: U8, start: int, end: int) -> tuple[int, bool]:
    """``_byte_sum`` a byte at a time."""
    total = 0
    bits = 0
    for p in range(start, end):
        total += buf[p]
        bits |= buf[p]
    return total, bits >= 0x80


def _tag(buf: U8, p: int) -> tuple[int, int]:
    """The ``TAG=`` at ``p``: (tag, where its value starts); tag -1 unless 1-9 digits without
    a leading zero, then ``=``. Reads no further than the next SOH (``_frame``'s bound)."""
    tag = 0
    n_digits = 0
    while True:
        b = buf[p]
        if b == _EQUALS:
            break
        if b < _ZERO or b > _NINE or (n_digits == 0 and b == _ZERO) or (
                n_digits == _MAX_TAG_DIGITS):
            return -1, p
        tag = tag * 10 + (b - _ZERO)
        n_digits += 1
        p += 1
    return (tag if n_digits else -1), p + 1


def _view(buf: U8, start: int, end: int, base: int) -> tuple[np.uint64, np.uint64]:
    """The Arrow string view of ``buf[start:end]``: the length, then the bytes inline up to 12,
    else the first 4 bytes and the offset from ``base`` in data buffer 0.

    The bytes come as two unaligned words (``_load_within``) masked to the length: a byte
    loop (up to 12, as long as the value) mispredicts its end in most values (~0.15 s a
    million messages), and shifting the words out of the aligned ones under them took ~0.2 s
    more than these two loads."""
    n = end - start
    head = np.uint64(n) | ((_load_within(buf, start) & _byte_mask(min(n, 4))) << np.uint64(32))
    if n > _INLINE:
        return head, np.uint64(start - base) << np.uint64(32)
    return head, _load_within(buf, start + 4) & _byte_mask(max(n - 4, 0))


def _load_within(buf: U8, at: int) -> np.uint64:
    """``_load(buf, at)`` for any ``at`` inside ``buf``, which holds a word at least (as any
    buffer holding a message does): bytes past its end read as zeros.

    Why not a test of ``at`` and a byte loop near the end: that test, once a value, made the
    scan of 1M messages ~0.2 s slower (as would a test of the buffer's length with a byte
    loop: the compiler optimises the field loop less with either); a load moved back from
    the end and shifted costs a ``min``."""
    within = min(at, buf.shape[0] - 8)
    word: np.uint64 = _load(buf, within)
    return word >> np.uint64(8 * min(at - within, 7))


def _byte_mask(n: int) -> np.uint64:
    """Ones in the low ``n`` bytes (0 to 8) of a word."""
    half = np.uint64(4 * n)
    return ((np.uint64(1) << half) << half) - np.uint64(1)


def _view_bytes(buf: U8, start: int, end: int, base: int) -> tuple[np.uint64, np.uint64]:
    """``_view`` a byte at a time."""
    n = end - start
    head = np.uint64(n)
    tail = np.uint64(0)
    for k in range(min(n, 4)):
        head |= np.uint64(buf[start + k]) << np.uint64(32 + 8 * k)
    if n > _INLINE:
        tail = np.uint64(start - base) << np.uint64(32)
    else:
        for k in range(4, n):
            tail |= np.uint64(buf[start + k]) << np.uint64(8 * (k - 4))
    return head, tail


def _high(buf: U8, start: int, end: int) -> bool:
    """Whether a byte of ``buf[start:end]`` is >= 0x80."""
    bits = 0
    for p in range(start, end):
        bits |= buf[p]
    return bits >= 0x80


def _message(buf: U8, words: tuple[U64, int], start: int, end: int, column_of: I16,
             time_of: I16, base: int, row: int, out: tuple[I64, I64, I64, Bool, I64],
             written: I16, written_high: Bool, positions: bool) -> tuple[bool, int, bool]:
    """Validate ``buf[start:end]`` as lpscore.fix.codec.decode does with ``lenient=False``
    and record the first value of each wanted tag in output row ``row`` (``out``: starts and
    ends when ``positions``, the view columns' addresses, present, times; see ``_scan``).
    Returns (passed, how many columns it wrote, listed in ``written``, whether a byte of
    the message is >= 0x80: then ``written_high[k]`` says whether the value of column
    ``written[k]`` has one); a failing message leaves the precise codec to decide, with its
    reason (its row is cleared, ``_clear``, and taken by the next message)."""
    trailer, checksum = _frame(buf, start, end)
    if trailer < 0:
        return False, 0, False
    total, any_high = _byte_sum(buf, words[0], words[1], start, trailer)
    if total % 256 != checksum:
        return False, 0, False
    value_start, value_end, view_at, present, times = out
    p = start
    n_fields = 0
    n_written = 0
    while p < end:  # every field ends with an SOH: the loops stop at it, before end
        tag, v_start = _tag(buf, p)
        if tag < 0 or (n_fields == 2 and tag != 35):
            return False, n_written, any_high
        v_end = v_start
        while buf[v_end] != _SOH:
            v_end += 1
        p = v_end + 1
        n_fields += 1
        c = column_of[tag] if tag < column_of.shape[0] else -1
        if c < 0 or present[c, row]:
            continue
        if positions:
            value_start[c, row] = v_start
            value_end[c, row] = v_end
        head, tail = _view(buf, v_start, v_end, base)
        _store(view_at[c] + 16 * row, head)
        _store(view_at[c] + 16 * row + 8, tail)
        present[c, row] = True
        if any_high:
            written_high[n_written] = _high(buf, v_start, v_end)
        t = time_of[c]
        if t >= 0:
            times[t, row] = max(_timestamp(buf, v_start, v_end - v_start), -1)
        written[n_written] = c
        n_written += 1
    return n_fields >= 4, n_written, any_high  # 8, 9, 35 (third) and the trailer at least


def _scan(buf: U8, words: U64, offset: int, starts: I64, ends: I64, column_of: I16,
          time_of: I16, positions: bool, value_start: I64, value_end: I64, view_at: I64,
          present: Bool, high: Bool, times: I64, ok: Bool, scratch: tuple[I16, Bool]) -> int:
    """Scan each message; the passing ones take the output rows in order. Returns how many
    passed. ``words``: ``buf`` as aligned words from ``offset`` (see ``_byte_sum``).

    Output, for wanted tag ``c`` (``column_of[tag]``) and passing message ``row``, each
    array prepared by the caller: at address ``view_at[c] + 16 * row`` (in an (n, 2) uint64
    array per column, zeroed: an absent value's view is zero), the Arrow string view of its
    first value (offsets from the first message's start); ``present[c, row]`` (zeroed);
    ``high[c]``, whether the value of some passing message has a byte >= 0x80 (filled with
    False); for the tags read as times (``time_of[c] = t >= 0``), ``times[t, row]``, the
    epoch ns of the value when ``_timestamp`` parses it to a time from 1970 on (as
    ``_parse_timestamps``), else -1 (filled with -1); and only when
    ``positions``, ``value_start[c, row]``/``value_end[c, row]``, the value's byte range
    (filled with -1).

    Each message writes its values where they go in the columns: ~20 columns, each
    advancing 16 bytes a message, streams the caches take well. Columns no message holds
    are never written, so their zeroed pages are never touched. There is one array of views
    per column, so that each can be freed on its own; they are written through their
    addresses, not through a numba typed list of the arrays looked up at every value (which
    takes a reference on the array it gives). ``scratch``: two arrays with an item per wanted
    column, for ``_message``'s lists of the columns it wrote (``_BARE``: this loop allocates
    nothing)."""
    written, written_high = scratch
    out = (value_start, value_end, view_at, present, times)
    base = starts[0] if starts.shape[0] else 0
    row = 0
    for i in range(starts.shape[0]):
        passed, n_written, any_high = _message(
            buf, (words, offset), starts[i], ends[i], column_of, time_of, base, row, out,
            written, written_high, positions)
        ok[i] = passed
        if passed:
            row += 1
            if any_high:     # only a passing message's values flag their columns
                for k in range(n_written):
                    high[written[k]] |= written_high[k]
        else:
            _clear(out, row, written[:n_written], time_of, positions)
    return row


def _clear(out: tuple[I64, I64, I64, Bool, I64], row: int, columns: I16, time_of: I16,
           positions: bool) -> None:
    """Undo what a failing message wrote to row ``row``."""
    value_start, value_end, view_at, present, times = out
    for c in columns:
        if positions:
            value_start[c, row] = -1
            value_end[c, row] = -1
        _store(view_at[c] + 16 * row, np.uint64(0))
        _store(view_at[c] + 16 * row + 8, np.uint64(0))
        present[c, row] = False
        if time_of[c] >= 0:
            times[time_of[c], row] = -1


def _views(buf: U8, base: int, start: I64, end: I64, view: U64, present: Bool,
           times: I64) -> None:
    """The Arrow string view (``_view``; a byte at a time in a buffer shorter than a word) of
    each ``buf[start[i]:end[i]]`` into ``view[i]``; zero, and ``present[i]`` False, where
    start is -1. When ``times`` has room, also each value's ``_timestamp`` (-1: not one, or
    before 1970, as in ``_parse_timestamps``), while its bytes are in cache."""
    parse = times.shape[0] > 0
    words = buf.shape[0] >= 8  # _view reads whole words
    for i in range(start.shape[0]):
        s = start[i]
        present[i] = s >= 0
        head = np.uint64(0)
        tail = np.uint64(0)
        if s >= 0 and words:
            head, tail = _view(buf, s, end[i], base)
        elif s >= 0:
            head, tail = _view_bytes(buf, s, end[i], base)
        view[i, 0] = head
        view[i, 1] = tail
        if parse:
            times[i] = max(_timestamp(buf, s, end[i] - s), -1) if s >= 0 else -1


def _newlines(buf: U8, words: U64, offset: int, out: I64) -> int:
    """Write the positions of the LF bytes in ``buf`` to ``out`` while they fit; returns how
    many there are (more than ``out`` holds: call again with room for all).

    A word at a time (``words``: ``buf`` as aligned words from ``offset``), a byte loop only
    in a word holding an LF: one word in ~40 in a log."""
    n = 0
    for p in range(min(offset, buf.shape[0])):
        if buf[p] == _LF:
            if n < out.shape[0]:
                out[n] = p
            n += 1
    for j in range(words.shape[0]):
        x = words[j] ^ _LF_BYTES
        if ~(((x & _LOW7_BITS) + _LOW7_BITS) | x | _LOW7_BITS):  # 0x80 in an LF byte
            at = offset + 8 * j
            for p in range(at, at + 8):
                if buf[p] == _LF:
                    if n < out.shape[0]:
                        out[n] = p
                    n += 1
    for p in range(offset + 8 * words.shape[0], buf.shape[0]):
        if buf[p] == _LF:
            if n < out.shape[0]:
                out[n] = p
            n += 1
    return n


def _find(buf: U8, pattern: U8, start: int) -> int:
    """Where ``pattern`` first occurs in ``buf`` at or after ``start``; -1 if nowhere."""
    m = len(pattern)
    first = pattern[0]
    for i in range(max(start, 0), len(buf) - m + 1):
        if buf[i] == first:
            j = 1
            while j < m and buf[i + j] == pattern[j]:
                j += 1
            if j == m:
                return i
    return -1


def _frames(buf: U8, begin: U8, trailer: U8, starts: I64, ends: I64, message: Bool
            ) -> tuple[int, int]:
    """Frame a raw SOH stream exactly as lpscore.fix.codec.FixStreamParser does: a message
    from each ``8=FIX`` to the end its BodyLength gives when a CheckSum field is there, else
    to the next ``<SOH>10=nnn<SOH>``; the bytes before a ``8=FIX`` are a record of their
    own. ``begin`` is ``8=FIX``, ``trailer`` ``<SOH>10=``. Writes each record's bounds (and
    whether it is a message) while they fit in the outputs; returns how many records there
    are and where the bytes no record took (a message cut short) start."""
    n = len(buf)
    k = 0
    p = 0
    while True:
        start = _find(buf, begin, p)
        if start < 0:
            break
        end = start
        is_message = False
        if start == p:
            end = -1
            first = _soh(buf, p, n)
            if 0 <= first < n - 2 and buf[first + 1] == 57 and buf[first + 2] == _EQUALS:
                second = _soh(buf, first + 1, n)
                digits = second - first - 3
                if second >= 0 and 0 < digits <= 15:
                    body = 0
                    for i in range(first + 3, second):
                        c = buf[i]
                        if c < _ZERO or c > _NINE:
                            body = -1
                            break
                        body = body * 10 + (c - _ZERO)
                    e = second + 8 + body
                    if (body >= 0 and e <= n and buf[e - 8] == _SOH and buf[e - 7] == 49
                            and buf[e - 6] == _ZERO and buf[e - 5] == _EQUALS
                            and buf[e - 1] == _SOH):
                        end = e
            if end < 0:
                at = _find(buf, trailer, p + 5)
                if at < 0 or n < at + 8:
                    break
                end = at + 8
            is_message = True
        if k < len(starts):
            starts[k] = p
            ends[k] = end
            message[k] = is_message
        k += 1
        p = end
    return k, p


def _match_prefix(buf: U8, starts: I64, ends: I64, template: U8) -> Bool:
    """Lines longer than ``len(template) + 20`` whose first bytes have ``template``'s layout
    (a digit where it has a digit, the same byte elsewhere), then ``8=FIX``.

    A word at a time (``_layout``): the fixed bytes compared under a mask, the digits checked
    together (SWAR), not a branch per byte (0.03 s a million lines)."""
    fixed, fixed_mask, digit_mask = _layout(template)
    message_at = template.shape[0]
    ok = np.zeros(starts.shape[0], dtype=np.bool_)
    for i in range(starts.shape[0]):
        s = starts[i]
        good = ends[i] - s > message_at + 20  # then the words read lie inside the line
        k = 0
        while good and k < fixed.shape[0]:
            word = _load(buf, s + 8 * k)
            digits = (word & digit_mask[k]) - (_DIGIT_BYTES & digit_mask[k])
            good = (word & fixed_mask[k]) == fixed[k] and (
                (digits | (digits + _DIGIT_LIMIT)) & _HIGH_BITS & digit_mask[k]) == 0
            k += 1
        ok[i] = good
    return ok


def _layout(template: U8) -> tuple[U64, U64, U64]:
    """``template`` then ``8=FIX``, as words: the bytes that must be equal (and their mask),
    and the mask of the bytes that must be digits (where the template has one)."""
    message_at = template.shape[0]
    pattern = np.zeros(message_at + 5, dtype=np.uint8)
    pattern[:message_at] = template
    pattern[message_at:] = np.array([56, 61, 70, 73, 88], dtype=np.uint8)  # 8=FIX
    n_words = (pattern.shape[0] + 7) // 8
    fixed = np.zeros(n_words, dtype=np.uint64)
    fixed_mask = np.zeros(n_words, dtype=np.uint64)
    digit_mask = np.zeros(n_words, dtype=np.uint64)
    for p in range(pattern.shape[0]):
        shift = np.uint64(8 * (p % 8))
        if p < message_at and _ZERO <= pattern[p] <= _NINE:
            digit_mask[p // 8] |= np.uint64(0xFF) << shift
        else:
            fixed[p // 8] |= np.uint64(pattern[p]) << shift
            fixed_mask[p // 8] |= np.uint64(0xFF) << shift
    return fixed, fixed_mask, digit_mask


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
_days_from_civil = _INLINED(_days_from_civil)
_timestamp = _JIT(_timestamp)
_is_begin_string = _INLINED(_is_begin_string)
_soh = _INLINED(_soh)
_frame = _JIT(_frame)
_lanes = _INLINED(_lanes)
_fold = _INLINED(_fold)
_byte_sum_bytes = _JIT(_byte_sum_bytes)
_byte_sum = _JIT(_byte_sum)
_tag = _INLINED(_tag)
_byte_mask = _INLINED(_byte_mask)
_view_bytes = _JIT(_view_bytes)
_load_within = _INLINED(_load_within)
_view = _INLINED(_view)
_high = _INLINED(_high)
_message = _INLINED(_message)
_clear = _JIT(_clear)
scan = _BARE(_scan)
views = _JIT(_views)
_layout = _JIT(_layout)
match_prefix = _JIT(_match_prefix)
newlines = _JIT(_newlines)
_find = _INLINED(_find)
frames = _JIT(_frames)
_view_at = _INLINED(_view_at)
parse_timestamps = _JIT(_parse_timestamps)
timestamp = _timestamp
