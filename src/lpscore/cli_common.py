"""What the ``lpscore`` commands share: options, output formats, errors, ingest with a
progress bar, the KPI engine on ingested logs or on a history store (printing:
lpscore.cli_output)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import polars as pl
import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from lpscore.cli_output import err, styled, task_columns
from lpscore.config import Config
from lpscore.errors import InputError, LpscoreError
from lpscore.history import (
    StoreState,
    add_counts,
    append_events,
    append_quotes,
    begin_append,
    clear_state,
    end_append,
    held,
    new_quotes,
    partitions_of,
    read_data_quality,
    read_events,
    read_quotes,
    read_state,
    store_files,
    unfinished,
    write_events,
    write_quotes,
    write_state,
)
from lpscore.ingest import IngestResult, ingest_logs
from lpscore.ingest.pipeline import Carried
from lpscore.kpi.engine import KpiResult, compute_kpis
from lpscore.marketdata import QuoteLoad, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, compact, polars_schema
from lpscore.quarantine import Quarantine

__all__ = [
    "ConfigOption",
    "FixFiles",
    "Format",
    "HistoryOption",
    "Inputs",
    "LenientOption",
    "LogsOrStore",
    "OutDir",
    "OutputFormat",
    "QuoteFiles",
    "Stored",
    "exit_on_error",
    "history_root",
    "kpis_of",
    "out_dir",
    "run_ingest",
    "run_kpis",
    "sigterm_raises",
    "store_or_logs",
    "store_to_map",
    "with_lenient",
]


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
    """``--format`` of a command with a tabular result (``lpscore kpis``)."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class Format(StrEnum):
    """``--format`` of the other commands, whose results are not one table: asked for CSV,
    they refuse it as an invalid choice rather than print the table."""

    TABLE = "table"
    JSON = "json"


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Around a command's body: an ``LpscoreError`` is printed as one line on stderr (its
    message says what to do) and the command exits with status 2."""
    try:
        yield
    except LpscoreError as exc:
        err.print(styled("error:", "bold red", " ", str(exc)))
        raise typer.Exit(code=2) from exc


@contextmanager
def sigterm_raises(error: type[BaseException]) -> Iterator[None]:
    """Within it, SIGTERM (a service manager's stop, ``kill``) raises ``error`` in the main
    thread, so the command unwinds as it does on Ctrl-C or at its end (its ``finally``
    blocks run: a stream's last publish and checkpoint, a server's store closed) instead
    of the process dying."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return

    def raise_it(signum: int, frame: FrameType | None) -> None:
        raise error(0) if error is SystemExit else error

    previous = signal.signal(signal.SIGTERM, raise_it)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def with_lenient(config: Config, lenient: bool) -> Config:
    """``config`` with ``ingest.lenient`` switched on when asked."""
    if not lenient:
        return config
    return replace(config, ingest=replace(config.ingest, lenient=True))


def run_ingest(
    fix_files: list[Path], quote_files: list[Path], config: Config, out: Path | None,
    output: str, quarantine: Quarantine | None = None, *, append: bool = False,
    strict: bool = False, replace: bool = False,
) -> tuple[IngestResult, QuoteLoad | None, Stored | None]:
    """Ingest FIX logs and quotes with a progress bar (when ``output``, the command's
    ``--format``, is a table); write ``out``/history/ when given,
    replacing it, or with ``append`` adding to it (lpscore.history.state); with ``strict``,
    not when anything was quarantined (the caller says so and exits). Returns the ingest,
    the quotes and what was stored (None when nothing was). The caller writes
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
    if root is not None and not append and not replace:
        _check_not_dropped(root, fix_files)
    state = read_state(root) if append and root is not None else None
    settings = ingest_settings(config)
    if state is not None and state.settings != settings:
        raise InputError(
            f"{root} was ingested with the ingest settings {state.settings}, these logs with "
            f"{settings}: an append must use the store's (the [ingest] table of lpscore.toml, "
            "--lenient), or ingest everything again without --append")
    carried = None if root is None else state.carried if state is not None else Carried()
    quarantine = Quarantine() if quarantine is None else quarantine
    total = sum(p.stat().st_size for p in fix_files)
    with Progress(
        *task_columns("ingest"), BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=err, disable=output != OutputFormat.TABLE,
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
    stored = None
    if root is not None and not (strict and len(quarantine)):
        stored = _store(root, result, quote_load, state, settings)
    return result, quote_load, stored


@contextmanager
def working(output: str, text: str) -> Iterator[Callable[[str], None]]:
    """A spinner on the terminal (when ``output``, the command's ``--format``, is a table)
    naming the stage at work, with the time it has taken: long work with no count to
    advance (reading a history store, the KPI engine, scoring, a Dask cluster) shows that it
    goes on and where. Yields a function that names the next stage."""
    with Progress(SpinnerColumn(), *task_columns("lpscore"), TimeElapsedColumn(),
                  console=err, disable=output != OutputFormat.TABLE,
                  transient=True) as progress:
        task = progress.add_task(text, total=None)
        yield lambda stage: progress.update(task, description=stage)


def _check_not_dropped(root: Path, fix_files: list[Path]) -> None:
    """InputError when writing ``fix_files`` anew over the store at ``root`` would drop
    logs it holds: it was built from more log files than these (by appends, a day at a
    time; a forgotten --append replaced a year with a day, status 0, nothing said).
    Re-running an ingest, or ingesting everything again to rebuild, passes."""
    found = held(root)      # no usable state: writing the store anew is how it is mended
    if found is not None and found[1] > len(fix_files):
        events, files = found
        raise InputError(
            f"{root} holds a history store of {events:,} events from {files:,} log files, "
            f"more than the {len(fix_files):,} given: writing these over it would drop the "
            "others. Add --append (lpscore ingest) to add them to it, give another --out, "
            "or, to replace it, lpscore ingest --replace")


def ingest_settings(config: Config) -> dict[str, Any]:
    """What of the configuration an ingest's events depend on (all of ``ingest`` but where
    the logs are read from memory or a map)."""
    settings = asdict(config.ingest)
    settings.pop("memory_map")
    settings["own_comp_ids"] = list(settings["own_comp_ids"])
    return settings


@dataclass(frozen=True)
class Stored:
    """What an ingest wrote to the history store."""

    state: StoreState
    """The store's new state."""
    quotes_held: int = 0
    """Quotes an append did not store, the store holding them already
    (``lpscore.history.new_quotes``)."""


def _store(root: Path, result: IngestResult, quote_load: QuoteLoad | None,
           state: StoreState | None, settings: dict[str, Any]) -> Stored:
    """Write the history store at ``root``: anew without ``state``, else after it, each
    quote once; then its new state, with this ingest's data-quality counts added to the
    earlier ones."""
    assert result.carried is not None   # run_ingest carries whenever it stores
    quotes = None if quote_load is None else quote_load.quotes
    loaded = 0 if quotes is None else quotes.height
    root.mkdir(parents=True, exist_ok=True)
    if state is None:
        clear_state(root)   # cut short, the store is then refused, not taken for the old one
        write_events(root, result.events)
        if quotes is not None:
            write_quotes(root, quotes)
        elif (root / "quotes").exists():   # not another ingest's quotes beside these events
            shutil.rmtree(root / "quotes")
        state = StoreState(result.carried, 0, 0, {})
    else:
        for path in unfinished(root, state):     # an append cut short: its files go
            path.unlink()
        begin_append(root, partitions_of("events", result.events)
                     + ([] if quotes is None else partitions_of("quotes", quotes)))
        append_events(root, result.events, state.events)
        if quotes is not None:
            quotes = new_quotes(root, quotes)
            append_quotes(root, quotes, state.quotes)
    added = 0 if quotes is None else quotes.height
    stored = StoreState(result.carried, state.events + result.events.height,
                        state.quotes + added,
                        add_counts(state.data_quality, result.data_quality), settings)
    write_state(root, stored)
    end_append(root)
    return Stored(stored, loaded - added)


def run_kpis(
    fix_files: list[Path], quote_files: list[Path], config: Config, out: Path | None,
    output: str, quarantine: Quarantine,
) -> tuple[IngestResult, KpiResult]:
    """``run_ingest``, then the KPI engine on its events and quotes, both in the compact form
    (lpscore.model.schema.compact: the same KPIs in less memory). The returned ingest result
    holds the compact events."""
    ingested, quote_load, _ = run_ingest(fix_files, quote_files, config, out, output,
                                         quarantine)
    ingested.events = compact(ingested.events)
    quote_table = compact(quote_load.quotes if quote_load is not None
                          else pl.DataFrame(schema=polars_schema(QUOTE_SCHEMA)))
    del quote_load  # its string form is let go before the engine runs
    with working(output, "KPI engine"):
        return ingested, compute_kpis(ingested.events, quote_table, config, quarantine)


def store_or_logs(command: str, verb: str, fix_files: list[Path], quote_files: list[Path],
                  history: Path | None, out: Path | None) -> Path | None:
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
    root = history_root(history)
    if out is not None and out.resolve() == root.parent and (out / "quarantine.jsonl").exists():
        raise InputError(f"--out {out} holds the quarantine of the ingest that wrote the store, "
                         f"which {command} would replace with its own: give another --out")
    return root


def history_root(path: Path) -> Path:
    """``--history DIR``: the history store at DIR, or at DIR/history (the ``--out`` folder
    of an ingest), as an absolute path (Dask workers read it by that path)."""
    for root in (path, path / "history"):
        if (root / "events").is_dir():
            if not store_files(root, "events"):
                if store_files(root, "quotes"):
                    raise InputError(f"--history {path}: the store holds quotes but no events: "
                                     "the FIX logs ingested into it held no orders or reports "
                                     "(see the ingest's reconciliation.json)")
                raise InputError(f"--history {path}: {root / 'events'} holds no event files "
                                 "(date=*/symbol=*/*.parquet); ingest FIX logs into it first: "
                                 "lpscore ingest FIX_FILES... --out DIR")
            _check_finished(path, root)
            return root.resolve()
    found = "not a history store" if path.exists() else "not found"
    raise InputError(f"--history {path}: {found}; give a history store, the folder holding "
                     "events/date=*/symbol=*/*.parquet, or the DIR holding the history/ that "
                     "lpscore ingest FIX_FILES... --out DIR wrote")


def _check_finished(path: Path, root: Path) -> None:
    """InputError when the store holds files of an append that did not finish (its state
    does not count them): read, they would be counted without the state saying so."""
    try:
        state = read_state(root, missing_ok=True)   # none: written by hand, read as it is
    except InputError:
        return   # unreadable: the readers that need it say so
    late = [] if state is None else unfinished(root, state)
    if late:
        raise InputError(f"--history {path}: {len(late)} file(s) of an append that did not "
                         f"finish ({late[0].relative_to(root)}...): run that append again "
                         "(lpscore ingest FIX_FILES... --out DIR --append), which removes them "
                         "first")


Inputs = tuple[Path | None, list[Path], list[Path]]
"""What a command measures: a history store (``store_or_logs``), else FIX logs and quotes."""


def kpis_of(inputs: Inputs, config: Config, out: Path | None, output: str,
            quarantine: Quarantine) -> tuple[KpiResult, dict[str, int]]:
    """The KPIs of the history store, or of the FIX logs (``run_kpis``: ingested into
    ``out``/history), with the ingests' data-quality counts. A store's events and quotes are
    read in the compact form, in the order they were written, so that the engine sees what
    it saw after the ingest that wrote them; its counts are those its state kept."""
    store, fix_files, quote_files = inputs
    if store is not None:
        with working(output, f"reading the history store {store}") as stage:
            events = read_events(store, compact_form=True)
            quotes = read_quotes(store, compact_form=True)
            stage(f"KPI engine: {events.height:,} events, {quotes.height:,} quotes")
            result = compute_kpis(events, quotes, config, quarantine)
        return result, read_data_quality(store)
    ingested, result = run_kpis(fix_files, quote_files, config, out, output, quarantine)
    return result, ingested.data_quality


@contextmanager
def store_to_map(inputs: Inputs, config: Config, out: Path | None, output: str,
                 quarantine: Quarantine) -> Iterator[tuple[Path, dict[str, int]]]:
    """The history store for a Dask cluster to map over, with the ingests' data-quality
    counts: the store as it is, else the FIX logs ingested into ``out``/history (a
    temporary directory without ``out``)."""
    store, fix_files, quote_files = inputs
    if store is not None:
        yield store, read_data_quality(store)
        return
    with _folder(out) as root:
        ingested, _, _ = run_ingest(fix_files, quote_files, config, root, output, quarantine)
        yield (root / "history").resolve(), ingested.data_quality


@contextmanager
def _folder(out: Path | None) -> Iterator[Path]:
    """``out``, else a temporary directory."""
    if out is not None:
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="lpscore-") as tmp:
        yield Path(tmp)
