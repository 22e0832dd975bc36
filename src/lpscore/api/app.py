"""The lpscore HTTP app: ``/api/...`` endpoints and their OpenAPI spec at ``/openapi.json``.

    with ScoreCache(store, ["block"]).start() as cache:
        uvicorn.run(create_app(cache))

The app holds no business logic, only reads what the cache holds. The review console
(``lpscore.console.create_console_app``, docs/console.md) adds its pages and routers to it.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lpscore import __version__
from lpscore.api.scores import scores_router
from lpscore.jsonout import finite
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

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, but a NaN or infinity the request sent is echoed as text:
        # FastAPI's handler failed to write it back as JSON (a 500 instead of the 422)
        del request
        detail = finite(jsonable_encoder(exc.errors()), as_text=True)
        return JSONResponse(status_code=422, content={"detail": detail})

    return app
