"""Following a log file as it grows: the embedded event source.

    source = FollowFile(Path("fix.log"))
    records = source.read(max_records=10_000)     # complete lines only
    source.position()                             # checkpointed with the state

Only complete lines are read: a partially written last line waits until its newline comes.
A raw SOH stream (messages back to back, no line ends, as the batch ingest reads one) is
followed too, a framed message at a time (``lpscore.fix.batch.frames``, the batch's
framer): the file is taken for one once two frames follow each other with no line end
between them, or, as the batch ingest takes a file with SOH and no line end, once such bytes
are found unchanged at two reads in a row (a file of one message and nothing after it); a
message cut short waits for its end. A gzip file cannot be followed
(it is only readable once whole): it stops the stream with what to do instead.
Rotation (the path now names another file: ``mv fix.log fix.log.1`` then a new ``fix.log``)
is noticed by the inode: the rest of the old file is read to its end first, then the new one
from its start; a restart after a rotation while the worker was stopped finds the old file
by its inode under a rotated name beside the path (``fix.log.1``) and reads its rest first
too. Truncation in place (``> fix.log``; the file is shorter than the position)
starts again from offset 0. Both are counted in ``events``. Offsets are byte offsets in the
file, as the batch ingest reports them, so a quarantine record names the same place.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lpscore.errors import InputError
from lpscore.fix.batch import frames
from lpscore.gzipped import is_gzip
from lpscore.stream.decode import Record

__all__ = ["FollowFile"]


@dataclass
class FollowFile:
    """A followed log file (see the module docstring)."""

    path: Path
    offset: int = 0
    inode: int | None = None
    chunk_bytes: int = 4 << 20
    events: Counter[str] = field(default_factory=Counter)
    raw: bool | None = None
    """A raw SOH stream (True), a log of lines (False), or not known yet (None)."""
    _undecided: bytes | None = field(default=None, repr=False)
    """While ``raw`` is None: the unread bytes the last read found."""
    _handle: BinaryIO | None = field(default=None, repr=False)
    name: str = field(init=False)
    """The lane's name (its checkpoint directory and its partial in the store), the source
    of its records: the absolute path, however it was typed, so that ``file://demo.log``
    and ``file://$PWD/demo.log`` are one lane and a log is never counted twice."""

    def __post_init__(self) -> None:
        if self.path.is_dir():  # a missing file is awaited; a folder never becomes a log
            raise InputError(f"file://{self.path}: a folder, not a file; follow a file in "
                             "it")
        self.name = os.path.abspath(self.path)   # once: every record carries it

    def position(self, lane: str = "") -> dict[str, Any]:
        return {"offset": self.offset, "inode": self.inode}

    def seek(self, position: Mapping[str, Any]) -> None:
        """Resume where a checkpoint left off (a different inode: the file was rotated
        meanwhile, and the new one is read from its start)."""
        self.close()
        self.offset = int(position.get("offset") or 0)
        self.inode = position.get("inode")

    def lag(self) -> int:
        """Bytes written but not read yet."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return 0
        return max(size - self.offset, 0)

    def poll(self, max_records: int, timeout_s: float) -> dict[str, list[Record]]:
        """The complete lines written since the last poll (one lane: the file); waits up to
        ``timeout_s`` when there are none."""
        records = self.read(max_records)
        if not records and timeout_s > 0:
            time.sleep(timeout_s)
        return {self.name: records} if records else {}

    def start(self, open_lane: Callable[[str], Mapping[str, Any] | None],
              close_lane: Callable[[str], None]) -> None:
        """One lane, the file: resume at its checkpointed position."""
        del close_lane  # a file is never taken away
        position = open_lane(self.name)
        if position is not None:
            self.seek(position)

    def read(self, max_records: int = 100_000) -> list[Record]:
        handle = self._open()
        if handle is None:
            return []
        handle.seek(self.offset)
        data = handle.read(self.chunk_bytes)
        if self.offset == 0 and is_gzip(data):
            raise InputError(f"file://{self.path}: gzip-compressed, and a gzip file cannot be "
                             "followed as it grows; follow the plain log, or give the file to "
                             "lpscore ingest, kpis or score")
        if self.raw is None:
            self.raw = _raw_stream(data)
            if self.raw is None and data == self._undecided and _one_message(data):
                self.raw = True     # a whole message alone, unchanged since the last read
            self._undecided = data if self.raw is None and len(data) < self.chunk_bytes else None
        if self.raw:
            return self._read_frames(handle, data, max_records)
        end = data.rfind(b"\n")
        if end < 0 and len(data) == self.chunk_bytes:
            data, end = self._read_on(handle, data)
        if end < 0:
            if not data:
                self._check_rotation(handle)
            return []
        records: list[Record] = []
        start = 0
        for line in data[:end + 1].split(b"\n")[:-1]:
            if len(records) >= max_records:
                break
            records.append(Record(self.name, self.offset + start, line))
            start += len(line) + 1
        self.offset += start
        return records

    def _read_on(self, handle: BinaryIO, data: bytes) -> tuple[bytes, int]:
        """A line longer than a chunk (junk, a runaway writer) read on to its end, so that it
        is read (and quarantined) as the batch ingest reads it, not waited for at every poll
        for ever: ``data`` and what follows up to its line end, and where that is (-1: not
        written yet)."""
        parts, size = [data], len(data)
        while more := handle.read(self.chunk_bytes):
            parts.append(more)
            at = more.find(b"\n")
            if at >= 0:
                return b"".join(parts), size + at
            size += len(more)
        return b"".join(parts), -1

    def _read_frames(self, handle: BinaryIO, data: bytes, max_records: int) -> list[Record]:
        """The complete records of a raw SOH stream at the start of ``data``, framed as the
        batch ingest frames the whole file (messages, and the bytes between them)."""
        starts, ends, _, rest = frames(np.frombuffer(data, dtype=np.uint8))
        records: list[Record] = []
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            if end > rest or len(records) >= max_records:
                break
            records.append(Record(self.name, self.offset + start, data[start:end]))
        if not records:
            if not data:
                self._check_rotation(handle)
            return []
        self.offset += int(ends[len(records) - 1])
        return records

    def _open(self) -> BinaryIO | None:
        if self._handle is not None:
            return self._handle
        try:
            handle = self.path.open("rb")
        except OSError:
            return None  # not there yet (or between a rotation's two steps)
        inode = os.fstat(handle.fileno()).st_ino
        if self.inode is not None and inode != self.inode:
            old = self._rotated_away()
            if old is not None:     # rotated while stopped: its rest first, then the new file
                handle.close()
                self.events["rotated_while_stopped"] += 1
                self._handle = old
                return old
            self.events["rotated"] += 1
            if self.offset:
                self.events["rotated_unread"] += 1
            self.offset, self.raw = 0, None
            self._undecided = None
        size = os.fstat(handle.fileno()).st_size
        if size < self.offset:
            self.events["truncated"] += 1
            self.offset, self.raw = 0, None
            self._undecided = None
        self.inode = inode
        self._handle = handle
        return handle

    def _rotated_away(self) -> BinaryIO | None:
        """The file the position was saved in, found under a rotated name beside the path
        (``fix.log.1``, ``fix.log-20261125``: a name that starts with the log's) by its
        inode, when it still holds bytes past the position; None if there is none (it was
        compressed, moved elsewhere or deleted: its rest is lost, counted as
        ``rotated_unread``)."""
        try:
            siblings = [p for p in self.path.parent.iterdir()
                        if p.name.startswith(self.path.name) and p.name != self.path.name]
        except OSError:
            return None
        for sibling in sorted(siblings):
            try:
                info = sibling.stat()
                if info.st_ino == self.inode and info.st_size > self.offset:
                    return sibling.open("rb")
            except OSError:
                continue
        return None

    def _check_rotation(self, handle: BinaryIO) -> None:
        """At the end of the open file: move to the file the path names now, if another
        (rotated), or start again if the file got shorter (truncated)."""
        try:
            now = self.path.stat()
        except OSError:
            return
        if now.st_ino != self.inode:
            self.close()
            self.events["rotated"] += 1
            self.offset, self.inode, self.raw = 0, None, None
            self._undecided = None
        elif now.st_size < self.offset:
            self.events["truncated"] += 1
            self.offset, self.raw = 0, None
            self._undecided = None

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _one_message(data: bytes) -> bool:
    """Whether ``data`` is whole messages from its first byte to its last (as a raw SOH
    stream is, and as a log's first line, its capture prefix before the message, is not)."""
    starts, _, message, rest = frames(np.frombuffer(data, dtype=np.uint8))
    return bool(len(starts) and starts[0] == 0 and message.all() and rest == len(data))


def _raw_stream(data: bytes) -> bool | None:
    """Whether ``data`` (a followed file's unread bytes) is a raw SOH stream: True once a
    message and the start of the next follow each other with no line end, False once a line
    end comes first, None while neither has (a first message not yet followed)."""
    line_end = data.find(b"\n")
    starts, ends, message, _ = frames(np.frombuffer(data[:line_end] if line_end >= 0 else data,
                                                    dtype=np.uint8))
    whole = np.flatnonzero(message)
    if len(whole) and len(starts) > whole[0] + 1:
        return True                 # a message, then a record after it, before any line end
    if len(whole) and data.find(b"8=FIX", int(ends[whole[0]])) >= 0 and line_end < 0:
        return True                 # the next message begins, cut short
    return False if line_end >= 0 else None
