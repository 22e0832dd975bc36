"""The lpscore HTTP app: ``/api/...`` endpoints and their OpenAPI spec at ``/openapi.json``.

    with ScoreCache(store, ["block"]).start() as cache:
        uvicorn.run(create_app(cache))

The app holds no business logic, only reads what the cache holds. The review console
(``lpscore.console.create_console_app``, docs/console.md) adds its pages and routers to it.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from lpscore import __version__
from lpscore.api.scores import scores_router
from lpscore.routing.cache import ScoreCache

__all__ = ["create_app"]


def create_app(cache: ScoreCache) -> FastAPI:
    """The app over ``cache``; the caller starts the cache before serving and stops it after."""
    app = FastAPI(title="lpscore", version=__version__,
                  description="Published LP scores for routers, from a local score cache "
                  "(docs/api.md).")
    api = APIRouter(prefix="/api")
    api.include_router(scores_router(cache))
    app.include_router(api)
    return app
