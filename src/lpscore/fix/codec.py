"""FIX codec with no I/O: framing, validation, field access and encoding.

Bytes in, messages out, only once complete. Log replay, file tails, live sessions and the
simulator all share it. It is the precise path: the vectorised batch decoder
(lpscore.fix.batch) handles well-formed messages in bulk and sends everything else here, so
that every rejection carries one of the reason codes below.

Reason codes (lpscore.errors.FixError.reason):
    not_fix             does not start with ``8=FIX``
    truncated           ends before its CheckSum field
    garbled             a field without ``=``, or a non-numeric tag
    bad_begin_string    BeginString is not FIX.4.2, FIX.4.4 or FIXT.1.1
    bad_body_length     BodyLength(9) absent, non-numeric or wrong
    bad_checksum        CheckSum(10) not three digits or wrong
    missing_tag:35      the third field is not MsgType
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lpscore.errors import FixError, FixValidationError

__all__ = [
    "BEGIN_STRINGS",
    "SOH",
    "FixMessage",
    "FixStreamParser",
    "checksum",
    "decode",
    "encode",
    "split_fields",
]

SOH = b"\x01"
BEGIN_STRINGS = frozenset({"FIX.4.2", "FIX.4.4", "FIXT.1.1"})


def checksum(data: bytes) -> int:
    """The FIX CheckSum of ``data``: sum of its bytes modulo 256."""
    return sum(data) & 0xFF


def split_fields(raw: bytes) -> list[tuple[int, bytes]]:
    """``(tag, value)`` pairs of one SOH-delimited message, in order; raises FixError(garbled)."""
    body = raw[:-1] if raw.endswith(SOH) else raw
    pairs: list[tuple[int, bytes]] = []
    for item in body.split(SOH):
        tag, eq, value = item.partition(b"=")
        if not eq or not tag.isdigit() or len(tag) > 9 or tag.startswith(b"0"):
            raise FixError("garbled", f"field {item[:40]!r} is not TAG=VALUE")
        pairs.append((int(tag), value))
    return pairs


@dataclass(frozen=True, slots=True)
class FixMessage:
    """One decoded FIX message: its fields in order, with the first value of each tag at hand.

    ``valid`` is False when the message was accepted leniently despite a bad BodyLength or
    CheckSum; ``warning`` then names the reason.
    """

    fields: tuple[tuple[int, bytes], ...]
    begin_string: str
    msg_type: str
    valid: bool = True
    warning: str = ""

    def get(self, tag: int) -> bytes | None:
        """The first value of ``tag`` (top level or first group instance), or None."""
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    def first_values(self) -> dict[int, bytes]:
        """Tag -> first value, for every tag in the message."""
        out: dict[int, bytes] = {}
        for t, v in self.fields:
            out.setdefault(t, v)
        return out


def decode(raw: bytes, *, lenient: bool = False) -> FixMessage:
    """Validate and decode one complete SOH-delimited message (ending in ``10=nnn<SOH>``).

    Raises FixValidationError for a bad BodyLength or CheckSum unless ``lenient``, and
    FixError for anything that is not a FIX message at all.
    """
    if not raw.startswith(b"8=FIX"):
        raise FixError("not_fix", "does not start with 8=FIX")
    pairs = split_fields(raw)
    begin = pairs[0][1].decode("latin-1")
    if begin not in BEGIN_STRINGS:
        raise FixError("bad_begin_string", f"8={begin}")
    if pairs[-1][0] != 10:
        raise FixError("truncated", "no CheckSum(10) field at the end")
    if len(pairs) < 4 or pairs[2][0] != 35:
        raise FixError("missing_tag:35", "MsgType(35) must be the third field")
    warning = _frame_problem(raw, pairs)
    if warning and not lenient:
        raise FixValidationError(warning, _frame_detail(raw, pairs, warning))
    msg_type = pairs[2][1].decode("latin-1")
    return FixMessage(tuple(pairs), begin, msg_type, valid=not warning, warning=warning)


def _frame_problem(raw: bytes, pairs: list[tuple[int, bytes]]) -> str:
    """'' when BodyLength and CheckSum are right, else the reason code of the first problem."""
    trailer_start = len(raw) - len(b"10=") - len(pairs[-1][1]) - 1
    value = pairs[-1][1]
    if len(value) != 3 or not value.isdigit() or int(value) != checksum(raw[:trailer_start]):
        return "bad_checksum"
    if pairs[1][0] != 9 or not pairs[1][1].isdigit():
        return "bad_body_length"
    body_start = len(b"8=") + len(pairs[0][1]) + 1 + len(b"9=") + len(pairs[1][1]) + 1
    if int(pairs[1][1]) != trailer_start - body_start:
        return "bad_body_length"
    return ""


def _frame_detail(raw: bytes, pairs: list[tuple[int, bytes]], reason: str) -> str:
    trailer_start = len(raw) - len(b"10=") - len(pairs[-1][1]) - 1
    body_start = len(b"8=") + len(pairs[0][1]) + 1 + len(b"9=") + len(pairs[1][1]) + 1
    body = f"9={pairs[1][1].decode('latin-1')}, actual {trailer_start - body_start}"
    if reason == "bad_checksum":
        cks = checksum(raw[:trailer_start])
        return f"10={pairs[-1][1].decode('latin-1')}, computed {cks:03d}; {body}"
    return body


def encode(
    msg_type: str,
    fields: Iterable[tuple[int, str | bytes | int | float]],
    *,
    begin_string: str = "FIX.4.4",
) -> bytes:
    """A complete message with BodyLength and CheckSum computed. ``fields`` are the body
    after MsgType (header fields such as 49, 56, 34, 52 included, in the order given)."""
    parts = [f"35={msg_type}".encode()]
    for tag, value in fields:
        data = value if isinstance(value, bytes) else str(value).encode("latin-1")
        parts.append(b"%d=%s" % (tag, data))
    body = SOH.join(parts) + SOH
    head = b"8=%s\x019=%d\x01" % (begin_string.encode(), len(body))
    return head + body + b"10=%03d\x01" % checksum(head + body)


class FixStreamParser:
    """Incremental framer for a byte stream: feed chunks, take complete raw messages.

    Framing follows BodyLength when it is plausible and falls back to the next
    ``<SOH>10=nnn<SOH>`` trailer, so one corrupt message costs itself, not the stream. Bytes
    before a ``8=FIX`` are returned as garbage records so that they can be accounted for.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._consumed = 0

    def feed(self, data: bytes) -> None:
        self._buf.extend(data)

    @property
    def offset(self) -> int:
        """Stream offset of the first byte not yet returned."""
        return self._consumed

    def pending(self) -> bytes:
        """Bytes received but not yet part of a complete message (a truncated tail at EOF)."""
        return bytes(self._buf)

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        """Yield ``(offset, raw, is_message)`` for each complete message or garbage run."""
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def _take(self, n: int) -> tuple[int, bytes]:
        offset = self._consumed
        raw = bytes(self._buf[:n])
        del self._buf[:n]
        self._consumed += n
        return offset, raw

    def _next(self) -> tuple[int, bytes, bool] | None:
        buf = self._buf
        start = buf.find(b"8=FIX")
        if start < 0:
            return None
        if start > 0:
            offset, raw = self._take(start)
            return offset, raw, False
        end = self._end_by_body_length()
        if end is None:
            trailer = buf.find(b"\x0110=", 5)
            if trailer < 0 or len(buf) < trailer + 8:
                return None
            end = trailer + 8
        offset, raw = self._take(end)
        return offset, raw, True

    def _end_by_body_length(self) -> int | None:
        buf = self._buf
        first = buf.find(SOH)
        if first < 0 or not buf.startswith(b"9=", first + 1):
            return None
        second = buf.find(SOH, first + 1)
        if second < 0 or not buf[first + 3 : second].isdigit():
            return None
        end = second + 1 + int(buf[first + 3 : second]) + 7
        if len(buf) < end:
            return None
        if buf[end - 7 : end - 4] == b"10=" and buf[end - 8 : end - 7] == SOH and buf[end - 1] == 1:
            return end
        return None
