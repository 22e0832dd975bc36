"""The decision journal (routing/journal.py) and the console's reader of it
(console/decisions.py): records round-trip through JSON, writers append, readers see each
record as soon as it is written, and the reader follows growth, truncation, replacement,
half-written and malformed lines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

import lpscore.routing
from lpscore.console.decisions import DecisionFile
from lpscore.routing import Child, DecisionLog, Plan, Skipped, decision_record

TS_NS = 1_714_656_600_123_456_789
PLAN = Plan("spray", "block", False, "symbol=ACME", "",
            (Child("LP_C", 122_800.0, "LP_C: rank 1 under block, score 88.2 +/- 3.1"),
             Child("LP_A", 77_200.0, "LP_A: rank 2 under block, score 80.0 +/- 2.0")),
            (Skipped("LP_B", "kill switch"),), 0.0)
NOTHING = Plan("primary", "hft", True, "static", "no scores at symbol=ACME; used the static "
               "ranking", (), (), 500.5)


def write(log: DecisionLog, plan: Plan = PLAN, ts_ns: int = TS_NS, symbol: str = "ACME",
          parent: str | None = None) -> None:
    log.write(plan, ts_ns=ts_ns, symbol=symbol, side="sell", qty=200_000.0, parent=parent)


def test_a_record_is_the_request_and_the_whole_plan_and_round_trips() -> None:
    record = decision_record(PLAN, ts_ns=TS_NS, symbol="ACME", side="sell", qty=200_000.0,
                             parent="P1")
    assert json.loads(json.dumps(record)) == record
    assert list(record)[:6] == ["ts", "ts_ns", "symbol", "side", "qty", "parent"]
    assert {k: record[k] for k in PLAN.to_json()} == PLAN.to_json()
    assert record["ts"] == "2024-05-02T13:30:00.123456789Z"
    assert (record["ts_ns"], record["symbol"], record["side"], record["qty"],
            record["parent"]) == (TS_NS, "ACME", "sell", 200_000, "P1")
    assert isinstance(record["qty"], int)   # whole quantities as integers, as the plan's
    micros = datetime.fromisoformat(record["ts"][:26] + "+00:00")
    assert micros == datetime.fromtimestamp(TS_NS // 1000 / 1e6, UTC)
    assert decision_record(NOTHING, ts_ns=0, symbol="ACME", side="buy", qty=500.5)[
        "parent"] is None
    assert decision_record(NOTHING, ts_ns=5, symbol="X", side="buy", qty=1.0)["ts"] == (
        "1970-01-01T00:00:00.000000005Z")


@pytest.mark.parametrize(("side", "qty"), [("hold", 1.0), ("1", 1.0), ("buy", math.nan),
                                           ("sell", -1.0), ("buy", math.inf)])
def test_a_record_refuses_what_no_order_has(side: str, qty: float) -> None:
    with pytest.raises(ValueError, match=r"^(side|qty) "):
        decision_record(PLAN, ts_ns=TS_NS, symbol="ACME", side=side, qty=qty)


def test_logs_append_across_instances_and_create_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "run" / "deep" / "decisions.jsonl"
    with DecisionLog(path) as first:
        write(first, parent="P1")
    assert first.closed
    with DecisionLog(str(path)) as second:
        write(second, NOTHING, ts_ns=TS_NS + 1, parent="P2")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["parent"] for x in lines] == ["P1", "P2"]
    assert json.loads(lines[1])["children"] == [] and json.loads(lines[1])["unrouted"] == 500.5


def test_a_record_is_visible_to_a_reader_before_close(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path)
    try:
        write(log)
        with path.open(encoding="utf-8") as reader:   # another handle, as a console has
            assert json.loads(reader.readline())["policy"] == "spray"
            write(log, NOTHING)
            assert json.loads(reader.readline())["policy"] == "primary"
    finally:
        log.close()


def test_exported() -> None:
    assert {"DecisionLog", "decision_record"} <= set(lpscore.routing.__all__)


# -- the console's reader -------------------------------------------------------------------


def test_the_reader_reads_only_the_tail_while_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    journal = DecisionFile(path)
    assert journal.read().items == ()                    # no file yet
    with DecisionLog(path) as log:
        write(log, parent="P1")
        first = journal.read()
        assert [d["parent"] for d in first.items] == ["P1"]
        assert journal.read() is first                   # unchanged: nothing read
        write(log, NOTHING, parent="P2")
        assert [d["parent"] for d in journal.read().items] == ["P1", "P2"]
        # the items already parsed are kept, not parsed again
        assert journal.read().items[0] is first.items[0]


def test_the_reader_rereads_a_file_that_shrank_or_was_replaced(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    journal = DecisionFile(path)
    with DecisionLog(path) as log:
        write(log, parent="P1")
        write(log, parent="P2")
    assert len(journal.read().items) == 2
    path.write_text("", encoding="utf-8")               # truncated
    with DecisionLog(path) as log:
        write(log, parent="P3")
    assert [d["parent"] for d in journal.read().items] == ["P3"]
    other = tmp_path / "new.jsonl"                        # replaced by a longer file
    with DecisionLog(other) as log:
        for n in range(4):
            write(log, ts_ns=TS_NS + 10 + n, parent=f"Q{n}")
    other.replace(path)
    assert [d["parent"] for d in journal.read().items] == ["Q0", "Q1", "Q2", "Q3"]
    path.unlink()
    assert journal.read().items == ()


def test_the_reader_notices_a_rewrite_in_place_that_grew(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    journal = DecisionFile(path)
    with DecisionLog(path) as log:
        write(log, parent="P1")
    assert len(journal.read().items) == 1
    size = path.stat().st_size
    with path.open("r+b") as f:      # same inode, longer, different first record
        f.truncate(0)
        f.write(((json.dumps({"ts_ns": 1, "parent": "R1"}) + "\n") * 30).encode())
    assert path.stat().st_size > size
    assert [d["parent"] for d in journal.read().items] == ["R1"] * 30


def test_malformed_lines_are_skipped_counted_and_logged_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        write(log, parent="P1")
    with path.open("a", encoding="utf-8") as f:
        f.write("not json\n\n[1, 2]\n{\"qty\": NaN}\n")
    with DecisionLog(path) as log:
        write(log, parent="P2")
    journal = DecisionFile(path)
    seen = journal.read()
    assert [d["parent"] for d in seen.items] == ["P1", "P2"]
    assert seen.malformed == 3                           # a blank line is not malformed
    assert [r.getMessage().split(":")[1] for r in caplog.records] == ["2", "4", "5"]
    with DecisionLog(path) as log:
        write(log, parent="P3")
    assert journal.read().malformed == 3
    assert len(caplog.records) == 3


def test_a_half_written_last_line_waits_for_the_rest(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "decisions.jsonl"
    line = json.dumps(decision_record(PLAN, ts_ns=TS_NS, symbol="ACME", side="buy",
                                      qty=5.0)).encode()
    journal = DecisionFile(path)
    with path.open("wb", buffering=0) as f:
        f.write(line[:40])
        assert (journal.read().items, journal.read().malformed) == ((), 0)
        f.write(line[40:] + b"\n")
        assert [d["qty"] for d in journal.read().items] == [5]
        f.write(b'{"parent": "no newline"}')              # complete: read without waiting
        assert journal.read().items[-1] == {"parent": "no newline"}
        f.write(b"\n")
        assert len(journal.read().items) == 2
        f.write(b"oops\n")                               # line 3, not 4
    assert journal.read().malformed == 1
    assert ":3: not a JSON object" in caplog.text
