"""The KPI engine and `lpscore kpis` on real logs (MOEX UAT) and the generated AMZN demo log."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from lpscore.cli import app
from lpscore.config import Config, IngestConfig, MarketDataConfig
from lpscore.history import read_compact
from lpscore.ingest.pipeline import ingest_logs
from lpscore.kpi.engine import EVENT_COLUMNS, QUOTE_COLUMNS, compute_kpis
from lpscore.marketdata import load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine
from realdata import AMZN_MESSAGES as AMZN
from realdata import DEMO_LOG, FIX

MOEX_DIR = FIX / "fix-moex-uat-pashenkogleb"
MOEX_LOGS = sorted(MOEX_DIR.glob("*.log"))
JSON_KEYS = {
    "lp", "n_orders", "n_terminal", "n_fills", "filled_qty", "fill_rate", "complete_fill_rate",
    "reject_rate", "session_reject_rate", "reject_reasons", "pi_bps", "pi_rate",
    "eff_spread_bps", "e_over_q", "markout_bps", "real_spread_bps", "impact_bps",
    "ack_latency_ms", "fill_latency_ms", "hold_time_ms", "lastlook_asymmetry", "n_no_benchmark",
}


def _raw_rejects(path: Path) -> Counter[tuple[str, str]]:
    """(sender, OrdRejReason) of every 35=8 reject in a log, read without lpscore."""
    found: Counter[tuple[str, str]] = Counter()
    for line in path.read_bytes().split(b"\n"):
        fields = dict(re.findall(rb"(?:^|\x01)(\d+)=([^\x01]*)", line.split(b" : ", 1)[-1]))
        if fields.get(b"35") == b"8" and fields.get(b"150") == b"8" and b"43" not in fields:
            found[(fields[b"49"].decode(), fields.get(b"103", b"").decode())] += 1
    return found


@pytest.fixture(scope="module")
def moex_payload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("moex")
    result = CliRunner().invoke(app, ["kpis", *map(str, MOEX_LOGS), "--out", str(out),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_moex_reject_reasons_are_counted_as_sent(moex_payload: dict[str, object]) -> None:
    raw: Counter[tuple[str, str]] = Counter()
    for path in MOEX_LOGS:
        raw += _raw_rejects(path)
    counted: Counter[tuple[str, str]] = Counter()
    for lp in moex_payload["lps"]:  # type: ignore[attr-defined]
        for reasons in (lp["reject_reasons"], lp["orphan_reject_reasons"]):
            for reason, n in reasons.items():
                counted[(lp["lp"], reason.split(" ")[0])] += n
    assert counted == raw
    assert sum(raw.values()) == 34  # as the exchange sent them: 17 x 99, 11 x 6, ...
    (lp,) = moex_payload["lps"]  # type: ignore[misc]
    assert lp["reject_reasons"] == {"99 other": 15, "6 duplicate order": 9,
                                    "1 unknown symbol": 2}


def test_moex_latency_from_capture_is_positive_and_clock_offset_is_about_1_8s(
        moex_payload: dict[str, object]) -> None:
    (lp,) = moex_payload["lps"]  # type: ignore[misc]
    assert set(lp) >= JSON_KEYS
    for name in ("ack_latency_ms", "fill_latency_ms", "hold_time_ms"):
        assert 0 < lp[name]["p50"] <= lp[name]["p95"] <= lp[name]["p99"]
    assert 250 < lp["ack_latency_ms"]["p50"] < 400  # capture clock: ~0.3 s, not 1.8 + 0.3 s
    offsets = moex_payload["clock_offsets"]  # type: ignore[attr-defined]
    assert len(offsets) == 3
    assert all(1_650 < o["offset_ms"] < 1_900 for o in offsets)
    assert lp["session_reject_rate"] == pytest.approx(5 / 51)  # 1 named + 4 of quarantined Ds
    assert lp["n_no_benchmark"] == lp["n_fills"] == 20  # no quotes given: nulls, counted


def test_demo_log_kpis_separate_the_lps(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["kpis", str(DEMO_LOG), "--quotes", str(AMZN), "--out",
                                      str(tmp_path), "--format", "json", "--html"])
    assert result.exit_code == 0, result.output
    lps = {lp["lp"]: lp for lp in json.loads(result.stdout)["lps"]}
    ack = {name: lp["ack_latency_ms"]["p50"] for name, lp in lps.items()}
    assert ack["LP_A"] < ack["LP_B"] < ack["LP_D"] < ack["LP_C"]
    assert max(lps, key=lambda n: lps[n]["reject_rate"]) == "LP_B"
    assert lps["LP_B"]["lastlook_asymmetry"] > 0.3  # rejects what moved against it
    assert max(lps, key=lambda n: lps[n]["pi_bps"]) == "LP_D"  # the dark pool fills at mid
    assert lps["LP_D"]["fill_rate"] < 0.6
    assert set(lps["LP_A"]["markout_bps"]) == {"100ms", "1s", "5s", "30s", "60s"}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "LP_B" in page and "http" not in page
    orders = pl.read_parquet(tmp_path / "orders.parquet", glob=False)
    assert orders.height == sum(lp["n_orders"] for lp in lps.values())


def _kpis(paths: list[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    quotes = load_quotes([AMZN], MarketDataConfig(), Quarantine()).quotes
    events = ingest_logs(paths, IngestConfig()).events
    result = compute_kpis(events, quotes, Config())
    return result.orders.sort("t_send", "cl_ord_id"), result.fills.sort("t_exec", "exec_id")


def test_shuffled_lines_and_a_repeated_file_give_the_same_kpis(tmp_path: Path) -> None:
    lines = DEMO_LOG.read_bytes().split(b"\n")
    random.Random(3).shuffle(lines)
    shuffled = tmp_path / "shuffled.log"
    shuffled.write_bytes(b"\n".join(lines))
    base_orders, base_fills = _kpis([DEMO_LOG])
    for paths in ([shuffled], [DEMO_LOG, DEMO_LOG]):
        orders, fills = _kpis(paths)
        assert_frame_equal(orders, base_orders)
        assert_frame_equal(fills, base_fills)
    lps = base_orders.group_by("lp").agg(pl.col("rejected").mean()).sort("lp")
    assert lps["lp"].to_list() == ["LP_A", "LP_B", "LP_C", "LP_D"]


@pytest.mark.parametrize("paths", [[DEMO_LOG], MOEX_LOGS], ids=["demo", "moex"])
def test_compact_inputs_read_from_parquet_give_the_same_kpis(paths: list[Path],
                                                             tmp_path: Path) -> None:
    """What a caller reading Parquet for the engine gets (read_compact) changes no table."""
    quotes = load_quotes([AMZN], MarketDataConfig(), Quarantine()).quotes
    events = ingest_logs(paths, IngestConfig()).events
    plain = compute_kpis(events, quotes, Config())
    events.write_parquet(tmp_path / "events.parquet")
    quotes.write_parquet(tmp_path / "quotes.parquet")
    small = compute_kpis(read_compact(tmp_path / "events.parquet", EVENT_COLUMNS),
                         read_compact(tmp_path / "quotes.parquet", QUOTE_COLUMNS), Config())
    assert plain.fills.height and plain.orders.height
    for name in ("fills", "orders", "clock_offsets", "unmatched_session_rejects",
                 "orphan_rejects"):
        assert_frame_equal(getattr(small, name), getattr(plain, name))
    assert small.data_quality == plain.data_quality


def test_clock_offset_counts_messages_captured_at_their_sending_time(tmp_path: Path) -> None:
    """The offset is the median over every LP message with a capture time, those captured
    exactly at their SendingTime too (a synced clock and a millisecond capture give many):
    they were taken for messages without a capture prefix and left out, which moved LP_A's
    median from 0 to -0.38 ms on this copy of the demo log."""
    lines = DEMO_LOG.read_bytes().split(b"\n")
    synced = 0
    for i, line in enumerate(lines):
        prefix, _, message = line.partition(b" : ")
        sent = re.search(rb"\x0152=([^\x01]*)", message)
        if b"\x0149=LP_A\x01" in message and sent is not None and synced % 2 == 0:
            stamp = sent.group(1).ljust(len(prefix), b"0")      # 13:29:40.019 -> .019000
            lines[i] = stamp + b" : " + message
        synced += b"\x0149=LP_A\x01" in message
    log = tmp_path / "synced.log"
    log.write_bytes(b"\n".join(lines))
    events = ingest_logs([log], IngestConfig()).events
    assert events["captured"].all()
    theirs = events.filter(~pl.col("outbound") & (pl.col("lp") == "LP_A"))
    skew_ms = (theirs["sending_time"] - theirs["ts_recv"]).dt.total_nanoseconds() / 1e6
    assert (skew_ms == 0).sum() > theirs.height / 3      # the copy did sync a third or more
    no_quotes = pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA))
    result = compute_kpis(events, no_quotes, Config())
    (row,) = result.clock_offsets.filter(pl.col("lp") == "LP_A").to_dicts()
    assert row["n"] == theirs.height
    assert row["offset_ms"] == pytest.approx(float(skew_ms.median()), abs=1e-9)
    # a store written before `captured` was kept: equal times are taken for no capture
    old = compute_kpis(events.drop("captured"), no_quotes, Config())
    (then,) = old.clock_offsets.filter(pl.col("lp") == "LP_A").to_dicts()
    assert then["n"] == theirs.height - (skew_ms == 0).sum()
