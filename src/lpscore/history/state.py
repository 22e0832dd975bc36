"""What a history store keeps for the ingest that appends to it next (``lpscore ingest
--append``): the rows it holds and what the ingests that wrote them carry
(lpscore.ingest.pipeline.Carried).

    ROOT/ingest-state/state.json               counts, sessions, our CompIDs (written last)
    ROOT/ingest-state/dedup-<files>.parquet    the duplicate rules' history

``state.json`` is replaced in one step once an ingest's files are written, and names the
history file of the same ingest, so a store is always described by one complete state: an
ingest cut short leaves the previous one, and its files past the counts are removed by the
next append (lpscore.history.store.drop_from).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lpscore.errors import InputError
from lpscore.history.store import store_files
from lpscore.ingest.pipeline import Carried

__all__ = ["StoreState", "read_state", "write_state"]

_DIR = "ingest-state"
_FORMAT = 1


@dataclass(frozen=True)
class StoreState:
    """The rows a store holds and what its ingests carry."""

    carried: Carried
    events: int
    quotes: int


def read_state(root: Path) -> StoreState | None:
    """The state of the store at ``root``; None when there is no store there. InputError
    when there is one without a state an append can use."""
    path = root / _DIR / "state.json"
    if not path.is_file():
        if store_files(root, "events") or store_files(root, "quotes"):
            raise InputError(f"{root} holds a history store without {_DIR}/state.json (written "
                             "by an lpscore before --append, or copied without it): ingest "
                             "its logs again without --append, then append to it")
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        _check_format(saved)
        dedup = saved["dedup"]
        history = pl.read_parquet(root / _DIR / dedup) if dedup else None
        carried = Carried(
            history=history, files=int(saved["files"]),
            own_comp_ids=tuple(saved["own_comp_ids"]),
            last_recv={(s, t): int(ns) for s, t, ns in saved["last_recv"]},
            window_ns=int(saved["window_ns"]))
        return StoreState(carried, int(saved["events"]), int(saved["quotes"]))
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: not a state lpscore can read ({exc}); ingest the store's "
                         "logs again without --append") from exc


def _check_format(saved: dict[str, Any]) -> None:
    if saved.get("format") != _FORMAT:
        raise ValueError(f"format {saved.get('format')!r}, expected {_FORMAT}")


def write_state(root: Path, state: StoreState) -> None:
    """Record ``state`` as the store's (module docstring: in one step)."""
    folder = root / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    carried = state.carried
    dedup = None
    if carried.history is not None:
        dedup = f"dedup-{carried.files:09d}.parquet"   # a new name: files only grow
        carried.history.write_parquet(folder / dedup)
    saved = {
        "format": _FORMAT, "events": state.events, "quotes": state.quotes,
        "files": carried.files, "own_comp_ids": list(carried.own_comp_ids),
        "last_recv": [[s, t, ns] for (s, t), ns in sorted(carried.last_recv.items())],
        "window_ns": carried.window_ns, "dedup": dedup,
    }
    scratch = folder / "state.json.tmp"
    scratch.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    os.replace(scratch, folder / "state.json")
    for old in folder.glob("dedup-*.parquet"):
        if old.name != dedup:
            old.unlink()
