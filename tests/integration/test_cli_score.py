"""`lpscore score`, run as a user runs it, on the demo log and the AMZN book, and on the
history store an ingest of them wrote."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import clirun
from realdata import AMZN_MESSAGES, DEMO_LOG


def lpscore(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``lpscore ARGS`` on a terminal 80 columns wide."""
    return clirun.lpscore(*args, env={"COLUMNS": "80"})


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return lpscore("score", DEMO_LOG, "--quotes", AMZN_MESSAGES, *args)


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("score")
    done = run("--profile", "block", "--format", "json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert json.loads((out / "scores.json").read_text()) == payload
    return payload


def test_json_contract(block: dict) -> None:
    assert block["profile"] == "block"
    assert block["context"] == {}
    scores = block["scores"]
    assert [s["lp"] for s in scores] == sorted(
        [s["lp"] for s in scores], key=lambda lp: -next(s["score"] for s in scores
                                                         if s["lp"] == lp))
    assert {s["lp"] for s in scores} == {"LP_A", "LP_B", "LP_C", "LP_D"}
    weights = {"ack_latency_ms_p50": 0.10, "fill_rate": 0.40, "pi_bps": 0.20,
               "impact_bps_5s": 0.30}
    for s in scores:
        assert {"lp", "score", "ci_low", "ci_high", "rank", "provisional", "n_orders", "n_eff",
                "contributions", "kpis"} <= set(s)
        assert set(s["contributions"]) == set(weights) == set(s["kpis"])
        assert sum(s["contributions"].values()) == pytest.approx(s["score"], abs=1e-9)
        for kpi, points in s["contributions"].items():
            assert 0.0 <= points <= 100 * weights[kpi] + 1e-9
        assert s["ci_low"] <= s["score"] <= s["ci_high"]
        assert s["n_orders"] > 100 and not s["provisional"]
    assert [s["rank"] for s in scores] == [1, 2, 3, 4]


def test_dark_pool_leads_price_but_not_fill_rate(block: dict) -> None:
    """LP_D fills at the mid (best PI) but rarely (worst fill rate): tools/gen_demo_fix.py."""
    by_lp = {s["lp"]: s for s in block["scores"]}
    pi = {lp: s["kpis"]["pi_bps"] for lp, s in by_lp.items()}
    fill = {lp: s["kpis"]["fill_rate"] for lp, s in by_lp.items()}
    assert max(pi, key=pi.__getitem__) == "LP_D"
    assert min(fill, key=fill.__getitem__) == "LP_D"


def test_context_and_custom_profile(tmp_path: Path) -> None:
    profile = tmp_path / "desk.yaml"
    profile.write_text("name: desk\nnormalization: rank\nweights:\n  markout_bps_5s: 2\n"
                       "  reject_rate: 1\nnormalize: true\nseed: 7\n")
    done = run("--profile", str(profile), "--context", "symbol=AMZN", "--format", "json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["profile"] == "desk"
    assert payload["context"] == {"symbol": "AMZN"}
    for s in payload["scores"]:
        assert set(s["contributions"]) == {"markout_bps_5s", "reject_rate"}
    again = json.loads(run("--profile", str(profile), "--context", "symbol=AMZN",
                           "--format", "json").stdout)
    assert again == payload  # seeded: the same intervals


def test_table_output() -> None:
    done = run("--profile", "hft")
    assert done.returncode == 0, done.stderr
    assert "Profile hft, all orders" in done.stdout
    assert "LP_A" in done.stdout and "95% interval" in done.stdout
    # on an 80-column terminal a long KPI name folds onto a second line instead of being
    # cut to "ack_latency_m…", which left the reader to guess which latency it was
    assert "…" not in done.stdout
    assert "ack_latency_ms_" in done.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--profile", "fastest"], "neither a built-in profile (hft, block, best_price)"),
    (["--context", "symbol"], "give key=value pairs"),
    (["--context", "venue=X"], "unknown key(s) venue"),
    (["--context", "symbol=MSFT"], "no orders in context"),
    (["--format", "csv"], "'csv' is not one of 'table',"),
])
def test_errors_say_what_to_do(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in " ".join(done.stderr.split())


def test_an_extra_key_that_is_no_column_is_a_config_error(tmp_path: Path) -> None:
    """It stopped with a ValueError traceback naming --by, an option score has not."""
    config = tmp_path / "lpscore.toml"
    config.write_text('[context]\nextra_keys = ["venue"]\n')
    done = run("--context", "venue=X", "--config", str(config))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    said = " ".join(done.stderr.split())
    assert "context.extra_keys: unknown key(s) venue: use columns of the orders table" in said
    assert "lpscore.toml: context.extra_keys" in said         # the file, not None


def test_store_and_port_numbers_that_are_not_numbers_say_so() -> None:
    done = lpscore("scores", "--store", "redis://127.0.0.1:abc/0", "--profile", "block")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "(port and db numbers)" in " ".join(done.stderr.split())
    done = lpscore("serve", "--store", "memory://", "--port", "70000")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "less than or equal to 65535" in " ".join(done.stderr.split())


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --out folder of ``lpscore ingest`` on the same log and quotes: DIR/history."""
    out = tmp_path_factory.mktemp("ingest")
    done = lpscore("ingest", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("folder", ["history", "."], ids=["store", "ingest_out"])
def test_history_scores_equal_the_logs(block: dict, ingested: Path, tmp_path: Path,
                                       folder: str) -> None:
    """The contract of --history: the numbers of the FIX logs whose ingest wrote the store;
    --out gets the scores and the quarantine, not a copy of the store."""
    done = lpscore("score", "--history", str(ingested / folder), "--profile", "block",
                   "--format", "json", "--out", str(tmp_path / "scored"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == block
    assert json.loads((tmp_path / "scored" / "scores.json").read_text()) == block
    assert sorted(p.name for p in (tmp_path / "scored").iterdir()) == [
        "quarantine.jsonl", "scores.json"]


def test_nothing_to_score_says_what_to_give() -> None:
    """The other --history errors, which score and kpis share, are tested with kpis
    (tests/integration/test_kpis_history.py)."""
    done = lpscore("score")
    assert done.returncode == 2
    assert "nothing to score: give FIX logs" in " ".join(done.stderr.split())


def test_history_without_event_files(tmp_path: Path) -> None:
    (tmp_path / "history" / "events").mkdir(parents=True)
    done = lpscore("score", "--history", str(tmp_path))
    assert done.returncode == 2
    said = "".join(done.stderr.split())   # rich may wrap the long path anywhere
    where = "".join(str(tmp_path).split())
    assert f"{where}/history/eventsholdsnoeventfiles(date=*/symbol=*/*.parquet)" in said


def test_a_store_of_quotes_only_says_the_logs_held_no_events(tmp_path: Path) -> None:
    """Logs with no orders or reports (here: an empty log) ingested with quotes."""
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    done = lpscore("ingest", str(empty), "--quotes", str(AMZN_MESSAGES), "--out",
                   str(tmp_path / "in"))
    assert done.returncode == 0, done.stderr
    done = lpscore("score", "--history", str(tmp_path / "in"))
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "the store holds quotes but no events" in said
    assert "held no orders or reports" in said
