"""Score stores: publish and read back, versions, notifications, atomic snapshots (real server)."""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from clirun import lpscore
from lpscore.errors import ConfigError, StoreUnavailable
from lpscore.publish.snapshot import Snapshot, context_key, parse_context_key
from lpscore.publish.store import ScoreStore, open_store
from realdata import AMZN_MESSAGES, DEMO_LOG


def snapshot(profile: str, context: dict[str, str], marker: float) -> Snapshot:
    """Every score of the snapshot carries ``marker``, so a torn read would show."""
    scores = [{"lp": lp, "score": marker, "ci_low": marker, "ci_high": marker, "rank": 1,
               "provisional": False, "n_orders": 100, "n_eff": 100.0,
               "contributions": {"fill_rate": marker}, "kpis": {"fill_rate": 0.9}}
              for lp in ("LP_A", "LP_B", "LP_C")]
    return Snapshot(profile, context, scores, computed_at_ns=int(marker * 1e9),
                    watermark_ns=123)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[ScoreStore]:
    prefix = f"t{uuid.uuid4().hex[:8]}"  # a fresh namespace per test on the shared server
    if request.param == "memory":
        uri = f"memory://{prefix}"
    else:
        uri = f"{request.getfixturevalue('redis_url')}?prefix={prefix}"
    with open_store(uri) as opened:
        yield opened


def test_publish_then_read_gives_the_same_snapshot(store: ScoreStore) -> None:
    snap = snapshot("block", {"symbol": "ACME"}, 61.5)
    (done,) = store.publish([snap])
    assert (done.profile, done.context, done.version, done.changed) == (
        "block", "symbol=ACME", 1, True)
    assert store.get("block", {"symbol": "ACME"}) == snap.with_version(1)
    assert store.get("block", "symbol=ACME") == snap.with_version(1)
    assert store.get("block", {"symbol": "OTHER"}) is None
    assert store.get("hft", {"symbol": "ACME"}) is None


def test_partials_are_stored_per_lane_and_a_workers_own_are_not_fetched(
        store: ScoreStore) -> None:
    """Stream workers' partials (lpscore.stream.partials): each lane's replaces its last;
    ``exclude`` leaves a worker's own lanes out of what it fetches."""
    assert store.partials("block") == {}
    big = bytes(range(256)) * 4096
    store.put_partial("block", "kafka:fix/0", b"first")
    store.put_partial("block", "kafka:fix/0", big)
    store.put_partial("block", "kafka:fix/1", b"\x00one")
    store.put_partial("hft", "kafka:fix/2", b"other profile")
    assert store.partials("block") == {"kafka:fix/0": big, "kafka:fix/1": b"\x00one"}
    assert store.partials("block", exclude={"kafka:fix/0"}) == {"kafka:fix/1": b"\x00one"}
    assert store.partials("block", exclude={"kafka:fix/0", "kafka:fix/1", "x"}) == {}
    assert store.partials("hft", exclude={"kafka:fix/0"}) == {"kafka:fix/2": b"other profile"}


def test_versions_increase_only_when_the_content_changes(store: ScoreStore) -> None:
    first = snapshot("block", {}, 50.0)
    assert store.publish([first])[0].version == 1
    # same scores, later computation time: nothing rewritten, same version
    later = Snapshot("block", {}, first.scores, computed_at_ns=99, watermark_ns=5)
    again = store.publish([later])[0]
    assert (again.version, again.changed) == (1, False)
    assert store.get("block", {}) == first.with_version(1)
    versions = [store.publish([snapshot("block", {}, 50.0 + i)])[0].version
                for i in range(1, 6)]
    assert versions == [2, 3, 4, 5, 6]
    assert store.get("block", "*").scores[0]["score"] == 55.0  # type: ignore[union-attr]


def test_contexts_and_notifications(store: ScoreStore) -> None:
    with store.subscribe() as updates:
        time.sleep(0.05)  # let the subscription reach the server
        store.publish([snapshot("block", {}, 1.0), snapshot("block", {"symbol": "X"}, 2.0),
                       snapshot("hft", {"symbol": "X"}, 3.0)])
        store.publish([snapshot("block", {}, 1.0)])  # unchanged: no notification
        store.publish([snapshot("block", {}, 4.0)])
        got = []
        while (update := updates.next(timeout=1.0)) is not None:
            got.append((update.profile, update.context, update.version, update.generation))
            # the notification carries the snapshot exactly as a read would give it
            assert update.snapshot == store.get(update.profile, update.context) or (
                update.snapshot == snapshot("block", {}, 1.0).with_version(1))
            if len(got) == 4:
                break
    assert got == [("block", "*", 1, 1), ("block", "symbol=X", 1, 2), ("hft", "symbol=X", 1, 1),
                   ("block", "*", 2, 3)]
    assert store.contexts("block") == ["*", "symbol=X"]
    assert store.contexts("hft") == ["symbol=X"]


def test_concurrent_publish_and_read_never_expose_a_partial_snapshot(
        store: ScoreStore) -> None:
    publishes = 300
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            snap = store.get("block", {"symbol": "ACME"})
            if snap is None:
                continue
            markers = {s["score"] for s in snap.scores} | {s["ci_low"] for s in snap.scores}
            if markers != {float(snap.version)} or snap.computed_at_ns != snap.version * 10**9:
                errors.append(f"torn snapshot: version {snap.version}, markers {markers}")
            seen.append(snap.version)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        i = 0
        # at least 300 publishes, and on until the reader has seen several versions: an
        # in-memory publish is quick enough for 300 to pass within one GIL switch interval
        while i < publishes or (len(set(seen)) < 3 and i < 100 * publishes):
            i += 1
            assert store.publish([snapshot("block", {"symbol": "ACME"}, float(i))])[0] \
                .version == i
            if i % 10 == 0:
                time.sleep(0)      # let the reader in
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert seen == sorted(seen)  # versions never go back
    assert len(set(seen)) >= 3


def test_context_keys_are_canonical() -> None:
    order = ["symbol", "size_bucket", "vol_regime"]
    ctx = {"vol_regime": "high", "symbol": "ACME", "size_bucket": "adv<0.1%"}
    assert context_key(ctx, order) == "symbol=ACME,size_bucket=adv<0.1%,vol_regime=high"
    assert parse_context_key(context_key(ctx, order)) == ctx
    assert context_key({}) == "*"
    assert parse_context_key("*") == {}
    assert parse_context_key(context_key({"size_bucket": ">=1M"})) == {"size_bucket": ">=1M"}
    with pytest.raises(ValueError, match="cannot appear"):
        context_key({"symbol": "A,B"})


def test_unreachable_server_raises_store_unavailable() -> None:
    with open_store("redis://127.0.0.1:1/0", timeout_s=0.2) as store:
        with pytest.raises(StoreUnavailable):
            store.get("block", {})
        with pytest.raises(StoreUnavailable):
            store.publish([snapshot("block", {}, 1.0)])


def test_unknown_scheme_says_which_exist() -> None:
    with pytest.raises(ConfigError, match="memory://, redis://"):
        open_store("mongodb://localhost")


def test_embedded_valkey_starts_and_stops() -> None:
    with open_store("valkey+embedded://") as store:
        store.publish([snapshot("block", {}, 7.0)])
        assert store.get("block", {}).version == 1  # type: ignore[union-attr]


def assert_close(a: object, b: object) -> None:
    """Equal JSON values, numbers to 1e-9."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-9)
    else:
        assert a == b


def test_publish_and_scores_commands(redis_url: str) -> None:
    uri = f"{redis_url}?prefix=cli{uuid.uuid4().hex[:6]}"

    first = lpscore("publish", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES), "--store", uri,
                    "--profile", "hft", "--format", "json")
    assert first.returncode == 0, first.stderr
    published = json.loads(first.stdout)["published"]
    assert {"profile": "hft", "context": "*", "version": 1, "changed": True} in published
    assert any(p["context"] == "symbol=AMZN" for p in published)
    again = json.loads(lpscore("publish", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                               "--store", uri, "--profile", "hft", "--format", "json").stdout)
    assert all(not p["changed"] and p["version"] == 1 for p in again["published"])
    read = lpscore("scores", "--store", uri, "--profile", "hft", "--context", "symbol=AMZN",
                   "--format", "json")
    assert read.returncode == 0, read.stderr
    snap = json.loads(read.stdout)
    scored = json.loads(lpscore("score", str(DEMO_LOG), "--quotes", str(AMZN_MESSAGES),
                                "--profile", "hft", "--context", "symbol=AMZN",
                                "--format", "json").stdout)
    # what is published is what `score` computes; publish rolls the LP x symbol statistics up
    # from finer groups, so sums differ from a direct LP x symbol build by float rounding
    capacity = [item.pop("capacity") for item in snap["scores"]]
    assert_close(snap["scores"], scored["scores"])
    assert all(set(c) == {"fill_rate", "filled_qty_per_order", "n_terminal"} for c in capacity)
    assert (snap["version"], snap["stale"]) == (1, False)
    missing = lpscore("scores", "--store", uri, "--profile", "block")
    assert missing.returncode == 2
    assert "nothing published for profile 'block'" in missing.stderr


def test_meta_counts_new_versions_and_the_newest_publish(store: ScoreStore) -> None:
    assert (store.meta("block").generation, store.meta("block").published_at_ns) == (0, None)
    store.publish([snapshot("block", {}, 1.0), snapshot("block", {"symbol": "ACME"}, 2.0)])
    assert (store.meta("block").generation, store.meta("block").published_at_ns) == (
        2, 2_000_000_000)
    store.publish([snapshot("block", {}, 1.0)])                 # unchanged: generation stays
    assert store.meta("block").generation == 2
    later = Snapshot("block", {}, snapshot("block", {}, 1.0).scores, computed_at_ns=9 * 10**9,
                     watermark_ns=1)
    store.publish([later])                                      # but the publish time moves
    assert (store.meta("block").generation, store.meta("block").published_at_ns) == (
        2, 9 * 10**9)
    store.publish([snapshot("block", {}, 3.0)])
    assert store.meta("block").generation == 3
    assert store.meta("hft").generation == 0
    got = store.get_many("block", ["*", "symbol=ACME", "symbol=NONE"])
    assert set(got) == {"*", "symbol=ACME"}
    assert got["*"] == store.get("block", "*")
    assert got["*"].version == 2


def test_snapshots_written_with_nan_by_earlier_versions_still_read() -> None:
    """Before orjson, json.dumps wrote a NaN KPI as the bare token NaN (not JSON); orjson
    writes null. Both read back."""
    old = (b'{"profile":"block","context":{"symbol":"ACME"},"interval":0.95,"version":3,'
           b'"computed_at_ns":1,"watermark_ns":null,"scores":[{"kpis":{"markout":NaN},'
           b'"lp":"LP_A","rank":1,"score":50.0}]}')
    read = Snapshot.decode(old)
    assert (read.version, read.scores[0]["lp"]) == (3, "LP_A")
    assert math.isnan(read.scores[0]["kpis"]["markout"])
    fresh = Snapshot("block", {}, [{"lp": "LP_A", "kpis": {"markout": float("nan")}}],
                     computed_at_ns=1, watermark_ns=None)
    assert Snapshot.decode(fresh.encode()).scores[0]["kpis"]["markout"] is None
    assert json.loads(fresh.encode())["scores"][0]["kpis"] == {"markout": None}   # valid JSON


def test_a_single_snapshot_publish_reloads_a_flushed_script(redis_url: str) -> None:
    """One snapshot goes without a pipeline; a server that lost the script (restart,
    SCRIPT FLUSH) gets it loaded again and the publish goes through once."""
    import redis  # noqa: PLC0415

    with open_store(f"{redis_url}?prefix=t{uuid.uuid4().hex[:8]}") as store:
        assert store.publish([snapshot("block", {}, 1.0)])[0].version == 1
        redis.Redis.from_url(redis_url).script_flush()
        (done,) = store.publish([snapshot("block", {}, 2.0)])
        assert (done.version, done.changed) == (2, True)
        assert store.get("block", {}) == snapshot("block", {}, 2.0).with_version(2)
