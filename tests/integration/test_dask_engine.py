"""The Dask engine gives the local engine's numbers: KPI tables, side outputs and scores, on a
multi-day, multi-symbol desk whose orders, fills and markouts cross midnight; and it still
does when a worker dies mid-job (a real LocalCluster of two worker processes)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from distributed.diagnostics.plugin import WorkerPlugin
from typer.testing import CliRunner

from dask_data import make_dataset
from lpscore.cli import app
from lpscore.config import Config
from lpscore.engine.dask import ClusterResult, cluster_stats, connect
from lpscore.engine.plan import TASK_EVENTS, plan_tasks
from lpscore.history import write_events, write_quotes
from lpscore.kpi.aggregate import kpi_stats, summarize
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.scoring import catalog, load_profile, score_contexts, score_result
from lpscore.stats.table import Decay
from realdata import AMZN_MESSAGES, DEMO_LOG, cut

ALL_KEYS = ["lp", *CONTEXT_KEYS]
QUANTILE_REL = 0.02  # twice the sketch's relative error (alpha = 1%)


@dataclass
class Desk:
    store: Path
    events: pl.DataFrame
    quotes: pl.DataFrame
    local: KpiResult


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with connect(None, n_workers=2, threads_per_worker=1, processes=True) as c:
        yield c


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Desk:
    events, quotes = make_dataset()
    root = tmp_path_factory.mktemp("dask") / "history"
    write_events(root, events)
    write_quotes(root, quotes)
    return Desk(root, events, quotes, compute_kpis(events, quotes, Config()))


def close(a: object, b: object, rel: float = 1e-9) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return a == b


def assert_same_table(local: pl.DataFrame, dask: pl.DataFrame) -> None:
    assert local.columns == dask.columns
    assert local.height == dask.height
    for name in local.columns:
        rel = QUANTILE_REL if name.endswith(("_p50", "_p95", "_p99")) else 1e-9
        for a, b in zip(local[name].to_list(), dask[name].to_list(), strict=True):
            if isinstance(a, list):  # reject reasons: (category, weight) structs
                assert sorted(a, key=str) == sorted(b, key=str), name
            else:
                assert close(a, b, rel), (name, a, b)


def assert_same_sides(local: KpiResult, run: ClusterResult) -> None:
    assert run.data_quality == local.data_quality
    assert run.clock_offsets.equals(local.clock_offsets)
    assert run.orphan_rejects.equals(local.orphan_rejects)
    assert run.unmatched_session_rejects.equals(local.unmatched_session_rejects)
    assert run.n_orders == local.orders.height


def test_the_desk_crosses_partitions(desk: Desk) -> None:
    orders, fills = desk.local.orders, desk.local.fills
    day = pl.col("t_send").dt.date()
    later = fills.filter(pl.col("t_recv").dt.date() > day)
    assert later.height >= 3  # filled after the midnight after they were sent
    midnight = pl.col("t_exec").dt.truncate("1d") + pl.duration(days=1)
    past = fills.filter((pl.col("t_exec") < midnight)
                        & (pl.col("t_exec") + pl.duration(seconds=60) > midnight))
    assert past["markout_bps_60s"].drop_nulls().len() >= 3  # read the next day's quotes
    assert orders["session_rejected"].sum() >= 3
    assert desk.local.unmatched_session_rejects["n_unmatched"].sum() == 1
    assert orders["reject_cost_bps"].drop_nulls().len() >= 10
    parents = orders.group_by("parent_id").agg(day.n_unique().alias("days"))
    assert parents["days"].max() == 2  # a re-route after midnight: fused partitions
    plan = plan_tasks(desk.store, task_events=1)
    assert len(plan.tasks) < plan.n_keys
    assert sum(len(t.seqs) for t in plan.tasks) == desk.events.height
    # packed: a date's partitions together (by their first key's date: a group crossing
    # midnight joins its first date's pack, tests/unit/test_plan_packing.py), no event
    # twice or lost
    for task_events in (400, TASK_EVENTS):
        packed = plan_tasks(desk.store, task_events=task_events)
        assert len(packed.tasks) < len(plan.tasks)
        seqs = np.concatenate([t.seqs for t in packed.tasks])
        assert np.array_equal(np.sort(seqs), np.sort(np.concatenate([t.seqs for t in plan.tasks])))
        assert len(seqs) == desk.events.height
        for task in packed.tasks:
            alone = [t for t in plan.tasks if set(t.keys) <= set(task.keys)]
            assert sum(len(t.seqs) for t in alone) == len(task.seqs)
            assert len(alone) == 1 or len(task.seqs) <= task_events
            assert len({t.keys[0].split(" ")[0] for t in alone}) == 1


@pytest.mark.parametrize("task_events", [1, 400, TASK_EVENTS],
                         ids=["partitions", "packs", "default"])
@pytest.mark.parametrize("keys", [["lp"], ALL_KEYS], ids=["lp", "all_context_keys"])
def test_kpis_match_the_local_engine(desk: Desk, client: Any, keys: list[str],
                                     task_events: int) -> None:
    """Whether each partition (or fused group) is a task, or a date's are packed into
    tasks of at most ``task_events`` events."""
    run = cluster_stats(desk.store, Config(), keys, client=client, task_events=task_events)
    local = kpi_stats(desk.local, keys)
    assert_same_table(summarize(local, desk.local.horizons, desk.local.unmatched_session_rejects),
                      summarize(run.stats, run.horizons, run.unmatched_session_rejects))
    assert_same_sides(desk.local, run)
    assert run.n_tasks == len(plan_tasks(desk.store, task_events=task_events).tasks)


@pytest.mark.parametrize("decay", [Decay(86_400e9), Decay(40.0, "orders")],
                         ids=["time_clock", "orders_clock"])
def test_scores_match_the_local_engine(desk: Desk, client: Any, decay: Decay) -> None:
    specs = catalog(desk.local.horizons)
    profile = replace(load_profile("block", specs), decay=decay)
    run = cluster_stats(desk.store, Config(), ["lp", "symbol"], decay=decay, client=client)
    local_stats = kpi_stats(desk.local, ["lp", "symbol"], decay=decay)
    assert run.stats.t_ref == local_stats.t_ref
    for context in ({}, {"symbol": "AAA"}):
        keys = list(context)
        mine = score_result(desk.local, profile, specs, context, CONTEXT_KEYS)
        theirs = score_contexts(run.stats.rollup(["lp", *keys]), profile, specs, keys,
                                where=context)[0]
        assert_same_json(mine.to_json(), theirs.to_json())


def assert_same_json(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same_json(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_json(x, y, f"{path}[{i}]")
    else:
        assert close(a, b), (path, a, b)


def test_cli_engines_agree(client: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    common = [str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--format", "json"]
    dask = ["--engine", "dask", "--scheduler", client.scheduler.address]
    payloads = []
    for name, extra in (("local", []), ("dask", dask)):
        done = runner.invoke(app, ["kpis", *common, "--out", str(tmp_path / name),
                                   "--by", "symbol,vol_regime", *extra])
        assert done.exit_code == 0, done.output
        payload = json.loads(done.stdout)
        payload.pop("seconds")
        payloads.append(payload)
    assert_same_json(*payloads)
    assert not (tmp_path / "dask" / "orders.parquet").exists()
    assert json.loads((tmp_path / "dask" / "kpis.json").read_text())["lps"] == payloads[1]["lps"]
    scores = []
    for extra in ([], dask):
        done = runner.invoke(app, ["score", *common, "--out", str(tmp_path / "s"), *extra])
        assert done.exit_code == 0, done.output
        scores.append(json.loads(done.stdout))
    assert_same_json(*scores)


@pytest.mark.parametrize("appends", [1, 3])
def test_cli_scores_a_history_store(client: Any, tmp_path: Path, appends: int) -> None:
    """``score --history`` maps over the store as it is (no --out needed with --scheduler:
    the workers read the store itself) and gives the scores of the logs it was ingested
    from, whether in one ingest or appended to in parts (several files a partition)."""
    runner = CliRunner()
    n = len(DEMO_LOG.read_bytes().splitlines())
    parts = cut(DEMO_LOG, [k * n // appends for k in range(1, appends)], tmp_path / "parts")
    for k, part in enumerate(parts):
        quotes = ["--quotes", str(AMZN_MESSAGES)] if k == 0 else []
        done = runner.invoke(app, ["ingest", str(part), *quotes, "--out", str(tmp_path),
                                   "--append", "--format", "json"])
        assert done.exit_code == 0, done.output
    store = tmp_path / "history"
    files = sorted(store.rglob("*"))
    logs = runner.invoke(app, ["score", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                               "--format", "json"])
    assert logs.exit_code == 0, logs.output
    done = runner.invoke(app, ["score", "--history", str(store), "--format", "json",
                               "--engine", "dask", "--scheduler", client.scheduler.address])
    assert done.exit_code == 0, done.output
    assert_same_json(json.loads(logs.stdout), json.loads(done.stdout))
    assert sorted(store.rglob("*")) == files


def test_cli_kpis_of_a_history_store(client: Any, tmp_path: Path) -> None:
    """``kpis --history --engine dask`` maps over the store where it is (appended to in three
    parts: several files a partition) and writes the KPIs of the logs it was ingested from,
    the ingests' data-quality counts included; OUT gets no copy of the store."""
    runner = CliRunner()
    n = len(DEMO_LOG.read_bytes().splitlines())
    for k, part in enumerate(cut(DEMO_LOG, [n // 3, 2 * n // 3], tmp_path / "parts")):
        more = ["--quotes", str(AMZN_MESSAGES)] if k == 0 else ["--append"]
        done = runner.invoke(app, ["ingest", str(part), *more, "--out", str(tmp_path),
                                   "--format", "json"])
        assert done.exit_code == 0, done.output
    store = tmp_path / "history"
    files = sorted(store.rglob("*"))
    logs = runner.invoke(app, ["kpis", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                               "--out", str(tmp_path / "logs"), "--format", "json"])
    assert logs.exit_code == 0, logs.output
    out = tmp_path / "kpis"
    done = runner.invoke(app, ["kpis", "--history", str(store), "--out", str(out), "--format",
                               "json", "--engine", "dask", "--scheduler",
                               client.scheduler.address])
    assert done.exit_code == 0, done.output
    payloads = [json.loads((folder / "kpis.json").read_text()) for folder in (tmp_path / "logs",
                                                                              out)]
    for payload in payloads:
        payload.pop("seconds")
    assert_same_json(*payloads)
    assert payloads[1]["data_quality"]["duplicates"] == 1
    assert_same_table(pl.read_parquet(tmp_path / "logs" / "lps.parquet", glob=False),
                      pl.read_parquet(out / "lps.parquet", glob=False))
    assert sorted(p.name for p in out.iterdir()) == [
        "kpis.json", "lps.parquet", "quarantine.jsonl", "stats"]
    assert sorted(store.rglob("*")) == files


def test_scheduler_needs_the_dask_engine_and_a_shared_out() -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["score", str(DEMO_LOG), "--scheduler", "tcp://nowhere:8786"])
    assert done.exit_code == 2
    assert "--scheduler needs --engine dask" in done.output
    done = runner.invoke(app, ["score", str(DEMO_LOG), "--engine", "dask",
                               "--scheduler", "tcp://nowhere:8786"])
    assert done.exit_code == 2
    assert "--out" in done.output


def test_the_local_engine_never_imports_dask() -> None:
    code = ("import sys, lpscore.cli, lpscore.engine.plan, lpscore.engine.partitions; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr


class KillOnce(WorkerPlugin):
    """Kills the worker process that starts the first partition task (a marker file says it
    happened), so the scheduler must run the lost work again on a restarted or other worker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and "lpscore-part" in str(key) and not os.path.exists(
                self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os._exit(1)


def test_a_worker_killed_mid_job(desk: Desk, client: Any, tmp_path: Path) -> None:
    marker = tmp_path / "killed"
    client.register_plugin(KillOnce(str(marker)), name="kill-once")
    try:
        run = cluster_stats(desk.store, Config(), ["lp", "symbol"], client=client)
    finally:
        client.unregister_worker_plugin("kill-once")
    pid = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    local = kpi_stats(desk.local, ["lp", "symbol"])
    assert_same_table(summarize(local, desk.local.horizons, desk.local.unmatched_session_rejects),
                      summarize(run.stats, run.horizons, run.unmatched_session_rejects))
    assert_same_sides(desk.local, run)
