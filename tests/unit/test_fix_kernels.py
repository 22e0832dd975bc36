"""The scanner's word-at-a-time kernels (lpscore.fix.kernels) give what a byte at a time
gives: LF positions, byte sums, Arrow string views; and the times the scan parses in passing
are those parsed from the values afterwards."""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_series_equal

from lpscore.fix import batch, kernels
from lpscore.fix.batch import newlines, scan_messages, timestamp_views
from lpscore.fix.codec import encode
from lpscore.ingest.records import exact_timestamps

U8 = npt.NDArray[np.uint8]


def buffers(rng: random.Random) -> list[U8]:
    """Buffers of many lengths, each at every alignment (slices of one larger array)."""
    out = []
    for n in (0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 65, 200, 1000):
        data = np.frombuffer(bytes(rng.choice(b"\n\x01=AZ09\x80\xff\r") for _ in range(n + 8)),
                             dtype=np.uint8)
        out += [data[k : k + n] for k in range(8)]
    return out


def test_newlines_are_every_lf() -> None:
    for buf in buffers(random.Random(1)):
        assert newlines(buf).tolist() == np.flatnonzero(buf == 10).tolist()


def test_newlines_beyond_the_first_guess_of_room() -> None:
    buf = np.full(5000, 10, dtype=np.uint8)  # more lines than len // 64 + 1024
    assert newlines(buf).tolist() == list(range(5000))


def test_byte_sum_and_high_bytes_of_any_range() -> None:
    rng = random.Random(2)
    for buf in buffers(rng):
        words, offset = batch._words(buf)
        for _ in range(30):
            start = rng.randrange(len(buf) + 1)
            end = rng.randrange(start, len(buf) + 1)
            total, high = kernels._byte_sum(buf, words, offset, start, end)
            assert total == int(buf[start:end].astype(np.int64).sum())
            assert high == bool((buf[start:end] >= 0x80).any())


def test_byte_sum_of_a_long_run_of_high_bytes() -> None:
    """16-bit lanes are folded before they overflow."""
    buf = np.full(100_003, 0xFF, dtype=np.uint8)
    words, offset = batch._words(buf)
    assert kernels._byte_sum(buf, words, offset, 3, 100_001) == (0xFF * 99_998, True)


def test_views_from_word_loads_equal_views_from_bytes() -> None:
    """``_view`` loads whole words: the scan calls it on a framed message (20 bytes at
    least); ``string_views`` of a shorter buffer takes the byte path, the same strings."""
    rng = random.Random(3)
    for buf in buffers(rng):
        for _ in range(30):
            start = rng.randrange(len(buf) + 1)
            end = min(len(buf), start + rng.choice([0, 1, 3, 4, 5, 11, 12, 13, 40]))
            base = rng.randrange(start + 1)
            if len(buf) < 8:
                views = batch.string_views(buf, np.array([start]), np.array([end]))
                assert views.cast(pa.binary_view()).to_pylist() == [bytes(buf[start:end])]
                continue
            assert (kernels._view(buf, start, end, base)
                    == kernels._view_bytes(buf, start, end, base))


def test_a_failing_message_does_not_flag_its_high_bytes() -> None:
    """Only a passing message's values flag their column as holding bytes >= 0x80 (a
    flagged column is decoded value by value, several times slower)."""
    good = encode("D", [(49, b"A"), (55, b"EUR")])
    body = b"35=D\x0149=A\x0155=EUR\xc3\xa9\x01049=B\x01"     # a malformed tag after 55
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)                 # a valid frame and CheckSum
    bad = head + body + b"10=%03d\x01" % (sum(head + body) % 256)
    flagged = encode("D", [(49, b"A"), (55, "EUR\u00e9".encode())])
    for data, ok, high in ((good + bad, [True, False], set()),
                           (good + bad + flagged, [True, False, True], {55})):
        buf = np.frombuffer(data, dtype=np.uint8)
        starts = [0, len(good), len(good) + len(bad)][:len(ok)]
        ends = [len(good), len(good) + len(bad), len(data)][:len(ok)]
        scan = scan_messages(buf, np.array(starts), np.array(ends), [49, 55])
        assert scan.ok.tolist() == ok
        assert scan.high == high


TIMES = ["20250612-13:30:00.123", "20250612-13:30:00", "20240229-23:59:59.999999999",
         "20250229-00:00:00", "19691231-23:59:59.999", "2025061-13:30:00.1",
         "20250612-13:30:00.1234567890", "x"]


def test_scan_parses_the_times_it_is_asked_for() -> None:
    """Each time tag's epoch ns from the scan is exact_timestamps of the value it located."""
    rng = random.Random(4)
    messages, starts, ends = b"", [], []
    for i in range(300):
        fields = [(49, b"A"), (56, b"B"), (34, str(i + 1).encode())]
        if rng.random() < 0.9:
            fields.append((52, rng.choice(TIMES).encode()))
        if rng.random() < 0.5:
            fields.append((60, rng.choice(TIMES).encode()))
        raw = encode("8", fields)
        starts.append(len(messages))
        messages += raw
        ends.append(len(messages))
        messages += b"\n"
    buf = np.frombuffer(messages, dtype=np.uint8)
    scan = scan_messages(buf, np.array(starts), np.array(ends), [34, 52, 60], [52, 60])
    assert scan.ok.all()
    columns = scan.string_columns(buf)
    for tag in (52, 60):
        values = pl.Series("t", columns[tag])
        expected = exact_timestamps(values).fill_null(-1).to_numpy()
        assert scan.times[tag].tolist() == expected.tolist()


@pytest.mark.parametrize("n", [0, 1, 500])
def test_timestamp_views_parse_what_exact_timestamps_parses(n: int) -> None:
    rng = random.Random(n)
    texts = [rng.choice(TIMES) for _ in range(n)]
    data = b"".join(t.encode() + b"\x01" for t in texts)
    start = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]).astype(np.int64)[:n]
    end = start + np.array([len(t) for t in texts], dtype=np.int64)
    views, ns = timestamp_views(np.frombuffer(data, dtype=np.uint8), start, end)
    values = pl.Series("t", views)
    assert values.to_list() == texts
    assert_series_equal(pl.Series("t_ns", ns).replace(-1, None),
                        exact_timestamps(values), check_names=False)
