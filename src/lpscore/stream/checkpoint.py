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

The file is a pickle of lpscore's own objects: load only checkpoints you wrote.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lpscore.errors import InputError
from lpscore.quarantine import Quarantine

__all__ = ["Checkpoint"]

_VERSION = 1


class Checkpoint:
    """A checkpoint directory: ``state.pkl`` and ``quarantine.jsonl``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.state_path = root / "state.pkl"
        self.quarantine_path = root / "quarantine.jsonl"
        self.written = 0
        """Records of this process's quarantine already in the file."""

    def load(self) -> dict[str, Any] | None:
        if not self.state_path.exists():
            self.quarantine_path.unlink(missing_ok=True)
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
        self.written = 0  # of the new process's quarantine, which starts empty
        if self.quarantine_path.exists():
            with self.quarantine_path.open("r+b") as handle:
                handle.truncate(int(state["quarantine_bytes"]))
        return state

    def save(self, state: dict[str, Any], quarantine: Quarantine) -> None:
        """Append the quarantine's new records to the file (then ``quarantine`` releases
        them: the file holds them), and write ``state`` atomically."""
        new = quarantine.since(self.written)
        with self.quarantine_path.open("ab") as handle:
            for record in new:
                handle.write(json.dumps(asdict(record), ensure_ascii=True).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        self.written = len(quarantine)
        payload = {**state, "version": _VERSION, "quarantine_bytes": size}
        tmp = self.state_path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.state_path)
        quarantine.release(self.written)
