"""The console's state: its database, the data directory, the score store and cache, and the
two changes it makes (a new profile version, a rollback), each scored and published with
the scoring/ and publish/ functions the commands use.

    console = Console.open(Path("out/demo"), store, cache)
    console.publish_all()                          # every profile's current version
    console.preview("block", weights, {})          # current vs proposed ranking
    console.save("block", weights, user="alice", comment="more weight on fills")
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lpscore.console.auth import Auth
from lpscore.console.data import DataDir
from lpscore.console.db import ConsoleDB, ProfileVersion
from lpscore.errors import ConfigError, InputError, StoreUnavailable
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.publish.publisher import snapshots_of
from lpscore.publish.store import ScoreStore
from lpscore.routing.cache import ScoreCache
from lpscore.scoring import BUILTIN, KpiSpec, Profile, catalog, score_result
from lpscore.scoring.catalog import weighable

__all__ = ["DB_NAME", "Console", "Saved"]

DB_NAME = "console.sqlite"
DEFAULT_HORIZONS = ["100ms", "1s", "5s", "30s", "60s"]


@dataclass(frozen=True, slots=True)
class Saved:
    version: ProfileVersion
    previous: ProfileVersion
    published: int
    """Snapshots whose content changed (new versions in the store)."""
    publish_error: str | None = None
    """Why the new scores could not be published (the version is saved regardless)."""


class Console:
    """See the module docstring."""

    def __init__(self, data: DataDir, db: ConsoleDB, store: ScoreStore,
                 cache: ScoreCache) -> None:
        self.data = data
        self.db = db
        self.store = store
        self.cache = cache
        self.auth = Auth(db)
        self.specs: dict[str, KpiSpec] = catalog(data.horizons or DEFAULT_HORIZONS)
        self.changes = 0
        """Changes made through the console since the start (the events channel sends them)."""
        self._write = threading.Lock()
        self.closing = threading.Event()
        """Set when the server starts shutting down: event streams end."""
        for name, profile in BUILTIN.items():
            if db.latest(name) is None:
                db.add_version(name, profile.weights, author="lpscore",
                               comment="built-in profile (docs/scoring.md)")

    @classmethod
    def open(cls, data_dir: Path, store: ScoreStore, cache: ScoreCache) -> Console:
        return cls(DataDir.open(data_dir), ConsoleDB(data_dir / DB_NAME), store, cache)

    @property
    def profiles(self) -> list[str]:
        return list(BUILTIN)

    @property
    def kpis(self) -> list[str]:
        """Every KPI a weight may be given to."""
        return weighable(self.specs)

    def profile(self, name: str, weights: Mapping[str, float] | None = None) -> Profile:
        """Profile ``name`` with its current weights (or ``weights``), validated: ConfigError
        saying what is wrong (unknown KPI, negative weight, sum not 1)."""
        base = BUILTIN[name]
        if weights is None:
            latest = self.db.latest(name)
            weights = base.weights if latest is None else latest.weights
        return replace(base, weights=dict(weights)).validated(
            self.specs, where=f"weights of profile {name!r}")

    def _need_data(self) -> None:
        if self.data.result is None:
            raise InputError(f"{self.data.path} holds no KPI tables (fills.parquet, "
                             "orders.parquet, kpis.json): run `lpscore kpis ... --out "
                             f"{self.data.path}` first")

    def publish(self, name: str) -> int:
        """Score every context level under the current version and publish; how many
        snapshots changed."""
        self._need_data()
        assert self.data.result is not None
        profile = self.profile(name)
        done = self.store.publish(snapshots_of(self.data.result, profile, self.specs))
        return sum(p.changed for p in done)

    def publish_all(self) -> None:
        if self.data.result is not None and self.data.result.orders.height:
            for name in self.profiles:
                self.publish(name)

    def preview(self, name: str, weights: Mapping[str, float],
                context: Mapping[str, str]) -> dict[str, Any]:
        """The ranking in ``context`` under the current weights and under ``weights``."""
        self._need_data()
        assert self.data.result is not None
        proposed = self.profile(name, weights)
        current = self.profile(name)
        try:
            now = score_result(self.data.result, current, self.specs, context, CONTEXT_KEYS)
            then = score_result(self.data.result, proposed, self.specs, context,
                                CONTEXT_KEYS)
        except InputError as exc:
            raise ConfigError(str(exc)) from exc
        before = {s.lp: s for s in now.scores}
        rows = []
        for s in then.scores:
            old = before.get(s.lp)
            rows.append({**s.to_json(), "old_rank": None if old is None else old.rank,
                         "old_score": None if old is None else old.score})
        return {"profile": name, "context": dict(context), "weights": proposed.weights,
                "current_weights": current.weights, "scores": rows}

    def save(self, name: str, weights: Mapping[str, float], *, user: str,
             comment: str, action: str = "profile.save") -> Saved:
        """A new version of ``name`` with ``weights``, audited, then republished."""
        profile = self.profile(name, weights)
        with self._write:
            with self.db.transaction() as tx:
                previous = self.db.latest(name)
                assert previous is not None
                made = self.db.add_version(name, profile.weights, author=user,
                                           comment=comment, db=tx)
                self.db.audit(user, action, name, comment=comment, db=tx,
                              old={"version": previous.version, "weights": previous.weights},
                              new={"version": made.version, "weights": made.weights})
            published, error = 0, None
            if self.data.result is not None:
                try:
                    published = self.publish(name)
                except StoreUnavailable as exc:
                    error = f"version {made.version} saved, but not published: {exc}"
            self.changes += 1
        return Saved(made, previous, published, error)

    def rollback(self, name: str, version: int, *, user: str, comment: str) -> Saved:
        """A new version carrying the weights of ``version``."""
        old = self.db.version(name, version)
        if old is None:
            raise KeyError(version)
        return self.save(name, old.weights, user=user, action="profile.rollback",
                         comment=comment or f"rollback to version {version}")
