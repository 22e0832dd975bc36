"""The live status line of ``lpscore stream`` is rewritten in place on one terminal row."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console

from lpscore import cli_stream
from lpscore.stream.runner import Status


@pytest.mark.parametrize("width", [40, 80, 300])
def test_the_live_line_fits_the_terminal(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """Wider than the terminal, the line wrapped, and ``\\r`` went back to its last row
    only: every update left the rows above it on the screen."""
    out = io.StringIO()
    monkeypatch.setattr(cli_stream, "err", Console(file=out, width=width, markup=False))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    long = Status(records=12_345_678, events=9_876_543, rate=45_678.9, lag=1_234_567, lanes=12,
                  live_units=23_456, closed_working=7, quarantined=321, published=98_765,
                  publish_ms=12.3)
    for status in (long, Status()):
        cli_stream._show(status)
    rows = out.getvalue().split("\r")[:-1]
    assert len(rows) == 2 and "\n" not in out.getvalue()
    assert all(len(row) == width - 1 for row in rows), rows  # the short one pads the long
    full = cli_stream._line(long)
    assert rows[0] == (full.ljust(width - 1) if len(full) < width
                       else full[:width - 2] + "…")
