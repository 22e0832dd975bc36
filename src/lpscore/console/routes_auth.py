"""``/api/login``, ``/api/logout``, ``/api/session`` and the admin's ``/api/users``."""

# No `from __future__ import annotations` here: FastAPI resolves the Annotated dependency
# aliases defined inside the router factory from the live annotations.

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from lpscore.console.auth import Session, hash_password
from lpscore.console.schemas import (
    ERRORS,
    LoginIn,
    Problem,
    SessionOut,
    UserIn,
    UserOut,
    UserPatch,
)
from lpscore.console.state import Console

__all__ = ["auth_router"]


def auth_router(console: Console) -> APIRouter:
    router = APIRouter(tags=["console: login and users"])
    auth, db = console.auth, console.db
    viewer = Annotated[Session, Depends(auth.session)]
    admin = Annotated[Session, Depends(auth.require("admin"))]
    any_change = Annotated[Session, Depends(auth.require("viewer"))]

    @router.post("/login", response_model=SessionOut, responses={
        401: {"model": Problem, "description": "Wrong user name or password."},
        429: {"model": Problem, "description": "Too many failed logins; see Retry-After."}})
    async def login(body: LoginIn, request: Request, response: Response) -> SessionOut:
        """Log in: sets the session cookie (HttpOnly) and the CSRF cookie."""
        session = await run_in_threadpool(auth.login, request, response, body.username,
                                          body.password)
        return SessionOut(user=session.user, role=session.role, csrf=session.csrf)

    @router.post("/logout", status_code=204, responses=ERRORS)
    async def logout(request: Request, response: Response, _: any_change) -> None:
        """End the session (CSRF header required, like every change)."""
        auth.logout(request, response)

    @router.get("/session", response_model=SessionOut, responses=ERRORS)
    async def get_session(session: viewer) -> SessionOut:
        """Who is logged in, their role and the CSRF token to send with changes."""
        return SessionOut(user=session.user, role=session.role, csrf=session.csrf)

    @router.get("/users", response_model=list[UserOut], responses=ERRORS)
    async def list_users(_: admin) -> list[UserOut]:
        """Every user and role (admin only)."""
        return [UserOut(username=u.name, role=u.role, created_ns=u.created_ns)
                for u in db.users()]

    @router.post("/users", response_model=UserOut, status_code=201, responses={
        **ERRORS, 409: {"model": Problem, "description": "The user exists already."}})
    def add_user(body: UserIn, session: admin) -> UserOut:
        """Add a user (admin only); audited."""
        try:
            hashed = hash_password(body.password)
        except ValueError as exc:
            raise HTTPException(422, detail=[{"loc": ["body", "password"], "msg": str(exc),
                                              "type": "value_error"}]) from exc
        try:
            with db.transaction() as tx:
                user = db.add_user(body.username, hashed, body.role, db=tx)
                db.audit(session.user, "user.add", body.username, new={"role": body.role},
                         db=tx)
        except ValueError as exc:
            raise HTTPException(409, detail=str(exc)) from exc
        console.changes += 1
        return UserOut(username=user.name, role=user.role, created_ns=user.created_ns)

    @router.patch("/users/{username}", response_model=UserOut, responses={
        **ERRORS, 404: {"model": Problem, "description": "No such user."},
        409: {"model": Problem, "description": "The change would leave no admin."}})
    def change_user(username: str, body: UserPatch, session: admin) -> UserOut:
        """Change a user's role or password (admin only); audited; their sessions end."""
        hashed = None
        if body.password is not None:
            try:
                hashed = hash_password(body.password)
            except ValueError as exc:
                raise HTTPException(422, detail=[{"loc": ["body", "password"],
                                                  "msg": str(exc), "type": "value_error"}]
                                    ) from exc
        with db.transaction() as tx:
            user = db.user(username)
            if user is None:
                raise HTTPException(404, detail=f"no user {username!r}")
            admins = [u for u in db.users() if u.role == "admin"]
            if (body.role not in (None, "admin") and user.role == "admin"
                    and len(admins) == 1):
                raise HTTPException(409, detail=f"{username} is the last admin; make "
                                    "another user admin first")
            db.update_user(username, role=body.role, password_hash=hashed, db=tx)
            changed: dict[str, str] = {"role": body.role} if body.role else {}
            if hashed:
                changed["password"] = "changed"
            db.audit(session.user, "user.change", username, old={"role": user.role},
                     new=changed, db=tx)
        auth.drop_user_sessions(username)
        console.changes += 1
        return UserOut(username=username, role=body.role or user.role,
                       created_ns=user.created_ns)

    return router
