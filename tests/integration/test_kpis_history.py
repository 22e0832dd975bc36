"""`lpscore kpis --history`, run as a user runs it: the KPI outputs of a history store are those
of `lpscore kpis` on the FIX logs and quotes it was ingested from, whether in one ingest or
appended to in parts, down to kpis.json's data-quality counts (the ingests' kept in the
store's state); and its errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import clirun
from realdata import AMZN_MESSAGES, DEMO_LOG, cut

INGEST_COUNTS = {"capture_prefix_unparsed", "duplicates", "exec_id_reused", "seq_num_reused"}
"""The data-quality counts of the ingest (lpscore.ingest.pipeline), not of the KPI engine."""


def lpscore(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``lpscore ARGS`` on a terminal 80 columns wide."""
    return clirun.lpscore(*args, env={"COLUMNS": "80"})


def kpis_json(folder: Path) -> dict[str, Any]:
    """``folder``/kpis.json without its run time."""
    payload: dict[str, Any] = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    payload.pop("seconds")
    return payload


@pytest.fixture(scope="module")
def from_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --out folder of ``lpscore kpis`` on the demo log and the AMZN book."""
    out = tmp_path_factory.mktemp("logs")
    done = lpscore("kpis", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--out", str(out),
                   "--html", "--format", "json")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module", params=[1, 3], ids=["one_ingest", "three_appends"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --out folder of ``lpscore ingest`` (holding history/) of the same log and quotes:
    in one ingest, or cut into three parts by lines and appended in order (the quotes with
    the first)."""
    folder = tmp_path_factory.mktemp("store")
    n = len(DEMO_LOG.read_bytes().splitlines())
    parts = cut(DEMO_LOG, [n * k // request.param for k in range(1, request.param)],
                folder / "parts")
    for k, part in enumerate(parts):
        more = ["--quotes", str(AMZN_MESSAGES)] if k == 0 else ["--append"]
        done = lpscore("ingest", str(part), *more, "--out", str(folder / "ingest"))
        assert done.returncode == 0, done.stderr
    return folder / "ingest"


def test_kpis_of_a_store_equal_those_of_its_logs(from_logs: Path, store: Path,
                                                 tmp_path: Path) -> None:
    """Every output but the quarantine (the ingest's is the one beside the store) is that of
    the logs, in the same row order, appended or not; OUT gets no copy of the store."""
    out = tmp_path / "kpis"
    done = lpscore("kpis", "--history", str(store / "history"), "--out", str(out), "--html",
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    payload.pop("seconds")
    assert payload == kpis_json(out) == kpis_json(from_logs)
    assert payload["data_quality"]["duplicates"] == 1   # the ingest's count, from the state
    for name in ("lps", "fills", "orders"):
        assert pl.read_parquet(out / f"{name}.parquet", glob=False).equals(
            pl.read_parquet(from_logs / f"{name}.parquet", glob=False)), name
    assert sorted(p.name for p in out.iterdir()) == [
        "fills.parquet", "kpis.json", "lps.parquet", "orders.parquet", "quarantine.jsonl",
        "report.html", "stats"]


@pytest.mark.parametrize("store", [3], indirect=True)
def test_the_table_output_names_what_it_wrote(store: Path, tmp_path: Path) -> None:
    done = lpscore("kpis", "--history", str(store), "--out", str(tmp_path / "kpis"))
    assert done.returncode == 0, done.stderr
    said = "".join(done.stdout.split())   # rich wraps a long path anywhere
    where = "".join(str(tmp_path).split())
    assert f"{where}/kpis/fills.parquet,orders.parquet,lps.parquet" in said
    assert "dataquality:{'duplicates':1" in said


@pytest.mark.parametrize("state", ["none", "without_counts"])
def test_a_store_without_kept_counts_has_the_engines_only(from_logs: Path, tmp_path: Path,
                                                          state: str) -> None:
    """A store written without ``lpscore ingest`` (no state), or by an lpscore that kept no
    data-quality counts in its state: the ingest's counts are unknown, so absent."""
    history = tmp_path / "history"
    done = lpscore("ingest", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--out",
                   str(tmp_path))
    assert done.returncode == 0, done.stderr
    path = history / "ingest-state" / "state.json"
    if state == "none":
        path.unlink()
    else:
        saved = json.loads(path.read_text(encoding="utf-8"))
        del saved["data_quality"]
        path.write_text(json.dumps(saved), encoding="utf-8")
    done = lpscore("kpis", "--history", str(history), "--out", str(tmp_path / "kpis"),
                   "--format", "json")
    assert done.returncode == 0, done.stderr
    expected = kpis_json(from_logs)
    expected["data_quality"] = {k: v for k, v in expected["data_quality"].items()
                                if k not in INGEST_COUNTS}
    expected.pop("leaderboards")   # from_logs has --html
    assert kpis_json(tmp_path / "kpis") == expected


@pytest.mark.parametrize(("command", "args", "message"), [
    ("kpis", [], "nothing to measure: give FIX logs (lpscore kpis FIX_FILES... "
     "[--quotes FILES...]) or a history store (lpscore kpis --history DIR)"),
    *((command, args, message) for command in ("kpis", "score") for args, message in [
        ([str(DEMO_LOG), "--history", "{store}"], "give FIX logs or --history, not both"),
        (["--history", "{store}", "--quotes", str(AMZN_MESSAGES)],
         "--quotes with --history: the store's own quotes are used"),
        (["--history", "{store}/events"], "not a history store; give a history store, the "
         "folder holding events/date=*/symbol=*/*.parquet"),
        (["--history", "{store}/nowhere"], "nowhere: not found"),
    ]),
    ("kpis", ["--history", "{store}", "--engine", "dask", "--html"],
     "--html needs the per-order tables: use --engine local"),
    ("kpis", ["--history", "{store}", "--scheduler", "tcp://nowhere:8786"],
     "--scheduler needs --engine dask"),
], ids=["neither", *(f"{command}-{case}" for command in ("kpis", "score")
                     for case in ("both", "quotes", "not_a_store", "missing")),
        "dask_html", "scheduler"])
@pytest.mark.parametrize("store", [1], indirect=True)
def test_history_errors_say_what_to_do(store: Path, tmp_path: Path, command: str,
                                       args: list[str], message: str) -> None:
    """score and kpis share the checks of --history (cli_common.store_or_logs)."""
    history = str(store / "history")
    out = tmp_path / "out"
    done = lpscore(command, *(a.replace("{store}", history) for a in args), "--out", str(out))
    assert done.returncode == 2
    # without any whitespace: rich wraps a path longer than the line anywhere in it
    assert "".join(message.split()) in "".join(done.stderr.split())
    assert not out.exists()


@pytest.mark.parametrize(("text", "why"), [
    ('{"format": 1, "data_quality": [1]}', "data_quality[1],expectedanobjectofcounts"),
    ("[]", "format[],expected1"),
], ids=["counts_not_an_object", "not_an_object"])
def test_an_unreadable_state_is_an_error(tmp_path: Path, text: str, why: str) -> None:
    done = lpscore("ingest", str(DEMO_LOG), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    state = tmp_path / "history" / "ingest-state" / "state.json"
    state.write_text(text, encoding="utf-8")
    done = lpscore("kpis", "--history", str(tmp_path), "--out", str(tmp_path / "kpis"))
    assert done.returncode == 2
    said = "".join(done.stderr.split())   # rich wraps a long path anywhere
    assert f"notastatelpscorecanread({why});ingestthestore'slogsagain" in said
