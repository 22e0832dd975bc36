"""Raw FIX records from a live source -> canonical events, with the batch ingest's rules.

    decoder = StreamDecoder(config.ingest)
    events = decoder.decode(records, quarantine)   # Records of one poll

A record is one message (a log line, with or without a QuickFIX capture prefix, or one Kafka
record), named by its source and offset there. The records of a poll go through the batch
ingest's own functions (lpscore.ingest.records.split_messages, typed_messages,
mark_duplicates, canonical_events), so a message means the same in the stream as in a file.

What the batch ingest learns from the whole file, the decoder carries from poll to poll
(and checkpoints, lpscore.stream.checkpoint):

- duplicates: each session's messages (duplicates too) of its last ``dedup_window_ns`` of
  receipt time (and its latest sequence reset), against which each new message is marked;
- our own CompIDs: ``ingest.own_comp_ids``, else inferred from every message seen so far
  (configure them: a message attributed before its session's first order cannot be
  re-attributed).

Every record ends in one place: an event, skipped (blank, comment, admin, not_used,
duplicate) or quarantined, counted in ``counts``.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl

from lpscore.config import IngestConfig
from lpscore.ingest.carried import flags_against, remembered
from lpscore.ingest.decode import infer_own_comp_ids, wanted_tags
from lpscore.ingest.dedup import DEDUP_COLUMNS, with_flags
from lpscore.ingest.pipeline import canonical_events, typed_messages
from lpscore.ingest.records import split_messages, time_column
from lpscore.quarantine import Quarantine
from lpscore.stream.lanes import prefixed

__all__ = ["Record", "StreamDecoder", "capture_prefix", "decode_all"]

_CAPTURE_NS = time_column("capture")


@dataclass(frozen=True, slots=True)
class Record:
    """One raw message: its bytes (no line end), where it came from, and the capture time in
    epoch ns when the transport carries it apart (a Kafka header)."""

    source: str
    offset: int
    data: bytes
    capture_ns: int | None = None


@dataclass
class StreamDecoder:
    """Decodes polls of records (see the module docstring)."""

    config: IngestConfig
    dedup_window_ns: int = 3_600 * 10**9
    sources: dict[str, int] = field(default_factory=dict)
    """Source name -> its ``file_index`` (ties in receipt time break on it, then offset)."""
    own: set[str] = field(default_factory=set)
    history: pl.DataFrame | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def decode(self, records: Sequence[Record], quarantine: Quarantine) -> pl.DataFrame:
        """The canonical events of ``records`` (EVENT_SCHEMA, in receipt order)."""
        if not records:
            return pl.DataFrame()
        self.counts["records"] += len(records)
        return self.events_of(typed_messages(self._rows(records, quarantine), self.config),
                              records, quarantine)

    def events_of(self, typed: pl.DataFrame, records: Sequence[Record],
                  quarantine: Quarantine) -> pl.DataFrame:
        """The rest of ``decode``, given the ``typed_messages`` of the records' rows."""
        return self.events_of_marked(self._mark(self.good_of(typed, records, quarantine)))

    def good_of(self, typed: pl.DataFrame, records: Sequence[Record],
                quarantine: Quarantine) -> pl.DataFrame:
        """The typed rows that can be messages; the others quarantined."""
        bad = typed.filter(pl.col("reason").is_not_null())
        for source, offset, record, reason in bad.select(
                "source", "offset", "_record", "reason").iter_rows():
            quarantine.add(source, offset, 0, reason, records[record].data, stage="stream")
        self.counts["quarantined"] += bad.height
        return typed.filter(pl.col("reason").is_null()).with_columns(pl.lit(False).alias("_old"))

    def events_of_marked(self, marked: pl.DataFrame) -> pl.DataFrame:
        """The rest of ``events_of``, given the good rows marked (``_mark``)."""
        new = marked.filter(~pl.col("_old"))
        status = (pl.when(pl.col("category") != "event").then(pl.col("category"))
                  .when(pl.col("duplicate")).then(pl.lit("duplicate")).otherwise(pl.lit("event")))
        for name, n in new.group_by(status.alias("status")).len().iter_rows():
            self.counts[str(name)] += int(n)
        kept = new.filter(~pl.col("duplicate"))
        self._remember(marked)
        events = kept.filter(pl.col("category") == "event")
        own = list(self.config.own_comp_ids)
        if not own:
            self.own |= set(infer_own_comp_ids(events))
            own = sorted(self.own)
        return canonical_events(events, own, self.config.lp_map)

    def _rows(self, records: Sequence[Record], quarantine: Quarantine) -> pl.DataFrame:
        """Message rows of ``records``, one source at a time (each may have its own delimiter
        and capture prefix); ``offset`` and ``line`` are the record's own."""
        frames = []
        tags = wanted_tags(self.config)
        for source, chosen, rows in _by_source(records):
            index = self.sources.setdefault(source, len(self.sources))
            scratch = Quarantine()
            pieces = [r.data.rstrip(b"\r\n") for r in chosen]
            # a record holding line ends (a bus record is one message, but nothing stops
            # its producer) is read as the lines it holds, as a log's would be
            lines = np.array([piece.count(b"\n") + 1 for piece in pieces])
            record_of = np.repeat(np.arange(len(pieces)), lines)   # line -> its record
            found = split_messages(b"\n".join(pieces) + b"\n", source, tags, scratch,
                                   lenient=self.config.lenient)
            self.counts["skipped_lines"] += sum(found.skipped.values())
            self.counts["quarantined"] += found.quarantined
            for q in scratch:  # framing rejects: name the record, not the poll's blob
                record = chosen[int(record_of[q.line - 1])]
                quarantine.add(source, record.offset, 0, q.reason, record.data,
                               q.detail, stage="stream")
            at = pl.Series(record_of, dtype=pl.Int64).gather(   # each row's record in
                found.frame.get_column("line") - 1)             # ``chosen``
            offset = pl.Series([r.offset for r in chosen], dtype=pl.Int64).gather(at)
            position = at if rows is None else pl.Series(rows, dtype=pl.Int64).gather(at)
            # a transport's capture time stands for a capture prefix's: the same wall-clock
            # reading (ingest.capture_tz applies), handed over as the scanner's parsed time
            header = pl.Series([r.capture_ns for r in chosen], dtype=pl.Int64).gather(at)
            frames.append(found.frame.with_columns(
                offset.alias("offset"), position.alias("_record"),
                pl.lit(0, dtype=pl.Int64).alias("line"),
                pl.lit(index, dtype=pl.Int64).alias("file_index"),
                pl.coalesce(header, pl.col(_CAPTURE_NS)).alias(_CAPTURE_NS),
                pl.when(header.is_null()).then(pl.col("capture")).otherwise(pl.lit(""))
                .alias("capture"),
            ))
        return pl.concat(frames, how="diagonal_relaxed")

    def _mark(self, good: pl.DataFrame) -> pl.DataFrame:
        """``mark_duplicates`` over the history the new rows can depend on (``linked``) and
        the new rows; history rows keep ``_old``."""
        return self._marked(good, flags_against(self.history, good))

    def _marked(self, good: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
        """``good`` with the flags ``_flags`` gave its rows (row for row), in session order
        when there was history."""
        marked = with_flags(good, flags)
        if self.history is None or self.history.is_empty():
            return marked
        return marked.sort(["sender", "target", "ts_recv", "file_index", "offset"],
                           nulls_last=True)

    def _remember(self, marked: pl.DataFrame) -> None:
        """Keep the last window of messages (duplicates too), and every session's latest
        reset."""
        self.history = remembered(self.history, marked, self.dedup_window_ns)


Item = tuple[StreamDecoder, Sequence[Record], Quarantine]
Mapper = Callable[[Callable[[int], pl.DataFrame], Iterable[int]], Iterable[pl.DataFrame]]


def decode_all(items: Sequence[Item], run: Mapper = map) -> list[pl.DataFrame]:
    """``decoder.decode(records, quarantine)`` for every item (the lanes of a poll), the
    decoders that share their configuration typing their rows in one run of
    ``typed_messages`` and marking their duplicates in one run of ``mark_duplicates``
    (each against its own history), instead of one each: both costs are mostly fixed. The
    framing and the rest are each decoder's own (own CompIDs, counts, history kept), done
    by ``run`` (``map``, or a thread pool's)."""
    out = [pl.DataFrame() for _ in items]
    shared: dict[int, list[int]] = {}
    for i, (decoder, records, _) in enumerate(items):
        if records:
            shared.setdefault(id(decoder.config), []).append(i)
    for group in shared.values():
        if len(group) < 2:
            decoder, records, quarantine = items[group[0]]
            out[group[0]] = decoder.decode(records, quarantine)
        else:
            for i, frame in zip(group, _decode_together(items, group, run), strict=True):
                out[i] = frame
    return out


_SESSION = ("sender", "target")
"""The columns that key a session for the duplicate rules (both: a session reject's epoch
comes from the other direction's logons)."""


def _marked_together(decoders: Sequence[StreamDecoder], goods: Sequence[pl.DataFrame]
                     ) -> list[pl.DataFrame]:
    """``decoder._mark(good)`` for each pair, in one marking: each lane's sessions told
    apart (prefixed by the lane), so that its rows meet only its own history, as alone."""
    if any(g["sender"].null_count() or g["target"].null_count() for g in goods):
        return [d._mark(g) for d, g in zip(decoders, goods, strict=True)]
    held = [prefixed(d.history, k, _SESSION) for k, d in enumerate(decoders)
            if d.history is not None and not d.history.is_empty()]
    new = pl.concat([prefixed(g.select(DEDUP_COLUMNS), k, _SESSION)
                     for k, g in enumerate(goods)], how="vertical_relaxed")
    flags = flags_against(pl.concat(held, how="vertical_relaxed") if held else None, new)
    out, start = [], 0
    for decoder, good in zip(decoders, goods, strict=True):
        out.append(decoder._marked(good, flags.slice(start, good.height)))
        start += good.height
    return out


def _decode_together(items: Sequence[Item], group: list[int], run: Mapper
                     ) -> Iterable[pl.DataFrame]:
    """The events of the ``group`` of ``items``, typed and marked in one run each."""

    def rows(i: int) -> pl.DataFrame:
        decoder, records, quarantine = items[i]
        decoder.counts["records"] += len(records)
        return decoder._rows(records, quarantine).with_columns(
            pl.lit(i, dtype=pl.Int32).alias(_ITEM))

    typed = typed_messages(pl.concat(list(run(rows, group)), how="diagonal_relaxed"),
                           items[group[0]][0].config)
    parts = typed.partition_by(_ITEM, as_dict=True, include_key=False)
    empty = typed.drop(_ITEM).clear()
    goods = [items[i][0].good_of(parts.get((i,), empty), items[i][1], items[i][2])
             for i in group]
    marked = dict(zip(group, _marked_together([items[i][0] for i in group], goods),
                      strict=True))
    return run(lambda i: items[i][0].events_of_marked(marked[i]), group)


_ITEM = "_item"


def _by_source(records: Sequence[Record]
               ) -> list[tuple[str, Sequence[Record], list[int] | None]]:
    """The records of each source, with their positions in ``records`` (None when one
    source has them all, as a Kafka partition or a followed file does)."""
    first = records[0].source
    if all(r.source == first for r in records):
        return [(first, records, None)]
    groups: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        groups.setdefault(record.source, []).append(i)
    return [(source, [records[i] for i in rows], rows) for source, rows in groups.items()]


def capture_prefix(capture_ns: int) -> bytes:
    """The QuickFIX capture prefix of a time: ``YYYYMMDD-HH:MM:SS.nnnnnnnnn : ``."""
    seconds, ns = divmod(capture_ns, 10**9)
    return _second(seconds) + f".{ns:09d} : ".encode()


@functools.lru_cache(maxsize=1024)
def _second(seconds: int) -> bytes:
    """``YYYYMMDD-HH:MM:SS`` of a second since the epoch (records come many a second)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S").encode()
