"""A noisy log (repeats, PossDup/PossResend resends, reused ExecIDs) cut into files ingested
one after another, each carrying on from the last (lpscore.ingest.pipeline.Carried), gives
the events and counts of one ingest of all the files."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import polars as pl
from fix_strategies import NoisyFills, capture_prefix, examples, noisy_fill_logs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.ingest.pipeline import Carried, ingest_logs

RECEIPT = ["ts_recv", "session", "outbound", "seq_num", "source", "offset"]


@settings(deadline=None, max_examples=examples(40),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(noisy_fill_logs(), st.data())
def test_parts_carried_on_give_the_whole_logs_events(log: NoisyFills,
                                                     data: st.DataObject) -> None:
    lines = [capture_prefix(c) + s.raw + b"\n"
             for s, c in zip(log.specs, log.captures, strict=True)]
    cuts = data.draw(st.lists(st.integers(0, len(lines)), min_size=1, max_size=3), label="cuts")
    bounds = [0, *sorted(cuts), len(lines)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, (start, end) in enumerate(itertools.pairwise(bounds)):
            paths.append(Path(tmp) / f"part{k}.log")
            paths[-1].write_bytes(b"".join(lines[start:end]))
        whole = ingest_logs(paths, IngestConfig())
        carried, events, duplicates, reused = Carried(), [], 0, 0
        for path in paths:
            part = ingest_logs([path], IngestConfig(), carried=carried)
            assert part.carried is not None
            carried = part.carried
            events.append(part.events)
            duplicates += part.data_quality["duplicates"]
            reused += part.data_quality["exec_id_reused"]
    got = pl.concat(events).sort(RECEIPT)
    assert got.equals(whole.events.sort(RECEIPT))
    assert got.height == log.events
    assert duplicates == whole.data_quality["duplicates"] == log.duplicates
    assert reused == whole.data_quality["exec_id_reused"] == log.exec_id_reused
    assert carried.files == len(paths)
