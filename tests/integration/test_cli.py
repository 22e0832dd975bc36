"""The `lpscore ingest` command, run as a user runs it."""

import json
import re
import subprocess
import sys
from pathlib import Path

from realdata import FIXSIM, MOEX_ORDERS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lpscore.cli", *args],
                          capture_output=True, text=True, check=False)


def test_ingest_json_contract(tmp_path: Path):
    done = run("ingest", str(MOEX_ORDERS), str(FIXSIM), "--out", str(tmp_path),
               "--format", "json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {"files", "orders", "executions", "fills", "rejects", "cancel_rejects",
            "quotes"} <= set(summary)
    moex, fixsim = summary["files"]
    for f in summary["files"]:
        assert {"path", "lines", "messages", "events", "quarantined", "skipped",
                "by_msg_type", "by_reason"} <= set(f)
        assert f["lines"] == f["events"] + f["quarantined"] + f["skipped"]
    assert moex["by_msg_type"]["D"] == 59
    assert fixsim["by_reason"] == {"bad_checksum": 2915}
    assert summary["fills"] == 22
    assert summary["rejects"] == 34
    lines = (tmp_path / "quarantine.jsonl").read_text().splitlines()
    assert len(lines) == moex["quarantined"] + fixsim["quarantined"]
    record = json.loads(lines[-1])
    assert record["source"] == str(FIXSIM)
    assert record["reason"] == "bad_checksum"
    assert record["line"] > 0
    assert record["offset"] >= 0
    assert json.loads((tmp_path / "reconciliation.json").read_text())["fills"] == 22


def test_strict_exits_nonzero_when_anything_is_quarantined(tmp_path: Path):
    done = run("ingest", str(FIXSIM), "--out", str(tmp_path), "--strict")
    assert done.returncode == 2
    assert "--strict: 2915 record(s) quarantined" in done.stderr.replace("\n", " ")


def test_lenient_decodes_bad_checksums(tmp_path: Path):
    done = run("ingest", str(FIXSIM), "--out", str(tmp_path), "--lenient", "--format", "json")
    summary = json.loads(done.stdout)
    assert summary["fills"] == 42
    assert summary["files"][0]["quarantined"] == 0


def test_bad_config_stops_early_with_a_fix(tmp_path: Path):
    config = tmp_path / "lpscore.toml"
    config.write_text("[ingets]\n")
    done = run("ingest", str(MOEX_ORDERS), "--out", str(tmp_path / "o"), "--config", str(config))
    assert done.returncode == 2
    assert "unknown key(s) ingets" in done.stderr
    assert not (tmp_path / "o").exists()


def test_an_out_path_that_cannot_be_a_directory_stops_before_any_work(tmp_path: Path):
    in_the_way = tmp_path / "report.txt"
    in_the_way.write_text("not a directory\n")
    for out in (in_the_way, in_the_way / "sub"):
        for command in (["ingest", str(MOEX_ORDERS)], ["kpis", str(MOEX_ORDERS)],
                        ["score", str(MOEX_ORDERS)], ["simulate"]):
            done = run(*command, "--out", str(out))
            assert done.returncode == 2, (command, done.stderr)
            assert "is a file; give a directory (made if missing)" in _flat(done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_a_folder_given_as_a_log_says_to_pass_its_files(tmp_path: Path):
    done = run("ingest", str(tmp_path), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "a folder, not a file; pass the files in it" in _flat(done.stderr)
    assert not (tmp_path / "o").exists()


def _flat(text: str) -> str:
    """An error as one line: the panel's borders and its wrapping taken out."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())
