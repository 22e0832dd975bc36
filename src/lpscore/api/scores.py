"""``/api/scores`` and ``/api/health``: the published scores, read from a ScoreCache, for
routers written in other languages (docs/api.md).

    GET /api/scores/block?context=symbol=ACME,size_bucket=adv<0.1%&fallback=true
    GET /api/scores/block/contexts
    GET /api/health

Every answer comes from the cache, which never waits on the store. A profile the cache does
not follow yet is added on its first request (``ScoreCache.watch``) and read once in a worker
thread, so that request can answer; later requests only read the cache. A profile with
nothing published is not kept: each request for it reads the store again until it is.
When nothing is cached for the profile and the store cannot be reached, the answer is 503.

A snapshot goes out exactly as ``Snapshot.to_json()`` gives it (plus ``stale``,
``context_key`` and ``fallback``): the pydantic models below describe it for the OpenAPI
spec, and the tests check real answers against them, but they do not rewrite it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lpscore.publish.publisher import HIERARCHY, published_context
from lpscore.publish.publisher import levels as published_levels
from lpscore.publish.snapshot import ALL, context_key, parse_context_key
from lpscore.routing.cache import ScoreCache

__all__ = ["ContextsOut", "HealthOut", "ScoresOut", "canonical_context", "levels",
           "scores_router"]


# -- shapes -------------------------------------------------------------------------------------

class Capacity(BaseModel):
    """What an LP took in the context (decayed), for routers that size child orders."""

    fill_rate: float | None = Field(description="Filled / ordered quantity of terminal orders.")
    filled_qty_per_order: float | None = Field(description="Filled quantity per terminal order.")
    n_terminal: float = Field(description="Terminal orders behind the two rates (decayed).")


class ScoreItem(BaseModel):
    """One LP's score in the context (``LpScore.to_json()``, docs/scoring.md)."""

    model_config = ConfigDict(extra="allow")

    lp: str
    score: float = Field(description="Composite score, 0..100.")
    ci_low: float | None = Field(description="Interval, low end; null while a stream has not "
                                 "drawn it yet (intervals_at_ns null).")
    ci_high: float | None = Field(description="Interval, high end; null while pending.")
    rank: int = Field(description="1 is best; LPs whose intervals overlap may share a rank.")
    rank_stability: float | None = None
    provisional: bool = Field(description="Too little evidence for the score to be trusted.")
    n_orders: int
    n_eff: float | None = None
    contributions: dict[str, float] = Field(
        default_factory=dict, description="Points per KPI; they sum to the score.")
    kpis: dict[str, float | None] = Field(
        default_factory=dict, description="The shrunk KPI values the score rests on.")
    raw_kpis: dict[str, float | None] = Field(
        default_factory=dict, description="The LP's own KPI values, before shrinkage.")
    capacity: Capacity | None = None


class ScoresOut(BaseModel):
    """A published snapshot (``Snapshot.to_json()``) as the cache holds it."""

    profile: str
    context: dict[str, str] = Field(description="The context of these scores ({} = LP level).")
    interval: float = Field(description="Coverage of ci_low..ci_high, e.g. 0.95.")
    version: int = Field(description="Goes up by one with every changed publish.")
    computed_at_ns: int = Field(description="When the scores were computed (Unix ns).")
    watermark_ns: int | None = Field(description="Time of the newest evidence (Unix ns).")
    intervals_at_ns: int | None = Field(
        default=None, description="When ci_low, ci_high and rank_stability were drawn (Unix "
        "ns): computed_at_ns, or earlier when a stream carried them from earlier draws; null "
        "while a stream has not drawn them yet.")
    scores: list[ScoreItem] = Field(description="Ranked, best first.")
    stale: bool = Field(description="The score store has not been reached for longer than "
                        "routing.stale_after_s (or the newest publish is older than "
                        "routing.max_publish_age_s): the scores may be out of date.")
    context_key: str = Field(description="The canonical key of the context asked for.")
    fallback: str | None = Field(description="With fallback=true, the coarser context whose "
                                 "snapshot this is when the one asked for has none; else null.")


class NotFoundDetail(BaseModel):
    message: str
    profile: str
    context_key: str
    tried: list[str] = Field(description="The context keys looked up, finest first.")
    contexts: list[str] = Field(description="The contexts published for the profile.")
    stale: bool


class NotFoundOut(BaseModel):
    detail: NotFoundDetail


class Problem(BaseModel):
    detail: str = Field(description="What is wrong and what to do.")


class ContextsOut(BaseModel):
    profile: str
    contexts: list[str] = Field(description="Canonical keys of the published contexts, sorted.")
    stale: bool


class ProfileHealth(BaseModel):
    stale: bool
    contexts: int = Field(description="Contexts cached for the profile.")


class HealthOut(BaseModel):
    """The cache's view of the score store."""

    connected: bool = Field(description="The last attempt to reach the store succeeded.")
    since_contact_s: float | None = Field(
        description="Seconds since the store last answered; null if it never has.")
    snapshots: int = Field(description="Snapshots cached, all profiles.")
    updates: int = Field(description="Snapshots installed since the start.")
    errors: int = Field(description="Failed attempts to reach the store since the start.")
    last_error: str | None = Field(description="Why the store could not be reached, the "
                                   "last time it could not.")
    profiles: dict[str, ProfileHealth] = Field(description="Per followed profile.")


# -- contexts -----------------------------------------------------------------------------------

def canonical_context(text: str) -> str:
    """``size_bucket=adv<0.1%,symbol=ACME`` (keys in any order; ``*`` or empty for the LP
    level) -> the canonical context key ``symbol=ACME,size_bucket=adv<0.1%``; ValueError
    (422) for a key that is never published."""
    return context_key(published_context(text))


def levels(key: str, hierarchy: Sequence[str] = HIERARCHY) -> tuple[str, ...]:
    """``key`` itself, then every coarser published level it belongs to, ending with ``*``:
    ``symbol=A,size_bucket=B`` -> ``(symbol=A,size_bucket=B, symbol=A, *)``: the order the
    router falls back in (publish.publisher.levels)."""
    return tuple(dict.fromkeys([key, *published_levels(parse_context_key(key), hierarchy)]))


ContextParam = Annotated[str, Query(
    description="The context, canonical text: `symbol=ACME,size_bucket=adv<0.1%` "
    "(key=value pairs joined by ',', URL-encoded), or `*` for the LP level.",
    examples=["*", "symbol=ACME", "symbol=ACME,size_bucket=adv<0.1%,vol_regime=high"],
), AfterValidator(canonical_context)]
FallbackParam = Annotated[bool, Query(
    description="When the context has no snapshot, answer with the nearest coarser one "
    "(dropping the last key each time, down to `*`) and name it in `fallback`.")]


# -- the endpoints ------------------------------------------------------------------------------

class _Profiles:
    """Which profiles the cache follows; a new one is watched and read once, in a worker
    thread, on its first request (one at a time)."""

    def __init__(self, cache: ScoreCache) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._ready = set(cache.profiles)

    async def follow(self, profile: str) -> None:
        if profile not in self._ready:
            await run_in_threadpool(self._first_read, profile)

    def _first_read(self, profile: str) -> None:
        with self._lock:
            if profile in self._ready:
                return
            self._cache.watch(profile)
            reached = self._cache.refresh([profile])   # False when down: the thread retries
            if reached and not self._cache.contexts(profile):
                # nothing published: not followed for ever (every name a client tried would
                # be polled at every interval); the next request for it reads the store again
                self._cache.unwatch(profile)
                return
            self._ready.add(profile)


def scores_router(cache: ScoreCache) -> APIRouter:
    """The endpoints of the module docstring over ``cache`` (started by the caller)."""
    router = APIRouter(tags=["scores"])
    profiles = _Profiles(cache)

    def unavailable(profile: str) -> HTTPException | None:
        """503 when nothing is cached for ``profile`` and the store cannot be reached."""
        if cache.contexts(profile) or cache.status().connected:
            return None
        why = cache.last_error or "the score cache has not reached the store yet"
        return HTTPException(503, detail=f"no scores cached for profile {profile!r}: {why}; "
                             "retry when the store is up (GET /api/health shows it)")

    @router.get("/scores/{profile}", response_model=ScoresOut, responses={
        404: {"model": NotFoundOut, "description": "No snapshot for the context (nor, with "
              "fallback=true, any coarser one); lists the published contexts."},
        503: {"model": Problem, "description": "Nothing cached for the profile and the "
              "score store cannot be reached."}})
    async def get_scores(profile: str, context: ContextParam = ALL,
                         fallback: FallbackParam = False) -> JSONResponse:
        """The current snapshot of a profile in a context, from the cache."""
        await profiles.follow(profile)
        tried = levels(context) if fallback else (context,)
        for key in tried:
            entry = cache.entry(profile, key)
            if entry is not None:
                body: dict[str, Any] = {**entry.snapshot.to_json(),
                                        "stale": cache.stale(profile), "context_key": context,
                                        "fallback": None if key == context else key}
                return JSONResponse(body)
        down = unavailable(profile)
        if down is not None:
            raise down
        known = cache.contexts(profile)
        raise HTTPException(404, detail=NotFoundDetail(
            message=f"no scores for profile {profile!r} at {', '.join(tried)}; "
                    + (f"published contexts: {', '.join(known)}" if known
                       else "nothing is published for this profile"),
            profile=profile, context_key=context, tried=list(tried), contexts=known,
            stale=cache.stale(profile)).model_dump())

    @router.get("/scores/{profile}/contexts", response_model=ContextsOut, responses={
        503: {"model": Problem, "description": "Nothing cached for the profile and the "
              "score store cannot be reached."}})
    async def get_contexts(profile: str) -> ContextsOut:
        """The contexts published for a profile (empty when none)."""
        await profiles.follow(profile)
        known = cache.contexts(profile)
        down = None if known else unavailable(profile)
        if down is not None:
            raise down
        return ContextsOut(profile=profile, contexts=known, stale=cache.stale(profile))

    @router.get("/health", response_model=HealthOut)
    async def get_health() -> HealthOut:
        """The cache's connection to the store, and staleness per followed profile."""
        status = cache.status()
        return HealthOut(
            connected=status.connected,
            since_contact_s=(None if math.isinf(status.since_contact_s)
                             else round(status.since_contact_s, 3)),
            snapshots=status.snapshots, updates=status.updates, errors=status.errors,
            last_error=None if cache.last_error is None else str(cache.last_error),
            profiles={p: ProfileHealth(stale=cache.stale(p), contexts=len(cache.contexts(p)))
                      for p in cache.profiles})

    return router
