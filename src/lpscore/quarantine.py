"""The quarantine: every record that could not become an event, with where it was and why.

A quarantined record keeps its source file, byte offset, line number, the raw bytes (escaped
so that the JSON stays printable) and a reason code. Reason codes are short and stable:

    not_fix, truncated, garbled, bad_begin_string, bad_body_length, bad_checksum,
    missing_tag:NN, bad_value:NN, unknown_msg_type, duplicate_field:NN,
    crossed_quote, bad_price, stale_quote ...

Every stage that drops a record appends here and counts it; reconciliations assert that
``read = kept + quarantined + skipped``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Quarantine", "QuarantinedRecord", "escape_raw"]

_MAX_RAW = 4096


def escape_raw(raw: bytes) -> str:
    """Printable, reversible-enough text of raw bytes: SOH as ``^A``, other bytes escaped.

    The result is cut at 4 KiB with a marker, so one huge garbage line cannot bloat the file.
    """
    text = raw[:_MAX_RAW].decode("latin-1")
    if text.isascii() and text.replace("\x01", "").isprintable():
        # The common case: printable ASCII and SOH only, escaped without a loop per character.
        escaped = text.replace("\\", "\\\\").replace("\x01", "^A")
        return escaped + (f"...[{len(raw) - _MAX_RAW} more bytes]" if len(raw) > _MAX_RAW else "")
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\x01":
            out.append("^A")
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F or code > 0x7E:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    if len(raw) > _MAX_RAW:
        out.append(f"...[{len(raw) - _MAX_RAW} more bytes]")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """One record that could not be used, and why."""

    source: str
    offset: int
    line: int
    reason: str
    raw: str
    detail: str = ""
    stage: str = "ingest"


@dataclass(slots=True)
class Quarantine:
    """An append-only list of quarantined records with counts per reason.

    A long-running holder (a stream lane) that has written its records elsewhere (its
    checkpoint's file) ``release`` s them: they still count (``len``, ``by_reason``) but are
    no longer held, so memory does not grow with the quarantine. Positions (``len``,
    ``since``) count every record ever added; ``records`` and iteration give the ones held.
    """

    records: list[QuarantinedRecord] = field(default_factory=list)
    released: int = 0
    """Records dropped from ``records`` by ``release``: the first ``released`` positions."""
    released_by: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Released records per (source, reason)."""

    def add(
        self,
        source: str,
        offset: int,
        line: int,
        reason: str,
        raw: bytes,
        detail: str = "",
        stage: str = "ingest",
    ) -> None:
        self.records.append(
            QuarantinedRecord(source, offset, line, reason, escape_raw(raw), detail, stage)
        )

    def extend(self, records: Iterable[QuarantinedRecord]) -> None:
        self.records.extend(records)

    def __len__(self) -> int:
        return self.released + len(self.records)

    def __iter__(self) -> Iterator[QuarantinedRecord]:
        return iter(self.records)

    def since(self, position: int) -> list[QuarantinedRecord]:
        """The records added at ``position`` (a ``len`` taken earlier) and after."""
        if position < self.released:
            raise ValueError(f"quarantine records before {self.released} were released; "
                             f"{position} asked for")
        return self.records[position - self.released:]

    def release(self, position: int) -> None:
        """Stop holding the records before ``position`` (written elsewhere); they still
        count."""
        drop = position - self.released
        if drop <= 0:
            return
        self.released_by.update((r.source, r.reason) for r in self.records[:drop])
        del self.records[:drop]
        self.released = position

    def tally(self) -> Counter[tuple[str, str]]:
        """Records per (source, reason), released ones too."""
        return self.released_by + Counter((r.source, r.reason) for r in self.records)

    def resume(self, count: int, tally: Counter[tuple[str, str]]) -> None:
        """Go on from a quarantine whose ``count`` records (``tally``: per source and
        reason) were written elsewhere: they count as released (a restored stream lane,
        whose quarantine holds no record yet)."""
        self.released, self.released_by = count, tally

    def by_reason(self, source: str | None = None) -> dict[str, int]:
        """Counts per reason code, for one source or for all (released records too)."""
        counts = Counter(r.reason for r in self.records if source is None or r.source == source)
        for (where, reason), n in self.released_by.items():
            if source is None or where == source:
                counts[reason] += n
        return dict(sorted(counts.items()))

    def write_jsonl(self, path: Path, *, append: bool = False) -> int:
        """Write one JSON object per record (after the file's own with ``append``); returns
        the number written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as out:
            for record in self.records:
                out.write(json.dumps(asdict(record), ensure_ascii=True))
                out.write("\n")
        return len(self.records)
