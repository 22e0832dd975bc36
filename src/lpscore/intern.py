"""String columns numbered by value, in one compiled pass over their Arrow string views.

    codes, first = intern(series)            # codes[i]: -1 for null, else the value's number
    pairs, first = intern(series, within=group_codes)   # numbers (group, value) pairs
    sorted_values, codes = sorted_codes(series)   # numbered in sorted order, as an Enum would

Why: the KPI engine keys its lookups by strings (a quote's symbol; an event's session and
ClOrdID). Polars turns strings into integers by hashing them in a group-by, a join or an
Enum cast: the 20M quote symbols of the issue-3 benchmark took 0.6 s (``unique().sort()``,
then the cast), the as-of join of 3.4M events on (session, ClOrdID) 1.1 s. A value of up to
12 bytes is held whole in its 16-byte Arrow view, so a table keyed by the two 64-bit words of
the view numbers it without reading any string data (symbols: ~0.3 s); longer values are
hashed and compared byte by byte, and a view seen before in the same chunk (the same bytes)
is not read again (sessions). The chunks of the series are read where they lie: no rechunk,
no copy of the views (``Series.to_arrow`` of a chunked series rechunks it in place).

Exact: two values get the same number if and only if their bytes (and groups) are equal:
the table compares every candidate in full, a hash only picks the slot. Values are numbered
in order of first appearance; ``first`` is the row where each first appears.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

__all__ = ["intern", "sorted_codes", "string_buffers"]

_JIT: Any = numba.njit(cache=True, nogil=True)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]

_INLINE = 12  # Arrow string views hold values up to 12 bytes themselves
_SEEN = 256  # long values remembered by their view, per chunk
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


def _mix(h: np.uint64) -> np.uint64:
    """A 64-bit finaliser (splitmix64): spreads the bits before the slot is masked."""
    h = (h ^ (h >> np.uint64(30))) * _M2
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _words(lo: np.uint64, hi: np.uint64, length: np.int64) -> tuple[np.uint64, np.uint64]:
    """The two words of an inline view with the bytes past the value zeroed (Arrow asks for
    zero padding; masking does not rely on it)."""
    used = 4 + length  # bytes of the view in use: the length, then the value
    if used < 8:
        lo &= (np.uint64(1) << np.uint64(8 * used)) - np.uint64(1)
    if used <= 8:
        hi = np.uint64(0)
    elif used < 16:
        hi &= (np.uint64(1) << np.uint64(8 * (used - 8))) - np.uint64(1)
    return lo, hi


def _intern_rows(view: U64, data: U8, bases: I64, valid: Bool, group: I64, i: int,
                 row0: int, codes: I32, table: U64, heap_at: I64, heap: U8, first: I64,
                 state: I64) -> int:
    """Number the values of one chunk (``view``: n x 2 words; ``data``: its buffers end to
    end, ``bases``: where each starts) from row ``i`` on into ``codes[row0 + i:]``.

    ``table`` is an open-addressing table, one row of four words per slot: the value's
    code + 1 (0: empty) with its group above bit 32, its hash, and its view's two words
    (the bytes past the value zeroed; for a value longer than 12 bytes the second word is
    0 and its bytes are kept in ``heap`` from ``heap_at[code]``); one cache line answers
    most lookups. ``first[code]`` is the row where the value first appears; ``state`` the
    count of values and of heap bytes used. Returns the row where it stopped: ``len(view)``,
    or a row whose new value does not fit (the caller grows the table and calls again: the
    arrays are never replaced inside the loop, which keeps it fast)."""
    mask = table.shape[0] - 1
    count, heap_used = state[0], state[1]
    n = int(view.shape[0])
    # Long values seen in this chunk, by their view: the same view is the same bytes of the
    # same buffer (a column of few long values, such as sessions, repeats a few views).
    seen_key = np.zeros((_SEEN, 3), dtype=np.uint64)
    seen_code = np.full(_SEEN, -1, dtype=np.int64)
    for row in range(i, n):
        g = group[row] if len(group) else 0
        if not valid[row] or g < 0:
            codes[row0 + row] = -1
            continue
        lo, hi = view[row, 0], view[row, 1]
        length = np.int64(lo & np.uint64(0xFFFFFFFF))
        start = np.int64(0)
        seen = np.int64(0)
        if length <= _INLINE:
            lo, hi = _words(lo, hi, length)
            h = _mix((lo * _M1 ^ hi) + np.uint64(g))
        else:
            seen = np.int64(_mix(lo * _M1 ^ hi ^ np.uint64(g)) & np.uint64(_SEEN - 1))
            if (seen_code[seen] >= 0 and seen_key[seen, 0] == lo and seen_key[seen, 1] == hi
                    and seen_key[seen, 2] == np.uint64(g)):
                codes[row0 + row] = seen_code[seen]
                continue
            seen_key[seen, 0], seen_key[seen, 1], seen_key[seen, 2] = lo, hi, np.uint64(g)
            start = bases[np.int64(hi & np.uint64(0xFFFFFFFF))] + np.int64(hi >> np.uint64(32))
            h = _mix(_hash_bytes(data, start, length) + np.uint64(g))
            hi = np.uint64(0)  # long values compare by their bytes
        slot = np.int64(h & np.uint64(mask))
        code = np.int64(-1)
        while table[slot, 0] != 0:
            if (table[slot, 1] == h and table[slot, 2] == lo and table[slot, 3] == hi
                    and np.int64(table[slot, 0] >> np.uint64(32)) == g):
                c = np.int64(table[slot, 0] & np.uint64(0xFFFFFFFF)) - 1
                if length <= _INLINE or _same(heap, heap_at[c], data, start, length):
                    code = c
                    break
            slot = (slot + 1) & mask
        if code < 0:
            long_value = length > _INLINE
            if (2 * (count + 1) > table.shape[0] or count == len(first)
                    or (long_value and heap_used + length > len(heap))):
                state[0], state[1] = count, heap_used
                return row  # no room: the caller grows the table
            code = count
            first[code], heap_at[code] = row0 + row, -1
            if long_value:
                heap[heap_used:heap_used + length] = data[start:start + length]
                heap_at[code] = heap_used
                heap_used += length
            table[slot, 0] = np.uint64(code + 1) | (np.uint64(g) << np.uint64(32))
            table[slot, 1], table[slot, 2], table[slot, 3] = h, lo, hi
            count += 1
        if length > _INLINE:
            seen_code[seen] = code
        codes[row0 + row] = code
    state[0], state[1] = count, heap_used
    return n


def _hash_bytes(data: U8, start: np.int64, length: np.int64) -> np.uint64:
    """A hash of ``data[start:start + length]``, eight bytes at a time."""
    h = np.uint64(length)
    k = 0
    while k + 8 <= length:
        word = np.uint64(0)
        for b in range(8):
            word |= np.uint64(data[start + k + b]) << np.uint64(8 * b)
        h = _mix(h ^ word)
        k += 8
    word = np.uint64(0)
    for b in range(length - k):
        word |= np.uint64(data[start + k + b]) << np.uint64(8 * b)
    return _mix(h ^ word)


def _same(heap: U8, at: np.int64, data: U8, start: np.int64, length: np.int64) -> bool:
    """The value kept at ``heap[at:]`` equals ``data[start:start + length]``."""
    k = 0
    while k < length and heap[at + k] == data[start + k]:
        k += 1
    return k == length


def _grown(table: U64) -> U64:
    """The table with twice the slots, every value re-placed by its hash."""
    size = 2 * table.shape[0]
    new = np.zeros((size, 4), dtype=np.uint64)
    mask = size - 1
    for s in range(table.shape[0]):
        if table[s, 0] != 0:
            slot = np.int64(table[s, 1] & np.uint64(mask))
            while new[slot, 0] != 0:
                slot = (slot + 1) & mask
            new[slot, :] = table[s, :]
    return new


_mix = numba.njit(cache=True, nogil=True, inline="always")(_mix)
_words = numba.njit(cache=True, nogil=True, inline="always")(_words)
_same = numba.njit(cache=True, nogil=True, inline="always")(_same)
_hash_bytes = numba.njit(cache=True, nogil=True, inline="always")(_hash_bytes)
_grown_jit = _JIT(_grown)
_intern_rows_jit = _JIT(_intern_rows)


def string_buffers(values: pl.Series) -> tuple[U64, U8, I64]:
    """The Arrow string views (n x 2 uint64) of a String series, its data buffers end to end
    and where each starts. Nothing is copied for one chunk with one buffer (the rows of the
    FIX scan: the file's bytes; a large_string copy of three timestamp columns took ~0.15 s a
    million rows); several buffers are put end to end."""
    array = values.to_arrow(compat_level=pl.CompatLevel.newest())
    if array.type != pa.string_view():
        array = array.cast(pa.string_view())
    _, views, *buffers = array.buffers()
    parts = [np.frombuffer(b, dtype=np.uint8) if b is not None else np.zeros(0, np.uint8)
             for b in buffers]
    data = parts[0] if len(parts) == 1 else np.concatenate([np.zeros(0, np.uint8), *parts])
    bases = np.cumsum([0, *(len(part) for part in parts[:-1])], dtype=np.int64)
    n = array.offset + len(array)
    rows = (np.zeros((0, 2), np.uint64) if views is None or not n else
            np.frombuffer(views, dtype=np.uint64, count=2 * n).reshape(-1, 2))
    return rows[array.offset:n], data, bases


class _Table:
    """The interning table of ``intern``, grown between calls of the compiled loop."""

    def __init__(self, expected: int) -> None:
        size = 1024
        while size < 2 * expected:
            size *= 2
        self.table = np.zeros((size, 4), dtype=np.uint64)
        self.heap_at, self.first = (np.empty(size // 2, np.int64) for _ in range(2))
        self.heap = np.empty(1024, np.uint8)
        self.state = np.zeros(2, dtype=np.int64)  # values, heap bytes used

    def add(self, chunk: pl.Series, group: I64, row0: int, codes: I32) -> None:
        """Number the values of one chunk (in their ``group``s) into ``codes[row0:]``."""
        view, data, bases = string_buffers(chunk)
        valid = chunk.is_not_null().to_numpy()
        i = 0
        while True:
            i = _intern_rows_jit(view, data, bases, valid, group, i, row0, codes, self.table,
                                 self.heap_at, self.heap, self.first, self.state)
            if i == len(view):
                return
            self._grow(int(view[i, 0] & np.uint64(0xFFFFFFFF)))

    def _grow(self, length: int) -> None:
        """Room for one more value of ``length`` bytes: every full part doubled."""
        count, heap_used = (int(x) for x in self.state)
        if 2 * (count + 1) > len(self.table):
            self.table = _grown_jit(self.table)
        if count == len(self.first):
            self.heap_at = np.concatenate((self.heap_at, np.empty(count, np.int64)))
            self.first = np.concatenate((self.first, np.empty(count, np.int64)))
        if heap_used + length > len(self.heap):
            self.heap = np.concatenate(
                (self.heap, np.empty(len(self.heap) + length, np.uint8)))


def intern(values: pl.Series, within: I32 | None = None, expected: int = 0
           ) -> tuple[I32, I64]:
    """Each row's value numbered in order of first appearance (-1 for null), and the row
    where each value first appears (module docstring). With ``within`` (a group number
    per row, -1 for none), each distinct (group, value) pair is numbered instead, and a
    row without a group gets -1. ``expected``: about how many distinct values there are
    (the table is made that large at once instead of grown step by step).

    A categorical series (without ``within``) is numbered from its physical codes: no
    string is read."""
    if within is None and values.dtype == pl.Categorical:
        return _intern_physical(values.to_physical())
    codes = np.empty(len(values), dtype=np.int32)
    groups = np.zeros(0, np.int64) if within is None else within.astype(np.int64)
    table = _Table(expected)
    row0 = 0
    for chunk in values.cast(pl.String).get_chunks():
        if len(chunk):
            table.add(chunk, groups[row0:row0 + len(chunk)] if len(groups) else groups, row0,
                      codes)
        row0 += len(chunk)
    return codes, table.first[:int(table.state[0])].copy()


def _intern_physical(physical: pl.Series) -> tuple[I32, I64]:
    """``intern`` of the physical codes of a categorical series."""
    raw = physical.fill_null(0).to_numpy() if physical.null_count() else physical.to_numpy()
    valid = (physical.is_not_null().to_numpy() if physical.null_count()
             else np.zeros(0, np.bool_))
    size = int(raw.max()) + 1 if len(raw) else 0
    codes, first, count = _first_seen_jit(raw, valid, size)
    return codes, first[:count].copy()


def _first_seen(raw: npt.NDArray[np.unsignedinteger[Any]], valid: Bool, size: int
                ) -> tuple[I32, I64, int]:
    """Each row's value (< ``size``) numbered in order of first appearance, -1 where
    ``valid`` (when given) is False; the row of each first appearance; how many values."""
    remap = np.full(size, -1, dtype=np.int32)
    codes = np.empty(len(raw), dtype=np.int32)
    first = np.empty(min(size, len(raw)), dtype=np.int64)
    count = 0
    for i in range(len(raw)):
        if len(valid) and not valid[i]:
            codes[i] = -1
            continue
        code = remap[raw[i]]
        if code < 0:
            code = count
            remap[raw[i]] = code
            first[code] = i
            count += 1
        codes[i] = code
    return codes, first, count


_first_seen_jit = _JIT(_first_seen)


def sorted_codes(values: pl.Series) -> tuple[list[str], npt.NDArray[Any]]:
    """The distinct non-null values in sorted order (as ``unique().sort()`` gives them), and
    each row's index among them as the narrowest unsigned integer that holds it (as the
    physical values of a cast to ``pl.Enum`` of them); the caller leaves nulls out."""
    if values.null_count():
        raise ValueError("sorted_codes: leave the nulls out first")
    codes, first = intern(values)
    found: list[str] = values.gather(first).cast(pl.String).to_list()
    order = sorted(range(len(found)), key=found.__getitem__)  # str order = UTF-8 byte order
    rank = np.empty(len(found), dtype=np.min_scalar_type(max(len(found) - 1, 0)))
    rank[order] = np.arange(len(found))
    return [found[i] for i in order], rank[codes]

