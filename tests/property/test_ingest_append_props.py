"""A noisy log (repeats, PossDup/PossResend resends, reused ExecIDs) cut into files ingested
one after another, each carrying on from the last (lpscore.ingest.pipeline.Carried), gives
the events and counts of one ingest of all the files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from fix_strategies import NoisyFills, capture_prefix, examples, noisy_fill_logs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpscore.config import IngestConfig
from lpscore.ingest.pipeline import ingest_logs
from realdata import RECEIPT, cut, in_parts


@settings(deadline=None, max_examples=examples(40),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(noisy_fill_logs(), st.data())
def test_parts_carried_on_give_the_whole_logs_events(log: NoisyFills,
                                                     data: st.DataObject) -> None:
    lines = [capture_prefix(c) + s.raw + b"\n"
             for s, c in zip(log.specs, log.captures, strict=True)]
    cuts = data.draw(st.lists(st.integers(0, len(lines)), min_size=1, max_size=3), label="cuts")
    with tempfile.TemporaryDirectory() as tmp:
        paths = cut(lines, sorted(cuts), Path(tmp))
        whole = ingest_logs(paths, IngestConfig())
        parts = in_parts(paths, IngestConfig())
    got = pl.concat([part.events for part in parts]).sort(RECEIPT)
    assert got.equals(whole.events.sort(RECEIPT))
    assert got.height == log.events
    duplicates = sum(part.data_quality["duplicates"] for part in parts)
    assert duplicates == whole.data_quality["duplicates"] == log.duplicates
    reused = sum(part.data_quality["exec_id_reused"] for part in parts)
    assert reused == whole.data_quality["exec_id_reused"] == log.exec_id_reused
    carried = parts[-1].carried
    assert carried is not None
    assert carried.files == len(paths)
