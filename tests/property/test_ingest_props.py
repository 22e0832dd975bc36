"""Property tests of log ingestion (lpscore.ingest): fast path == slow path, every record
accounted for under arbitrary corruption, duplicates counted once (KPIS.md, Notation)."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import polars as pl
import pytest
from fix_strategies import (
    LOG_STYLES,
    SOH,
    NoisyFills,
    Spec,
    apply_mutations,
    capture_prefix,
    event_flows,
    examples,
    fill_logs,
    fix_messages,
    log_lines,
    mutations,
    noisy_fill_logs,
    pipe_ambiguous,
    utc_timestamps,
    with_fields,
    write_log,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.errors import InputError
from lpscore.fix.codec import checksum, decode
from lpscore.ingest import pipeline, records
from lpscore.ingest.decode import wanted_tags
from lpscore.ingest.pipeline import IngestResult, ingest_logs
from lpscore.ingest.records import split_messages, tag_column
from lpscore.quarantine import Quarantine

PIPELINE_TAGS = wanted_tags(IngestConfig())
WITH_TMP = settings(deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


def row_tags(specs: list[Spec]) -> list[int]:
    tags = set(PIPELINE_TAGS) | {4, 5, 7}
    for spec in specs:
        tags |= spec.tags()
    return sorted(tags)


def expected_row(raw: bytes, tags: list[int]) -> dict[str, str | None]:
    values = decode(raw).first_values()
    return {tag_column(t): values[t].decode() if t in values else None for t in tags}


# --------------------------------------------------------------------------- 2. fast == slow

prefixed_messages = st.lists(
    st.tuples(fix_messages(), utc_timestamps()), min_size=1, max_size=10)


@settings(parent=WITH_TMP, max_examples=examples(40))
@given(prefixed_messages, st.sampled_from([b"\n", b"\r\n"]))
def test_soh_log_rows_equal_decoded_lines(items: list[tuple[Spec, str]], eol: bytes) -> None:
    """A QuickFIX-style log: lines whose prefix has the first line's layout go through the
    scanner, the others (other timestamp precisions) through decode; both give decode's values."""
    specs = [spec for spec, _ in items]
    tags = row_tags(specs)
    lines = [capture_prefix(ts) + spec.raw for spec, ts in items]
    data = b"".join(line + eol for line in lines)
    quarantine = Quarantine()
    with mock.patch.object(records, "decode", wraps=decode) as precise:
        rows = split_messages(data, "x.log", tags, quarantine, lenient=False)
    slow = [i for i, (_, ts) in enumerate(items) if len(ts) != len(items[0][1])]
    assert precise.call_count == len(slow), "the scanner refused a valid message"
    assert (rows.records, rows.quarantined, sum(rows.skipped.values())) == (len(lines), 0, 0)
    assert len(quarantine) == 0
    frame = rows.frame
    assert frame.height == len(lines)
    offset = 0
    for i, ((spec, ts), line) in enumerate(zip(items, lines, strict=True)):
        row = frame.row(i, named=True)
        assert (row["offset"], row["length"], row["line"]) == (offset, len(line), i + 1)
        assert row["capture"] == ts
        assert row["frame_warning"] is None
        assert {k: row[k] for k in map(tag_column, tags)} == expected_row(spec.raw, tags)
        offset += len(line) + len(eol)


@settings(parent=WITH_TMP, max_examples=examples(40))
@given(prefixed_messages)
def test_pipe_log_rows_equal_soh_log_rows(items: list[tuple[Spec, str]]) -> None:
    """The same log written with ``|`` (text mode, slow path) gives the same tag values, for
    messages whose values do not themselves hold ``|NN=`` (inherently ambiguous)."""
    specs = [spec for spec, _ in items]
    assume(not any(pipe_ambiguous(s) for s in specs))
    tags = row_tags(specs)
    soh = b"".join(capture_prefix(ts) + s.raw + b"\n" for s, ts in items)
    pipe = soh.replace(SOH, b"|")
    fast = split_messages(soh, "a.log", tags, Quarantine(), lenient=False)
    text = split_messages(pipe, "b.log", tags, Quarantine(), lenient=False)
    assert (text.records, text.quarantined) == (len(items), 0)
    columns = [*map(tag_column, tags), "capture", "offset", "length", "line"]
    assert text.frame.select(columns).to_dicts() == fast.frame.select(columns).to_dicts()
    for i, spec in enumerate(specs):
        row = text.frame.row(i, named=True)
        assert {k: row[k] for k in map(tag_column, tags)} == expected_row(spec.raw, tags)


@settings(parent=WITH_TMP, max_examples=examples(60))
@given(event_flows(), st.sampled_from(["soh_prefix", "soh", "soh_crlf"]), mutations(max_size=3),
       st.booleans())
def test_fast_path_equals_slow_path_on_mutated_logs(
    specs: list[Spec], style: str, ops: list[tuple], lenient: bool,
) -> None:
    """Whatever the bytes, the scanner changes nothing but speed: the same file split with the
    fast path turned off gives the same rows, counts and quarantine."""
    data = apply_mutations(write_log(specs, style), ops)
    assume(b"\n" in data)  # a newline-delimited log (no newline at all is the raw-stream mode)
    tags = row_tags(specs)
    fast_q, slow_q = Quarantine(), Quarantine()
    fast = split_messages(data, "x.log", tags, fast_q, lenient=lenient)
    no_candidates = lambda buf, starts, ends, prefix_len: starts < 0  # noqa: E731
    with mock.patch.object(records, "_fast_candidates", no_candidates):
        slow = split_messages(data, "x.log", tags, slow_q, lenient=lenient)
    assert (fast.records, fast.quarantined, fast.framing_rejects, fast.skipped) == (
        slow.records, slow.quarantined, slow.framing_rejects, slow.skipped)
    assert fast.frame.to_dicts() == slow.frame.to_dicts()
    assert [(r.offset, r.reason) for r in fast_q] == [(r.offset, r.reason) for r in slow_q]


# --------------------------------------------------------------------------- 3. mutations

def expected_lines(data: bytes) -> int | None:
    """Records of a newline-delimited file (None for a raw SOH stream or an empty file)."""
    if not data or (b"\n" not in data and SOH in data[:65536]):
        return None
    return data.count(b"\n") + (not data.endswith(b"\n"))


def check_accounted(result: IngestResult, sizes: dict[str, int]) -> None:
    for report in result.files:
        assert report.lines == report.events + report.quarantined + report.skipped
        assert report.balanced
        assert sum(report.by_reason.values()) == report.quarantined
    assert len(result.quarantine) == sum(r.quarantined for r in result.files)
    assert result.events.height == sum(r.events for r in result.files)
    for record in result.quarantine:
        assert record.reason
        assert 0 <= record.offset < max(sizes[record.source], 1), record
        assert record.line >= 1


@settings(parent=WITH_TMP, max_examples=examples(80))
@given(event_flows(), st.sampled_from(LOG_STYLES), mutations(max_size=4))
def test_mutated_logs_never_crash_and_reconcile(
    tmp_path: Path, specs: list[Spec], style: str, ops: list[tuple],
) -> None:
    data = apply_mutations(write_log(specs, style), ops)
    path = tmp_path / "mutated.log"
    path.write_bytes(data)
    lines = None
    for config in (IngestConfig(), IngestConfig(lenient=True)):
        try:
            result = ingest_logs([path], config)
        except InputError:
            assert data[:2] == b"\x1f\x8b"  # gzip magic bytes on a file that is not gzip
            return
        check_accounted(result, {str(path): len(data)})
        (report,) = result.files
        if expected_lines(data) is not None:
            assert report.lines == expected_lines(data)
        assert lines in (None, report.lines)
        lines = report.lines


@settings(parent=WITH_TMP, max_examples=examples(15))
@given(event_flows(min_size=1, max_size=4), st.sampled_from(LOG_STYLES),
       st.lists(st.integers(0, 1 << 16), max_size=8), st.booleans())
def test_log_cut_while_being_written_reconciles(
    specs: list[Spec], style: str, extra_cuts: list[int], lenient: bool,
) -> None:
    """A log read while it is written ends anywhere: just after each newline (the first bytes
    of a line) and at random bytes. Every record is a row, a skip or a quarantined record."""
    data = write_log(specs, style)
    newlines = [i for i, b in enumerate(data) if b == 10]
    cuts = {nl + 1 + k for nl in newlines for k in range(12)} | {c % len(data) for c in extra_cuts}
    for cut in sorted(c for c in cuts if c <= len(data)):
        part = data[:cut]
        quarantine = Quarantine()
        rows = split_messages(part, "x.log", PIPELINE_TAGS, quarantine, lenient=lenient)
        assert rows.records == rows.frame.height + rows.quarantined + sum(rows.skipped.values())
        assert rows.quarantined == len(quarantine)
        assert all(0 <= r.offset < max(cut, 1) for r in quarantine), cut
        if expected_lines(part) is not None:
            assert rows.records == expected_lines(part), cut


@settings(parent=WITH_TMP, max_examples=examples(25))
@given(event_flows(min_size=1, max_size=5), st.sampled_from(LOG_STYLES))
def test_valid_logs_have_no_framing_rejects(tmp_path: Path, specs: list[Spec], style: str) -> None:
    """Unmutated logs of valid messages: nothing is quarantined for framing reasons."""
    assume(style != "pipe" or not any(pipe_ambiguous(s) for s in specs))
    path = tmp_path / "valid.log"
    data = write_log(specs, style)
    path.write_bytes(data)
    result = ingest_logs([path], IngestConfig())
    check_accounted(result, {str(path): len(data)})
    framing = {"not_fix", "truncated", "garbled", "bad_begin_string", "bad_body_length",
               "bad_checksum"}
    assert not framing & set(result.quarantine.by_reason())
    assert result.files[0].lines == len(specs)


# --------------------------------------------------------------------------- 5. dedup

def ingest(tmp_path: Path, *files: tuple[str, bytes]) -> IngestResult:
    paths = []
    for name, data in files:
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    result = ingest_logs(paths, IngestConfig())
    check_accounted(result, {str(p): p.stat().st_size for p in paths})
    return result


@settings(parent=WITH_TMP, max_examples=examples(20))
@given(fill_logs())
def test_same_file_twice_counts_once(tmp_path: Path, log: tuple[list[Spec], list[str]]) -> None:
    specs, captures = log
    data = log_lines(specs, captures)
    once = ingest(tmp_path, ("f.log", data))
    twice = ingest(tmp_path, ("f.log", data), ("f_copy.log", data))
    assert once.events.height == len(specs)
    assert twice.events.height == once.events.height
    key = ["seq_num", "exec_id", "last_qty", "last_px"]
    assert twice.events.select(key).sort(key).equals(once.events.select(key).sort(key))
    assert twice.data_quality["duplicates"] == len(specs)
    assert twice.files[1].skipped_by_reason.get("duplicate") == len(specs)
    assert twice.events.filter(pl.col("exec_id_reused")).height == 0


@settings(parent=WITH_TMP, max_examples=examples(20))
@given(fill_logs(), st.data())
def test_possdup_resend_counts_once(tmp_path: Path, log: tuple[list[Spec], list[str]],
                                    data: st.DataObject) -> None:
    specs, captures = log
    k = data.draw(st.integers(0, len(specs) - 1), label="resent")
    original = specs[k]
    flag = data.draw(st.sampled_from([(43, b"Y"), (97, b"Y")]), label="flag")
    resend = with_fields(original, {52: original.first_values()[52]},
                         [flag, (122, original.first_values()[52])])
    later = captures[-1][:-3] + "999"  # after every other line
    result = ingest(tmp_path, ("f.log", log_lines([*specs, resend], [*captures, later])))
    assert result.events.height == len(specs)
    assert result.data_quality["duplicates"] == 1
    assert result.files[0].skipped_by_reason.get("duplicate") == 1
    kept = result.events.filter(pl.col("seq_num") == k + 1)
    assert kept.height == 1
    assert kept["poss_dup"].to_list() == [False]
    assert result.events.filter(pl.col("exec_id_reused")).height == 0


@settings(parent=WITH_TMP, max_examples=examples(20))
@given(fill_logs(), st.data())
def test_reused_exec_id_with_new_seq_num_is_a_new_event(
    tmp_path: Path, log: tuple[list[Spec], list[str]], data: st.DataObject,
) -> None:
    specs, captures = log
    k = data.draw(st.integers(0, len(specs) - 1), label="reused")
    qty = data.draw(st.integers(1, 10**6), label="qty")
    new_seq = str(len(specs) + 1).encode()
    reuse = with_fields(specs[k], {34: new_seq, 32: str(qty).encode()})
    later = captures[-1][:-3] + "999"
    result = ingest(tmp_path, ("f.log", log_lines([*specs, reuse], [*captures, later])))
    assert result.events.height == len(specs) + 1
    assert result.data_quality["duplicates"] == 0
    flagged = result.events.filter(pl.col("exec_id_reused"))
    assert flagged["seq_num"].to_list() == [len(specs) + 1]
    assert flagged["exec_id"].to_list() == [specs[k].first_values()[17].decode()]
    assert result.data_quality["exec_id_reused"] == 1


@settings(parent=WITH_TMP, max_examples=examples(20))
@given(noisy_fill_logs(), st.data())
def test_dedup_does_not_depend_on_file_boundaries(
    tmp_path: Path, log: NoisyFills, data: st.DataObject,
) -> None:
    """Repeats and resends count once, reused ExecIDs with new MsgSeqNums count as new events;
    the same lines split into two files, given in either order, give the same counts, and
    the same rows carry the flags, whether the files are typed together or apart (apart,
    the frame has a chunk per file, and ``mark_duplicates`` cuts its flags to match)."""
    cut = data.draw(st.integers(0, len(log.specs)), label="cut")
    lines = [capture_prefix(c) + s.raw + b"\n"
             for s, c in zip(log.specs, log.captures, strict=True)]
    whole = ingest(tmp_path, ("whole.log", b"".join(lines)))
    first, second = ("a.log", b"".join(lines[:cut])), ("b.log", b"".join(lines[cut:]))
    with mock.patch.object(pipeline, "_TYPED_ROWS", 1):     # each file typed apart
        apart = ingest(tmp_path, second, first)
    flags = ["seq_num", "exec_id", "exec_id_reused", "seq_epoch", "ref_epoch"]
    for result in (whole, ingest(tmp_path, first, second), ingest(tmp_path, second, first),
                   apart):
        assert result.events.height == log.events
        assert result.data_quality["duplicates"] == log.duplicates
        assert result.data_quality["exec_id_reused"] == log.exec_id_reused
        assert result.events.filter(pl.col("exec_id_reused")).height == log.exec_id_reused
        assert result.events["seq_num"].is_unique().all()
        assert result.events.select(flags).sort("seq_num").equals(
            whole.events.select(flags).sort("seq_num"))


# --------------------------------------------------------------------------- reproducers

def _frame(body: bytes, begin: bytes = b"FIX.4.4") -> bytes:
    """A message around ``body`` (from 35= to the SOH before 10=) with right BodyLength and
    CheckSum, whatever the body holds."""
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    return head + body + b"10=%03d\x01" % checksum(head + body)


_FILL = (b"35=8\x0149=LPX\x0156=DESK\x0134=%d\x0152=20240301-10:00:00.000\x0137=O1\x01"
         b"11=C1\x0117=X%d\x01150=F\x0139=2\x0155=EURUSD\x0154=1\x0132=100\x0131=1.5\x01")


def test_scanner_tolerates_soh_before_the_first_fast_line(tmp_path: Path) -> None:
    """A first line that is not a fast-path candidate but holds an SOH (here a truncated
    message) must be quarantined, not crash the vectorised scan of the lines after it."""
    data = b"8=FIX.4.4\x019=5\x01\n" + _frame(_FILL % (1, 1)) + b"\n"
    result = ingest(tmp_path, ("first_line_truncated.log", data))
    assert result.events.height == 1
    assert result.quarantine.by_reason() == {"truncated": 1}


@pytest.mark.parametrize("garbled", [b"58a=b\x01", b"58ab\x01", b"=ab\x01", b"5 8=ab\x01"])
def test_fast_path_quarantines_garbled_fields_like_the_slow_path(
    tmp_path: Path, garbled: bytes,
) -> None:
    """A field that is not TAG=VALUE makes decode reject the message (garbled). The scanner
    checks BodyLength and CheckSum but not the tags of fields it does not look up, so the same
    line becomes an event on the fast path and a quarantined record on the slow path, depending
    only on whether its capture prefix matches the first line's layout."""
    bad = _frame(_FILL % (2, 2) + garbled)
    good = _frame(_FILL % (1, 1))
    fast = b"20240301-10:00:00.000000000 : %s\n20240301-10:00:01.000000000 : %s\n" % (good, bad)
    slow = b"20240301-10:00:00.000000000 : %s\n20240301-10:00:01 : %s\n" % (good, bad)
    by_fast = ingest(tmp_path, ("fast.log", fast))
    by_slow = ingest(tmp_path, ("slow.log", slow))
    assert by_slow.quarantine.by_reason() == {"garbled": 1}
    assert by_fast.quarantine.by_reason() == by_slow.quarantine.by_reason()
    assert by_fast.events.height == by_slow.events.height == 1


def test_fast_and_slow_paths_agree_on_zero_padded_tags(tmp_path: Path) -> None:
    """``034=2`` is MsgSeqNum to decode (int('034') == 34) but an unknown tag to the scanner
    (it matches tag strings byte for byte), so the same line is an event on one path and
    quarantined (missing_tag:34) on the other. Either both read it as 34 or both reject it."""
    bad = _frame((_FILL % (2, 2)).replace(b"\x0134=2\x01", b"\x01034=2\x01"))
    good = _frame(_FILL % (1, 1))
    fast = b"20240301-10:00:00.000000000 : %s\n20240301-10:00:01.000000000 : %s\n" % (good, bad)
    slow = b"20240301-10:00:00.000000000 : %s\n20240301-10:00:01 : %s\n" % (good, bad)
    by_fast = ingest(tmp_path, ("fast.log", fast))
    by_slow = ingest(tmp_path, ("slow.log", slow))
    assert by_fast.events.height == by_slow.events.height
    assert by_fast.quarantine.by_reason() == by_slow.quarantine.by_reason()


@pytest.mark.parametrize("tail", [b"8=F", b"ab", b"x"])
def test_short_last_line_after_a_prefixed_log_is_quarantined(tmp_path: Path, tail: bytes) -> None:
    """A log cut while being written ends in a line of 1 to 3 bytes with no newline: it is one
    quarantined record (not_fix), not an IndexError from the fast-path candidate check, which
    reads bytes 8 and 11 of every line."""
    data = b"20240301-10:00:00.000000000 : " + _frame(_FILL % (1, 1)) + b"\n" + tail
    result = ingest(tmp_path, ("cut.log", data))
    assert result.files[0].lines == 2
    assert result.events.height == 1
    assert result.quarantine.by_reason() == {"not_fix": 1}


def _split_both(data: bytes) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of ``data`` with and without the vectorised fast path."""
    tags = PIPELINE_TAGS
    fast = split_messages(data, "x.log", tags, Quarantine(), lenient=False).frame
    no_candidates = lambda buf, starts, ends, prefix_len: starts < 0  # noqa: E731
    with mock.patch.object(records, "_fast_candidates", no_candidates):
        slow = split_messages(data, "x.log", tags, Quarantine(), lenient=False).frame
    return fast, slow


def test_non_utf8_byte_in_a_capture_prefix_does_not_crash(tmp_path: Path) -> None:
    """One corrupt byte (>= 0x80) in the capture prefix of a fast-path line: the fast path put
    it, unchecked, into a String column (records._capture), and Polars panics on it later
    (pyo3_runtime.PanicException, not even an Exception). The message itself is valid."""
    data = (b"20240301-10:00:00.000000000 : " + _frame(_FILL % (1, 1)) + b"\n"
            + b"20240301-10:00:0\x8a.000000000 : " + _frame(_FILL % (2, 2)) + b"\n")
    result = ingest(tmp_path, ("latin1_prefix.log", data))
    assert result.events.height == 2
    fast, slow = _split_both(data)
    assert fast["capture"].to_list() == slow["capture"].to_list()


@pytest.mark.parametrize("prefix", [
    b"20240301-10:00:05.000000000 X ",   # not " : " after the timestamp
    b"2024030X-10:00:05.000000000 : ",   # not a timestamp
    b"20240301-10:00:05.00000000  : ",   # one digit short, same length
])
def test_fast_and_slow_paths_read_the_same_capture_prefix(prefix: bytes) -> None:
    """The fast path takes the first line's prefix layout on trust (it checks only bytes 8 and
    11), the slow path requires the capture-prefix pattern; a line whose prefix has the right
    length but not the pattern gets a capture time (or an unparsed capture) on one path and
    none on the other, so ts_recv and the capture_prefix_unparsed count depend on the path."""
    data = (b"20240301-10:00:00.000000000 : " + _frame(_FILL % (1, 1)) + b"\n"
            + prefix + _frame(_FILL % (2, 2)) + b"\n")
    fast, slow = _split_both(data)
    assert fast["capture"].to_list() == slow["capture"].to_list()


def test_reproducer_messages_are_well_framed() -> None:
    """The reproducers above differ from valid messages only where they say."""
    assert decode(_frame(_FILL % (1, 1))).msg_type == "8"
    assert re.fullmatch(rb"8=FIX\.4\.4\x019=\d+\x01.*\x0110=\d{3}\x01", _frame(b"35=0\x01"),
                        re.S)
