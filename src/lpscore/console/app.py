"""The console app: the scores API of ``lpscore.api`` plus the console's API and pages.

    console = Console.open(Path("out/demo"), store, cache)
    uvicorn.run(create_console_app(cache, console))

Pages are static files (``static/``: HTML, vanilla JS, CSS; charts drawn as inline SVG), so
nothing is fetched from the internet. The machine endpoints for routers (``/api/scores``,
``/api/health``) stay unauthenticated and read-only; every console endpoint needs a login.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from lpscore.api import create_app
from lpscore.console.routes_audit import audit_router
from lpscore.console.routes_auth import auth_router
from lpscore.console.routes_kpis import kpis_router
from lpscore.console.routes_profiles import profiles_router
from lpscore.console.state import Console
from lpscore.routing.cache import ScoreCache

__all__ = ["create_console_app"]

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def create_console_app(cache: ScoreCache, console: Console) -> FastAPI:
    """The scores API over ``cache`` and the console over ``console`` (started by the
    caller)."""
    app = create_app(cache)
    app.description = ("Published LP scores for routers (read-only, no login: /api/scores, "
                       "/api/health; docs/api.md) and the review and calibration console "
                       "(login, roles, CSRF; docs/console.md).")
    api = APIRouter(prefix="/api")
    for router in (auth_router(console), profiles_router(console), kpis_router(console),
                   audit_router(console)):
        api.include_router(router)
    app.include_router(api)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.middleware("http")
    async def headers(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Frame-Options"] = "DENY"
        if request.url.path.startswith("/api/") and request.url.path not in (
                "/api/health",) and not request.url.path.startswith("/api/scores"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app
