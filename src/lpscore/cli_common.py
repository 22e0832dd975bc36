"""What the ``lpscore`` commands share: output formats, the error console, ingest with a
progress bar."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from lpscore.config import Config
from lpscore.errors import InputError, LpscoreError
from lpscore.history import write_events, write_quotes
from lpscore.ingest import IngestResult, ingest_logs
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.marketdata import QuoteLoad, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, compact, polars_schema
from lpscore.quarantine import Quarantine

__all__ = [
    "ConfigOption",
    "FixFiles",
    "LenientOption",
    "OutDir",
    "OutputFormat",
    "QuoteFiles",
    "err",
    "exit_on_error",
    "out_dir",
    "run_ingest",
    "run_kpis",
    "with_lenient",
]

err = Console(stderr=True)

FixFiles = Annotated[list[Path], typer.Argument(help="FIX logs (plain or gzip).")]


def out_dir(value: Path | None) -> Path | None:
    """``--out``, checked as the options are read: a path that cannot become a directory
    stops the command before its work, not after it. Nothing is made yet (a later error,
    a bad config, leaves no directory behind)."""
    if value is None:
        return None
    existing = next(p for p in (value, *value.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise typer.BadParameter(f"{existing} is a file; give a directory (made if missing)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot write in {existing}; give a directory you can "
                                 "write to")
    return value


OutDir = Annotated[Path, typer.Option("--out", help="Output directory.", callback=out_dir)]
QuoteFiles = Annotated[
    list[Path] | None,
    typer.Option("--quotes", help="Quote files: CSV, Parquet or LOBSTER (repeatable)."),
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="lpscore.toml (defaults if absent).")
]
LenientOption = Annotated[
    bool, typer.Option("--lenient", help="Accept bad BodyLength/CheckSum (still counted).")
]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Around a command's body: an ``LpscoreError`` is printed as one line on stderr (its
    message says what to do) and the command exits with status 2."""
    try:
        yield
    except LpscoreError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc


def with_lenient(config: Config, lenient: bool) -> Config:
    """``config`` with ``ingest.lenient`` switched on when asked."""
    if not lenient:
        return config
    return replace(config, ingest=replace(config.ingest, lenient=True))


def run_ingest(
    fix_files: list[Path], quote_files: list[Path], config: Config, out: Path | None,
    output: OutputFormat, quarantine: Quarantine | None = None,
) -> tuple[IngestResult, QuoteLoad | None]:
    """Ingest FIX logs and quotes with a progress bar; write ``out``/history/ when given. The
    caller writes the quarantine once its own stages have added to it."""
    inputs = [*fix_files, *quote_files]
    folders = [p for p in inputs if p.is_dir()]
    if folders:
        raise InputError(f"{', '.join(map(str, folders))}: a folder, not a file; pass the "
                         f"files in it ({folders[0] / '*.log'})")
    missing = [p for p in inputs if not p.is_file()]
    if missing:
        raise InputError(f"input file(s) not found: {', '.join(map(str, missing))}")
    quarantine = Quarantine() if quarantine is None else quarantine
    total = sum(p.stat().st_size for p in fix_files)
    with Progress(
        TextColumn("[bold]ingest[/] {task.description}"), BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=err, disable=output is not OutputFormat.TABLE,
        transient=True,
    ) as progress:
        task = progress.add_task("FIX logs", total=total)
        result = ingest_logs(
            fix_files, config.ingest, quarantine,
            progress=lambda path, n: progress.update(task, advance=path.stat().st_size,
                                                     description=path.name),
        )
        quote_load = None
        if quote_files:
            progress.update(task, description="quotes")
            quote_load = load_quotes(quote_files, config.marketdata, quarantine)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_events(out / "history", result.events)
        if quote_load is not None:
            write_quotes(out / "history", quote_load.quotes)
    return result, quote_load


def run_kpis(
    fix_files: list[Path], quote_files: list[Path], config: Config, out: Path | None,
    output: OutputFormat, quarantine: Quarantine,
) -> tuple[IngestResult, KpiResult]:
    """``run_ingest``, then the KPI engine on its events and quotes, both in the compact form
    (lpscore.model.schema.compact: the same KPIs in less memory). The returned ingest result
    holds the compact events."""
    ingested, quote_load = run_ingest(fix_files, quote_files, config, out, output, quarantine)
    ingested.events = compact(ingested.events)
    quote_table = compact(quote_load.quotes if quote_load is not None
                          else pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)))
    del quote_load  # its string form is let go before the engine runs
    return ingested, compute_kpis(ingested.events, quote_table, config, quarantine)


