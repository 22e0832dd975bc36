"""Every real FIX file ingests, reconciles, and matches the counts of SOURCES.md."""

import gzip
from pathlib import Path

import polars as pl
import pytest

from lpscore.config import IngestConfig
from lpscore.ingest import ingest_logs, records
from lpscore.quarantine import Quarantine
from lpscore.stream.decode import Record, StreamDecoder
from realdata import FIX, FIXATIONS, FIXSIM, MOEX, MOEX_ORDERS

ALL_LOGS = sorted(p for p in FIX.rglob("*.log") if "generated" not in p.parts)
"""Real logs only: tests/data/fix/generated/ holds logs our own tools wrote."""


@pytest.mark.parametrize("lenient", [False, True])
def test_every_real_log_reconciles(lenient):
    result = ingest_logs(ALL_LOGS, IngestConfig(lenient=lenient))
    assert len(result.files) == len(ALL_LOGS) == 16
    for report in result.files:
        assert report.lines == report.events + report.quarantined + report.skipped, report
    assert len(result.quarantine) == sum(r.quarantined for r in result.files)


def test_moex_order_session_counts():
    result = ingest_logs([MOEX_ORDERS], IngestConfig())
    (report,) = result.files
    assert report.lines == report.messages == 961
    assert report.by_msg_type["D"] == 59
    assert report.by_msg_type["8"] == 79
    execs = result.events.filter(pl.col("kind") == "8")
    assert execs.height == 78
    by_type = dict(execs.group_by("exec_type").len().iter_rows())
    assert by_type == {"0": 22, "F": 22, "8": 34}
    assert report.skipped_by_reason["duplicate"] == 1
    nones = execs.filter(pl.col("exec_id") == "0|8|NONE")
    assert nones.height == 7
    assert nones["seq_num"].n_unique() == 7
    assert nones["exec_id_reused"].sum() == 6
    assert result.data_quality["duplicates"] == 1


def test_moex_possdup_resend_is_dropped_and_original_kept():
    result = ingest_logs([MOEX_ORDERS], IngestConfig())
    fill = result.events.filter(pl.col("exec_id") == "113723689|B|111638")
    assert fill.height == 1
    assert fill["seq_num"].item() == 65
    assert fill["poss_dup"].item() is False
    assert fill["last_px"].item() == 257493.0


def test_moex_capture_prefix_is_ts_recv_and_sending_time_kept():
    result = ingest_logs([MOEX_ORDERS], IngestConfig())
    fill = result.events.filter(pl.col("exec_id") == "113723689|B|111638").row(0, named=True)
    assert str(fill["ts_recv"]) == "2022-01-07 08:16:36.698213+00:00"
    assert fill["sending_time"].isoformat().startswith("2022-01-07T08:16:38.510145")
    assert fill["transact_time_subsecond"] is False


def test_moex_malformed_orders_are_quarantined_with_the_missing_tag():
    result = ingest_logs([MOEX_ORDERS], IngestConfig())
    reasons = result.files[0].by_reason
    assert reasons == {"missing_tag:11": 2, "missing_tag:38": 1, "missing_tag:54": 4,
                       "missing_tag:55": 5}
    assert result.events.filter(pl.col("kind") == "D").height == 59 - 12
    for record in result.quarantine:
        assert record.raw.startswith("2022010")
        assert "35=D" in record.raw


def test_moex_non_utf8_text_survives_as_latin1():
    result = ingest_logs(sorted(MOEX.glob("*.log")), IngestConfig())
    texts = result.events["text"].drop_nulls().to_list()
    assert any(any(0xC0 <= ord(ch) <= 0xFF for ch in t) for t in texts)


def test_moex_direction_and_lp_inferred():
    result = ingest_logs([MOEX_ORDERS], IngestConfig())
    assert result.own_comp_ids == ["MU9051500001"]
    orders = result.events.filter(pl.col("kind") == "D")
    assert orders["outbound"].all()
    assert set(orders["lp"]) == {"IFIX-EQ-UAT"}
    execs = result.events.filter(pl.col("kind") == "8")
    assert not execs["outbound"].any()
    assert set(execs["session"]) == {"MU9051500001->IFIX-EQ-UAT"}


def test_lp_map_and_own_comp_ids_from_config():
    config = IngestConfig(own_comp_ids=("MU9051500001",), lp_map={"IFIX-EQ-UAT": "MOEX"})
    result = ingest_logs([MOEX_ORDERS], config)
    assert set(result.events["lp"]) == {"MOEX"}


def test_fixsim_checksums_all_bad_quarantined_by_default():
    result = ingest_logs([FIXSIM], IngestConfig())
    (report,) = result.files
    assert report.lines == 2916
    assert report.quarantined == 2915
    assert report.by_reason == {"bad_checksum": 2915}
    assert report.skipped_by_reason == {"comment": 1}
    assert report.events == 0


def test_fixsim_decoded_under_lenient_and_still_counted():
    result = ingest_logs([FIXSIM], IngestConfig(lenient=True))
    (report,) = result.files
    assert report.quarantined == 0
    assert report.by_msg_type == {"0": 2861, "8": 46, "A": 3, "5": 5}
    execs = result.events.filter(pl.col("kind") == "8")
    assert dict(execs.group_by("exec_type").len().iter_rows()) == {"0": 4, "F": 42}
    assert result.data_quality["lenient_bad_checksum"] == 2915


@pytest.mark.parametrize("name", ["sample_pipe.log", "sample_ctrl-a.log", "sample_blank.log"])
def test_fixations_delimiter_styles_agree(name):
    result = ingest_logs([FIXATIONS / name], IngestConfig(lenient=True))
    (report,) = result.files
    assert report.by_msg_type == {"A": 2, "h": 1, "V": 2, "W": 2, "D": 1, "8": 1}
    fill = result.events.filter(pl.col("kind") == "8").row(0, named=True)
    assert fill["last_px"] == 1.36181
    assert fill["symbol"] == "EUR/USD"


def test_fixations_comments_and_blanks_skipped():
    result = ingest_logs([FIXATIONS / "short_pipe_with_comments.log"], IngestConfig(lenient=True))
    (report,) = result.files
    assert report.skipped_by_reason["comment"] == 2
    assert report.skipped_by_reason["blank"] == 4


def test_gzip_and_crlf(tmp_path: Path):
    raw = MOEX_ORDERS.read_bytes().replace(b"\n", b"\r\n")
    target = tmp_path / "moex.log.gz"
    target.write_bytes(gzip.compress(raw))
    plain = ingest_logs([MOEX_ORDERS], IngestConfig()).events
    zipped = ingest_logs([target], IngestConfig()).events
    # CRLF moves byte offsets; everything else is identical.
    assert zipped.drop("source", "offset").equals(plain.drop("source", "offset"))


def test_duplicated_file_counts_once(tmp_path: Path):
    copy = tmp_path / "copy.log"
    copy.write_bytes(MOEX_ORDERS.read_bytes())
    once = ingest_logs([MOEX_ORDERS], IngestConfig())
    twice = ingest_logs([MOEX_ORDERS, copy], IngestConfig())
    assert twice.events.height == once.events.height
    assert twice.files[1].events == 0
    assert twice.files[1].skipped_by_reason["duplicate"] == once.events.height + 1


@pytest.mark.parametrize("lenient", [False, True])
def test_mapped_logs_ingest_as_read_logs(lenient, monkeypatch):
    """Every real log gives the same events, reports and quarantine mapped as read (the
    quarantine's raw text is cut from the map)."""
    monkeypatch.setattr(records, "MAP_MIN_BYTES", 0)   # map them, small as they are
    mapped = ingest_logs(ALL_LOGS, IngestConfig(lenient=lenient))
    read = ingest_logs(ALL_LOGS, IngestConfig(lenient=lenient, memory_map=False))
    assert mapped.events.equals(read.events)
    assert mapped.files == read.files
    assert mapped.quarantine.records == read.quarantine.records
    assert len(read.quarantine) > 0


def _piped_moex_with_junk(tmp_path: Path) -> tuple[Path, list[bytes]]:
    """The MOEX order session written with ``|`` between fields (its ExecIDs hold ``|``
    too), below a junk line that holds an SOH byte, with one message left SOH-delimited."""
    lines = MOEX_ORDERS.read_bytes().splitlines()
    piped = [line.replace(b"\x01", b"|") for line in lines]
    piped[500] = lines[500]
    out = [b"junk \x01 line", *piped]
    path = tmp_path / "piped.log"
    path.write_bytes(b"\n".join(out) + b"\n")
    return path, out


KEYS = ["kind", "seq_num", "exec_id", "cl_ord_id", "ts_recv", "last_qty", "last_px"]


def test_each_line_is_split_on_its_own_delimiter(tmp_path: Path):
    """An SOH byte at the top of a ``|`` log (the first 64 kB once chose the delimiter of
    every line) decides nothing: each message is split on what follows its BeginString."""
    path, _ = _piped_moex_with_junk(tmp_path)
    plain = ingest_logs([MOEX_ORDERS], IngestConfig())
    piped = ingest_logs([path], IngestConfig())
    (report,) = piped.files
    assert report.by_reason == {**plain.files[0].by_reason, "not_fix": 1}
    assert report.lines == report.events + report.quarantined + report.skipped == 962
    assert piped.events.select(KEYS).equals(plain.events.select(KEYS))
    assert piped.events.filter(pl.col("exec_id") == "0|8|NONE").height == 7


def test_a_stream_splits_each_line_as_the_batch_ingest(tmp_path: Path):
    """Polls of one line each (no poll sees the junk line beside the ``|`` ones) decode to
    the batch ingest's events."""
    path, lines = _piped_moex_with_junk(tmp_path)
    decoder = StreamDecoder(IngestConfig())
    quarantine = Quarantine()
    frames = [decoder.decode([Record("piped", i, line)], quarantine)
              for i, line in enumerate(lines)]
    polled = pl.concat([f for f in frames if f.height], how="diagonal_relaxed")
    batch = ingest_logs([path], IngestConfig())
    assert polled.select(KEYS).equals(batch.events.select(KEYS))
    assert sorted(q.reason for q in quarantine) == sorted(q.reason for q in batch.quarantine)
