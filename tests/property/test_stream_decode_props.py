"""The stream decoder marks duplicates against only the history a poll can depend on
(lpscore.ingest.carried.linked): the same flags and events as against the whole history,
and the batch ingest's counts, however a noisy log is cut into polls."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import polars as pl
from fix_strategies import (
    NoisyFills,
    Spec,
    capture_prefix,
    examples,
    fill_logs,
    noisy_fill_logs,
    with_fields,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.ingest import carried
from lpscore.ingest.pipeline import ingest_logs
from lpscore.quarantine import Quarantine
from lpscore.stream import decode as stream_decode
from lpscore.stream.decode import Record, StreamDecoder
from realdata import DEMO_LOG

SETTINGS = settings(deadline=None, max_examples=examples(30), suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


def decode_in_polls(lines: list[bytes], cuts: list[int]) -> tuple[pl.DataFrame, StreamDecoder]:
    decoder = StreamDecoder(IngestConfig())
    frames = []
    bounds = [0, *sorted(cuts), len(lines)]
    for start, end in itertools.pairwise(bounds):
        records = [Record("log", i, lines[i]) for i in range(start, end)]
        events = decoder.decode(records, Quarantine())
        if events.height:
            frames.append(events)
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(), decoder


@SETTINGS
@given(noisy_fill_logs(), st.lists(st.integers(0, 60), max_size=4))
def test_linked_history_gives_the_whole_historys_flags(tmp_path: Path, log: NoisyFills,
                                                       cuts: list[int]) -> None:
    lines = [capture_prefix(c) + s.raw for s, c in zip(log.specs, log.captures, strict=True)]
    cuts = [min(c, len(lines)) for c in cuts]
    linked, decoder = decode_in_polls(lines, cuts)
    with mock.patch.object(carried, "linked", lambda history, new: history):
        whole, whole_decoder = decode_in_polls(lines, cuts)
    assert linked.equals(whole)
    assert decoder.counts == whole_decoder.counts
    assert decoder.history is not None and whole_decoder.history is not None
    assert decoder.history.equals(whole_decoder.history)
    # and the batch ingest's counts (KPIS.md: duplicates once, reused ExecIDs new events)
    path = tmp_path / "f.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    batch = ingest_logs([path], IngestConfig())
    assert linked.height == batch.events.height == log.events
    assert decoder.counts["duplicate"] == batch.data_quality["duplicates"] == log.duplicates
    assert linked.filter(pl.col("exec_id_reused")).height == log.exec_id_reused


@SETTINGS
@given(fill_logs(), st.data())
def test_an_exec_id_reused_on_another_order_in_a_later_poll_is_flagged(
        log: tuple[list[Spec], list[str]], data: st.DataObject) -> None:
    """Linked through its ExecID alone: new MsgSeqNum, new ClOrdID, same ExecID."""
    specs, captures = log
    k = data.draw(st.integers(0, len(specs) - 1), label="reused")
    reuse = with_fields(specs[k], {34: str(len(specs) + 1).encode(), 11: b"ANOTHER-ORDER",
                                   32: b"7"})
    lines = [capture_prefix(c) + s.raw for s, c in
             zip([*specs, reuse], [*captures, captures[-1][:-3] + "999"], strict=True)]
    events, decoder = decode_in_polls(lines, [len(specs)])
    assert events.height == len(specs) + 1
    assert events.filter(pl.col("exec_id_reused"))["seq_num"].to_list() == [len(specs) + 1]
    assert decoder.counts["duplicate"] == 0


@SETTINGS
@given(noisy_fill_logs(), st.lists(st.integers(0, 60), max_size=3),
       st.sampled_from(["UTC", "Europe/Moscow", "America/New_York"]))
def test_a_capture_time_header_reads_as_the_capture_prefix(log: NoisyFills, cuts: list[int],
                                                           tz: str) -> None:
    """A Kafka record's ``capture_ns`` header (lpscore replay: the prefix's reading) decodes
    to the events of the same line with its capture prefix, in any ``ingest.capture_tz``."""
    config = IngestConfig(capture_tz=tz)
    bounds = [0, *sorted(min(c, len(log.specs)) for c in cuts), len(log.specs)]
    prefixed, headed = StreamDecoder(config), StreamDecoder(config)
    for start, end in itertools.pairwise(bounds):
        rows = range(start, end)
        with_prefix = [Record("log", i, capture_prefix(log.captures[i]) + log.specs[i].raw)
                       for i in rows]
        with_header = [Record("log", i, log.specs[i].raw, _epoch_ns(log.captures[i]))
                       for i in rows]
        a = prefixed.decode(with_prefix, Quarantine())
        b = headed.decode(with_header, Quarantine())
        assert a.equals(b)
    assert prefixed.counts == headed.counts


def _epoch_ns(stamp: str) -> int:
    """``YYYYMMDD-HH:MM:SS.nnnnnnnnn`` read as UTC (what lpscore replay puts in the header)."""
    whole, _, frac = stamp.partition(".")
    seconds = int(datetime.strptime(whole, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return seconds * 10**9 + int((frac + "000000000")[:9])


@SETTINGS
@given(noisy_fill_logs(), st.data())
def test_lanes_decoded_together_give_what_each_gives_alone(log: NoisyFills,
                                                          data: st.DataObject) -> None:
    """``decode_all`` types the rows of every lane in one run: each lane's events, counts,
    history and quarantine equal those of its decoder decoding alone, poll after poll
    (a lane may have no records in a poll; the third lane has its own configuration
    object, so it is decoded on its own)."""
    lines = [capture_prefix(c) + s.raw for s, c in zip(log.specs, log.captures, strict=True)]
    lines[data.draw(st.integers(0, len(lines) - 1), label="garbled")] += b"\x0110=xyz"
    lane_of = data.draw(st.lists(st.integers(0, 2), min_size=len(lines),
                                 max_size=len(lines)), label="lanes")
    polls = data.draw(st.integers(1, 4), label="polls")
    shared = IngestConfig()
    configs = [shared, shared, IngestConfig()]
    together = [StreamDecoder(c) for c in configs]
    alone = [StreamDecoder(c) for c in configs]
    quarantines = {id(d): Quarantine() for d in (*together, *alone)}
    for poll in range(polls):
        batches = [[Record(f"lane{k}", i, line) for i, line in enumerate(lines)
                    if lane_of[i] == k and i % polls == poll] for k in range(3)]
        got = stream_decode.decode_all([(d, b, quarantines[id(d)])
                                        for d, b in zip(together, batches, strict=True)])
        for decoder, batch, events in zip(alone, batches, got, strict=True):
            assert events.equals(decoder.decode(batch, quarantines[id(decoder)]))
    for mine, theirs in zip(together, alone, strict=True):
        assert mine.counts == theirs.counts
        assert (mine.history is None) == (theirs.history is None)
        assert mine.history is None or theirs.history is None or mine.history.equals(
            theirs.history)
        assert quarantines[id(mine)].records == quarantines[id(theirs)].records
    assert sum(d.counts["records"] for d in together) == len(lines)


def test_a_record_holding_line_ends_is_read_as_its_lines() -> None:
    """A bus record whose value held a line end crashed the decoder (gather out of bounds)
    and, with it, the stream; its lines are now read as a log's lines would be."""
    lines = DEMO_LOG.read_bytes().splitlines()[:400]
    whole = StreamDecoder(IngestConfig()).decode(
        [Record("log", i, line) for i, line in enumerate(lines)], Quarantine())
    packed = [Record("log", i, b"\n".join(lines[i:i + 3]) + (b"\r\n" if i % 2 else b""))
              for i in range(0, len(lines), 3)]
    quarantine = Quarantine()
    events = StreamDecoder(IngestConfig()).decode(packed, quarantine)
    where = ("offset",)     # a packed line's offset is its record's
    assert events.drop(where).equals(whole.drop(where))
    assert events["offset"].is_in([r.offset for r in packed]).all()
