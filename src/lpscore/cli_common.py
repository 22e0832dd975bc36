"""What the ``lpscore`` commands share: output formats, the error console, ingest with a
progress bar, the KPI engine on ingested logs or on a history store."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import pyarrow as pa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from lpscore.config import Config
from lpscore.errors import InputError, LpscoreError
from lpscore.history import (
    StoreState,
    add_counts,
    append_events,
    append_quotes,
    drop_from,
    read_compact,
    read_state,
    store_files,
    write_events,
    write_quotes,
    write_state,
)
from lpscore.ingest import IngestResult, ingest_logs
from lpscore.ingest.pipeline import Carried
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.marketdata import QuoteLoad, load_quotes
from lpscore.model.schema import EVENT_SCHEMA, QUOTE_SCHEMA, compact, polars_schema
from lpscore.quarantine import Quarantine

__all__ = [
    "ConfigOption",
    "FixFiles",
    "HistoryOption",
    "LenientOption",
    "LogsOrStore",
    "OutDir",
    "OutputFormat",
    "QuoteFiles",
    "err",
    "exit_on_error",
    "history_root",
    "out_dir",
    "run_ingest",
    "run_kpis",
    "store_kpis",
    "store_or_logs",
    "with_lenient",
]

err = Console(stderr=True)

FixFiles = Annotated[list[Path], typer.Argument(help="FIX logs (plain or gzip).")]
LogsOrStore = Annotated[list[Path] | None, typer.Argument(
    help="FIX logs (plain or gzip), or none with --history.", show_default=False)]
HistoryOption = Annotated[Path | None, typer.Option(
    "--history", help="Read this history store instead of FIX logs, with its quotes: the "
    "folder holding events/, or the --out DIR of `lpscore ingest` (docs/dask.md).")]


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
    output: OutputFormat, quarantine: Quarantine | None = None, *, append: bool = False,
) -> tuple[IngestResult, QuoteLoad | None]:
    """Ingest FIX logs and quotes with a progress bar; write ``out``/history/ when given,
    replacing it, or with ``append`` adding to it (lpscore.history.state). The caller writes
    the quarantine once its own stages have added to it."""
    inputs = [*fix_files, *quote_files]
    folders = [p for p in inputs if p.is_dir()]
    if folders:
        raise InputError(f"{', '.join(map(str, folders))}: a folder, not a file; pass the "
                         f"files in it ({folders[0] / '*.log'})")
    missing = [p for p in inputs if not p.is_file()]
    if missing:
        raise InputError(f"input file(s) not found: {', '.join(map(str, missing))}")
    root = None if out is None else out / "history"
    state = read_state(root) if append and root is not None else None
    carried = None if root is None else state.carried if state is not None else Carried()
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
            carried=carried,
        )
        quote_load = None
        if quote_files:
            progress.update(task, description="quotes")
            quote_load = load_quotes(quote_files, config.marketdata, quarantine)
    if root is not None:
        _store(root, result, quote_load, state)
    return result, quote_load


def _store(root: Path, result: IngestResult, quote_load: QuoteLoad | None,
           state: StoreState | None) -> None:
    """Write the history store at ``root``: anew without ``state``, else after it; then its
    new state, with this ingest's data-quality counts added to the earlier ones."""
    assert result.carried is not None   # run_ingest carries whenever it stores
    quotes = None if quote_load is None else quote_load.quotes
    n_quotes = 0 if quotes is None else quotes.height
    root.mkdir(parents=True, exist_ok=True)
    if state is None:
        write_events(root, result.events)
        if quotes is not None:
            write_quotes(root, quotes)
        elif (root / "quotes").exists():   # not another ingest's quotes beside these events
            shutil.rmtree(root / "quotes")
        state = StoreState(result.carried, 0, 0, {})
    else:
        drop_from(root, state.events, state.quotes)
        append_events(root, result.events, state.events)
        if quotes is not None:
            append_quotes(root, quotes, state.quotes)
    write_state(root, StoreState(result.carried, state.events + result.events.height,
                                 state.quotes + n_quotes,
                                 add_counts(state.data_quality, result.data_quality)))


def run_kpis(
    fix_files: list[Path], quote_files: list[Path], config: Config, out: Path | None,
    output: OutputFormat, quarantine: Quarantine,
) -> tuple[IngestResult, KpiResult]:
    """``run_ingest``, then the KPI engine on its events and quotes, both in the compact form
    (lpscore.model.schema.compact: the same KPIs in less memory). The returned ingest result
    holds the compact events."""
    ingested, quote_load = run_ingest(fix_files, quote_files, config, out, output, quarantine)
    ingested.events = compact(ingested.events)
    quote_table = (compact(quote_load.quotes) if quote_load is not None
                   else _no_rows(QUOTE_SCHEMA))
    del quote_load  # its string form is let go before the engine runs
    return ingested, compute_kpis(ingested.events, quote_table, config, quarantine)


def store_or_logs(command: str, verb: str, fix_files: list[Path], quote_files: list[Path],
                  history: Path | None) -> Path | None:
    """The history store ``--history`` names (``history_root``), or None to read the FIX
    logs; exactly one of the two is given, and the store brings its own quotes. ``command``
    (``score``) and ``verb`` (what it does to its input: ``score``) word the errors."""
    if history is None:
        if not fix_files:
            raise InputError(f"nothing to {verb}: give FIX logs (lpscore {command} "
                             "FIX_FILES... [--quotes FILES...]) or a history store (lpscore "
                             f"{command} --history DIR)")
        return None
    if fix_files:
        raise InputError(f"give FIX logs or --history, not both: --history {history} reads "
                         "the store as it is; ingest new logs into it with lpscore ingest")
    if quote_files:
        raise InputError("--quotes with --history: the store's own quotes are used; ingest "
                         "quote files with the logs (lpscore ingest FIX_FILES... --quotes "
                         "FILES... --out DIR)")
    return history_root(history)


def history_root(path: Path) -> Path:
    """``--history DIR``: the history store at DIR, or at DIR/history (the ``--out`` folder
    of an ingest), as an absolute path (Dask workers read it by that path)."""
    for root in (path, path / "history"):
        if (root / "events").is_dir():
            if not store_files(root, "events"):
                raise InputError(f"--history {path}: {root / 'events'} holds no event files "
                                 "(date=*/symbol=*/*.parquet); ingest FIX logs into it first: "
                                 "lpscore ingest FIX_FILES... --out DIR")
            return root.resolve()
    found = "not a history store" if path.exists() else "not found"
    raise InputError(f"--history {path}: {found}; give a history store, the folder holding "
                     "events/date=*/symbol=*/*.parquet, or the DIR holding the history/ that "
                     "lpscore ingest FIX_FILES... --out DIR wrote")


def store_kpis(root: Path, config: Config, quarantine: Quarantine) -> KpiResult:
    """``run_kpis``'s KPIs from the history store at ``root`` (lpscore.history.store): its
    events and quotes read in the compact form, in the order they were written, so that the
    engine sees what it saw after the ingest that wrote them."""
    events = _read_store(root, "events", EVENT_SCHEMA)
    return compute_kpis(events, _read_store(root, "quotes", QUOTE_SCHEMA), config, quarantine)


def _read_store(root: Path, table: str, schema: pa.Schema) -> pl.DataFrame:
    """``root/table`` (events or quotes) in the compact form and in write order (``_seq``);
    no rows without files."""
    files = store_files(root, table)
    if not files:
        return _no_rows(schema)
    columns = [*polars_schema(schema).names(), "_seq"]
    return read_compact(files, columns).sort("_seq").drop("_seq")


def _no_rows(schema: pa.Schema) -> pl.DataFrame:
    """An empty table of ``schema`` in the compact form."""
    return compact(pl.DataFrame(schema=polars_schema(schema)))
