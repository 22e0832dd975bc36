"""Values that once stopped an ingest instead of being quarantined or counted: an integer
too wide for its event column, a capture time a daylight-saving change skipped or repeated."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpscore.config import IngestConfig
from lpscore.fix.codec import encode
from lpscore.ingest.pipeline import ingest_logs
from lpscore.quarantine import Quarantine

HEAD = [(49, "LP_A"), (56, "DESK")]


def cancel_reject(seq: int, **extra: str) -> bytes:
    fields = [*HEAD, (34, seq), (52, "20251026-00:30:00.000"), (11, f"C{seq}"), (37, "O1"),
              (41, f"O{seq}"), (39, "0"), (434, "1"), *((int(k[1:]), v) for k, v in
                                                        extra.items())]
    return encode("9", fields)


def ingest(tmp_path: Path, lines: list[bytes], **config: str) -> tuple[object, Quarantine]:
    log = tmp_path / "x.log"
    log.write_bytes(b"".join(line + b"\n" for line in lines))
    quarantine = Quarantine()
    return ingest_logs([log], IngestConfig(**config), quarantine), quarantine  # type: ignore[arg-type]


@pytest.mark.parametrize(("tag", "value", "column"), [
    ("t102", "9223372036854775807", "cxl_rej_reason"),   # fits Int64, not the Int32 column
    ("t102", "2147483648", "cxl_rej_reason"),
    ("t102", "2147483647", None),                        # the widest that fits
])
def test_an_integer_too_wide_for_its_column_is_a_bad_value(
        tmp_path: Path, tag: str, value: str, column: str | None) -> None:
    result, quarantine = ingest(tmp_path, [cancel_reject(1), cancel_reject(2, **{tag: value})])
    reasons = quarantine.by_reason()
    events = result.events  # type: ignore[attr-defined]
    if column is None:
        assert reasons == {} and events.height == 2
        assert events["cxl_rej_reason"].to_list()[1] == int(value)
    else:
        assert reasons == {f"bad_value:{tag[1:]}": 1} and events.height == 1


@pytest.mark.parametrize(("prefix", "unparsed"), [
    (b"20251026-01:30:00.000000000 : ", 1),   # London: 01:30 happened twice that night
    (b"20250330-01:30:00.000000000 : ", 1),   # London: 01:00-02:00 did not happen
    (b"20251026-03:30:00.000000000 : ", 0),
])
def test_a_capture_time_that_is_not_one_instant_is_counted_not_fatal(
        tmp_path: Path, prefix: bytes, unparsed: int) -> None:
    result, quarantine = ingest(tmp_path, [prefix + cancel_reject(1)],
                               capture_tz="Europe/London")
    events = result.events  # type: ignore[attr-defined]
    assert events.height == 1 and not len(quarantine)
    assert result.data_quality["capture_prefix_unparsed"] == unparsed  # type: ignore[attr-defined]
