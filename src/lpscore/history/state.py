"""What a history store keeps for the ingest that appends to it next (``lpscore ingest
--append``): the rows it holds and what the ingests that wrote them carry
(lpscore.ingest.pipeline.Carried), and the data-quality counts of those ingests.

    ROOT/ingest-state/state.json               counts, our CompIDs, settings
                                               (written last)
    ROOT/ingest-state/dedup-<files>.parquet    the duplicate rules' history

    ROOT/ingest-state/appending.json           while an append writes: the partition
                                               folders it writes into

``state.json`` is replaced in one step once an ingest's files are written, and names the
history file of the same ingest, so a store is always described by one complete state: an
append cut short leaves the previous one, and its files past the counts are removed by the
next append (``unfinished``: looked for only in the folders ``appending.json`` names, so
that an append's time follows its own logs, not the store's size); an ingest that writes
the store anew removes the state first (``clear_state``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from lpscore.errors import InputError
from lpscore.history.store import files_from, store_files
from lpscore.ingest.pipeline import Carried

__all__ = ["StoreState", "add_counts", "begin_append", "clear_state", "end_append", "held",
           "read_data_quality", "read_state", "unfinished", "write_state"]

_DIR = "ingest-state"
_APPENDING = "appending.json"
_FORMAT = 1


@dataclass(frozen=True)
class StoreState:
    """The rows a store holds and what its ingests carry."""

    carried: Carried
    events: int
    quotes: int
    data_quality: dict[str, int]
    """The ingests' data-quality counts (``IngestResult.data_quality``), summed over the
    ingest that last wrote the store anew and those that appended to it since
    (``add_counts``)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The ingest settings the store was written with (``ingest_settings``): an append
    with others would not give what one ingest of everything gives."""
    marks_appends: bool = False
    """Read from a state whose lpscore marks each append (``begin_append``): without a
    mark, no append was cut short. Every state written now says so."""


def add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Two ingests' data-quality counts summed, name by name (a name one lacks is 0 there),
    in name order."""
    return {name: a.get(name, 0) + b.get(name, 0) for name in sorted(a.keys() | b.keys())}


def read_state(root: Path, *, missing_ok: bool = False) -> StoreState | None:
    """The state of the store at ``root``; None when there is no store there (or, with
    ``missing_ok``, a store without a state). InputError when there is one without a state
    an append can use."""
    path = root / _DIR / "state.json"
    if not path.is_file():
        if not missing_ok and (store_files(root, "events") or store_files(root, "quotes")):
            raise InputError(f"{root} holds a history store without {_DIR}/state.json (written "
                             "by an lpscore before --append, or copied without it): ingest "
                             "its logs again without --append, then append to it")
        return None
    try:
        saved = _saved(path)
        counts = _counts(saved)
        dedup = saved["dedup"]
        history = pl.read_parquet(root / _DIR / dedup, glob=False) if dedup else None
        carried = Carried(
            history=history, files=int(saved["files"]),
            own_comp_ids=tuple(saved["own_comp_ids"]),
            window_ns=int(saved["window_ns"]))
        return StoreState(carried, int(saved["events"]), int(saved["quotes"]),
                          counts, dict(saved.get("settings", {})),
                          saved.get("marks_appends") is True)
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"{path}: not a state lpscore can read ({exc}); ingest the store's "
                         "logs again without --append") from exc


def held(root: Path) -> tuple[int, int] | None:
    """(events, log files) of the store at ``root`` from its ``state.json`` alone, without
    the duplicate rules' history ``read_state`` also reads; None without a readable state."""
    try:
        saved = _saved(root / _DIR / "state.json")
        return int(saved["events"]), int(saved["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_data_quality(root: Path) -> dict[str, int]:
    """The summed data-quality counts of the ingests that wrote the store at ``root``
    (``StoreState.data_quality``); none when the store has no state (written by hand, not by
    ``lpscore ingest``)."""
    state = read_state(root, missing_ok=True)
    return {} if state is None else state.data_quality


def clear_state(root: Path) -> None:
    """Forget the store's state (before it is written anew: a store cut short then has
    none, and an append to it is refused instead of trusting the old one)."""
    shutil.rmtree(root / _DIR, ignore_errors=True)


def begin_append(root: Path, partitions: Sequence[str]) -> None:
    """Mark an append about to write into the partition folders ``partitions``
    (``lpscore.history.store.partitions_of``), before it writes: one cut short is then
    undone by looking in those folders only (``unfinished``). Written in one step, flushed
    to disk."""
    folder = root / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f"{_APPENDING}.tmp"
    with scratch.open("w", encoding="utf-8") as handle:
        json.dump({"partitions": list(partitions)}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, folder / _APPENDING)


def end_append(root: Path) -> None:
    """The append's state is written: its mark goes."""
    (root / _DIR / _APPENDING).unlink(missing_ok=True)


def unfinished(root: Path, state: StoreState) -> list[Path]:
    """The files of an append cut short before its state was written (past the rows
    ``state`` counts): looked for in the folders its mark names (``begin_append``); none
    when there is no mark and the state's lpscore marks its appends; in every folder of
    the store for a state written before appends were marked (or an unreadable mark)."""
    mark = root / _DIR / _APPENDING
    within: list[str] | None = None
    if mark.is_file():
        try:
            within = [str(p) for p in json.loads(mark.read_text(encoding="utf-8"))["partitions"]]
        except (OSError, ValueError, KeyError, TypeError):
            within = None
    elif state.marks_appends:
        return []
    return files_from(root, state.events, state.quotes, within)


def _saved(path: Path) -> dict[str, Any]:
    saved = json.loads(path.read_text(encoding="utf-8"))
    _check_format(saved)
    assert isinstance(saved, dict)   # _check_format: an object of this format
    return saved


def _check_format(saved: object) -> None:
    """A state of this format; ValueError otherwise, also for JSON other than an object
    (``[]`` would otherwise raise AttributeError past the callers' handlers)."""
    found = saved.get("format") if isinstance(saved, dict) else saved
    if found != _FORMAT:
        raise ValueError(f"format {found!r}, expected {_FORMAT}")


def _counts(saved: dict[str, Any]) -> dict[str, int]:
    """``data_quality`` of a saved state; none in a state written before it was kept."""
    counts = saved.get("data_quality", {})
    if not isinstance(counts, dict):
        raise TypeError(f"data_quality {counts!r}, expected an object of counts")
    return {str(name): int(n) for name, n in counts.items()}


def write_state(root: Path, state: StoreState) -> None:
    """Record ``state`` as the store's (module docstring: in one step)."""
    folder = root / _DIR
    folder.mkdir(parents=True, exist_ok=True)
    carried = state.carried
    dedup = None
    if carried.history is not None:
        # a new name: files only grow between rewrites, and a rewrite clears the folder
        dedup = f"dedup-{carried.files:09d}.parquet"
        carried.history.write_parquet(folder / dedup)
    saved = {
        "format": _FORMAT, "events": state.events, "quotes": state.quotes,
        "files": carried.files, "own_comp_ids": list(carried.own_comp_ids),
        "window_ns": carried.window_ns, "dedup": dedup,
        "data_quality": state.data_quality, "settings": state.settings,
        "marks_appends": True,
    }
    scratch = folder / "state.json.tmp"
    scratch.write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    os.replace(scratch, folder / "state.json")
    for old in folder.glob("dedup-*.parquet"):
        if old.name != dedup:
            old.unlink()
