"""``/api/audit`` (who changed what, when, old -> new, why) and ``/api/events``, the live
updates channel (Server-Sent Events): new score versions, console changes, and routing
decisions appended to DIR/decisions.jsonl."""

# No `from __future__ import annotations` here: FastAPI resolves the Annotated dependency
# aliases defined inside the router factory from the live annotations.

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from lpscore.console.auth import Session
from lpscore.console.schemas import ERRORS, AuditOut, LimitParam, OffsetParam, Page
from lpscore.console.state import Console

__all__ = ["audit_router"]

TICK_S = 0.25
KEEPALIVE_S = 15.0
Filter = Annotated[str | None, Query(max_length=200)]


def audit_router(console: Console) -> APIRouter:
    router = APIRouter(tags=["console: audit and events"])
    viewer = Annotated[Session, Depends(console.auth.session)]

    @router.get("/audit", response_model=Page[AuditOut], responses=ERRORS)
    async def audit_log(_: viewer, limit: LimitParam = 50, offset: OffsetParam = 0,
                        user: Filter = None, action: Filter = None,
                        target: Filter = None) -> Page[AuditOut]:
        """The audit log, newest first; filter by user, action (``profile.save``,
        ``profile.rollback``, ``user.add``, ``user.change``) or target (a profile or user)."""
        entries, total = console.db.audit_log(user=user, action=action, target=target,
                                              limit=limit, offset=offset)
        return Page[AuditOut](items=[AuditOut(**e.to_json()) for e in entries], total=total,
                              limit=limit, offset=offset)

    @router.get("/events", responses={**ERRORS, 200: {
        "content": {"text/event-stream": {}},
        "description": "`event: score` with `{profile, context, version}` for each new "
        "version the score cache receives from the store; `event: change` with `{changes}` "
        "after every change made through the console; `event: decision` with `{total, "
        "malformed}` when DIR/decisions.jsonl changed; comments as keep-alives."}})
    async def events(request: Request, _: viewer,
                     max_s: Annotated[float, Query(gt=0, le=3600, description=(
                         "Close the stream after this many seconds (EventSource "
                         "reconnects by itself)."))] = 300.0) -> StreamingResponse:
        """Live updates: new score versions, console changes and new routing decisions, as
        Server-Sent Events."""
        return StreamingResponse(_stream(console, request, max_s),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    return router


def _versions(console: Console) -> dict[tuple[str, str], int]:
    cache = console.cache
    out = {}
    for profile in cache.profiles:
        for context in cache.contexts(profile):
            entry = cache.entry(profile, context)
            if entry is not None:
                out[(profile, context)] = entry.snapshot.version
    return out


async def _stream(console: Console, request: Request, max_s: float) -> AsyncIterator[str]:
    """Polls the cache (which the store's notifications keep current) and the decision
    journal (a stat while it is unchanged) every ``TICK_S``."""
    seen = _versions(console)
    changes = console.changes
    # in a thread: a replaced journal is read whole, which must not stall the event loop
    decided = await asyncio.to_thread(console.data.decisions)
    started = last_sent = time.monotonic()
    yield "retry: 2000\n\n"
    while (time.monotonic() - started < max_s and not console.closing.is_set()
           and not await request.is_disconnected()):
        await asyncio.sleep(TICK_S)
        now = _versions(console)
        for (profile, context), version in sorted(now.items()):
            if seen.get((profile, context)) != version:
                body = json.dumps({"profile": profile, "context": context, "version": version})
                yield f"event: score\ndata: {body}\n\n"
                last_sent = time.monotonic()
        seen = now
        if console.changes != changes:
            changes = console.changes
            yield f"event: change\ndata: {json.dumps({'changes': changes})}\n\n"
            last_sent = time.monotonic()
        now_decided = await asyncio.to_thread(console.data.decisions)
        if now_decided is not decided:     # the same object while the file is unchanged
            decided = now_decided
            body = json.dumps({"total": len(decided.items), "malformed": decided.malformed})
            yield f"event: decision\ndata: {body}\n\n"
            last_sent = time.monotonic()
        if time.monotonic() - last_sent > KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
