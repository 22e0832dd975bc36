"""The router's local copy of the published scores: lookups never touch the network.

    with ScoreCache(store, ["block"]).start() as cache:
        entry = cache.entry("block", "symbol=ACME")      # a dict lookup
        cache.stale("block")                             # store silent for too long?

A background thread keeps the copy current: it subscribes to the store's update channel,
whose notifications carry the new snapshots (no round trip per notification); it also polls
the profile's generation counter (one round trip per ``poll_interval_s``) and re-reads every
context when it moved past what the notifications showed, so a lost notification costs at
most one poll interval. When the store cannot be reached the cache keeps
every snapshot it has (the last good ones) and retries every ``poll_interval_s``; after a
reconnection it re-reads everything. A fetched snapshot replaces the cached one whatever its
version (a store restarted empty counts versions from 1 again), and a snapshot is never
dropped because the store lost it.

A snapshot a router cannot read is counted in ``bad_snapshots`` and left out (the previous one
stays); ``last_error`` says why.

``stale(profile)`` is True when the store has not been reached for more than
``stale_after_s`` (or never), or, with ``max_publish_age_s``, when the profile's newest
publish is older than that.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from lpscore.errors import ConfigError, StoreUnavailable
from lpscore.publish.snapshot import Snapshot, context_key
from lpscore.publish.store import ScoreStore, Subscription, Update
from lpscore.routing.candidates import Candidate, candidates_of
from lpscore.routing.policies import Option, default_options

__all__ = ["CacheStatus", "Entry", "ScoreCache"]

DRAIN = 1000
"""Notifications handled per wake-up before the generation poll gets its turn."""
WAKE_S = 0.1
"""The thread wakes at least this often, so ``stop`` is prompt whatever the poll interval."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A cached snapshot and its LPs parsed for routing."""

    snapshot: Snapshot
    candidates: tuple[Candidate, ...]
    options: tuple[Option, ...]
    """``candidates`` without size limits, prebuilt for the router."""
    memo: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)
    """What routers work out once from this snapshot (a router keeps here, per
    configuration and symbol, what its rules decide about each LP); it goes with the
    entry when a newer snapshot replaces it."""

    @classmethod
    def of(cls, snapshot: Snapshot) -> Entry:
        candidates = candidates_of(snapshot)
        return cls(snapshot, candidates, default_options(candidates))


@dataclass(frozen=True, slots=True)
class CacheStatus:
    connected: bool
    since_contact_s: float
    """Seconds since the store last answered (inf: never)."""
    snapshots: int
    updates: int
    """Snapshots installed from notifications and polls."""
    errors: int
    """Failed attempts to reach the store."""


class ScoreCache:
    """Snapshots of ``profiles`` kept current from a store (see the module docstring)."""

    def __init__(self, store: ScoreStore, profiles: Iterable[str], *,
                 poll_interval_s: float = 0.5, stale_after_s: float = 5.0,
                 max_publish_age_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_ns: Callable[[], int] = time.time_ns) -> None:
        if max_publish_age_s is not None and not 0 < max_publish_age_s < math.inf:
            raise ConfigError(f"max publish age {max_publish_age_s} s: give a positive, finite "
                              "number of seconds, or none to leave it off")
        self._store = store
        self._profiles = tuple(dict.fromkeys(profiles))
        self._poll = poll_interval_s
        self._stale_after = stale_after_s
        self._max_publish_age_ns = (None if max_publish_age_s is None
                                    else int(max_publish_age_s * 1e9))
        self._clock = clock
        self._wall_ns = wall_ns
        self._entries: dict[tuple[str, str], Entry] = {}
        self._generation: dict[str, int] = {}
        self._published_at: dict[str, int | None] = {}
        self._last_contact = float("-inf")
        self._last_poll = float("-inf")
        self._connected = False
        self._updates = 0
        self._errors = 0
        self.last_error: Exception | None = None
        """Why the store could not be reached, or a snapshot not read, the last time."""
        self.bad_snapshots = 0
        """Snapshots that could not be read (kept out; the previous one stays)."""
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reads: no network, no locks (single dict reads are atomic) --------------------------

    def entry(self, profile: str, context: str) -> Entry | None:
        """The cached snapshot of ``profile`` at the canonical ``context`` key, or None."""
        return self._entries.get((profile, context))

    def stale(self, profile: str) -> bool:
        if self._clock() - self._last_contact > self._stale_after:
            return True
        if self._max_publish_age_ns is None:
            return False
        at = self._published_at.get(profile)
        return at is None or self._wall_ns() - at > self._max_publish_age_ns

    def contexts(self, profile: str) -> list[str]:
        return sorted(c for p, c in list(self._entries) if p == profile)

    @property
    def profiles(self) -> tuple[str, ...]:
        return self._profiles

    def watch(self, profile: str) -> None:
        """Follow one more profile; its snapshots arrive with the next poll."""
        if profile not in self._profiles:
            self._profiles = (*self._profiles, profile)

    def unwatch(self, profile: str) -> None:
        """Follow ``profile`` no more (its cached snapshots, if any, stay)."""
        self._profiles = tuple(p for p in self._profiles if p != profile)
        self._generation.pop(profile, None)
        self._published_at.pop(profile, None)

    def status(self) -> CacheStatus:
        return CacheStatus(self._connected, self._clock() - self._last_contact,
                           len(self._entries), self._updates, self._errors)

    # -- writes -------------------------------------------------------------------------------

    def install(self, snapshot: Snapshot) -> None:
        """Put a snapshot in the cache (the thread does this; also for in-process feeds).
        Raises ValueError for a snapshot a router cannot read (a score item without rank,
        score, interval...)."""
        self._install((snapshot.profile, context_key(snapshot.context)), snapshot)

    def _install(self, key: tuple[str, str], snapshot: Snapshot) -> None:
        try:
            entry = Entry.of(snapshot)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"snapshot {key[0]} {key[1]} version {snapshot.version} is "
                             f"unreadable: {exc!r}") from exc
        self._entries[key] = entry
        self._updates += 1

    def _take(self, snapshot: Snapshot) -> None:
        """``install`` from the store, unless it is what is cached already; an unreadable
        snapshot is counted and left out."""
        key = (snapshot.profile, context_key(snapshot.context))
        cached = self._entries.get(key)
        if cached is not None and cached.snapshot == snapshot:
            return
        try:
            self._install(key, snapshot)
        except ValueError as exc:
            self.bad_snapshots += 1
            self.last_error = exc

    def refresh(self, profiles: Iterable[str] | None = None) -> bool:
        """Re-read every context of ``profiles`` (default: all followed) now; False when the
        store is unreachable (the cached snapshots stay)."""
        try:
            for profile in self._profiles if profiles is None else profiles:
                self._resync(profile)
        except StoreUnavailable as exc:
            self._lost(exc)
            return False
        self._contact()
        return True

    def start(self) -> ScoreCache:
        """Subscribe, read everything once (if the store answers) and follow updates."""
        try:
            sub: Subscription | None = self._store.subscribe()   # first: no gap to the read
        except StoreUnavailable as exc:
            sub = None
            self._lost(exc)
        if sub is not None and not self.refresh():
            sub.close()
            sub = None
        self._thread = threading.Thread(target=self._run, args=(sub,),
                                        name="lpscore-score-cache", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=max(2 * self._poll, 2.0))
            self._thread = None

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self, sub: Subscription | None) -> None:
        """``sub``: the subscription ``start`` made and read after (None: make one and
        re-read, as after every reconnection)."""
        while not self._halt.is_set():
            try:
                if sub is None:
                    sub = self._store.subscribe()     # subscribe first, then re-read: no gap
                    for profile in self._profiles:
                        self._resync(profile)
                    self._contact()
                update = sub.next(timeout=min(self._poll, WAKE_S))
                for _ in range(DRAIN):              # then whatever else is already queued
                    if update is None:
                        break
                    self._apply(update)
                    update = sub.next(timeout=0.0)
                if self._clock() - self._last_poll >= self._poll:
                    self._poll_generations()
                self._contact()
            except StoreUnavailable as exc:
                if sub is not None:
                    sub.close()
                    sub = None
                self._lost(exc)
                self._halt.wait(self._poll)
            except Exception as exc:  # the thread must outlive any surprise
                self.last_error = exc      # (a body that is not JSON...): say so, go on
                self.bad_snapshots += 1
                self._halt.wait(self._poll)
        if sub is not None:
            sub.close()

    def _apply(self, update: Update) -> None:
        """Install an announced snapshot; a generation that follows the one known means
        nothing was missed, so the next poll need not re-read the profile."""
        if update.profile not in self._profiles:
            return
        snapshot = update.snapshot or self._store.get(update.profile, update.context)
        if snapshot is not None:
            self._take(snapshot)
        if update.generation == self._generation.get(update.profile, -1) + 1:
            self._generation[update.profile] = update.generation

    def _poll_generations(self) -> None:
        self._last_poll = self._clock()
        for profile in self._profiles:
            meta = self._store.meta(profile)
            self._published_at[profile] = meta.published_at_ns
            if meta.generation != self._generation.get(profile):
                self._resync(profile, meta.generation)

    def _resync(self, profile: str, generation: int | None = None) -> None:
        if generation is None:
            meta = self._store.meta(profile)
            generation = meta.generation
            self._published_at[profile] = meta.published_at_ns
        for snapshot in self._store.get_many(profile, self._store.contexts(profile)).values():
            self._take(snapshot)
        self._generation[profile] = generation

    def _contact(self) -> None:
        self._last_contact = self._clock()
        self._connected = True

    def _lost(self, exc: StoreUnavailable) -> None:
        self.last_error = exc
        self._connected = False
        self._errors += 1
