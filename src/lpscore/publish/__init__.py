"""Score publication: versioned, atomic snapshots per profile x context in a store chosen by
URI (docs/publish.md)."""

from lpscore.errors import StoreUnavailable
from lpscore.publish.snapshot import ALL, Snapshot, context_key, parse_context_key
from lpscore.publish.store import (
    MemoryStore,
    ProfileMeta,
    Published,
    RedisStore,
    ScoreStore,
    Subscription,
    Update,
    open_store,
)

__all__ = ["ALL", "MemoryStore", "ProfileMeta", "Published", "RedisStore", "ScoreStore", "Snapshot",
           "StoreUnavailable", "Subscription", "Update", "context_key", "open_store",
           "parse_context_key"]
