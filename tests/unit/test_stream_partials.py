"""Partials (lpscore.stream.partials): a worker's statistics as bytes for the store."""

from __future__ import annotations

import io
import json
from typing import Literal

import polars as pl

from lpscore.stats.table import Decay, Stats
from lpscore.stream.partials import decode_stats, encode_stats


def _stats() -> Stats:
    keys = ("lp", "symbol")
    sums = pl.DataFrame({"lp": ["LP_A", "LP_B", "LP_A"], "symbol": ["ACME", "ACME", None],
                         "n_orders__n": [3.0, 1.5, 0.25], "pi_bps__sw": [1.0, -2.5, 1e-300]})
    sketches = pl.DataFrame({"lp": ["LP_A"] * 2000, "symbol": ["ACME"] * 2000,
                             "metric": ["ack_ms"] * 2000,
                             "bin": pl.Series(range(2000), dtype=pl.Int32),
                             "weight": [0.5 + i / 7 for i in range(2000)]})
    counts = pl.DataFrame({"lp": ["LP_B"], "symbol": ["ACME"], "name": ["reject"],
                           "category": ["no_liquidity"], "weight": [2.0]})
    return Stats(keys, sums, sketches, counts, 1_700_000_000_123_456_789,
                 Decay(14_400e9, "time"))


def _same(a: Stats, b: Stats) -> bool:
    return (a.keys, a.t_ref, a.decay) == (b.keys, b.t_ref, b.decay) and all(
        x.equals(y) and x.schema == y.schema
        for x, y in ((a.sums, b.sums), (a.sketches, b.sketches), (a.counts, b.counts)))


def test_a_partial_decodes_to_the_statistics_bit_for_bit_and_is_compressed() -> None:
    stats = _stats()
    data = encode_stats(stats)
    assert _same(decode_stats(data), stats)
    assert encode_stats(stats) == data          # the same content, the same bytes
    plain = sum(len(_ipc(f, "uncompressed")) for f in (stats.sums, stats.sketches,
                                                       stats.counts))
    assert len(data) < plain / 2


def test_an_uncompressed_partial_of_an_earlier_version_still_decodes() -> None:
    stats = _stats()
    frames = [_ipc(f, "uncompressed") for f in (stats.sums, stats.sketches, stats.counts)]
    head = {"keys": list(stats.keys), "t_ref": stats.t_ref,
            "decay": [stats.decay.half_life, stats.decay.clock] if stats.decay else None,
            "lengths": [len(f) for f in frames]}
    assert _same(decode_stats(json.dumps(head).encode() + b"\n" + b"".join(frames)), stats)


def _ipc(frame: pl.DataFrame, compression: Literal["uncompressed", "lz4", "zstd"]) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc_stream(buffer, compression=compression)
    return buffer.getvalue()
