"""Which events must be computed together: units of parent orders (docs/stream.md).

The KPI engine links a report to its child order by (session, ClOrdID or OrigClOrdID), a
session reject to an order by (session, sequence epoch, MsgSeqNum), and prices a reject
against the next child of the same parent. So the events of a parent order, its children's
cancels and replaces, their reports and session rejects form a *unit*: the engine run on a
unit's events alone gives that unit's orders exactly what it gives them in a run over the
whole log. Units that share a ClOrdID in a session (a reused ClOrdID, a report that came
before its order) are merged, so that linking sees every candidate.

``Units.assign`` gives each new event its unit (a parent id, or ``~...`` for events that
name no known order yet) and returns the units touched; a unit closed by the processor
(``close``) keeps its aliases for a while so that a late event for it is recognised. Once
those are forgotten (``forget``, to bound memory), the unit's (session, ClOrdID) keys are
still remembered as 64-bit hashes until ``expire``: a bust or a correction that comes an
hour after its order closed is then recognised as late (and quarantined by the processor)
instead of passing for a report of an order never seen, which changes no statistic.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

__all__ = ["CLOSED", "Units"]

CLOSED = "\x00closed"
"""The unit of an event that belongs to a unit already closed (a late event)."""

_COLUMNS = ("kind", "session", "outbound", "cl_ord_id", "orig_cl_ord_id", "parent_id",
            "seq_num", "seq_epoch", "ref_seq_num", "ref_epoch")


@dataclass
class Units:
    """Union-find over units, with the alias and sequence indexes that find them."""

    parent: dict[str, str] = field(default_factory=dict)
    """Unit -> the unit it was merged into (itself when it is a root)."""
    alias: dict[tuple[str, str], str] = field(default_factory=dict)
    """(session, ClOrdID) -> unit, for every ClOrdID an order or request used."""
    seq: dict[tuple[str, int, int], str] = field(default_factory=dict)
    """(session, sequence epoch, MsgSeqNum) of our messages -> unit."""
    closed: dict[str, int] = field(default_factory=dict)
    """Closed unit -> when (ns, receipt time) it was closed."""
    merged: set[str] = field(default_factory=set)
    """Units merged into another since the last ``take_merged``."""
    gone: dict[int, int] = field(default_factory=dict)
    """``_key_hash`` of each (session, ClOrdID) of a forgotten unit -> when (ns) the latest
    unit it named was closed."""
    gone_order: deque[tuple[int, list[int]]] = field(default_factory=deque)
    """(closed at, key hashes) of the forgotten units, oldest first, for ``expire``."""
    alias_of: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """Unit -> the ``alias`` keys set to it (some since set to another unit): what
    ``forget`` drops, found without a pass over every alias."""
    seq_of: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    """Unit -> the ``seq`` keys set to it, likewise."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a checkpoint written before ``gone``, ``alias_of`` or ``seq_of`` existed
        state.setdefault("gone", {})
        state.setdefault("gone_order", deque())
        if "alias_of" not in state:
            state["alias_of"] = _keys_of(state["alias"])
            state["seq_of"] = _keys_of(state["seq"])
        self.__dict__.update(state)

    def find(self, unit: str) -> str:
        root = unit
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while unit != root:  # path compression
            unit, self.parent[unit] = self.parent[unit], root
        return root

    def assign(self, events: pl.DataFrame) -> tuple[list[str], set[str]]:
        """Each event's unit (CLOSED for a late event) and the set of units touched."""
        out: list[str] = []
        touched: set[str] = set()
        seq, unit_of = self.seq, self._unit_of
        columns = [events.get_column(name).to_list() for name in _COLUMNS]
        for (kind, session, outbound, cl, orig, parent_id, seq_num, epoch, ref_seq,
             ref_epoch) in zip(*columns, strict=True):
            unit = unit_of(kind, session, outbound, cl, orig, parent_id, ref_seq, ref_epoch)
            out.append(unit)
            if unit != CLOSED:
                touched.add(unit)
                if outbound and seq_num is not None:
                    key = (session, epoch or 0, seq_num)
                    seq[key] = unit
                    self.seq_of.setdefault(unit, []).append(key)
        return out, {self.find(u) for u in touched}

    def _unit_of(self, kind: str, session: str, outbound: bool, cl: str | None,
                 orig: str | None, parent_id: str | None, ref_seq: int | None,
                 ref_epoch: int | None) -> str:
        if kind == "D" and outbound:
            unit = self._root(parent_id or f"~{session}#{cl}")
            self._lend(session, cl, unit)
            return unit
        if kind == "3":
            found = self.seq.get((session, ref_epoch or 0, ref_seq or -1))
            return self._live(found) if found is not None else self._root(f"~3#{session}")
        # a request names its order by OrigClOrdID first, anything else by ClOrdID first
        first, second = (orig, cl) if kind in ("F", "G") else (cl, orig)
        alias = self.alias
        found = alias.get((session, first)) if first is not None else None
        if found is None and second is not None:
            found = alias.get((session, second))
        if found is None:
            if self.gone and any(c is not None and _key_hash(session, c) in self.gone
                                 for c in (first, second)):
                return CLOSED       # names an order forgotten since it closed
            unit = self._root(f"~{session}#{first}")
        else:
            unit = self._live(found)
            if unit == CLOSED:
                return CLOSED
        if kind in ("F", "G") or found is None:
            self._lend(session, cl, unit)
        return unit

    def _root(self, unit: str) -> str:
        if unit in self.closed:
            del self.closed[unit]  # a parent id used again after its unit closed: a new unit
            self.parent[unit] = unit
        return self.find(self.parent.setdefault(unit, unit))

    def _live(self, unit: str) -> str:
        root = self.find(unit)
        return CLOSED if root in self.closed else root

    def _lend(self, session: str, cl: str | None, unit: str) -> None:
        """(session, ``cl``) now names ``unit``; a live unit it named is merged with it (a
        closed one is left as it is: a ClOrdID used again after its order closed)."""
        if cl is None:
            return
        key = (session, cl)
        before = self.alias.get(key)
        self.alias[key] = unit
        self.alias_of.setdefault(unit, []).append(key)
        if before is None:
            return
        other = self.find(before)
        if other == unit or other in self.closed:
            return
        self.parent[other] = unit
        self.merged.add(other)

    def take_merged(self) -> set[str]:
        merged, self.merged = self.merged, set()
        return merged

    def close(self, units: Iterable[str], now_ns: int) -> None:
        for unit in units:
            self.closed[unit] = now_ns

    def forget(self, before_ns: int) -> int:
        """Drop what indexes units closed before ``before_ns``, keeping only the hashes of
        their (session, ClOrdID) keys (``gone``, until ``expire``); returns how many units.
        Only the units dropped are visited in the indexes (``alias_of``, ``seq_of``): a
        rebuild of every index at each call took a tenth of a poll after a long run."""
        old = {u for u, t in self.closed.items() if t < before_ns}
        if not old:
            return 0
        members = [k for k in self.parent if self.find(k) in old]
        alias, seq = self.alias, self.seq
        batches: dict[int, list[int]] = {}
        for unit in {*members, *old}:
            closed_ns = self.closed[self.find(unit) if unit in self.parent else unit]
            for key in self.alias_of.pop(unit, ()):
                if alias.get(key) != unit:
                    continue            # set to another unit since
                del alias[key]
                hashed = _key_hash(*key)
                if self.gone.get(hashed, closed_ns) <= closed_ns:
                    self.gone[hashed] = closed_ns
                    batches.setdefault(closed_ns, []).append(hashed)
            for sent in self.seq_of.pop(unit, ()):
                if seq.get(sent) == unit:
                    del seq[sent]
        self.gone_order.extend(sorted(batches.items()))
        for unit in members:
            del self.parent[unit]
        for unit in old:
            del self.closed[unit]
        return len(old)

    def expire(self, before_ns: int) -> int:
        """Drop the hashes of keys whose units closed before ``before_ns`` (an event naming
        one is then an orphan, as for an order never seen); returns how many."""
        gone, order = self.gone, self.gone_order
        dropped = 0
        while order and order[0][0] < before_ns:
            closed_ns, hashes = order.popleft()
            for hashed in hashes:
                if gone.get(hashed) == closed_ns:   # not named again by a later unit
                    del gone[hashed]
                    dropped += 1
        return dropped


def _key_hash(session: str, cl_ord_id: str) -> int:
    """A 64-bit hash of a (session, ClOrdID) key, the same in every process (checkpoints)."""
    digest = hashlib.blake2b(f"{session}\x1f{cl_ord_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _keys_of(index: dict[Any, str]) -> dict[str, list[Any]]:
    """Unit -> the keys of ``index`` set to it."""
    out: dict[str, list[Any]] = {}
    for key, unit in index.items():
        out.setdefault(unit, []).append(key)
    return out
