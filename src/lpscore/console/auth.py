"""Logins, sessions, roles and CSRF for the console (docs/console.md, "Security model").

- Passwords: argon2id hashes (argon2-cffi's defaults); a login for an unknown user still
  verifies against a dummy hash, so timing does not tell which names exist.
- Sessions: a random token in the ``lpscore_session`` cookie (HttpOnly, SameSite=Strict,
  Secure when the request came over TLS), held in memory, expiring after ``SESSION_TTL_S``
  of idleness; a restart logs everyone out.
- CSRF: every request that changes something must send the session's token in the
  ``X-CSRF-Token`` header; the token is readable from the ``lpscore_csrf`` cookie (double
  submit) and from ``GET /api/session``.
- Login rate limit: ``MAX_FAILURES`` failed logins per user name or per client address within
  ``WINDOW_S`` seconds, then 429 with Retry-After until the window has passed.
- Roles: viewer < calibrator < admin; every changing endpoint depends on ``require(role)``.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import HTTPException, Request, Response

from lpscore.console.db import ROLES, ConsoleDB, Role, User

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "Auth", "Session",
           "hash_password", "verify_password"]

SESSION_COOKIE = "lpscore_session"
CSRF_COOKIE = "lpscore_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_TTL_S = 8 * 3600.0
MAX_FAILURES = 5
WINDOW_S = 60.0
MIN_PASSWORD = 10
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """A hash to verify against when the user does not exist (made on first use: hashing
    takes a quarter of a second, too long for import time)."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``; ValueError if it is too short to be one."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password too short: use at least {MIN_PASSWORD} characters")
    if not password.strip():
        raise ValueError("a password of spaces only: use other characters too")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; the same work whether or not the user exists."""
    try:
        return _hasher.verify(stored_hash or _dummy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class Session:
    user: str
    role: Role
    csrf: str
    expires: float

    def may(self, role: Role) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass
class _Limiter:
    """Failed attempts per key in a sliding window."""

    clock: Callable[[], float]
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, keys: list[str]) -> float:
        now = self.clock()
        wait = 0.0
        for key in keys:
            seen = self.failures.get(key)
            while seen and now - seen[0] > WINDOW_S:
                seen.popleft()
            if seen and len(seen) >= MAX_FAILURES:
                wait = max(wait, WINDOW_S - (now - seen[0]))
        return wait

    def fail(self, keys: list[str]) -> None:
        for key in keys:
            self.failures.setdefault(key, deque()).append(self.clock())

    def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class Auth:
    """Sessions over the users of ``db``; FastAPI dependencies for routes."""

    def __init__(self, db: ConsoleDB, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._limiter = _Limiter(clock)

    # -- login / logout ------------------------------------------------------------------------

    def login(self, request: Request, response: Response, username: str,
              password: str) -> Session:
        """A new session for valid credentials (cookies set on ``response``); else 401, or
        429 when this user name or client failed too often lately."""
        client = request.client.host if request.client else "unknown"
        keys = [f"user:{username}", f"addr:{client}"]
        with self._lock:
            wait = self._limiter.retry_after(keys)
        if wait > 0:
            raise HTTPException(429, detail=f"too many failed logins; try again in "
                                f"{wait:.0f} s", headers={"Retry-After": str(int(wait) + 1)})
        user = self._db.user(username)
        if not verify_password(user.password_hash if user else None, password) or not user:
            with self._lock:
                self._limiter.fail(keys)
            raise HTTPException(401, detail="wrong user name or password")
        with self._lock:
            self._limiter.clear(f"user:{username}")
        return self._open(request, response, user)

    def _open(self, request: Request, response: Response, user: User) -> Session:
        token = secrets.token_urlsafe(32)
        session = Session(user.name, user.role, secrets.token_urlsafe(32),
                          self._clock() + SESSION_TTL_S)
        with self._lock:
            self._sessions[token] = session
        secure = request.url.scheme == "https"
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                            secure=secure, path="/")
        response.set_cookie(CSRF_COOKIE, session.csrf, httponly=False, samesite="strict",
                            secure=secure, path="/")
        return session

    def logout(self, request: Request, response: Response) -> None:
        token = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            self._sessions.pop(token, None)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")

    def drop_user_sessions(self, name: str) -> None:
        """Log ``name`` out everywhere (after a role or password change)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.user == name]:
                del self._sessions[token]

    # -- dependencies --------------------------------------------------------------------------

    def session(self, request: Request) -> Session:
        """The caller's session, or 401."""
        token = request.cookies.get(SESSION_COOKIE, "")
        now = self._clock()
        with self._lock:
            found = self._sessions.get(token)
            if found is not None and found.expires < now:
                del self._sessions[token]
                found = None
            if found is not None:
                found.expires = now + SESSION_TTL_S
        if found is None:
            raise HTTPException(401, detail="log in first: POST /api/login",
                                headers={"WWW-Authenticate": "Cookie"})
        return found

    def require(self, role: Role) -> Callable[[Request], Awaitable[Session]]:
        """A dependency: a session (401), for a changing method the CSRF header matching it
        (403), and at least ``role`` (403), checked in that order."""

        async def dependency(request: Request) -> Session:
            session = self.session(request)
            sent = request.headers.get(CSRF_HEADER, "")
            if request.method not in SAFE_METHODS and (not sent or not hmac.compare_digest(
                    sent.encode(), session.csrf.encode())):
                raise HTTPException(403, detail=f"missing or wrong {CSRF_HEADER} header: send "
                                    f"the value of the {CSRF_COOKIE} cookie (or of csrf in "
                                    "GET /api/session) with every change")
            if not session.may(role):
                raise HTTPException(403, detail=f"role {role} or higher needed; "
                                    f"{session.user} is {session.role}")
            return session

        return dependency
