"""The console's own SQLite file (``DIR/console.sqlite``): users, profile versions, audit log.

    db = ConsoleDB(Path("out/demo/console.sqlite"))
    db.add_user("alice", hash_password("..."), "admin")
    db.add_version("block", {"fill_rate": 1.0}, author="alice", comment="fills only")
    db.audit("alice", "profile.save", "block", old={...}, new={...}, comment="...")

Every call opens its own connection (safe from any thread); writes that must not interleave
(a new version number) run in one ``BEGIN IMMEDIATE`` transaction. Passwords are stored only
as argon2 hashes (console.auth).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast

__all__ = ["ROLES", "AuditEntry", "ConsoleDB", "ProfileVersion", "Role", "User"]

Role = Literal["viewer", "calibrator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "calibrator", "admin")
"""In order of power: each role may do everything the roles before it may."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS profile_versions (
    profile TEXT NOT NULL, version INTEGER NOT NULL, weights TEXT NOT NULL,
    author TEXT NOT NULL, comment TEXT NOT NULL, created_ns INTEGER NOT NULL,
    PRIMARY KEY (profile, version));
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ns INTEGER NOT NULL, user TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, old TEXT, new TEXT, comment TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: Role
    password_hash: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class ProfileVersion:
    profile: str
    version: int
    weights: dict[str, float]
    author: str
    comment: str
    created_ns: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    ts_ns: int
    user: str
    action: str
    target: str
    old: Any
    new: Any
    comment: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ConsoleDB:
    """Users, profile versions and the audit log in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (no other writer until it ends)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- users ---------------------------------------------------------------------------------

    def user(self, name: str) -> User | None:
        with self._connect() as db:
            row = db.execute("SELECT name, role, password_hash, created_ns FROM users "
                             "WHERE name = ?", (name,)).fetchone()
        return None if row is None else User(row[0], cast(Role, row[1]), row[2], row[3])

    def users(self) -> list[User]:
        with self._connect() as db:
            rows = db.execute("SELECT name, role, password_hash, created_ns FROM users "
                              "ORDER BY name").fetchall()
        return [User(r[0], cast(Role, r[1]), r[2], r[3]) for r in rows]

    def add_user(self, name: str, password_hash: str, role: Role,
                 db: sqlite3.Connection | None = None) -> User:
        """A new user; ValueError if the name is taken, in any case (``Alice`` beside
        ``alice`` would be two users the audit log tells apart by case alone)."""
        user = User(name, role, password_hash, time.time_ns())
        try:
            with self._maybe(db) as conn:
                taken = conn.execute("SELECT name FROM users WHERE lower(name) = lower(?)",
                                     (name,)).fetchone()
                if taken is not None:
                    raise ValueError(f"user {name!r} exists already"
                                     + ("" if taken[0] == name else f" (as {taken[0]!r})"))
                conn.execute("INSERT INTO users VALUES (?, ?, ?, ?)",
                             (user.name, user.role, user.password_hash, user.created_ns))
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"user {name!r} exists already") from exc
        return user

    def update_user(self, name: str, *, role: Role | None = None,
                    password_hash: str | None = None,
                    db: sqlite3.Connection | None = None) -> None:
        with self._maybe(db) as conn:
            if role is not None:
                conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
            if password_hash is not None:
                conn.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                             (password_hash, name))

    # -- profile versions ----------------------------------------------------------------------

    def versions(self, profile: str) -> list[ProfileVersion]:
        """Every version of ``profile``, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT profile, version, weights, author, comment, created_ns "
                              "FROM profile_versions WHERE profile = ? ORDER BY version DESC",
                              (profile,)).fetchall()
        return [_version(r) for r in rows]

    def version(self, profile: str, version: int) -> ProfileVersion | None:
        with self._connect() as db:
            row = db.execute("SELECT profile, version, weights, author, comment, created_ns "
                             "FROM profile_versions WHERE profile = ? AND version = ?",
                             (profile, version)).fetchone()
        return None if row is None else _version(row)

    def latest(self, profile: str) -> ProfileVersion | None:
        found = self.versions(profile)
        return found[0] if found else None

    def add_version(self, profile: str, weights: Mapping[str, float], *, author: str,
                    comment: str, db: sqlite3.Connection | None = None) -> ProfileVersion:
        """The next version of ``profile`` (1 for the first)."""
        with self._maybe(db) as conn:
            (top,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM profile_versions "
                                  "WHERE profile = ?", (profile,)).fetchone()
            made = ProfileVersion(profile, int(top) + 1, dict(weights), author, comment,
                                  time.time_ns())
            conn.execute("INSERT INTO profile_versions VALUES (?, ?, ?, ?, ?, ?)",
                         (made.profile, made.version, json.dumps(made.weights), made.author,
                          made.comment, made.created_ns))
        return made

    # -- audit ---------------------------------------------------------------------------------

    def audit(self, user: str, action: str, target: str, *, old: object = None,
              new: object = None,
              comment: str = "", db: sqlite3.Connection | None = None) -> None:
        with self._maybe(db) as conn:
            conn.execute("INSERT INTO audit (ts_ns, user, action, target, old, new, comment) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (time.time_ns(), user, action, target, json.dumps(old),
                          json.dumps(new), comment))

    def audit_log(self, *, user: str | None = None, action: str | None = None,
                  target: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[list[AuditEntry], int]:
        """Entries matching the filters, newest first, and how many match in all."""
        where, args = [], []
        for column, value in (("user", user), ("action", action), ("target", target)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._connect() as db:
            (total,) = db.execute(f"SELECT COUNT(*) FROM audit {clause}", args).fetchone()
            rows = db.execute(f"SELECT id, ts_ns, user, action, target, old, new, comment "
                              f"FROM audit {clause} ORDER BY id DESC LIMIT ? OFFSET ?",
                              [*args, limit, offset]).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]),
                           r[7]) for r in rows], int(total)

    @contextmanager
    def _maybe(self, db: sqlite3.Connection | None) -> Iterator[sqlite3.Connection]:
        """Inside the caller's transaction when given one, else a transaction of its own."""
        if db is not None:
            yield db
            return
        with self.transaction() as own:
            yield own


def _version(row: tuple[Any, ...]) -> ProfileVersion:
    return ProfileVersion(row[0], int(row[1]), {str(k): float(v) for k, v in
                                                json.loads(row[2]).items()},
                          row[3], row[4], int(row[5]))
