"""The generated demo log (tests/data/fix/generated): reproducible from its tool, and ingested
with exactly the edge cases planted in it (listed, with their ClOrdIDs, in its PROVENANCE.md)."""

import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lpscore.config import IngestConfig
from lpscore.ingest.orders import effective_fills, link_child_orders
from lpscore.ingest.pipeline import ingest_logs
from realdata import FIX

ROOT = Path(__file__).resolve().parents[2]
GENERATED = FIX / "generated"
LOG = GENERATED / "demo-amzn-lps.log"
LAST_QUOTE = "2012-06-21 13:42:37.487159401"  # last row of the AMZN LOBSTER slice, UTC


@pytest.fixture(scope="module")
def result():
    return ingest_logs([LOG], IngestConfig())


@pytest.fixture(scope="module")
def events(result):
    return link_child_orders(result.events)


@pytest.fixture(scope="module")
def case():
    text = (GENERATED / "PROVENANCE.md").read_text()
    return dict(re.findall(r"^\| (\w+) \| `(DSK\d{6})` \|", text, flags=re.MULTILINE))


def of(events, clid, kind="8"):
    return events.filter((pl.col("cl_ord_id") == clid) & (pl.col("kind") == kind)).sort(
        "ts_recv", "offset")


def test_regenerates_byte_identical(tmp_path):
    out = tmp_path / "demo-amzn-lps.log"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_demo_fix.py"), "--seed", "7", "--out", str(out)],
        capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == LOG.read_bytes()
    assert (tmp_path / "PROVENANCE.md").read_text() == (GENERATED / "PROVENANCE.md").read_text()


def test_only_the_planted_checksum_is_quarantined(result):
    (report,) = result.files
    assert report.lines == report.messages == 5566
    assert report.lines == report.events + report.quarantined + report.skipped
    assert report.by_reason == {"bad_checksum": 1}
    assert report.skipped_by_reason == {"admin": 491, "duplicate": 1}
    assert report.by_msg_type == {"A": 8, "0": 482, "2": 1, "D": 1513, "8": 3557, "G": 1,
                                  "F": 1, "9": 1, "3": 1}
    assert result.own_comp_ids == ["DESK"]
    assert result.data_quality == {"capture_prefix_unparsed": 0, "duplicates": 1,
                                   "exec_id_reused": 0, "seq_num_reused": 0}


def test_counts(result, events):
    assert result.totals() == {"orders": 1513, "executions": 3556, "fills": 1669, "rejects": 36,
                               "cancel_rejects": 1}
    orders = events.filter(pl.col("kind") == "D")
    assert dict(orders.group_by("lp").len().iter_rows()) == {
        "LP_A": 482, "LP_B": 323, "LP_C": 407, "LP_D": 301}
    assert orders["parent_id"].n_unique() == 604
    assert orders["symbol"].unique().to_list() == ["AMZN"]
    execs = events.filter(pl.col("kind") == "8")
    assert dict(execs.group_by("exec_type").len().iter_rows()) == {
        "0": 1509, "F": 1669, "4": 339, "8": 36, "5": 1, "G": 1, "H": 1}
    rejects = execs.filter(pl.col("exec_type") == "8")
    assert dict(rejects.group_by("lp").len().iter_rows()) == {"LP_A": 3, "LP_B": 33}
    dark = execs.filter((pl.col("lp") == "LP_D") & (pl.col("exec_type") == "F"))
    assert (dark["last_px"] * 200).round(6).to_list() == (dark["last_px"] * 200).round().to_list()
    linked = events.filter(pl.col("kind").is_in(["8", "9", "F", "G"]))
    assert linked["child_id"].null_count() == 0
    late = orders.filter(pl.col("ts_recv") > pl.lit(LAST_QUOTE).str.to_datetime(
        time_unit="ns", time_zone="UTC"))
    assert late.height >= 3  # sent after the last quote: their markouts have no quotes


def test_bust_and_correction(events, case):
    bust = of(events, case["bust"])
    assert bust["exec_type"].to_list() == ["0", "F", "H"]
    assert bust["exec_ref_id"][2] == bust["exec_id"][1]
    corr = of(events, case["correct"])
    assert corr["exec_type"].to_list() == ["0", "F", "G"]
    assert corr["exec_ref_id"][2] == corr["exec_id"][1]
    assert abs(abs(corr["last_px"][2] - corr["last_px"][1]) - 0.01) < 1e-9
    fills = effective_fills(events)
    assert fills.filter(pl.col("cl_ord_id") == case["bust"]).height == 0
    fixed = fills.filter(pl.col("cl_ord_id") == case["correct"])
    assert fixed["last_px"].to_list() == [corr["last_px"][2]]


def test_bad_checksum_and_possdup_resend(result, events, case):
    clid = case["bad_checksum_then_possdup"]
    (record,) = result.quarantine.records
    assert record.reason == "bad_checksum"
    assert f"^A11={clid}^A" in record.raw
    assert "^A150=0^A" in record.raw
    reports = of(events, clid)
    assert reports["exec_type"].to_list() == ["F", "0"]  # the resent ack comes after the fill
    assert reports["poss_dup"].to_list() == [False, True]
    assert reports["seq_num"][1] == reports["seq_num"][0] - 1  # the resent ack's own number


def test_fill_before_ack(events, case):
    reports = of(events, case["fill_before_ack"])
    assert reports["exec_type"].to_list() == ["F", "0", "F"]
    assert reports["ord_status"].to_list() == ["1", "0", "2"]


def test_reused_clordid(events, case):
    assert case["reused_clordid_first"] == case["reused_clordid_second"]
    clid = case["reused_clordid_first"]
    orders = of(events, clid, "D")
    assert orders.height == 2
    assert orders["side"].to_list() == [1, -1]
    assert (orders["ts_recv"][1] - orders["ts_recv"][0]).total_seconds() > 180
    reports = of(events, clid)
    assert reports["child_id"].to_list() == [orders["child_id"][0]] * 2 + [
        orders["child_id"][1]] * 2


def test_cancel_replace_confirmed(events, case):
    clid = case["replace"]
    (order,) = of(events, clid, "D").iter_rows(named=True)
    assert order["time_in_force"] == "0"
    (replace,) = events.filter((pl.col("kind") == "G") & (pl.col("orig_cl_ord_id") == clid)
                               ).iter_rows(named=True)
    reports = events.filter((pl.col("kind") == "8") & (pl.col("child_id") == order["child_id"]))
    assert reports["exec_type"].to_list() == ["0", "5", "F"]
    assert reports["cl_ord_id"].to_list() == [clid, replace["cl_ord_id"], replace["cl_ord_id"]]
    assert reports["orig_cl_ord_id"][1] == clid
    assert replace["child_id"] == order["child_id"]


def test_cancel_reject(events, case):
    clid = case["cancel_reject"]
    (order,) = of(events, clid, "D").iter_rows(named=True)
    (cancel,) = events.filter((pl.col("kind") == "F") & (pl.col("orig_cl_ord_id") == clid)
                              ).iter_rows(named=True)
    (reject,) = events.filter(pl.col("kind") == "9").iter_rows(named=True)
    assert reject["cl_ord_id"] == cancel["cl_ord_id"]
    assert reject["orig_cl_ord_id"] == clid
    assert (reject["cxl_rej_response_to"], reject["cxl_rej_reason"]) == ("1", 1)
    assert reject["child_id"] == cancel["child_id"] == order["child_id"]
    assert of(events, clid)["exec_type"].to_list() == ["0", "4"]


def test_session_reject_then_reroute(events, case):
    (order,) = of(events, case["session_reject"], "D").iter_rows(named=True)
    (reject,) = events.filter(pl.col("kind") == "3").iter_rows(named=True)
    assert reject["session"] == order["session"] == "DESK->LP_B"
    assert reject["ref_seq_num"] == order["seq_num"]
    assert (reject["ref_msg_type"], reject["session_reject_reason"]) == ("D", 1)
    assert of(events, case["session_reject"]).height == 0
    siblings = events.filter((pl.col("kind") == "D") & (pl.col("parent_id") == order["parent_id"]))
    assert siblings["lp"].to_list() == ["LP_B", "LP_A"]
    assert siblings["order_qty"].to_list() == [order["order_qty"]] * 2


def test_open_orders_are_exactly_the_planted_ones(events, case):
    terminal = pl.col("ord_status").is_in(["2", "4", "8"])
    per_child = events.filter(pl.col("kind") == "8").group_by("child_id").agg(
        terminal.any().alias("done"), pl.col("cl_ord_id").first())
    still_open = sorted(per_child.filter(~pl.col("done"))["cl_ord_id"].to_list())
    assert still_open == sorted(v for k, v in case.items() if k.startswith("open_"))
    for name in ("open_day_1", "open_day_2", "open_in_last_look_1", "open_in_last_look_2"):
        assert of(events, case[name])["exec_type"].to_list() == ["0"]
