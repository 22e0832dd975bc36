"""``/api/lps``, ``/api/compare`` and ``/api/decisions``: the KPIs of the data directory per
LP, over time, against peers, and the routing decisions it holds."""

# No `from __future__ import annotations` here: FastAPI resolves the Annotated dependency
# aliases defined inside the router factory from the live annotations.

import statistics
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from lpscore.console.auth import Session
from lpscore.console.data import BUCKETS
from lpscore.console.schemas import (
    ERRORS,
    DecisionsPage,
    LimitParam,
    OffsetParam,
    Page,
    Problem,
)
from lpscore.console.state import Console
from lpscore.publish.snapshot import ALL

__all__ = ["kpis_router"]

Bucket = Literal["1d", "1h", "15m", "5m", "1m"]
PEER_KPIS = ("fill_rate", "complete_fill_rate", "reject_rate", "pi_bps", "pi_rate",
             "eff_spread_bps", "e_over_q")


class LpDetail(BaseModel):
    lp: str
    horizons: list[str]
    kpis: dict[str, Any] = Field(description="The LP's row of `lpscore kpis` (all orders).")
    peers: dict[str, float | None] = Field(description="Median of the other LPs, per KPI.")
    markouts: dict[str, dict[str, float | None]] = Field(
        description="Markout (bps) per horizon, for this LP and for every LP.")
    fill_by_size: list[dict[str, Any]] = Field(
        description="Per size bucket: this LP's fill rate and orders, and the peers'.")
    latency: dict[str, dict[str, Any]] = Field(
        description="Per latency metric: shared bin edges (ms) and counts per LP.")
    scores: dict[str, dict[str, Any] | None] = Field(
        description="The LP's published LP-level score per profile (null: not published).")


class CompareOut(BaseModel):
    lps: list[str]
    horizons: list[str]
    rows: list[dict[str, Any]]
    scores: dict[str, dict[str, dict[str, Any] | None]]


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such LP in the data directory."},
}


def kpis_router(console: Console) -> APIRouter:
    router = APIRouter(tags=["console: KPIs"])
    data = console.data
    viewer = Annotated[Session, Depends(console.auth.session)]

    def known(lp: str) -> None:
        if lp not in data.lps:
            raise HTTPException(404, detail=f"no LP {lp!r} in {data.path}; LPs: "
                                f"{', '.join(data.lps) or 'none (no KPI tables)'}")

    def scores_of(lp: str) -> dict[str, dict[str, Any] | None]:
        out: dict[str, dict[str, Any] | None] = {}
        for profile in console.profiles:
            entry = console.cache.entry(profile, ALL)
            items = [] if entry is None else entry.snapshot.scores
            out[profile] = next((s for s in items if s["lp"] == lp), None)
        return out

    @router.get("/lps", response_model=Page[dict[str, Any]], responses=ERRORS)
    def list_lps(_: viewer, limit: LimitParam = 50, offset: OffsetParam = 0,
                 lp: Annotated[str | None, Query(max_length=200,
                                                 description="Only this LP.")] = None
                 ) -> Page[dict[str, Any]]:
        """Every LP's KPIs over all its orders (the rows of `lpscore kpis`)."""
        rows = [r for r in data.summary(["lp"]) if lp is None or r["lp"] == lp]
        return Page[dict[str, Any]](items=rows[offset:offset + limit], total=len(rows),
                                    limit=limit, offset=offset)

    @router.get("/lps/{lp}", response_model=LpDetail, responses={**ERRORS, **NOT_FOUND})
    def get_lp(lp: str, _: viewer) -> LpDetail:
        """Everything on the LP page: KPIs, peers, markout curve, fill rate by size,
        latency histograms, reject reasons (in ``kpis``) and published scores."""
        known(lp)
        rows = data.summary(["lp"])
        mine = next(r for r in rows if r["lp"] == lp)
        others = [r for r in rows if r["lp"] != lp]
        peers = {k: _median([r[k] for r in others]) for k in PEER_KPIS}
        for name in ("ack_latency_ms", "fill_latency_ms"):
            peers[f"{name}_p50"] = _median([r[name]["p50"] for r in others])
        sizes: dict[str, dict[str, Any]] = {}
        for r in data.summary(["lp", "size_bucket"]):
            slot = sizes.setdefault(str(r["size_bucket"]), {
                "size_bucket": str(r["size_bucket"]), "fill_rate": None, "n_orders": 0,
                "peer_rates": []})
            if r["lp"] == lp:
                slot["fill_rate"], slot["n_orders"] = r["fill_rate"], r["n_orders"]
            else:
                slot["peer_rates"].append(r["fill_rate"])
        by_size = [{"size_bucket": s["size_bucket"], "fill_rate": s["fill_rate"],
                    "n_orders": s["n_orders"], "peer_fill_rate": _median(s["peer_rates"])}
                   for s in sorted(sizes.values(), key=lambda s: str(s["size_bucket"]))]
        return LpDetail(
            lp=lp, horizons=data.horizons, kpis=mine, peers=peers,
            markouts={str(r["lp"]): dict(r["markout_bps"]) for r in rows},
            fill_by_size=by_size,
            latency={m: data.histogram(m) for m in ("ack_latency_ms", "fill_latency_ms")},
            scores=scores_of(lp))

    @router.get("/lps/{lp}/series", response_model=Page[dict[str, Any]],
                responses={**ERRORS, **NOT_FOUND})
    async def get_series(lp: str, _: viewer,
                         bucket: Annotated[Bucket, Query(description="1d: daily; 1h, 15m, "
                                                         "5m, 1m: intraday.")] = "1d",
                         limit: LimitParam = 500, offset: OffsetParam = 0
                         ) -> Page[dict[str, Any]]:
        """The LP's KPIs per time bucket (``period``: bucket start, UTC), oldest first."""
        known(lp)
        assert bucket in BUCKETS
        rows = await run_in_threadpool(data.series, lp, bucket)
        return Page[dict[str, Any]](items=rows[offset:offset + limit], total=len(rows),
                                    limit=limit, offset=offset)

    @router.get("/compare", response_model=CompareOut, responses={**ERRORS, **NOT_FOUND})
    def compare(_: viewer, lp: Annotated[list[str], Query(
            min_length=1, max_length=20, description="One to 20 LPs (repeat lp=).")]
            ) -> CompareOut:
        """Side by side: the KPI rows and published scores of the LPs asked for."""
        wanted = list(dict.fromkeys(lp))
        for name in wanted:
            known(name)
        rows = {r["lp"]: r for r in data.summary(["lp"])}
        return CompareOut(lps=wanted, horizons=data.horizons,
                          rows=[rows[name] for name in wanted],
                          scores={name: scores_of(name) for name in wanted})

    @router.get("/decisions", response_model=DecisionsPage, responses=ERRORS)
    def list_decisions(_: viewer, limit: LimitParam = 50, offset: OffsetParam = 0,
                       lp: Annotated[str | None, Query(
                           max_length=200, description="Decisions with a child order to "
                           "this LP.")] = None,
                       profile: Annotated[str | None, Query(max_length=200)] = None
                       ) -> DecisionsPage:
        """Routing decisions of DIR/decisions.jsonl (the decision journal, docs/routing.md),
        newest first, each with its children and their reasons; re-read when the file
        changes, so decisions appended while the console runs appear. Lines that are not a
        JSON object are skipped and counted in ``malformed``."""
        # a plain def: FastAPI runs it in a thread, so reading the file never blocks the loop
        seen = data.decisions()
        rows = [d for d in reversed(seen.items)
                if (profile is None or d.get("profile") == profile)
                and (lp is None or lp in _child_lps(d))]
        return DecisionsPage(items=rows[offset:offset + limit], total=len(rows), limit=limit,
                             offset=offset, malformed=seen.malformed)

    return router


def _child_lps(decision: dict[str, Any]) -> set[str]:
    children = decision.get("children")
    if not isinstance(children, list):
        return set()
    return {str(c.get("lp")) for c in children if isinstance(c, dict)}


def _median(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None
