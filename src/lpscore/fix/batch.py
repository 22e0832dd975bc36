"""Vectorised FIX scanning: many well-formed messages in one buffer, validated and split into
string columns without a Python loop per message.

The caller gives the buffer (padded with at least 8 zero bytes) and each message's
``[start, end)``. A message passes the fast path when it has the standard frame: fields
8, 9, 35 first, 10 last with three digits, a right BodyLength and a right CheckSum. Everything
else is reported back (``ok`` False) for the precise codec (lpscore.fix.codec) to decode or
quarantine with an exact reason, so both paths give the same events by construction.

How a field's tag is read without parsing it: the 8 bytes at the field's start are loaded as
one little-endian uint64; the first ``=`` byte is located with the zero-byte bit trick; the
bytes before it, masked, form a key that is unique per tag string ("35" -> 0x3533). Wanted
keys are found through a small perfect-hash table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["PAD", "BatchScan", "byte_words", "pad_buffer", "scan_messages", "strings_from_ranges"]

PAD = 8
_T = TypeVar("_T", bound=np.generic)
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_EQUALS = np.uint64(0x3D3D3D3D3D3D3D3D)
_ABOVE_2F = np.uint64(0x5050505050505050)  # b + 0x50 has its high bit set iff b >= 0x30
_ABOVE_39 = np.uint64(0x4646464646464646)  # b + 0x46 has its high bit set iff b > 0x39
_HASH_BITS = 16
_SOH = 1

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]
U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]


def pad_buffer(data: bytes) -> U8:
    """The bytes as a uint8 array with PAD zero bytes after them (scans read 8 bytes ahead)."""
    out = np.zeros(len(data) + PAD, dtype=np.uint8)
    out[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def _tag_key(tag: int) -> int:
    return int.from_bytes(str(tag).encode(), "little")


def byte_words(buf: U8) -> U64:
    """A view giving, at every byte position, the 8 bytes starting there as a uint64."""
    return np.ndarray(shape=(len(buf) - PAD + 1,), dtype="<u8", buffer=buf.data, strides=(1,))


def _field_keys(words: U64, starts: I64) -> tuple[U64, Bool]:
    """Masked tag bytes of the fields starting at ``starts`` (see the module docstring), and
    whether each tag is well formed: 1 to 7 digits, no leading zero, then ``=``."""
    w = words[starts]
    x = w ^ _EQUALS
    t = (x - _ONES) & ~x & _HIGHS
    low = t & (~t + np.uint64(1))
    region = (low >> np.uint64(7)) - np.uint64(1)
    key = w & region
    high = region & _HIGHS
    digits = ((key & high) == 0) & (((key + _ABOVE_2F) & high) == high)
    digits &= ((key + _ABOVE_39) & high) == 0
    well_formed = (t != 0) & (low != np.uint64(0x80)) & digits & ((key & np.uint64(0xFF)) != 0x30)
    return key, well_formed


@dataclass(frozen=True)
class _TagHash:
    """A collision-free hash of the wanted tag keys into a 2**16 table."""

    multiplier: np.uint64
    slot_key: U64
    slot_col: npt.NDArray[np.int16]

    @classmethod
    def build(cls, tags: Sequence[int]) -> _TagHash:
        keys = [_tag_key(t) for t in tags]
        size = 1 << _HASH_BITS
        for seed in range(1, 10_000):
            mult = np.uint64((0x9E3779B97F4A7C15 * seed) & 0xFFFFFFFFFFFFFFFF | 1)
            slots = _slots(np.array(keys, dtype=np.uint64), mult)
            if len(set(slots.tolist())) == len(keys) and 0 not in slots.tolist():
                slot_key = np.zeros(size, dtype=np.uint64)
                slot_col = np.full(size, -1, dtype=np.int16)
                slot_key[slots] = keys
                slot_col[slots] = np.arange(len(keys), dtype=np.int16)
                return cls(mult, slot_key, slot_col)
        raise AssertionError("no collision-free multiplier found")  # pragma: no cover

    def columns(self, keys: U64) -> npt.NDArray[np.int16]:
        slots = _slots(keys, self.multiplier)
        cols = self.slot_col[slots]
        return np.where(self.slot_key[slots] == keys, cols, np.int16(-1))


def _slots(keys: U64, mult: np.uint64) -> I64:
    with np.errstate(over="ignore"):
        return ((keys * mult) >> np.uint64(64 - _HASH_BITS)).astype(np.int64)


@dataclass(frozen=True)
class BatchScan:
    """Result of a vectorised scan.

    ``ok[i]`` says message i passed the fast path; ``values[tag]`` holds, for the ok messages in
    order, the byte range ``[start, end)`` of the tag's first value (-1 where absent).
    """

    ok: Bool
    values: dict[int, tuple[I64, I64]]


def scan_messages(buf: U8, starts: I64, ends: I64, tags: Sequence[int]) -> BatchScan:
    """Validate the frame of every message ``buf[starts[i]:ends[i]]`` and locate ``tags``.

    Ranges must be ordered, non-overlapping and longer than 20 bytes (no valid message is
    shorter; callers send shorter lines to the precise codec).
    """
    n = len(starts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return BatchScan(np.zeros(0, dtype=bool), dict.fromkeys(tags, (empty, empty)))
    is_soh = buf == _SOH
    bounds = np.empty(2 * n, dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    # A uint32 accumulator: an int64 one converts the whole buffer first (GBs at scale).
    counts = np.add.reduceat(is_soh.view(np.uint8), bounds, dtype=np.uint32).astype(np.int64)
    # reduceat gives a[i] for an empty segment; gaps between messages may be empty.
    counts[1::2] = np.where(np.diff(np.r_[bounds, len(buf)])[1::2] > 0, counts[1::2], 0)
    # Segments cover [starts[0], end of buffer); SOHs before the first message are not ours.
    soh_all = np.flatnonzero(is_soh[starts[0] :]) + starts[0]
    del is_soh
    segment = np.repeat(np.arange(2 * n, dtype=np.int64), counts)
    in_msg = (segment & 1) == 0
    soh = soh_all[in_msg]
    msg_of = segment[in_msg] >> 1
    del segment, in_msg, soh_all
    n_fields = counts[0::2]

    # Field starts: the message start, then one past each SOH but the message's last.
    field_start = np.empty(len(soh), dtype=np.int64)
    field_start[1:] = soh[:-1] + 1
    first = np.ones(len(soh), dtype=bool)
    first[1:] = msg_of[1:] != msg_of[:-1]
    field_start[first] = starts[msg_of[first]]
    first_idx = np.flatnonzero(first)

    words = byte_words(buf)
    keys, well_formed = _field_keys(words, field_start)

    ok = n_fields >= 4
    bad_field_msgs = msg_of[~well_formed]
    ok[bad_field_msgs] = False
    has = np.flatnonzero(n_fields > 0)
    idx0 = np.zeros(n, dtype=np.int64)
    idx0[has] = first_idx
    last_idx = idx0 + np.maximum(n_fields, 1) - 1
    safe0 = np.minimum(idx0, len(keys) - 1) if len(keys) else idx0
    ok &= _at(keys, safe0, n) == _tag_key(8)
    ok &= _at(keys, safe0 + 1, n) == _tag_key(9)
    ok &= _at(keys, safe0 + 2, n) == _tag_key(35)
    ok &= _at(keys, last_idx, n) == _tag_key(10)
    ok &= _at(soh, last_idx, n) == ends - 1
    begin = words[starts + 2]
    ok &= np.isin(begin, _BEGIN_WORDS) | ((begin == _FIXT) & (buf[starts + 10] == _SOH))

    # BodyLength: from the first byte of 35= to the first byte of 10=.
    trailer = _at(field_start, last_idx, n)
    body_start = _at(field_start, safe0 + 2, n)
    bl_start = _at(field_start, safe0 + 1, n) + 2
    bl_end = _at(soh, safe0 + 1, n)
    declared, digits_ok = _parse_uint(buf, bl_start, bl_end, max_digits=7)
    ok &= digits_ok & (declared == trailer - body_start)

    # CheckSum: three digits, equal to the byte sum mod 256 of everything before 10=.
    cs_declared, cs_ok = _parse_uint(buf, trailer + 3, trailer + 6, max_digits=3)
    ok &= cs_ok & (trailer + 7 == ends)
    sums = _checksums(buf, starts, np.where(ok, trailer, starts + 1))
    ok &= sums == cs_declared

    # Tag values: first occurrence per (message, tag), among ok messages only.
    tag_hash = _TagHash.build(tags)
    cols = tag_hash.columns(keys).astype(np.int64)
    hit = np.flatnonzero((cols >= 0) & ok[msg_of])
    n_tags = len(tags)
    slot = msg_of[hit] * n_tags + cols[hit]
    table = np.full(n * n_tags, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(table, slot, hit)
    tag_len = np.array([len(str(t)) for t in tags], dtype=np.int64)
    ok_rows = np.flatnonzero(ok)
    values: dict[int, tuple[I64, I64]] = {}
    grid = table.reshape(n, n_tags)[ok_rows]
    for c, tag in enumerate(tags):
        pos = grid[:, c]
        present = pos != np.iinfo(np.int64).max
        safe = np.where(present, pos, 0)
        vstart = np.where(present, field_start[safe] + tag_len[c] + 1, -1)
        vend = np.where(present, soh[safe], -1)
        values[tag] = (vstart, vend)
    return BatchScan(ok, values)


_BEGIN_WORDS = np.array(
    [int.from_bytes(b"FIX.4.4\x01", "little"), int.from_bytes(b"FIX.4.2\x01", "little")],
    dtype=np.uint64,
)
_FIXT = np.uint64(int.from_bytes(b"FIXT.1.1", "little"))


def _at(arr: npt.NDArray[_T], idx: I64, n: int) -> npt.NDArray[_T]:
    """``arr[idx]`` with out-of-range indices clipped (their rows fail other checks)."""
    if len(arr) == 0:
        return np.zeros(n, dtype=arr.dtype)
    return arr[np.clip(idx, 0, len(arr) - 1)]


def _checksums(buf: U8, starts: I64, stops: I64) -> I64:
    """FIX CheckSum of ``buf[starts[i]:stops[i]]`` for each i (non-empty, ordered segments).

    A uint8 accumulator wraps modulo 256, which is the CheckSum itself, and reads the buffer
    without widening it.
    """
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = stops
    sums: I64 = np.add.reduceat(buf, bounds, dtype=np.uint8)[0::2].astype(np.int64)
    return sums


def _parse_uint(buf: U8, start: I64, end: I64, max_digits: int) -> tuple[I64, Bool]:
    """Unsigned decimal numbers in ``buf[start:end]``; False where not 1..max_digits digits."""
    length = end - start
    ok = (length >= 1) & (length <= max_digits)
    value = np.zeros(len(start), dtype=np.int64)
    for k in range(max_digits):
        inside = ok & (k < length)
        digit = buf[np.where(inside, start + k, 0)].astype(np.int64) - 48
        ok &= ~inside | ((digit >= 0) & (digit <= 9))
        value = np.where(inside, value * 10 + digit, value)
    return value, ok


def strings_from_ranges(buf: U8, start: I64, end: I64) -> pa.Array:
    """An Arrow string array of ``buf[start[i]:end[i]]``; null where start is -1.

    Bytes are taken as Latin-1-safe UTF-8: values with bytes >= 0x80 that are not valid UTF-8
    are re-encoded from Latin-1 by the caller (see lpscore.ingest).
    """
    present = start >= 0
    lengths = np.where(present, end - start, 0)
    offsets = np.zeros(len(start) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    gather = np.repeat(start - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
    data = buf[gather]
    validity = np.packbits(present, bitorder="little")
    return pa.LargeStringArray.from_buffers(
        len(start),
        pa.py_buffer(offsets),
        pa.py_buffer(data),
        pa.py_buffer(validity),
    )
