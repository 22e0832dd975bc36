"""Property tests of the FIX codec (lpscore.fix.codec) and the vectorised scanner
(lpscore.fix.batch): round trips, fast path never more permissive than the precise codec,
stream framing independent of chunk boundaries."""

from __future__ import annotations

import numpy as np
from fix_strategies import (
    SOH,
    Spec,
    apply_mutations,
    examples,
    fix_messages,
    garbage,
    mutations,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.errors import FixError
from lpscore.fix.batch import scan_messages
from lpscore.fix.codec import FixStreamParser, checksum, decode, split_fields
from lpscore.ingest.decode import wanted_tags

BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(BASE, max_examples=examples(150))
PIPELINE_TAGS = wanted_tags(IngestConfig())
ABSENT_TAGS = [4, 5, 7, 99_998]


def scan_tags(*specs: Spec) -> list[int]:
    """Tags to look up: the pipeline's, every tag present, and a few that never are."""
    tags = set(PIPELINE_TAGS) | set(ABSENT_TAGS)
    for spec in specs:
        tags |= spec.tags()
    return sorted(tags)


def located(buf: np.ndarray, scan_values: dict, tags: list[int], row: int) -> dict[int, bytes]:
    """Values the scanner located for ok row ``row`` (absent tags left out)."""
    out = {}
    for tag in tags:
        start, end = scan_values[tag]
        if start[row] >= 0:
            out[tag] = bytes(buf[start[row] : end[row]])
    return out


# --------------------------------------------------------------------------- 1. round trip

@FAST
@given(fix_messages())
def test_encode_decode_round_trip(spec: Spec) -> None:
    raw = spec.raw
    message = decode(raw)
    assert message.msg_type == spec.msg_type
    assert message.begin_string == spec.begin_string
    assert message.valid
    assert message.warning == ""
    assert list(message.fields) == spec.all_fields()
    assert list(message.fields[3:-1]) == list(spec.fields)
    assert split_fields(raw) == spec.all_fields()
    # BodyLength counts from 35= to the SOH before 10=; CheckSum is over everything before 10=.
    trailer = raw.rindex(b"\x0110=") + 1
    assert int(message.get(9)) == trailer - raw.index(b"\x0135=") - 1
    assert message.get(10) == b"%03d" % checksum(raw[:trailer])
    assert raw.endswith(SOH)
    assert message.first_values() == spec.first_values()


@FAST
@given(fix_messages())
def test_scanner_agrees_with_decode_on_one_message(spec: Spec) -> None:
    raw = spec.raw
    tags = scan_tags(spec)
    buf = np.frombuffer(raw, dtype=np.uint8)  # unpadded: its last value ends the buffer
    scan = scan_messages(buf, np.array([0], dtype=np.int64),
                         np.array([len(raw)], dtype=np.int64), tags)
    assert scan.ok.tolist() == [True]
    expected = decode(raw).first_values()
    assert located(buf, scan.values, tags, 0) == {t: expected[t] for t in tags if t in expected}


@settings(BASE, max_examples=examples(60))
@given(st.lists(st.tuples(fix_messages(), st.binary(max_size=6)), min_size=1, max_size=12))
def test_scanner_agrees_with_decode_on_a_batch(items: list[tuple[Spec, bytes]]) -> None:
    """Many messages in one buffer, with arbitrary bytes between them (not part of any message)."""
    data, starts, ends = b"", [], []
    for spec, gap in items:
        data += gap
        starts.append(len(data))
        data += spec.raw
        ends.append(len(data))
    specs = [spec for spec, _ in items]
    tags = scan_tags(*specs)
    buf = np.frombuffer(data, dtype=np.uint8)
    scan = scan_messages(buf, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64),
                         tags)
    assert scan.ok.all()
    for row, spec in enumerate(specs):
        expected = decode(spec.raw).first_values()
        assert located(buf, scan.values, tags, row) == {
            t: expected[t] for t in tags if t in expected}


# --------------------------------------------------------------------------- 3b. mutated message

@settings(BASE, max_examples=examples(400))
@given(fix_messages(), mutations(max_size=3))
def test_scanner_never_accepts_what_decode_rejects(spec: Spec, ops: list[tuple]) -> None:
    """The fast path passes a message only if the precise codec (strict) decodes it, to the
    same values: otherwise the two paths would not give the same events."""
    raw = apply_mutations(spec.raw, ops)
    # The scanner's precondition, as ingest's _fast_candidates ensures: more than 20 bytes
    # (it reads the BeginString at fixed offsets; shorter inputs raise IndexError).
    assume(len(raw) > 20)
    tags = scan_tags(spec)
    buf = np.frombuffer(raw, dtype=np.uint8)  # unpadded: its last value ends the buffer
    scan = scan_messages(buf, np.array([0], dtype=np.int64),
                         np.array([len(raw)], dtype=np.int64), tags)
    try:
        message = decode(raw, lenient=False)
    except FixError as exc:
        assert not scan.ok[0], f"scanner accepted {raw!r}, decode rejects it: {exc.reason}"
        return
    if scan.ok[0]:
        expected = message.first_values()
        assert located(buf, scan.values, tags, 0) == {
            t: expected[t] for t in tags if t in expected}


@settings(BASE, max_examples=examples(100))
@given(fix_messages(), mutations(max_size=3))
def test_decode_raises_only_fix_errors(spec: Spec, ops: list[tuple]) -> None:
    """Whatever the bytes, decode either returns a message or raises FixError (lenient too)."""
    raw = apply_mutations(spec.raw, ops)
    for lenient in (False, True):
        try:
            message = decode(raw, lenient=lenient)
        except FixError as exc:
            assert exc.reason
        else:
            assert message.fields[-1][0] == 10
            assert message.valid == (message.warning == "")


# --------------------------------------------------------------------------- 4. stream parser

@st.composite
def chunked_streams(draw: st.DrawFn) -> tuple[list[Spec], list[bytes], bytes, list[int]]:
    specs = draw(st.lists(fix_messages(), min_size=1, max_size=6))
    gaps = [draw(garbage()) for _ in specs]
    tail = draw(garbage())
    stream = b"".join(g + s.raw for g, s in zip(gaps, specs, strict=True)) + tail
    cuts = sorted(set(draw(st.lists(st.integers(0, len(stream)), max_size=12))))
    return specs, gaps, tail, cuts


def expected_records(specs: list[Spec], gaps: list[bytes]) -> list[tuple[int, bytes, bool]]:
    out, offset = [], 0
    for gap, spec in zip(gaps, specs, strict=True):
        if gap:
            out.append((offset, gap, False))
            offset += len(gap)
        out.append((offset, spec.raw, True))
        offset += len(spec.raw)
    return out


@settings(BASE, max_examples=examples(120))
@given(chunked_streams())
def test_stream_parser_is_independent_of_chunking(
    case: tuple[list[Spec], list[bytes], bytes, list[int]],
) -> None:
    specs, gaps, tail, cuts = case
    stream = b"".join(g + s.raw for g, s in zip(gaps, specs, strict=True)) + tail
    parser = FixStreamParser()
    got = []
    for lo, hi in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        parser.feed(stream[lo:hi])
        got.extend(parser)
    assert got == expected_records(specs, gaps)
    assert parser.pending() == tail
    assert parser.offset == len(stream) - len(tail)
    for _, raw, is_message in got:
        if is_message:
            decode(raw)


@settings(BASE, max_examples=examples(60))
@given(chunked_streams())
def test_stream_parser_in_one_feed(case: tuple[list[Spec], list[bytes], bytes, list[int]]) -> None:
    specs, gaps, tail, _ = case
    parser = FixStreamParser()
    parser.feed(b"".join(g + s.raw for g, s in zip(gaps, specs, strict=True)) + tail)
    assert list(parser) == expected_records(specs, gaps)
    assert parser.pending() == tail


@settings(BASE, max_examples=examples(100))
@given(chunked_streams(), mutations(max_size=4), st.lists(st.integers(0, 1 << 16), max_size=8))
def test_stream_parser_loses_no_byte_on_corrupt_streams(
    case: tuple[list[Spec], list[bytes], bytes, list[int]], ops: list[tuple], cuts: list[int],
) -> None:
    """Whatever the bytes and chunking, the records and the pending tail are the stream, in
    order, with running offsets; a record is a message iff it starts with 8=FIX."""
    specs, gaps, tail, _ = case
    stream = apply_mutations(
        b"".join(g + s.raw for g, s in zip(gaps, specs, strict=True)) + tail, ops)
    bounds = sorted({c % (len(stream) + 1) for c in cuts})
    parser = FixStreamParser()
    got = []
    for lo, hi in zip([0, *bounds], [*bounds, len(stream)], strict=True):
        parser.feed(stream[lo:hi])
        got.extend(parser)
    assert b"".join(raw for _, raw, _ in got) + parser.pending() == stream
    offset = 0
    for at, raw, is_message in got:
        assert at == offset
        assert raw
        assert is_message == raw.startswith(b"8=FIX")
        offset += len(raw)
    assert parser.offset == offset
