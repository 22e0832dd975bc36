"""``lpscore replay``: FIX logs pushed onto a bus (or appended to a file) as they were captured.

Each log line (each record of a raw SOH stream as the ingest frames it: a message, or the
bytes between two) becomes one Kafka record: the message without its capture prefix as the
value, the capture time in the ``capture_ns`` header (epoch ns), and the symbol as the key,
so that all of a symbol's messages share a partition (docs/stream.md). A message without a
symbol takes the symbol of the order it names: a cancel reject or report by (session,
ClOrdID), a session reject (35=3) by the sequence number it refers to. Session messages
(Logon, Logout, Heartbeat...) go to every partition, so that each partition knows every
session's sequence resets. A line that is no FIX message, or holds one after text that is no
capture prefix (another engine's log format), is sent as it is, for the worker to read or
quarantine as ``lpscore ingest`` does (they were left out, and the stream scored what the
batch job did not). ``--speed`` paces records by their capture times (1 = as captured).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lpscore.errors import InputError
from lpscore.fix.batch import fix_timestamp
from lpscore.fix.tags import ADMIN_MSG_TYPES
from lpscore.ingest.records import is_raw_stream, raw_records, read_bytes
from lpscore.stream.decode import capture_prefix

__all__ = ["MIN_SPEED", "LogMessage", "log_messages", "replay_logs"]

_PREFIX = re.compile(rb"^(\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)\s?:\s?")
_FIELD = re.compile(rb"(?:^|\x01|\||\^A| )(35|55|11|41|34|45|49|56|52)=([^\x01|^ ]*)")


@dataclass(frozen=True, slots=True)
class LogMessage:
    """One line of a log, split for a bus."""

    value: bytes
    capture_ns: int | None
    key: str | None
    """The symbol (or the symbol of the order it names); None for session messages."""
    admin: bool
    time_ns: int | None
    """Capture time, else SendingTime: what ``--speed`` paces by."""


def log_messages(paths: Sequence[Path]) -> Iterator[LogMessage]:
    """The messages of ``paths`` in file order, keyed (see the module docstring)."""
    orders: dict[tuple[str, str], str] = {}
    sequences: dict[tuple[str, str], str] = {}
    for path in paths:
        data = read_bytes(path, memory_map=False)
        lines = raw_records(data) if is_raw_stream(data) else data.splitlines()
        for line in lines:
            body = line.rstrip(b"\r")
            prefix = _PREFIX.match(body)
            capture = fix_timestamp(prefix.group(1)) if prefix else None
            if prefix:
                body = body[prefix.end():]
            if not body.strip():
                continue    # blank: nothing for the worker (the ingest skips it too)
            tags = {int(t): v.decode("latin-1") for t, v in _FIELD.findall(body)}
            kind = tags.get(35, "")
            sender, target = tags.get(49, ""), tags.get(56, "")
            key = tags.get(55)
            if key is not None and 11 in tags:
                orders[(sender + target, tags[11])] = key
                orders[(target + sender, tags[11])] = key
            if key is not None and 34 in tags:
                sequences[(sender + target, tags[34])] = key
            if key is None and 11 in tags:
                key = orders.get((sender + target, tags[11])) or orders.get(
                    (sender + target, tags.get(41, "")))
            if key is None and kind == "3":
                key = sequences.get((target + sender, tags.get(45, "")))
            sending = fix_timestamp(tags[52].encode()) if 52 in tags else None
            yield LogMessage(body, capture, key, kind in ADMIN_MSG_TYPES and kind != "3",
                             capture if capture is not None else sending)


MIN_SPEED = 1e-6
"""The slowest replay: a millionth of the captured pace (a second of log in 11.6 days);
slower waits would overflow the system's sleep."""


def replay_logs(paths: Sequence[Path], to: str, speed: float = 0.0) -> int:
    """Replay ``paths`` to ``to`` (kafka://HOST:PORT/TOPIC or file://PATH); returns the
    number of messages sent."""
    if not (speed == 0 or speed >= MIN_SPEED):     # NaN too
        raise InputError(f"--speed {speed:g}: give 0 (as fast as possible) or a speed of "
                         f"at least {MIN_SPEED:g} (1: as captured)")
    if to.startswith("file://"):
        return _to_file(paths, Path(to.removeprefix("file://")), speed)
    if to.startswith("kafka://"):
        from lpscore.stream.kafka import produce_messages  # noqa: PLC0415
        return produce_messages(_paced(log_messages(paths), speed), to)
    raise InputError(f"--to {to}: use kafka://HOST:PORT/TOPIC or file://PATH")


def _to_file(paths: Sequence[Path], out: Path, speed: float) -> int:
    n = 0
    try:
        handle = out.open("ab")
    except OSError as exc:      # a folder, a missing folder, no permission
        raise InputError(f"--to file://{out}: cannot write it ({exc.strerror}); give a file "
                         "path in a folder that exists") from exc
    with handle:
        for message in _paced(log_messages(paths), speed):
            stamp = b"" if message.capture_ns is None else capture_prefix(message.capture_ns)
            handle.write(stamp + message.value + b"\n")
            handle.flush()
            n += 1
    return n


def _paced(messages: Iterator[LogMessage], speed: float) -> Iterator[LogMessage]:
    start_wall = time.monotonic()
    start_log: int | None = None
    for message in messages:
        if speed > 0 and message.time_ns is not None:
            start_log = message.time_ns if start_log is None else start_log
            due = start_wall + (message.time_ns - start_log) / 1e9 / speed
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        yield message
