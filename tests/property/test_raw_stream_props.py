"""A raw SOH stream (messages back to back, no newlines) gives the rows, quarantine and
counts its messages give one per line: its frames go through the same vectorised scanner
and precise codec (lpscore.ingest.records), only framed by FixStreamParser first."""

from __future__ import annotations

import numpy as np
from fix_strategies import (
    Spec,
    apply_mutations,
    event_flows,
    examples,
    mutations,
    write_log,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.fix.batch import frames
from lpscore.fix.codec import FixStreamParser
from lpscore.ingest.decode import wanted_tags
from lpscore.ingest.records import split_messages
from lpscore.quarantine import Quarantine

TAGS = wanted_tags(IngestConfig())
PIECES = st.sampled_from([b"8=FIX.4.4\x01", b"9=", b"9=12\x01", b"9=99999999999999999999\x01",
                          b"\x0110=", b"\x0110=123\x01", b"\x01", b"35=D\x01", b"x", b"  "])




@st.composite
def framed(draw: st.DrawFn) -> bytes:
    """A message whose BodyLength may be off by a little and whose body may hold a CheckSum
    field of its own (where BodyLength and the first ``<SOH>10=`` disagree), its last SOH
    maybe missing."""
    body = b"".join(draw(st.lists(st.sampled_from(
        [b"35=D\x01", b"58=x\x01", b"10=000\x01", b"9=3\x01", b"\x01"]), max_size=5)))
    length = len(body) + draw(st.sampled_from([0, 0, 0, -7, -1, 1, 7]))
    end = draw(st.sampled_from([b"\x01", b"\x01", b"x", b""]))
    return b"8=FIX.4.4\x019=%d\x01" % max(length, 0) + body + b"10=123" + end


@settings(deadline=None, max_examples=examples(300),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(
    st.lists(st.one_of(PIECES, framed()), max_size=20).map(b"".join),
    st.tuples(event_flows(min_size=1, max_size=4), mutations(min_size=0, max_size=6))
    .map(lambda t: apply_mutations(write_log(t[0], "raw_stream"), t[1]))))
def test_the_compiled_framer_frames_as_the_stream_parser(stream: bytes) -> None:
    """Record for record, and the same bytes left over, on streams made of the pieces the
    framing rules look at and on mutated logs."""
    parser = FixStreamParser()
    parser.feed(stream)
    expected = [(offset, offset + len(raw), is_message) for offset, raw, is_message in parser]
    starts, ends, message, rest = frames(np.frombuffer(stream, dtype=np.uint8))
    got = list(zip(starts.tolist(), ends.tolist(), message.tolist(), strict=True))
    assert got == expected
    assert rest == parser.offset
    assert stream[rest:] == parser.pending()


@settings(deadline=None, max_examples=examples(60),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(event_flows(min_size=1, max_size=6), mutations(min_size=0, max_size=4), st.booleans())
def test_a_raw_stream_reads_as_its_frames_one_per_line(specs: list[Spec], ops: list[tuple],
                                                        lenient: bool) -> None:
    stream = apply_mutations(write_log(specs, "raw_stream"), ops)
    assume(b"\n" not in stream and b"\r" not in stream and b"\x01" in stream[:65536])
    parser = FixStreamParser()
    parser.feed(stream)
    frames = [raw for _, raw, _ in parser]
    tail = parser.pending()
    # the frames one per line; a cut tail is 'truncated' in a stream, but would be a line of
    # its own in a file, which --lenient may take as a message with a bad CheckSum
    lines = b"".join(frame + b"\n" for frame in frames)
    raw_q, line_q = Quarantine(), Quarantine()
    raw = split_messages(stream, "s", TAGS, raw_q, lenient=lenient)
    by_line = split_messages(lines, "s", TAGS, line_q, lenient=lenient) if frames else None
    assert raw.records == len(frames) + bool(tail)
    assert raw.records == raw.frame.height + raw.quarantined + sum(raw.skipped.values())
    assert [r.offset for r in raw_q] == sorted(r.offset for r in raw_q)
    if tail:
        last = raw_q.records[-1]
        assert (last.reason, last.offset) == ("truncated", len(stream) - len(tail))
    if by_line is None:
        assert raw.frame.height == 0
        return
    assert by_line.records == len(frames)
    # the same rows, but for where they are: offsets shift by the newlines, lines are 1
    where = ["offset", "line"]
    assert raw.frame.drop(where).equals(by_line.frame.drop(where))
    assert raw.frame["line"].to_list() == [1] * raw.frame.height
    assert [(r.reason, r.raw) for r in raw_q][:len(line_q.records)] == [
        (r.reason, r.raw) for r in line_q]
