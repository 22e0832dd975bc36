"""State and source positions saved together, atomically: the exactly-once effect.

    ckpt = Checkpoint(Path("state/"))
    ckpt.save(state, quarantine)          # one file, written then renamed into place
    state = ckpt.load()                   # None on a first start

The saved state holds the decoder (duplicates history, own CompIDs), the processor (live
units and statistics) and every source's position, in one pickle written to a temporary
file, flushed to disk and renamed over ``state.pkl``: a crash leaves the previous checkpoint
or the new one, never a mix. After a restart the sources are put back at the saved
positions, so every record after the checkpoint is read again and applied once to the state
as it was then: no fill lost, none counted twice. The quarantine file is appended at each
checkpoint and cut back to its saved length on restore, so it has no repeats either; the
records written are released from memory (``Quarantine.release``).

Live quotes (``save(..., quotes=)``: a processor's quotes only grow, by appending) are kept
apart from the pickle, as Arrow IPC parts ``quotes-NNNNNN.arrow``: each save writes the rows
added since the last one as a new part and names the parts in the state, so a save costs
the quotes it adds, not the day's (pickling five million quotes took 1.4 s, every
``checkpoint_every_s``). ``load`` reads the parts the state names into ``state["quotes"]``
and deletes any part written after it (a crash between the two).

The file is a pickle of lpscore's own objects: load only checkpoints you wrote.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from lpscore.errors import InputError
from lpscore.quarantine import Quarantine

__all__ = ["Checkpoint"]

_VERSION = 1
_QUOTES = "quotes"


class Checkpoint:
    """A checkpoint directory: ``state.pkl``, ``quarantine.jsonl`` and the quote parts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.state_path = root / "state.pkl"
        self.quarantine_path = root / "quarantine.jsonl"
        self.written = 0
        """Records of this process's quarantine already in the file."""
        self.quote_parts: list[str] = []
        """The quote parts the state on disk names."""
        self.quote_rows = 0
        """The quotes they hold."""

    def load(self, quarantine: Quarantine | None = None) -> dict[str, Any] | None:
        """The saved state, or None on a first start. ``quarantine`` (the lane's, empty)
        takes the saved one's counts: the records in the file count as released, so a
        restarted worker goes on counting where it stopped."""
        if not self.state_path.exists():
            self.quarantine_path.unlink(missing_ok=True)
            self._drop_parts_but(())        # of a first save that never finished
            return None
        try:
            state = pickle.loads(self.state_path.read_bytes())
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise InputError(f"{self.state_path}: not a checkpoint this lpscore can read "
                             f"({exc}); remove the directory to start from the beginning"
                             ) from exc
        if not isinstance(state, dict) or state.get("version") != _VERSION:
            raise InputError(f"{self.state_path}: checkpoint format {state.get('version')!r}"
                             f" (this lpscore writes {_VERSION}); remove the directory to "
                             "start from the beginning")
        self.written = 0
        if quarantine is not None:
            self.written = int(state.get("quarantined", 0))
            quarantine.resume(self.written, Counter({
                (where, reason): n for where, reason, n in state.get("quarantined_by", [])}))
        if self.quarantine_path.exists():
            with self.quarantine_path.open("r+b") as handle:
                handle.truncate(int(state["quarantine_bytes"]))
        self.quote_parts = list(state.get("quote_parts", []))
        self._drop_parts_but(self.quote_parts)      # written after this state
        if self.quote_parts:
            state["quotes"] = pl.concat([pl.read_ipc((self.root / name).read_bytes())
                                         for name in self.quote_parts], how="vertical")
            self.quote_rows = state["quotes"].height
        return state

    def _drop_parts_but(self, kept: Collection[str]) -> None:
        for path in self.root.glob(f"{_QUOTES}-*.arrow"):
            if path.name not in kept:
                path.unlink()

    def save(self, state: dict[str, Any], quarantine: Quarantine,
             quotes: pl.DataFrame | None = None) -> None:
        """Append the quarantine's new records to the file (then ``quarantine`` releases
        them: the file holds them), write the rows of ``quotes`` past those saved as a new
        part, and write ``state`` atomically."""
        if quotes is not None and quotes.height > self.quote_rows:
            name = f"{_QUOTES}-{len(self.quote_parts) + 1:06d}.arrow"
            with (self.root / name).open("wb") as handle:
                quotes.slice(self.quote_rows).write_ipc(handle)
                handle.flush()
                os.fsync(handle.fileno())
            self.quote_parts.append(name)
            self.quote_rows = quotes.height
        new = quarantine.since(self.written)
        with self.quarantine_path.open("ab") as handle:
            for record in new:
                handle.write(json.dumps(asdict(record), ensure_ascii=True).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        self.written = len(quarantine)
        payload = {**state, "version": _VERSION, "quarantine_bytes": size,
                   "quote_parts": list(self.quote_parts), "quarantined": self.written,
                   "quarantined_by": [[*key, n] for key, n in sorted(quarantine.tally().items())]}
        tmp = self.state_path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)
        quarantine.release(self.written)
