"""The precise FIX codec: framing, validation reasons, encoding."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lpscore.errors import FixError, FixValidationError
from lpscore.fix.codec import FixStreamParser, checksum, decode, encode
from lpscore.quarantine import escape_raw

MSG = encode("D", [(49, "DESK"), (56, "LP"), (34, 7), (52, "20240102-10:00:00.000"),
                   (11, "A|B=C"), (55, "XYZ"), (54, 1), (38, 100)])


def test_encode_computes_body_length_and_checksum_by_hand():
    body_start = MSG.index(b"35=")
    trailer = MSG.index(b"\x0110=") + 1
    assert MSG.startswith(b"8=FIX.4.4\x019=%d\x01" % (trailer - body_start))
    assert MSG.endswith(b"10=%03d\x01" % (sum(MSG[:trailer]) % 256))
    assert checksum(b"\x01\xff") == 0


def test_decode_keeps_values_with_pipes_and_equals():
    message = decode(MSG)
    assert message.msg_type == "D"
    assert message.get(11) == b"A|B=C"
    assert message.first_values()[34] == b"7"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"hello", "not_fix"),
        (MSG.replace(b"10=", b"10=1"), "bad_checksum"),
        (MSG[: MSG.index(b"10=")], "truncated"),
        (MSG.replace(b"FIX.4.4", b"FIX.9.9"), "bad_begin_string"),
        (MSG.replace(b"\x0155=", b"\x01x55="), "garbled"),
    ],
)
def test_decode_reasons(raw, reason):
    with pytest.raises(FixError) as info:
        decode(raw)
    assert info.value.reason == reason


def test_bad_body_length_with_right_checksum():
    head, rest = MSG.split(b"\x01", 2)[:2], MSG.split(b"\x01", 2)[2]
    declared = int(head[1][2:])
    body = b"\x01".join([head[0], b"9=%d" % (declared + 1), rest[: rest.index(b"10=")]])
    bad = body + b"10=%03d\x01" % (sum(body) % 256)
    with pytest.raises(FixValidationError) as info:
        decode(bad)
    assert info.value.reason == "bad_body_length"
    lenient = decode(bad, lenient=True)
    assert lenient.valid is False
    assert lenient.warning == "bad_body_length"


def test_stream_parser_frames_across_chunks_and_reports_garbage():
    stream = b"junk" + MSG + MSG
    parser = FixStreamParser()
    out = []
    for i in range(0, len(stream), 7):
        parser.feed(stream[i : i + 7])
        out.extend(parser)
    assert [(o, r == MSG, m) for o, r, m in out] == [
        (0, False, False), (4, True, True), (4 + len(MSG), True, True)]
    assert parser.pending() == b""


def _escape_by_character(raw: bytes) -> str:
    out = []
    for ch in raw.decode("latin-1"):
        code = ord(ch)
        if ch == "\x01":
            out.append("^A")
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code > 0x7E:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


@given(st.binary(max_size=200) | st.text(alphabet=st.characters(min_codepoint=1,
                                                               max_codepoint=0x7E)).map(str.encode))
def test_escape_raw_fast_path_equals_escaping_each_character(raw):
    assert escape_raw(raw) == _escape_by_character(raw)
