"""The decision journal: every routing decision as one JSON line, for the console and for
review after the fact (docs/routing.md, "Decision journal").

    with DecisionLog(Path("out/demo/decisions.jsonl")) as log:
        log.write(plan, ts_ns=time.time_ns(), symbol="ACME", side="sell", qty=200_000,
                  parent="P1")

A record is ``decision_record(...)``: when, what was asked, then every field of
``Plan.to_json()`` (``lpscore route --format json``)::

    {"ts": "2024-05-02T13:30:00.123456789Z", "ts_ns": 1714656600123456789,
     "symbol": "ACME", "side": "sell", "qty": 200000, "parent": "P1",
     "policy": "spray", "profile": "block", "stale": false, "context": "symbol=ACME",
     "fallback": null, "children": [{"lp": "LP_C", "qty": 122800, "reason": "..."}],
     "skipped": [], "unrouted": 0}

Each record is written with one ``write(2)`` to a file opened for appending, so a reader
(``lpscore serve`` tails the file) sees whole lines as soon as ``write`` returns, and on a
local file system several writers (a simulator and ``lpscore route`` runs) do not
interleave inside a line.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from lpscore.routing.router import Plan

__all__ = ["SIDES", "DecisionLog", "decision_record"]

SIDES = ("buy", "sell")
NS = 1_000_000_000


def decision_record(plan: Plan, *, ts_ns: int, symbol: str, side: str, qty: float,
                    parent: str | None = None) -> dict[str, Any]:
    """One journal record: ``ts`` (ISO-8601 UTC, nanoseconds), ``ts_ns``, the request
    (``symbol``, ``side`` buy|sell, ``qty``), ``parent`` (null when there is none) and
    every field of ``plan.to_json()``. ValueError for a side or quantity that no order has."""
    if side not in SIDES:
        raise ValueError(f"side {side!r}: use buy or sell")
    if not (math.isfinite(qty) and qty >= 0):
        raise ValueError(f"qty {qty!r}: give the order's quantity (finite, >= 0)")
    return {"ts": iso_ns(ts_ns), "ts_ns": ts_ns, "symbol": symbol, "side": side,
            "qty": _number(qty), "parent": parent, **plan.to_json()}


def iso_ns(ts_ns: int) -> str:
    """``2024-05-02T13:30:00.123456789Z``: datetime keeps only microseconds, so the
    nanoseconds are formatted apart."""
    seconds, nanos = divmod(ts_ns, NS)
    day_time = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{day_time}.{nanos:09d}Z"


class DecisionLog:
    """Appends ``decision_record`` lines to ``path`` (its directory is created); close it,
    or use it as a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: a record goes to the kernel in the write() that makes it, so a
        # running console sees it without a flush, and nothing is lost if we crash later.
        self._file: BinaryIO = self.path.open("ab", buffering=0)

    def write(self, plan: Plan, *, ts_ns: int, symbol: str, side: str, qty: float,
              parent: str | None = None) -> dict[str, Any]:
        """Append the decision; the record written."""
        record = decision_record(plan, ts_ns=ts_ns, symbol=symbol, side=side, qty=qty,
                                 parent=parent)
        # allow_nan=False: NaN is not JSON, and readers other than Python reject it
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        written = self._file.write(line)
        while written < len(line):     # a short write (disk nearly full, a signal): finish it
            line = line[written:]
            written = self._file.write(line)
        return record

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DecisionLog({str(self.path)!r})"


def _number(x: float) -> float | int:
    """Whole quantities as integers, as ``Plan.to_json`` writes them."""
    return round(x) if abs(x - round(x)) < 1e-9 else x
