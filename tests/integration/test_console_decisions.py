"""Routing decisions reach a running console: ``lpscore serve --data DIR`` is started first,
then ``lpscore route ... --decisions DIR/decisions.jsonl`` (a real subprocess, scoring the
bundled demo log) appends a decision, which ``GET /api/decisions`` serves, filtered by LP
and profile, and ``/api/events`` announces; a malformed line is skipped and counted, never
an error."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from clirun import lpscore
from e2e.console_data import PASSWORD, fresh_copy, shared_data_dir
from realdata import AMZN_MESSAGES, DEMO_LOG
from serving import lpscore_serve

LPS = {"LP_A", "LP_B", "LP_C", "LP_D"}


def route(journal: Path, *args: str) -> dict[str, Any]:
    """``lpscore route DEMO_LOG --quotes ... ARGS --decisions JOURNAL``: the printed plan."""
    done = lpscore("route", DEMO_LOG, "--quotes", AMZN_MESSAGES, "--symbol", "AMZN", *args,
                   "--decisions", journal, "--format", "json", timeout=120)
    assert done.returncode == 0, done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


def decisions(client: httpx.Client, **params: str) -> dict[str, Any]:
    got = client.get("/api/decisions", params=params)
    assert got.status_code == 200, got.text
    page: dict[str, Any] = got.json()
    return page


def first_decision_event(client: httpx.Client, seen: list[str]) -> None:
    """Read the events channel until its first ``decision`` event (or it closes)."""
    with client.stream("GET", "/api/events", params={"max_s": 60}) as stream:
        for line in stream.iter_lines():
            seen.append(line)
            if line.startswith("data:") and "event: decision" in seen:
                return


def test_a_decision_routed_after_the_console_started_is_served(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    data = fresh_copy(shared_data_dir(tmp_path_factory),
                      tmp_path_factory.mktemp("decisions") / "data")
    journal = data / "decisions.jsonl"
    with lpscore_serve("--data", str(data)) as served, \
            httpx.Client(base_url=served.base, timeout=30) as vic:
        assert vic.post("/api/login", json={"username": "vic", "password": PASSWORD}
                        ).status_code == 200
        assert decisions(vic) == {"items": [], "total": 0, "limit": 50, "offset": 0,
                                  "malformed": 0}

        spray = route(journal, "--side", "sell", "--qty", "20000", "--policy", "spray")
        page = decisions(vic)
        assert page["total"] == 1
        (record,) = page["items"]
        assert {k: record[k] for k in spray} == spray          # the plan it printed
        assert (record["symbol"], record["side"], record["qty"], record["parent"]) == (
            "AMZN", "sell", 20_000, None)
        assert record["ts"].endswith("Z") and record["ts_ns"] > 0
        routed = {c["lp"] for c in spray["children"]}
        assert routed < LPS                                    # spray: the top 3 of 4
        for lp in LPS:
            assert decisions(vic, lp=lp)["total"] == (lp in routed), lp
        assert decisions(vic, profile="block")["total"] == 1
        assert decisions(vic, profile="hft")["total"] == 0

        # a malformed line, then another decision: announced, served newest first
        with journal.open("a", encoding="utf-8") as f:
            f.write("this is not a decision\n")
        events: list[str] = []
        listener = threading.Thread(target=first_decision_event, args=(vic, events))
        listener.start()
        primary = route(journal, "--side", "buy", "--qty", "500", "--profile", "hft")
        listener.join(timeout=60)
        page = decisions(vic)
        assert (page["total"], page["malformed"]) == (2, 1)
        assert [d["policy"] for d in page["items"]] == ["primary", "spray"]
        assert page["items"][0]["children"] == primary["children"]
        assert decisions(vic, profile="hft")["total"] == 1
        (child,) = primary["children"]
        assert decisions(vic, lp=child["lp"], profile="hft")["items"][0]["side"] == "buy"
        assert decisions(vic, limit="1", offset="1")["items"][0]["policy"] == "spray"
        assert "event: decision" in events, events
    assert served.returncode == 0, served.err
    assert "decisions.jsonl:2: not a JSON object, skipped" in served.err
