"""The ingest's fast paths give what the plain ways give: compiled timestamp parsing (Polars'
parser), string views (the bytes), prefix matching (a byte loop), the arrival-order check,
and de-duplication's no-resend shortcut (the rules in full)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from lpscore.fix.batch import fix_timestamp, lines_with_prefix, string_views
from lpscore.ingest import dedup
from lpscore.ingest.decode import fix_timestamps
from lpscore.ingest.records import exact_timestamps

FIX_TIME = "%Y%m%d-%H:%M:%S%.f"


def polars_timestamps(values: pl.Series, tz: str) -> pl.Series:
    """What the ingest did before the compiled parser: Polars' own, on every value."""
    parsed = values.str.to_datetime(FIX_TIME, time_unit="ns", strict=False)
    return parsed.dt.replace_time_zone(tz).dt.convert_time_zone("UTC")


def timestamp_strings(rng: random.Random, n: int) -> list[str | None]:
    """Valid FIX times with 0-9 fraction digits, and near misses of every kind."""
    out: list[str | None] = []
    start = datetime(1890, 1, 1, tzinfo=UTC)
    for _ in range(n):
        when = start + timedelta(seconds=rng.uniform(0, 330 * 365 * 86400))
        text = when.strftime("%Y%m%d-%H:%M:%S")
        digits = rng.randint(0, 10)
        if digits:
            text += "." + "".join(rng.choice("0123456789") for _ in range(digits))
        roll = rng.random()
        if roll < 0.05:
            out.append(None)
            continue
        if roll < 0.35:  # a near miss: one byte changed, dropped or added
            at = rng.randrange(len(text))
            edit = rng.choice(["change", "drop", "add"])
            byte = rng.choice("0123456789:-. T+9")
            text = (text[:at] + byte + text[at + 1:] if edit == "change"
                    else text[:at] + text[at + 1:] if edit == "drop"
                    else text[:at] + byte + text[at:])
        out.append(text)
    out += ["20240229-23:59:59.999", "20250229-00:00:00", "20250612-13:30:60",
            "20250612-24:00:00", "2025061-13:30:00", " 20250612-13:30:00",
            "20250612-13:30:00.", "18991231-23:59:59", "21991231-23:59:59.999999999",
            "22000101-00:00:00", "00000101-00:00:00", "19000101-00:00:00.5", ""]
    return out


@pytest.mark.parametrize("tz", ["UTC", "Etc/GMT-3"])  # no DST: random local times exist
def test_fix_timestamps_equal_polars_parser(tz: str) -> None:
    values = pl.Series("t", timestamp_strings(random.Random(7), 20_000), dtype=pl.String)
    assert_series_equal(fix_timestamps(values, tz), polars_timestamps(values, tz))


def test_fix_timestamps_of_sliced_and_empty_series() -> None:
    values = pl.Series("t", ["20240102-10:00:00.5", None, "x", "20240102-10:00:01"] * 3)
    for part in (values.slice(3, 5), values.slice(0, 0), pl.Series("t", [None, None],
                                                                    dtype=pl.String)):
        assert_series_equal(fix_timestamps(part), polars_timestamps(part, "UTC"))


def test_fix_timestamps_read_through_views_of_any_buffers() -> None:
    """As the scan hands them over (views into one buffer, the file's bytes), and as Polars
    builds them (several data buffers, chunks, slices): the same times as Polars' parser."""
    texts = timestamp_strings(random.Random(11), 5_000)
    data, start, end = b"", [], []
    for text in texts:
        data += b"\x01"
        start.append(len(data) if text is not None else -1)
        data += (text or "").encode()
        end.append(len(data) if text is not None else -1)
    buf = np.frombuffer(data, dtype=np.uint8)
    scanned = pl.Series("t", string_views(buf, np.array(start), np.array(end)))
    built = pl.Series("t", texts, dtype=pl.String)
    chunked = pl.concat([built.slice(0, 1_000), scanned.slice(1_000, 4_000)], rechunk=False)
    for values in (scanned, built, chunked, scanned.slice(17, 2_000), chunked.slice(900, 300)):
        assert_series_equal(fix_timestamps(values), polars_timestamps(values, "UTC"))


def test_string_views_hold_the_bytes() -> None:
    rng = random.Random(3)
    values = [bytes(rng.choice(b"abcXYZ019|= ") for _ in range(rng.choice([0, 1, 4, 11, 12, 13,
                                                                            30])))
              for _ in range(3000)]
    data, start, end = b"", [], []
    for value in values:
        data += b"\x01"
        start.append(len(data))
        data += value
        end.append(len(data))
    absent = np.array([rng.random() < 0.2 for _ in values])
    start_at = np.where(absent, -1, np.array(start))
    end_at = np.where(absent, -1, np.array(end))
    buf = np.frombuffer(data, dtype=np.uint8)
    got = pl.Series(string_views(buf, start_at, end_at))
    assert got.to_list() == [None if a else v.decode() for v, a in zip(values, absent,
                                                                       strict=True)]


def test_lines_with_prefix_matches_a_byte_loop() -> None:
    rng = random.Random(5)
    template = b"20240102-10:00:00.000000000 : "
    lines = []
    for _ in range(2000):
        prefix = bytearray(template)
        for _ in range(rng.choice([0, 0, 1])):
            prefix[rng.randrange(len(prefix))] = rng.choice(b"0123456789 :-x")
        body = b"8=FIX.4.4\x019=5\x01" if rng.random() < 0.9 else b"9=FIX.4.4\x01"
        lines.append(bytes(prefix[: rng.choice([len(prefix)] * 9 + [5])]) + body
                     + b"x" * rng.randrange(0, 12))
    data = b"\n".join(lines)
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]]).astype(np.int64)
    ends = starts + np.array([len(line) for line in lines], dtype=np.int64)

    def expected(line: bytes) -> bool:
        if len(line) <= len(template) + 20 or line[len(template):].find(b"8=FIX") != 0:
            return False
        return all(chr(b).isdigit() if chr(t).isdigit() else b == t
                   for b, t in zip(line, template, strict=False))

    got = lines_with_prefix(buf, starts, ends, template)
    assert got.tolist() == [expected(line) for line in lines]


def test_in_arrival_order() -> None:
    frame = pl.DataFrame({"ts_recv": [1, 2, 2, 3], "file_index": [0, 0, 1, 0],
                          "offset": [5, 1, 0, 0]}).with_columns(
        pl.col("ts_recv").cast(pl.Datetime("ns", "UTC")))
    assert dedup.in_arrival_order(frame)
    assert dedup.in_arrival_order(frame.head(0))
    assert not dedup.in_arrival_order(frame.reverse())
    tie = frame.with_columns(pl.Series("offset", [5, 1, 1, 0]), pl.Series("file_index",
                                                                           [0, 0, 0, 0]))
    assert not dedup.in_arrival_order(tie.with_columns(pl.lit(2).alias("ts_recv").cast(
        pl.Datetime("ns", "UTC"))))
    with_null = frame.with_columns(pl.when(pl.col("offset") == 0).then(None)
                                   .otherwise(pl.col("offset")).alias("offset"))
    assert not dedup.in_arrival_order(with_null)


def session_rows(rng: random.Random, n: int) -> pl.DataFrame:
    """Messages of a few sessions in arrival order, MsgSeqNums rising per session, ExecIDs
    reused now and then, some Logons; no resend flags."""
    pairs = [("DESK", "LP_A"), ("LP_A", "DESK"), ("DESK", "LP_B"), ("LP_B", "DESK")]
    seq = dict.fromkeys(pairs, 0)
    rows = []
    for i in range(n):
        sender, target = rng.choice(pairs)
        seq[(sender, target)] += rng.choice([1, 1, 2])
        kind = rng.choice(["8", "8", "D", "0", "A", "3"])
        rows.append({
            "sender": sender, "target": target, "ts_recv": 1_000 + i, "file_index": 0,
            "offset": i, "sending_time": 900 + i, "seq_num": seq[(sender, target)],
            "poss_dup": False, "t141": rng.choice([None, "Y"]), "kind": kind,
            "cl_ord_id": f"C{rng.randrange(50)}", "orig_cl_ord_id": None,
            "exec_id": f"E{rng.randrange(300)}" if kind == "8" else None,
            "exec_type": "F", "f32": 1.0, "f31": 2.0, "ref_msg_type": None, "t45": None,
        })
    return pl.DataFrame(rows).with_columns(
        pl.col("ts_recv", "sending_time").cast(pl.Datetime("ns", "UTC")))


@pytest.mark.parametrize("seed", range(5))
def test_no_resend_shortcut_equals_the_full_rules(seed: int) -> None:
    keys = session_rows(random.Random(seed), 3000).with_row_index("_row")
    epoch = (pl.when((pl.col("kind") == "A") & ((pl.col("seq_num") == 1)
                                                | (pl.col("t141") == "Y")))
             .then(pl.col("sending_time").dt.epoch("ns")).otherwise(None)
             .forward_fill().over("sender", "target").fill_null(0).alias("epoch"))
    marked = keys.with_columns(epoch)
    assert dedup._no_resends(marked)
    is_exec = (pl.col("kind") == "8") & pl.col("exec_id").is_not_null()
    full = dedup._resent_flags(marked, is_exec).select(
        "duplicate", "exec_id_reused", "seq_num_reused")
    shortcut = dedup._flags(keys).select("duplicate", "exec_id_reused", "seq_num_reused")
    assert_frame_equal(shortcut, full)
    assert shortcut["exec_id_reused"].any()


@pytest.mark.parametrize("seed", range(3))
def test_distinct_exec_id_shortcut_equals_the_full_rules(seed: int) -> None:
    """No ExecID shared by two execution reports (as in a clean log): none is reused, by the
    count of distinct ExecIDs, as by the rules in full."""
    keys = session_rows(random.Random(seed), 3000).with_row_index("_row")
    keys = keys.with_columns(pl.when(pl.col("exec_id").is_not_null())
                             .then(pl.format("E{}", pl.col("_row"))).alias("exec_id"))
    marked = keys.with_columns(pl.lit(0).alias("epoch"))
    is_exec = (pl.col("kind") == "8") & pl.col("exec_id").is_not_null()
    assert dedup._distinct_exec_ids(marked, is_exec)
    assert not dedup._distinct_exec_ids(session_rows(random.Random(seed), 3000), is_exec)
    full = dedup._resent_flags(marked, is_exec).select(
        "duplicate", "exec_id_reused", "seq_num_reused")
    shortcut = dedup._flags(keys).select("duplicate", "exec_id_reused", "seq_num_reused")
    assert_frame_equal(shortcut, full)
    assert not shortcut["exec_id_reused"].any()


def test_one_fix_timestamp_is_what_the_column_parser_gives() -> None:
    """``fix_timestamp`` (`lpscore replay`'s, one value at a time) and ``exact_timestamps``
    (the ingest's, a column at once) read the same values as times, and the same ones not."""
    texts = [t for t in timestamp_strings(random.Random(13), 20_000) if t is not None]
    column = exact_timestamps(pl.Series("t", texts, dtype=pl.String)).to_list()
    assert [fix_timestamp(t.encode()) for t in texts] == column
    assert fix_timestamp(b"20261122-10:11:12.5") == 1795342272_500000000
