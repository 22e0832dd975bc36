"""Long work without a count to advance shows a spinner naming its stage (``working``):
``lpscore score --history`` was silent for 72 s on a year of data, Dask runs for 3 min."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from lpscore import cli_common


def shown(monkeypatch: pytest.MonkeyPatch, output: str) -> str:
    out = io.StringIO()
    monkeypatch.setattr(cli_common, "err", Console(file=out, force_terminal=True, width=100))
    with cli_common.working(output, "reading the history store store/") as stage:
        stage("KPI engine")
    return out.getvalue()


def test_each_stage_is_named_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    text = shown(monkeypatch, "table")
    assert "reading the history store store/" in text
    assert "KPI engine" in text
    assert "0:00:00" in text     # the time the stage has taken


@pytest.mark.parametrize("output", ["json", "csv"])
def test_nothing_is_shown_when_the_output_is_for_a_program(monkeypatch: pytest.MonkeyPatch,
                                                            output: str) -> None:
    assert shown(monkeypatch, output) == ""
