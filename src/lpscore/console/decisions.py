"""The routing decisions of a data directory, ``DIR/decisions.jsonl``, followed while the
console runs: the journal ``lpscore route --decisions`` and the simulator append to
(``lpscore.routing.journal``; one ``decision_record`` object per line).

    journal = DecisionFile(path)
    seen = journal.read()      # Decisions(items, malformed): re-reads only what changed

Each ``read`` looks at the file's identity, size and modification time: unchanged, nothing is
read; grown, only the appended tail is parsed; shrunk, replaced (another inode) or rewritten
in place (its first bytes differ), the whole file is read again. A line that is not a JSON
object (or holds NaN or infinities, which JSON has not) is skipped, counted in
``malformed`` and logged once; a last line without its newline yet is left for the next read
unless it already parses, so a record caught half-written is not miscounted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

__all__ = ["DecisionFile", "Decisions"]

log = logging.getLogger(__name__)

HEAD_BYTES = 64
"""Bytes compared to tell a file rewritten in place from one appended to (a record starts
with its nanosecond timestamp, so two files rarely share them)."""


@dataclass(frozen=True, slots=True)
class Decisions:
    """What the journal holds now, in file order (oldest first)."""

    items: tuple[dict[str, Any], ...]
    malformed: int
    """Lines skipped because they were not a JSON object."""


@dataclass
class DecisionFile:
    """``path`` as read so far (see the module docstring); safe to share between threads."""

    path: Path
    _items: list[dict[str, Any]] = field(default_factory=list)
    _malformed: int = 0
    _offset: int = 0
    """Bytes parsed: always the end of a line (or of a complete last record)."""
    _lines: int = 0
    _unended: bool = False
    """The last line parsed had no newline yet (its newline is not a line of its own)."""
    _head: bytes = b""
    _stamp: tuple[int, int, int, int] | None = None
    """(device, inode, size, mtime_ns) when last read."""
    _seen: Decisions = field(default_factory=lambda: Decisions((), 0))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> Decisions:
        """The decisions now in the file (reading what changed since the last call). The
        same object while nothing changed, so pollers can compare with ``is``."""
        with self._lock:
            if self._refresh():
                # built once per change: the events channel calls this every tick per client
                self._seen = Decisions(tuple(self._items), self._malformed)
            return self._seen

    def _refresh(self) -> bool:
        """Bring the parsed state up to the file; whether anything was (re)read."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._stamp is None:
                return False
            self._reset(None)   # removed: nothing to show until it is written again
            return True
        stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return False
        with self.path.open("rb") as f:
            if not self._continues(f, stamp):
                self._reset(stamp)
            f.seek(self._offset)
            self._parse(f.read())
            if len(self._head) < min(HEAD_BYTES, self._offset):
                f.seek(0)
                self._head = f.read(min(HEAD_BYTES, self._offset))
        self._stamp = stamp
        return True

    def _continues(self, f: BinaryIO, stamp: tuple[int, int, int, int]) -> bool:
        """Whether the file is the one read so far with more appended (or nothing new)."""
        if self._stamp is None or stamp[:2] != self._stamp[:2] or stamp[2] < self._offset:
            return False
        if stamp[2] == self._stamp[2]:      # same size, new mtime: rewritten in place
            return False
        f.seek(0)
        return f.read(len(self._head)) == self._head

    def _reset(self, stamp: tuple[int, int, int, int] | None) -> None:
        self._items, self._malformed, self._offset, self._lines = [], 0, 0, 0
        self._unended, self._head, self._stamp = False, b"", stamp

    def _parse(self, data: bytes) -> None:
        """Parse the bytes after ``_offset``: every complete line, and a last line without
        its newline only when it is already a whole object."""
        lines = data.split(b"\n")
        for n, raw in enumerate(lines):
            last = n == len(lines) - 1
            if last and not raw:
                break
            if n == 0 and self._unended and not raw:     # the newline a record waited for
                self._offset += 1
                self._unended = False
                continue
            item = _record(raw)
            if last and item is None:
                break           # perhaps still being written: wait for the rest
            self._lines += 1
            self._offset += len(raw) + (0 if last else 1)
            self._unended = last
            if item is not None:
                self._items.append(item)
            elif raw.strip():
                self._malformed += 1
                log.warning("%s:%d: not a JSON object, skipped (%d malformed so far); each line "
                            "must be one decision record (docs/routing.md)", self.path,
                            self._lines, self._malformed)


def _record(raw: bytes) -> dict[str, Any] | None:
    """The object on one line, or None when the line is blank or not a JSON object."""
    if not raw.strip():
        return None
    try:
        item = json.loads(raw, parse_constant=_no_constant)
    except ValueError:       # JSONDecodeError and bad UTF-8 are both ValueErrors
        return None
    return item if isinstance(item, dict) else None


def _no_constant(name: str) -> NoReturn:
    """NaN and infinities parse in Python but are not JSON: the API could not answer them."""
    raise ValueError(f"{name} is not JSON")
