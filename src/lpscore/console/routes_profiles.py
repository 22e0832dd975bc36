"""``/api/profiles``: profiles, their versions, the re-ranking preview, saving a new version
(which republishes the scores) and rolling back."""

# No `from __future__ import annotations` here: FastAPI resolves the Annotated dependency
# aliases defined inside the router factory from the live annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from lpscore.console.auth import Session
from lpscore.console.schemas import (
    ERRORS,
    LimitParam,
    OffsetParam,
    Page,
    PreviewIn,
    Problem,
    RollbackIn,
    VersionOut,
    WeightsIn,
)
from lpscore.console.state import Console, Saved
from lpscore.errors import ConfigError, InputError
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.publish.snapshot import parse_context_key

__all__ = ["profiles_router"]


class ProfileOut(BaseModel):
    name: str
    description: str
    version: int
    weights: dict[str, float]
    author: str
    comment: str
    created_ns: int


class SavedOut(BaseModel):
    profile: str
    version: int
    previous_version: int
    weights: dict[str, float]
    published: int
    publish_error: str | None


class PreviewOut(BaseModel):
    profile: str
    context: dict[str, str]
    weights: dict[str, float]
    current_weights: dict[str, float]
    scores: list[dict[str, Any]]


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such profile or version."},
}
NO_DATA: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "The data directory holds no KPI tables "
          "to score."},
}


def invalid(exc: Exception, loc: str = "weights") -> HTTPException:
    """A 422 in FastAPI's shape, saying what is wrong with the weights."""
    msg = str(exc).replace("or set normalize = true to rescale them",
                           "(the editor's Normalise button rescales them)")
    return HTTPException(422, detail=[{"loc": ["body", loc], "msg": msg,
                                       "type": "value_error"}])


def profiles_router(console: Console) -> APIRouter:
    router = APIRouter(tags=["console: profiles"])
    auth = console.auth
    viewer = Annotated[Session, Depends(auth.session)]
    calibrator = Annotated[Session, Depends(auth.require("calibrator"))]

    def known(name: str) -> None:
        if name not in console.profiles:
            raise HTTPException(404, detail=f"no profile {name!r}; profiles: "
                                f"{', '.join(console.profiles)}")

    def out(saved: Saved) -> SavedOut:
        return SavedOut(profile=saved.version.profile, version=saved.version.version,
                        previous_version=saved.previous.version,
                        weights=saved.version.weights, published=saved.published,
                        publish_error=saved.publish_error)

    @router.get("/profiles", response_model=list[ProfileOut], responses=ERRORS)
    async def list_profiles(_: viewer) -> list[ProfileOut]:
        """Every profile with its current version."""
        rows = []
        for name in console.profiles:
            latest = console.db.latest(name)
            assert latest is not None
            rows.append(ProfileOut(name=name, description=console.profile(name).description,
                                   **{k: v for k, v in latest.to_json().items()
                                      if k != "profile"}))
        return rows

    @router.get("/kpis", response_model=list[str], responses=ERRORS)
    async def list_kpis(_: viewer) -> list[str]:
        """Every KPI a profile may weight."""
        return console.kpis

    @router.get("/profiles/{name}/versions", response_model=Page[VersionOut],
                responses={**ERRORS, **NOT_FOUND})
    async def list_versions(name: str, _: viewer, limit: LimitParam = 50,
                            offset: OffsetParam = 0) -> Page[VersionOut]:
        """Versions of a profile, newest first."""
        known(name)
        found = console.db.versions(name)
        return Page[VersionOut](items=[VersionOut(**v.to_json())
                                       for v in found[offset:offset + limit]],
                                total=len(found), limit=limit, offset=offset)

    # version bounded as RollbackIn.version: past 2**63 SQLite cannot bind it (was a 500)
    @router.get("/profiles/{name}/versions/{version}", response_model=VersionOut,
                responses={**ERRORS, **NOT_FOUND})
    async def get_version(name: str, _: viewer, version: Annotated[int, Path(
            ge=1, le=2**31, description="A version number of the profile.")]) -> VersionOut:
        known(name)
        found = console.db.version(name, version)
        if found is None:
            raise HTTPException(404, detail=f"profile {name!r} has no version {version}")
        return VersionOut(**found.to_json())

    @router.post("/profiles/{name}/preview", response_model=PreviewOut,
                 responses={**ERRORS, **NOT_FOUND, **NO_DATA})
    def preview(name: str, body: PreviewIn, _: viewer) -> PreviewOut:
        """The ranking in a context under proposed weights beside the current one; changes
        nothing."""
        known(name)
        try:
            context = parse_context_key(body.context, CONTEXT_KEYS)
        except ValueError as exc:
            raise invalid(exc, "context") from exc
        try:
            return PreviewOut(**console.preview(name, body.weights, context))
        except ConfigError as exc:
            raise invalid(exc, "context" if "no orders" in str(exc) else "weights") from exc
        except InputError as exc:
            raise HTTPException(409, detail=str(exc)) from exc

    @router.post("/profiles/{name}/versions", response_model=SavedOut, status_code=201,
                 responses={**ERRORS, **NOT_FOUND})
    async def save(name: str, body: WeightsIn, session: calibrator) -> SavedOut:
        """Save the weights as the profile's next version (calibrator), audited with the
        comment, and republish the profile's scores."""
        known(name)
        try:
            console.profile(name, body.weights)
        except ConfigError as exc:
            raise invalid(exc) from exc
        return out(await run_in_threadpool(console.save, name, body.weights,
                                           user=session.user, comment=body.comment))

    @router.post("/profiles/{name}/rollback", response_model=SavedOut, status_code=201,
                 responses={**ERRORS, **NOT_FOUND})
    async def rollback(name: str, body: RollbackIn, session: calibrator) -> SavedOut:
        """A new version with the weights of an earlier one (calibrator), audited,
        republished."""
        known(name)
        if console.db.version(name, body.version) is None:
            raise HTTPException(404, detail=f"profile {name!r} has no version {body.version}")
        try:
            saved = await run_in_threadpool(lambda: console.rollback(
                name, body.version, user=session.user, comment=body.comment))
        except ConfigError as exc:  # an old version no longer valid (a horizon removed)
            raise invalid(exc) from exc
        return out(saved)

    return router
