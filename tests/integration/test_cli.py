"""The `lpscore ingest` command, and what every command prints, run as a user runs it."""

import csv
import io
import json
import re
import subprocess
from pathlib import Path

import polars as pl
import pytest

from clirun import lpscore
from realdata import AMZN_MESSAGES, DEMO_LOG, FIXSIM, MOEX_ORDERS


def test_ingest_json_contract(tmp_path: Path):
    done = lpscore("ingest", str(MOEX_ORDERS), str(FIXSIM), "--out", str(tmp_path),
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
    done = lpscore("ingest", str(FIXSIM), "--out", str(tmp_path), "--strict")
    assert done.returncode == 2
    assert "--strict: 2915 record(s) quarantined" in done.stderr.replace("\n", " ")


def test_lenient_decodes_bad_checksums(tmp_path: Path):
    done = lpscore("ingest", str(FIXSIM), "--out", str(tmp_path), "--lenient", "--format", "json")
    summary = json.loads(done.stdout)
    assert summary["fills"] == 42
    assert summary["files"][0]["quarantined"] == 0


def test_bad_config_stops_early_with_a_fix(tmp_path: Path):
    config = tmp_path / "lpscore.toml"
    config.write_text("[ingets]\n")
    done = lpscore("ingest", MOEX_ORDERS, "--out", tmp_path / "o", "--config", config)
    assert done.returncode == 2
    assert "unknown key(s) ingets" in done.stderr
    assert not (tmp_path / "o").exists()


def test_an_out_path_that_cannot_be_a_directory_stops_before_any_work(tmp_path: Path):
    in_the_way = tmp_path / "report.txt"
    in_the_way.write_text("not a directory\n")
    for out in (in_the_way, in_the_way / "sub"):
        for command in (["ingest", str(MOEX_ORDERS)], ["kpis", str(MOEX_ORDERS)],
                        ["score", str(MOEX_ORDERS)], ["simulate"]):
            done = lpscore(*command, "--out", str(out))
            assert done.returncode == 2, (command, done.stderr)
            assert "is a file; give a directory (made if missing)" in _flat(done.stderr)
        done = lpscore("stream", "--source", f"file://{MOEX_ORDERS}", "--until-idle", "0",
                       "--checkpoint", str(out))   # was a NotADirectoryError traceback
        assert done.returncode == 2, done.stderr
        assert "is a file; give a directory (made if missing)" in _flat(done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_a_folder_given_as_a_log_says_to_pass_its_files(tmp_path: Path):
    done = lpscore("ingest", str(tmp_path), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "a folder, not a file; pass the files in it" in _flat(done.stderr)
    assert not (tmp_path / "o").exists()


def _flat(text: str) -> str:
    """An error as one line: the panel's borders and its wrapping taken out."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def _tables_at(columns: int, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The command run on a terminal ``columns`` wide, and the lines of its tables; it must
    exit 0, and no table may be wider or shorten a value."""
    done = lpscore(*args, env={"COLUMNS": str(columns)})
    assert done.returncode == 0, done.stderr
    tables = [line for line in done.stdout.splitlines() if line[:1] in "┏┃│┡└"]
    assert tables and max(len(line) for line in tables) <= columns
    assert "…" not in done.stdout
    return done, tables


@pytest.mark.parametrize("columns", [50, 80, 200])
def test_kpi_tables_fit_the_terminal_and_never_cut_a_number(tmp_path: Path,
                                                            columns: int) -> None:
    """On a narrow terminal the KPI tables are cut into runs of columns, each beside the
    LP column; no value is shortened (a too-wide table had rich print '32,4…')."""
    done, tables = _tables_at(columns, "kpis", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                              "--out", str(tmp_path))
    payload = json.loads((tmp_path / "kpis.json").read_text())
    cells = {cell.strip() for line in tables for cell in line.split("│")}
    for lp in payload["lps"]:
        assert lp["lp"] in cells
        assert f"{lp['n_orders']:,}" in cells and f"{lp['n_fills']:,}" in cells
    split = sum("continued" in line for line in done.stdout.splitlines())
    assert (split > 0) == (columns < 100), split


def _columns(tables: list[str]) -> dict[str, list[str]]:
    """The columns of the tables whose first column is ``file`` (a table cut into runs of
    columns gives one table per run, each with the file column), by header: a value per
    row, a folded file name joined again."""
    runs: list[tuple[list[str], list[list[str]]]] = []
    for line in tables:
        bar = "┃" if line[0] == "┃" else "│"
        cells = [cell.strip() for cell in line.strip(f"{bar} ").split(bar)]
        if line[0] == "┃":
            runs.append((cells, []))
        elif line[0] == "│" and runs and runs[-1][0][0] == "file":
            rows = runs[-1][1]
            if any(cells[1:]) or not rows:      # a row; else the next line of a folded name
                rows.append(cells)
            else:
                rows[-1][0] += cells[0]
    out: dict[str, list[str]] = {}
    for names, rows in runs:
        if names[0] == "file":
            for k, name in enumerate(names):
                values = [row[k] for row in rows]
                assert out.setdefault(name, values) == values, name     # the same files
    return out


@pytest.mark.parametrize("columns", [50, 80, 200])
def test_the_reconciliation_fits_the_terminal_and_never_cuts_a_count(tmp_path: Path,
                                                                     columns: int) -> None:
    """The file column had a width of 44: at 80 columns the quarantined, skipped and
    balanced columns were cut off the reconciliation. A long file name now folds, and on a
    narrow terminal the counts go on in a second table."""
    long_name = tmp_path / ("a-long-name-of-a-session-log-" * 3 + ".log")
    long_name.write_bytes(MOEX_ORDERS.read_bytes())
    done, tables = _tables_at(columns, "ingest", str(DEMO_LOG), str(long_name), "--out",
                              str(tmp_path / "o"))
    columns_of = _columns(tables)           # each count in its own column, on its file's row
    files = json.loads((tmp_path / "o" / "reconciliation.json").read_text())["files"]
    assert columns_of["file"] == [Path(f["path"]).name for f in files]
    for key in ("lines", "messages", "events", "quarantined", "skipped"):
        assert columns_of[key] == [f"{f[key]:,}" for f in files], key
    assert columns_of["balanced"] == ["yes", "yes"]
    split = sum("continued" in line for line in done.stdout.splitlines())
    assert (split > 0) == (columns < 80), split


def test_logs_without_orders_say_so_instead_of_empty_tables(tmp_path: Path) -> None:
    log = tmp_path / "noise.log"
    log.write_bytes(b"not a FIX message\n" * 5)
    done = lpscore("kpis", str(log), "--out", str(tmp_path / "k"))
    assert done.returncode == 0, done.stderr
    assert "no child orders" in _flat(done.stdout)
    assert "┏" not in done.stdout and "Orders, fills" not in done.stdout
    done = lpscore("score", str(log))
    assert done.returncode == 2 and "no child orders" in _flat(done.stderr), done.stderr


@pytest.mark.parametrize("log", [MOEX_ORDERS, DEMO_LOG], ids=["moex", "demo"])
def test_kpis_csv_says_what_json_says(tmp_path: Path, log: Path) -> None:
    """A spreadsheet reads the CSV (and lps.parquet): its counts are integers ('47', not
    '47.0', the sums the table holds) and every value is the JSON's, for every LP (an LP
    without rejects has reject_reasons {}, as in the JSON, not an empty cell)."""
    as_json = lpscore("kpis", str(log), "--out", str(tmp_path / "j"), "--format", "json")
    as_csv = lpscore("kpis", str(log), "--out", str(tmp_path / "c"), "--format", "csv")
    assert as_json.returncode == as_csv.returncode == 0, as_csv.stderr
    lps = json.loads(as_json.stdout)["lps"]
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [row["lp"] for row in rows] == [lp["lp"] for lp in lps]
    # and so does lps.parquet: its counts were Float64 sums of weights
    table = pl.read_parquet(tmp_path / "j" / "lps.parquet", glob=False)
    counts = ["n_orders", "n_terminal", "n_fills", "n_no_benchmark"]
    assert all(table.schema[name] == pl.Int64 for name in counts)
    assert table.select(counts).to_dicts() == [{k: lp[k] for k in counts} for lp in lps]
    for lp, row in zip(lps, rows, strict=True):
        for name in ("n_orders", "n_terminal", "n_fills", "n_no_benchmark"):
            assert row[name] == str(lp[name]), name
        assert json.loads(row["reject_reasons"]) == lp["reject_reasons"]
        flat = {f"{k}_{sub}": v for k, value in lp.items() if isinstance(value, dict)
                and k not in ("reject_reasons", "orphan_reject_reasons")
                for sub, v in value.items()}
        compared = 0
        for name, value in [*lp.items(), *flat.items()]:
            if name in row and isinstance(value, float | None):
                assert (float(row[name]) if row[name] else None) == value, name
                compared += 1
        assert compared > 30


def test_report_writes_into_a_folder_or_new_folders_and_refuses_the_impossible(
        tmp_path: Path) -> None:
    kpi_dir = tmp_path / "k"
    assert lpscore("kpis", str(DEMO_LOG), "--out", str(kpi_dir)).returncode == 0
    folder = tmp_path / "pages"
    folder.mkdir()
    for out, written in ((str(folder), folder / "report.html"),     # was IsADirectoryError
                         (str(tmp_path / "new" / "deep" / "r.html"),  # was FileNotFoundError
                          tmp_path / "new" / "deep" / "r.html"),
                         (f"{tmp_path / 'newdir'}/",              # a file named newdir
                          tmp_path / "newdir" / "report.html")):
        done = lpscore("report", str(kpi_dir), "--out", out)
        assert done.returncode == 0, done.stderr
        assert written.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    done = lpscore("report", str(kpi_dir), "--out", str(blocked / "r.html"))
    assert done.returncode == 2
    assert "cannot write it" in _flat(done.stderr)


def test_names_and_messages_are_printed_as_they_are_not_as_markup(tmp_path: Path) -> None:
    """The console reads '[...]' as markup: an LP named '[/b]LP_A[red]' (LP names come from
    the FIX traffic and lpscore.toml) stopped kpis and score with a MarkupError after
    all their work, and an error's '[weights]' vanished from its message."""
    config = tmp_path / "lpscore.toml"
    config.write_text('[ingest]\nlp_map = {LP_A = "[/b]LP_A[red]"}\n')
    for command in (["kpis", str(DEMO_LOG), "--out", str(tmp_path / "k")],
                    ["score", str(DEMO_LOG)]):
        done = lpscore(*command, "--config", str(config))
        assert done.returncode == 0, (command, done.stderr)
        assert "[/b]LP_A[red]" in done.stdout, command
    profile = tmp_path / "p.toml"
    profile.write_text('name = "p"\n[weights]\n')
    done = lpscore("score", str(DEMO_LOG), "--profile", str(profile))
    assert done.returncode == 2
    assert "no [weights] table" in _flat(done.stderr)
