"""Statistics as bytes, for the store: how stream workers share their lanes' statistics.

    data = encode_stats(stats)      # Arrow IPC frames + a JSON header, no pickle
    stats = decode_stats(data)

Layout: one JSON header line (keys, t_ref, decay, the three frames' byte lengths) then the
three frames (sums, sketches, counts) in Arrow IPC stream format, LZ4-compressed (the
statistics of a 1,000,000-message log: 56.6 MB uncompressed, 5.6 MB with LZ4, encoded in 23
ms instead of 59 and decoded in 25 instead of 44; a worker writes its lanes' partials at
every full publish). Nothing is executed on decode, so a worker can read what another
wrote through a shared server; uncompressed partials of an earlier version decode too.
"""

from __future__ import annotations

import io
import json

import polars as pl

from lpscore.stats.table import Decay, Stats

__all__ = ["decode_stats", "encode_stats"]


def encode_stats(stats: Stats) -> bytes:
    frames = []
    for frame in (stats.sums, stats.sketches, stats.counts):
        buffer = io.BytesIO()
        frame.write_ipc_stream(buffer, compression="lz4")
        frames.append(buffer.getvalue())
    decay = None if stats.decay is None else [stats.decay.half_life, stats.decay.clock]
    head = {"keys": list(stats.keys), "t_ref": stats.t_ref, "decay": decay,
            "lengths": [len(f) for f in frames]}
    return json.dumps(head).encode() + b"\n" + b"".join(frames)


def decode_stats(data: bytes) -> Stats:
    line, _, rest = data.partition(b"\n")
    head = json.loads(line)
    frames = []
    start = 0
    for length in head["lengths"]:
        frames.append(pl.read_ipc_stream(io.BytesIO(rest[start:start + length])))
        start += length
    decay = None if head["decay"] is None else Decay(float(head["decay"][0]), head["decay"][1])
    return Stats(tuple(head["keys"]), frames[0], frames[1], frames[2], head["t_ref"], decay)
