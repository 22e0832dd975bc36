"""Hypothesis strategies for FIX property tests: valid messages, logs, byte mutations.

Every message is built with ``lpscore.fix.codec.encode`` from a ``Spec`` that keeps the fields
as written, so that tests can compare what the codec and the scanners find with what was put in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import strategies as st

from lpscore.fix.codec import checksum, encode

SOH = b"\x01"
BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4", "FIXT.1.1")
MSG_TYPES = ("D", "F", "G", "8", "9", "3", "0", "A", "AE")
FRAMING_TAGS = frozenset({8, 9, 10, 35})
# Real tags, with several starting with "10" (100 ExDestination, 102/103 reject reasons...).
COMMON_TAGS = (1, 6, 11, 14, 15, 17, 21, 31, 32, 37, 38, 39, 40, 41, 44, 54, 55, 58, 59, 60,
               100, 102, 103, 107, 150, 151, 207, 526, 1003, 1128, 10001)
PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
_PIPE_AMBIGUOUS = re.compile(rb"\|\d{1,9}=")
SCALE = float(os.environ.get("LPSCORE_PROPERTY_SCALE", "1"))


def examples(n: int) -> int:
    """``n`` examples, times LPSCORE_PROPERTY_SCALE (e.g. 20 for a deep nightly run)."""
    return max(1, round(n * SCALE))


# --------------------------------------------------------------------------- timestamps

@st.composite
def utc_timestamps(draw: st.DrawFn, digits: int | None = None) -> str:
    """A FIX UTCTimestamp ``YYYYMMDD-HH:MM:SS[.f...]`` with 0, 3, 6 or 9 fractional digits."""
    day = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
    secs = draw(st.integers(0, 86_399))
    n = draw(st.sampled_from((0, 3, 6, 9))) if digits is None else digits
    text = f"{day:%Y%m%d}-{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    if n:
        text += "." + str(draw(st.integers(0, 10**n - 1))).zfill(n)
    return text


def format_timestamp(day: date, nanos: int, digits: int) -> str:
    """``nanos`` after midnight of ``day`` (may spill into later days) as a UTCTimestamp."""
    day = day + timedelta(days=nanos // 86_400_000_000_000)
    nanos %= 86_400_000_000_000
    secs, frac = divmod(nanos, 1_000_000_000)
    text = f"{day:%Y%m%d}-{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    if digits:
        text += "." + str(frac).zfill(9)[:digits]
    return text


def capture_prefix(timestamp: str) -> bytes:
    """A QuickFIX-style capture prefix for a log line."""
    return f"{timestamp} : ".encode()


# --------------------------------------------------------------------------- field values

def field_values(max_size: int = 16) -> st.SearchStrategy[bytes]:
    """Non-empty printable ASCII (never SOH), biased towards ``|``, ``=``, spaces and digits."""
    alphabet = st.one_of(st.sampled_from("|= 0123456789"), st.sampled_from(PRINTABLE))
    return st.text(alphabet, min_size=1, max_size=max_size).map(str.encode)


def extra_tags() -> st.SearchStrategy[int]:
    """A body tag: a common one or any 1..99999 except the framing tags 8, 9, 10, 35."""
    return st.one_of(st.sampled_from(COMMON_TAGS), st.integers(1, 99_999)).filter(
        lambda t: t not in FRAMING_TAGS)


@st.composite
def parties_group(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """NoPartyIDs (453) = n followed by n x (PartyID 448, PartyIDSource 447, PartyRole 452)."""
    n = draw(st.integers(1, 3))
    out: list[tuple[int, bytes]] = [(453, str(n).encode())]
    for _ in range(n):
        out.append((448, draw(field_values(10))))
        out.append((447, draw(st.sampled_from([b"B", b"C", b"D", b"P"]))))
        out.append((452, str(draw(st.integers(1, 99))).encode()))
    return out


# --------------------------------------------------------------------------- messages

@dataclass(frozen=True)
class Spec:
    """A message as written: BeginString, MsgType and the body fields after MsgType."""

    begin_string: str
    msg_type: str
    fields: tuple[tuple[int, bytes], ...]

    @property
    def raw(self) -> bytes:
        return encode(self.msg_type, self.fields, begin_string=self.begin_string)

    def all_fields(self) -> list[tuple[int, bytes]]:
        """Every field of the encoded message, framing fields included, in order."""
        raw = self.raw
        body_len = raw.split(SOH, 2)[1][2:]
        return [(8, self.begin_string.encode()), (9, body_len),
                (35, self.msg_type.encode()), *self.fields,
                (10, b"%03d" % checksum(raw[:-7]))]

    def first_values(self) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for tag, value in self.all_fields():
            out.setdefault(tag, value)
        return out

    def tags(self) -> set[int]:
        return {tag for tag, _ in self.all_fields()}


def pipe_ambiguous(spec: Spec) -> bool:
    """True when a value holds ``|NN=``: written with ``|`` delimiters it cannot be split back."""
    return any(_PIPE_AMBIGUOUS.search(v) or b"^A" in v for _, v in spec.fields)


@st.composite
def fix_messages(draw: st.DrawFn, msg_types: tuple[str, ...] = MSG_TYPES) -> Spec:
    """A valid message: header 49/56/34/52, random extra fields, maybe a parties group."""
    begin = draw(st.sampled_from(BEGIN_STRINGS))
    msg_type = draw(st.sampled_from(msg_types))
    fields: list[tuple[int, bytes]] = [
        (49, draw(field_values(12))),
        (56, draw(field_values(12))),
        (34, str(draw(st.integers(1, 10**9))).encode()),
        (52, draw(utc_timestamps()).encode()),
    ]
    extras = draw(st.lists(st.tuples(extra_tags(), field_values()), max_size=8))
    group = draw(st.one_of(st.just([]), parties_group()))
    cut = draw(st.integers(0, len(extras)))
    fields += extras[:cut] + group + extras[cut:]
    return Spec(begin, msg_type, tuple(fields))


# --------------------------------------------------------------------------- realistic flow

_LP, _DESK = b"LPX", b"DESK"


def _qty(draw: st.DrawFn) -> bytes:
    return str(draw(st.integers(1, 100_000))).encode()


def _px(draw: st.DrawFn) -> bytes:
    return f"{draw(st.integers(1, 10_000_000)) / 10_000:.4f}".encode()


@st.composite
def event_messages(draw: st.DrawFn, seq: int, timestamp: str) -> Spec:
    """A message that can become an event (or an admin message), with the tags ingest needs."""
    begin = draw(st.sampled_from(BEGIN_STRINGS))
    msg_type = draw(st.sampled_from(MSG_TYPES))
    outbound = msg_type in ("D", "F", "G") or (msg_type not in ("8", "9") and draw(st.booleans()))
    sender, target = (_DESK, _LP) if outbound else (_LP, _DESK)
    header = [(49, sender), (56, target), (34, str(seq).encode()), (52, timestamp.encode())]
    cl_ord = b"C%d" % draw(st.integers(0, 20))
    side = draw(st.sampled_from([b"1", b"2", b"5", b"6"]))
    body: list[tuple[int, bytes]]
    if msg_type == "D":
        body = [(11, cl_ord), (55, b"EURUSD"), (54, side), (38, _qty(draw)), (40, b"2"),
                (44, _px(draw)), (60, timestamp.encode())]
    elif msg_type == "F":
        body = [(11, cl_ord + b"x"), (41, cl_ord), (55, b"EURUSD"), (54, side)]
    elif msg_type == "G":
        body = [(11, cl_ord + b"r"), (41, cl_ord), (55, b"EURUSD"), (54, side),
                (38, _qty(draw)), (44, _px(draw))]
    elif msg_type == "8":
        exec_type = draw(st.sampled_from([b"0", b"4", b"8", b"F"] if begin != "FIX.4.2"
                                         else [b"0", b"1", b"2", b"4", b"8"]))
        body = [(37, b"O1"), (11, cl_ord), (17, b"E%d" % draw(st.integers(0, 30))),
                (150, exec_type), (39, b"0"), (55, b"EURUSD"), (54, side)]
        if exec_type in (b"1", b"2", b"F"):
            body += [(32, _qty(draw)), (31, _px(draw)), (60, timestamp.encode())]
    elif msg_type == "9":
        body = [(11, cl_ord + b"x"), (41, cl_ord), (37, b"O1"), (39, b"8"), (434, b"1"),
                (102, b"0")]
    elif msg_type == "3":
        body = [(45, str(draw(st.integers(1, 50))).encode()), (371, b"54"), (372, b"D"),
                (373, b"5"), (58, draw(field_values()))]
    elif msg_type == "A":
        body = [(98, b"0"), (108, b"30")] + ([(141, b"Y")] if draw(st.booleans()) else [])
    elif msg_type == "AE":
        body = [(571, b"T1"), (55, b"EURUSD"), (32, _qty(draw)), (31, _px(draw))]
    else:
        body = []
    if draw(st.booleans()):
        body.append((58, draw(field_values())))
    return Spec(begin, msg_type, tuple(header + body))


@st.composite
def event_flows(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[Spec]:
    """A session's messages with increasing MsgSeqNum and SendingTime, some random ones mixed in."""
    n = draw(st.integers(min_size, max_size))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
    t0 = draw(st.integers(0, 80_000)) * 1_000_000_000
    out = []
    for i in range(n):
        ts = format_timestamp(day, t0 + i * 1_000_000_000 + draw(st.integers(0, 999_999_999)),
                              draw(st.sampled_from((0, 3, 6, 9))))
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(fix_messages()))
        else:
            out.append(draw(event_messages(i + 1, ts)))
    return out


LOG_STYLES = ("soh_prefix", "soh", "soh_crlf", "pipe", "raw_stream")


def write_log(specs: list[Spec], style: str, day: date = date(2024, 3, 1)) -> bytes:
    """The messages as a log: one per line (``soh*``, ``pipe``) or back to back (``raw_stream``)."""
    if style == "raw_stream":
        return b"".join(s.raw for s in specs)
    lines = []
    for i, spec in enumerate(specs):
        raw = spec.raw if style != "pipe" else spec.raw.replace(SOH, b"|")
        if style in ("soh_prefix", "pipe"):
            raw = capture_prefix(format_timestamp(day, i * 1_000_000, 9)) + raw
        lines.append(raw)
    eol = b"\r\n" if style == "soh_crlf" else b"\n"
    return b"".join(line + eol for line in lines)


@st.composite
def fill_logs(draw: st.DrawFn) -> tuple[list[Spec], list[str]]:
    """Execution reports (fills) of one LP session: distinct MsgSeqNums 1..n, distinct ExecIDs,
    increasing SendingTimes. Returns the specs and their capture timestamps."""
    n = draw(st.integers(1, 8))
    begin = draw(st.sampled_from(BEGIN_STRINGS))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)))
    t0 = draw(st.integers(0, 80_000)) * 1_000_000_000
    digits = draw(st.sampled_from((0, 3, 6, 9)))
    specs, captures = [], []
    for i in range(n):
        nanos = t0 + i * 1_000_000_000
        ts = format_timestamp(day, nanos, digits)
        exec_type = b"F" if begin != "FIX.4.2" else draw(st.sampled_from([b"1", b"2"]))
        fields = ((49, _LP), (56, _DESK), (34, str(i + 1).encode()), (52, ts.encode()),
                  (37, b"O%d" % i), (11, b"C%d" % i), (17, b"X%d" % i), (150, exec_type),
                  (39, b"2"), (55, b"EURUSD"), (54, draw(st.sampled_from([b"1", b"2"]))),
                  (32, _qty(draw)), (31, _px(draw)), (60, ts.encode()))
        specs.append(Spec(begin, "8", fields))
        captures.append(format_timestamp(day, nanos + 500_000, 9))
    return specs, captures


@dataclass(frozen=True)
class NoisyFills:
    """A fill log with exact repeats, PossDup/PossResend resends and reused ExecIDs, in
    arrival order, and what dedup must make of it (KPIS.md, Notation)."""

    specs: list[Spec]
    captures: list[str]
    events: int
    duplicates: int
    exec_id_reused: int


@st.composite
def noisy_fill_logs(draw: st.DrawFn) -> NoisyFills:
    base, captures = draw(fill_logs())
    specs = list(base)
    kept = list(base)  # messages that are events, any of which may be repeated or resent
    duplicates = reused = 0
    next_seq = len(base) + 1
    last = captures[-1]
    for step in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["repeat", "resend", "reuse"]))
        target = draw(st.sampled_from(kept))
        if kind == "repeat":
            spec = target
            duplicates += 1
        elif kind == "resend":
            flag = draw(st.sampled_from([(43, b"Y"), (97, b"Y")]))
            spec = with_fields(target, {}, [flag, (122, target.first_values()[52])])
            duplicates += 1
        else:
            spec = with_fields(target, {34: str(next_seq).encode(), 32: _qty(draw)})
            next_seq += 1
            reused += 1
            kept.append(spec)
        specs.append(spec)
        captures.append(f"{last[:-3]}{step + 1:03d}")  # after every earlier line, in order
    return NoisyFills(specs, captures, len(kept), duplicates, reused)


def log_lines(specs: list[Spec], captures: list[str]) -> bytes:
    return b"".join(capture_prefix(c) + s.raw + b"\n" for s, c in zip(specs, captures, strict=True))


def with_fields(spec: Spec, replace: dict[int, bytes],
                insert_after_52: list[tuple[int, bytes]] = (),
                ) -> Spec:
    """The same message with some values replaced and fields inserted after SendingTime."""
    fields: list[tuple[int, bytes]] = []
    for tag, value in spec.fields:
        fields.append((tag, replace.get(tag, value)))
        if tag == 52:
            fields.extend(insert_after_52)
    return Spec(spec.begin_string, spec.msg_type, tuple(fields))


# --------------------------------------------------------------------------- mutations

_POS = st.integers(0, 1 << 16)
MUTATION = st.one_of(
    st.tuples(st.just("flip"), _POS, st.integers(1, 255)),
    st.tuples(st.just("set"), _POS, st.integers(0, 255)),
    st.tuples(st.just("insert"), _POS, st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), _POS, st.integers(1, 4)),
    st.tuples(st.just("truncate"), _POS),
    # A log cut while being written: a few bytes of a new line after a newline.
    st.tuples(st.just("cut_line"), _POS, st.integers(0, 4)),
    st.tuples(st.just("newline"), _POS, st.sampled_from([b"\n", b"\r\n", b"\r"])),
    st.tuples(st.just("soh"), _POS),
    st.tuples(st.just("dup_line"), _POS),
    # Checksum-preserving: a swap, or +d on one byte and -d on another.
    st.tuples(st.just("swap"), _POS, _POS),
    st.tuples(st.just("shift"), _POS, _POS, st.integers(1, 255)),
)


def mutations(min_size: int = 1, max_size: int = 4) -> st.SearchStrategy[list[tuple]]:
    return st.lists(MUTATION, min_size=min_size, max_size=max_size)


def apply_mutation(data: bytes, op: tuple) -> bytes:
    buf = bytearray(data)
    kind = op[0]
    n = len(buf)
    pos = op[1] % (n + 1)
    at = op[1] % n if n else 0
    if kind == "flip" and n:
        buf[at] ^= op[2]
    elif kind == "set" and n:
        buf[at] = op[2]
    elif kind == "insert":
        buf[pos:pos] = op[2]
    elif kind == "delete":
        del buf[pos : pos + op[2]]
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "cut_line":
        newlines = [i for i, b in enumerate(buf) if b == 10]
        end = newlines[op[1] % len(newlines)] + 1 + op[2] if newlines else op[2]
        del buf[end:]
    elif kind == "newline":
        buf[pos:pos] = op[2]
    elif kind == "soh":
        buf[pos:pos] = SOH
    elif kind == "dup_line":
        lines = bytes(buf).splitlines(keepends=True) or [b""]
        k = op[1] % len(lines)
        lines.insert(k, lines[k])
        buf = bytearray(b"".join(lines))
    elif kind == "swap" and n:
        j = op[2] % n
        buf[at], buf[j] = buf[j], buf[at]
    elif kind == "shift" and n:
        j = op[2] % n
        if j != at:
            buf[at] = (buf[at] + op[3]) % 256
            buf[j] = (buf[j] - op[3]) % 256
    return bytes(buf)


def apply_mutations(data: bytes, ops: list[tuple]) -> bytes:
    for op in ops:
        data = apply_mutation(data, op)
    return data


def garbage() -> st.SearchStrategy[bytes]:
    """Bytes between messages in a stream: anything without ``8=FIX``, sometimes empty."""
    return st.one_of(
        st.just(b""),
        st.binary(max_size=12),
        st.sampled_from([b"\n", b"\r\n", b"junk\x01", b"10=123\x01", b"\x0110=000\x01", b"8=FI",
                         b"9=12\x01", b"8=FIX"[:4] + b"\n"]),
    ).filter(lambda g: b"8=FIX" not in g)
