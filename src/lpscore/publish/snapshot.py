"""A published score snapshot: one profile x context, versioned, encoded as one JSON value.

    snap = Snapshot.of(card, computed_at_ns=time.time_ns(), watermark_ns=last_event_ns)
    raw = snap.encode()                    # bytes written in one atomic SET
    Snapshot.decode(raw) == snap.with_version(...)

A context is written canonically as ``key=value`` pairs joined by ``,`` in the hierarchy
order (``symbol=ACME,size_bucket=adv<0.1%``); the LP-level context (no keys) is ``*``.
``digest`` hashes what the router acts on (profile, context and scores, not the times), so a
publish that changes nothing keeps the version and rewrites nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.scoring import Scorecard

__all__ = ["ALL", "Snapshot", "context_key", "loads", "parse_context_key"]

ALL = "*"
_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


def loads(raw: bytes | str) -> dict[str, Any]:
    """A JSON object as the stores hold it; also reads the ``NaN`` that json.dumps wrote
    before snapshots were encoded with orjson (which writes null)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = json.loads(raw)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def context_key(context: Mapping[str, Any], order: Sequence[str] = CONTEXT_KEYS) -> str:
    """The canonical text of a context: ``symbol=ACME,size_bucket=...`` or ``*``; keys in
    hierarchy ``order``, then any other key alphabetically."""
    items = tuple(context.items())
    for _, value in items:
        if type(value) is not str:      # 1, 1.0 and True are one key of a cache
            return _context_key.__wrapped__(items, tuple(order))
    return _context_key(items, tuple(order))


@functools.lru_cache(maxsize=1 << 16)
def _context_key(items: tuple[tuple[str, Any], ...], order: tuple[str, ...]) -> str:
    """``context_key`` of a context's items, remembered for text values: a publish asks
    for the key of each of some thousands of contexts several times (intervals,
    capacities, snapshots)."""
    context = dict(items)
    keys = [k for k in order if k in context]
    keys += sorted(k for k in context if k not in keys)
    for k in keys:
        if "," in f"{k}{context[k]}" or "=" in k:
            raise ValueError(f"context {k}={context[k]!r}: ',' cannot appear in context keys "
                             "or values, nor '=' in keys")
    return ",".join(f"{k}={context[k]}" for k in keys) or ALL


def parse_context_key(text: str, keys: Sequence[str] | None = None) -> dict[str, str]:
    """The inverse of ``context_key``, and the reader of every context a user types:
    ``key=value`` pairs joined by ``,`` in any order (``*`` or nothing: the LP level), with
    ``keys`` only of those keys. ValueError, saying how to write it, for anything else."""
    if text.strip() in ("", ALL):
        return {}
    context: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ValueError(f"context {text!r}: {item!r} is not key=value; give key=value "
                             "pairs joined by ',' (symbol=ACME,size_bucket=adv<0.1%), or * "
                             "for the LP level")
        if key in context:
            raise ValueError(f"context {text!r}: {key} is given twice; give each key once")
        context[key] = value
    unknown = [] if keys is None else sorted(set(context) - set(keys))
    if unknown:
        raise ValueError(f"context {text!r}: unknown key(s) {', '.join(unknown)}; use "
                         f"{', '.join(keys or ())}")
    return context


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the router reads for one profile x context."""

    profile: str
    context: dict[str, str]
    scores: list[dict[str, Any]]
    """``LpScore.to_json()`` items, ranked."""
    computed_at_ns: int
    watermark_ns: int | None
    """The time of the newest evidence behind the scores (decay reference)."""
    version: int = 0
    interval: float = 0.95
    intervals_at_ns: int | None = None
    """When the scores' intervals and rank stabilities were drawn: ``computed_at_ns``, or
    earlier when a stream's publish carried them, None while pending (a stream's context
    not drawn yet: intervals null; lpscore.publish.intervals)."""

    @classmethod
    def of(cls, card: Scorecard, *, computed_at_ns: int, watermark_ns: int | None = None,
           capacity: Mapping[str, Mapping[str, float | None]] | None = None,
           carried_from_ns: int | None = None) -> Snapshot:
        """The snapshot of a scorecard (version 0 until published). ``capacity`` (per LP:
        ``fill_rate``, ``filled_qty_per_order``, ``n_terminal``) goes into each score item,
        for routers that size child orders. Its ``intervals_at_ns`` is ``computed_at_ns``
        for a card drawn with its scores, else ``carried_from_ns`` (None: pending)."""
        items = [s.to_json() for s in card.scores]
        if capacity is not None:
            for item in items:
                item["capacity"] = dict(capacity.get(item["lp"], {}))
        return cls(profile=card.profile, context={k: str(v) for k, v in card.context.items()},
                   scores=items, computed_at_ns=computed_at_ns,
                   watermark_ns=card.t_ref if watermark_ns is None else watermark_ns,
                   interval=card.interval,
                   intervals_at_ns=computed_at_ns if card.drawn else carried_from_ns)

    @property
    def digest(self) -> str:
        """A hash of the content that matters to routing (not times, not the version)."""
        return self.encode_with_digest()[1]

    def encode_with_digest(self) -> tuple[bytes, str]:
        """``encode()`` and ``digest`` at the cost of one serialisation of the scores."""
        scores = orjson.dumps(self.scores, option=_SORTED)
        digest = hashlib.blake2b(orjson.dumps(
            [self.profile, context_key(self.context), self.interval]) + scores,
            digest_size=16).hexdigest()
        head = orjson.dumps({"profile": self.profile, "context": self.context,
                             "interval": self.interval, "version": self.version,
                             "computed_at_ns": self.computed_at_ns,
                             "watermark_ns": self.watermark_ns,
                             "intervals_at_ns": self.intervals_at_ns})
        return b"".join((head[:-1], b',"scores":', scores, b"}")), digest

    def with_version(self, version: int) -> Snapshot:
        return replace(self, version=version)

    def to_json(self) -> dict[str, Any]:
        """``lpscore scores --format json``: the shape of ``lpscore score`` plus version."""
        return {"profile": self.profile, "context": self.context, "interval": self.interval,
                "version": self.version, "computed_at_ns": self.computed_at_ns,
                "watermark_ns": self.watermark_ns, "intervals_at_ns": self.intervals_at_ns,
                "scores": self.scores}

    def encode(self) -> bytes:
        """``to_json()`` as compact UTF-8 JSON, the scores with sorted keys (a NaN is written
        as null: JSON has no NaN)."""
        return self.encode_with_digest()[0]

    @classmethod
    def decode(cls, raw: bytes | str) -> Snapshot:
        data = loads(raw)
        return cls(profile=data["profile"], context=dict(data["context"]),
                   scores=list(data["scores"]), computed_at_ns=int(data["computed_at_ns"]),
                   watermark_ns=data["watermark_ns"], version=int(data["version"]),
                   interval=float(data["interval"]),
                   intervals_at_ns=data.get("intervals_at_ns", data["computed_at_ns"]))
