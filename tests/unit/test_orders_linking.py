"""link_child_orders against a row-by-row reference on random sessions: replace and cancel
chains, reused and unknown ClOrdIDs, equal timestamps, missing OrigClOrdIDs, any row order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from lpscore.ingest import orders
from lpscore.ingest.orders import _shared_child_ids, link_child_keys, link_child_orders
from lpscore.kpi.lifecycle import child_keys
from lpscore.model.schema import EVENT_SCHEMA, polars_schema

T0 = datetime(2024, 1, 2, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reference(rows: list[dict[str, Any]]) -> list[str | None]:
    """KPIS.md's linking, one row at a time: requests in time order (ties as given) give
    aliases; an event takes the latest alias of its (session, ClOrdID) at or before it,
    else of its OrigClOrdID; a cancel or replace always that of its OrigClOrdID."""
    def ns(row: dict[str, Any]) -> int:
        return (row["ts_recv"] - EPOCH) // timedelta(microseconds=1) * 1000

    order = sorted(range(len(rows)), key=lambda i: rows[i]["ts_recv"])
    current: dict[tuple[str, str], str] = {}
    aliases: list[tuple[str, str, datetime, str]] = []  # in time order, ties as processed
    for i in order:
        row = rows[i]
        if row["kind"] not in ("D", "F", "G"):
            continue
        if row["kind"] == "D":
            child = f"{row['session']}#{row['cl_ord_id']}#{ns(row)}"
        else:
            owner = current.get((row["session"], row["orig_cl_ord_id"]))
            if row["orig_cl_ord_id"] is None or owner is None:
                continue
            child = owner
        current[(row["session"], row["cl_ord_id"])] = child
        aliases.append((row["session"], row["cl_ord_id"], row["ts_recv"], child))

    def latest(session: str, cl_ord_id: str | None, ts: datetime) -> str | None:
        found = None
        for s, c, t, child in aliases:
            if s == session and c == cl_ord_id and cl_ord_id is not None and t <= ts:
                found = child
        return found

    out = []
    for row in rows:
        by_orig = latest(row["session"], row["orig_cl_ord_id"], row["ts_recv"])
        if row["kind"] in ("F", "G"):
            out.append(by_orig)
        else:
            out.append(latest(row["session"], row["cl_ord_id"], row["ts_recv"]) or by_orig)
    return out


def session(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    ids = [f"C{i}" for i in range(rng.randint(1, 8))]
    rows = []
    for _ in range(rng.randint(0, 40)):
        kind = rng.choice(["D", "D", "F", "G", "8", "8", "9"])
        orig = rng.choice([*ids, None]) if kind != "D" else None
        rows.append({"kind": kind, "session": rng.choice(["S1", "S2"]),
                     "cl_ord_id": rng.choice(ids), "orig_cl_ord_id": orig,
                     "ts_recv": T0 + timedelta(milliseconds=rng.randint(0, 20))})
    if rng.random() < 0.5:
        rows.sort(key=lambda r: r["ts_recv"])
    return rows


@pytest.mark.parametrize("seed", range(150))
def test_links_like_the_row_by_row_reference(seed: int) -> None:
    rows = session(seed)
    events = pl.DataFrame(rows, schema=polars_schema(EVENT_SCHEMA))
    linked = link_child_orders(events)
    assert linked.columns == [*events.columns, "child_id"]
    assert linked.drop("child_id").equals(events)
    assert linked["child_id"].to_list() == reference(rows)


@pytest.mark.parametrize("seed", range(300))
def test_integer_keys_are_those_of_a_join_on_child_id(seed: int) -> None:
    """``link_child_keys`` finds the integer key by the as-of join itself: the same as
    joining the ``child_id`` strings afterwards (``child_keys``), also for orders that share
    a ``child_id`` (same session, ClOrdID and time) and for ClOrdIDs lent by F and G."""
    events = pl.DataFrame(session(seed), schema=polars_schema(EVENT_SCHEMA))
    assert link_child_keys(events, "_cid").equals(child_keys(link_child_orders(events)))


def test_no_events() -> None:
    events = pl.DataFrame(schema=polars_schema(EVENT_SCHEMA))
    linked = link_child_orders(events)
    assert linked.height == 0 and linked.schema["child_id"] == pl.String
    keyed = link_child_keys(events, "_cid")
    assert keyed.height == 0 and keyed.schema["_cid"] == pl.Int64


def test_a_replace_lends_its_clordid_from_its_own_nanosecond() -> None:
    at = pl.Series([T0]).cast(pl.Datetime("ns", "UTC")).dt.epoch("ns")[0]
    rows = [("D", "A", None, 0), ("G", "B", "A", 1_500), ("8", "B", None, 1_200),
            ("8", "B", None, 1_500), ("F", "C", "B", 2_000), ("F", "D", "B", 2_000)]
    events = pl.DataFrame(
        [{"kind": k, "session": "S", "cl_ord_id": c, "orig_cl_ord_id": o,
          "ts_recv": at + dt} for k, c, o, dt in rows],
        schema={**polars_schema(EVENT_SCHEMA), "ts_recv": pl.Int64},
    ).with_columns(pl.col("ts_recv").cast(pl.Datetime("ns", "UTC")))
    child = f"S#A#{at}"
    # 1.2 us is after the replace's microsecond but before its nanosecond: not yet an alias
    assert link_child_orders(events)["child_id"].to_list() == [child, child, None, child,
                                                               child, child]


def _noisy_session(seed: int) -> pl.DataFrame:
    """A session in time order with many equal times, null sessions and ClOrdIDs, ClOrdIDs
    longer than an Arrow view holds, cut into several chunks."""
    rng = random.Random(seed)
    ids = [rng.choice(["C1", "C2", None, "a client order id of 30 bytes.", "C1 "])
           for _ in range(rng.randint(1, 6))]
    rows = []
    for _ in range(rng.randint(0, 60)):
        kind = rng.choice(["D", "D", "F", "G", "8", "8", "9", None])
        rows.append({"kind": kind, "session": rng.choice(["S1", "DESK1->LPG-FIX", None]),
                     "cl_ord_id": rng.choice(ids),
                     "orig_cl_ord_id": rng.choice([*ids, None]) if kind != "D" else None,
                     "ts_recv": T0 + timedelta(microseconds=rng.randint(0, 8))})
    rows.sort(key=lambda r: r["ts_recv"])
    frame = pl.DataFrame(rows, schema=polars_schema(EVENT_SCHEMA)).select(orders._KEYS)
    if frame.height > 3:
        cut = rng.randint(1, frame.height - 1)
        frame = pl.concat([frame[:cut], frame[cut:]], rechunk=False)
    return frame


@pytest.mark.parametrize("seed", range(300))
def test_the_compiled_sweep_links_like_the_as_of_joins(seed: int) -> None:
    """Rows in time order are linked by one compiled pass (``_swept_child_ids``): the same
    child_id and key as Polars' as-of joins, ties in time, nulls and long ClOrdIDs too."""
    keys = _noisy_session(seed)
    aliases = orders._aliases(keys)
    assert orders._swept_child_ids(keys, aliases).equals(
        orders._joined_child_ids(keys, aliases))


@pytest.mark.parametrize("seed", range(30))
def test_shared_child_ids_as_counting_distinct_ids(seed: int) -> None:
    """Two orders share a child id only if received at the same time: comparing those alone
    answers as counting the distinct ids of all (receipt times tied, null, ``#`` in a
    session or ClOrdID so that different pairs format alike)."""
    rng = random.Random(seed)
    n = rng.randint(1, 60)
    times = sorted((rng.choice([None, 0, 1, 1, 2, 3, 5, 8]) for _ in range(n)),
                   key=lambda t: (t is not None, t or 0))  # nulls first, as sort() puts them
    sent = pl.DataFrame({
        "session": [rng.choice(["S", "S#1", "T", None]) for _ in range(n)],
        "cl_ord_id": [rng.choice(["A", "1#A", "B", None]) for _ in range(n)],
        "ts_recv": pl.Series([None if t is None else datetime(2026, 1, 1) + timedelta(
            microseconds=t) for t in times], dtype=pl.Datetime("ns", "UTC")),
    })
    parts = (pl.col("session"), pl.col("cl_ord_id"), pl.col("ts_recv").dt.epoch("ns"))
    sent = sent.with_columns(pl.format("{}#{}#{}", *(p.cast(pl.String).fill_null("None")
                                                     for p in parts)).alias("child_id"))
    assert _shared_child_ids(sent) == (sent["child_id"].n_unique() < sent.height)
