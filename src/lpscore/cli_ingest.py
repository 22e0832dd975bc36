"""``lpscore ingest``: FIX logs (and quotes) into events, a history store, a quarantine and
a reconciliation table."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from lpscore.cli_common import (
    ConfigOption,
    FixFiles,
    Format,
    LenientOption,
    OutDir,
    QuoteFiles,
    exit_on_error,
    run_ingest,
    with_lenient,
)
from lpscore.cli_output import console, fitted_tables, styled
from lpscore.config import load_config
from lpscore.errors import StrictModeError
from lpscore.history import read_state
from lpscore.ingest import IngestResult
from lpscore.marketdata import QuoteLoad

__all__ = ["ingest"]


def ingest(
    fix_files: FixFiles,
    out: OutDir,
    quotes: QuoteFiles = None,
    config_path: ConfigOption = None,
    output: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    lenient: LenientOption = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero if anything was quarantined.")
    ] = False,
    append: Annotated[bool, typer.Option(
        "--append", help="Add to the history store in DIR (made if missing) instead of "
        "replacing it: logs that come after the ones it holds, such as the next day's "
        "(docs/data-formats.md, Appending).")] = False,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace the history store in DIR even when it holds logs these "
        "are not (built by appends: without --append or --replace, such a store is "
        "refused rather than dropped).")] = False,
) -> None:
    """Ingest FIX logs (and quotes) into events, a history store and a quarantine."""
    with exit_on_error():
        config = with_lenient(load_config(config_path), lenient)
        started = time.perf_counter()
        result, quote_load, stored = run_ingest(fix_files, quotes or [], config, out, output,
                                                append=append, strict=strict,
                                                replace=replace)
        # an append adds its records to the earlier ingests' (the store holds all of theirs)
        result.quarantine.write_jsonl(out / "quarantine.jsonl", append=append)
        summary = _summary(result, quote_load)
        # --strict refused: the store as it was
        state = stored.state if stored else read_state(out / "history")
        summary["store"] = {"appended": append and stored is not None,
                            "written": stored is not None,
                            "events": state.events if state else 0,
                            "quotes": state.quotes if state else 0,
                            "quotes_held_already": stored.quotes_held if stored else 0}
        summary["seconds"] = round(time.perf_counter() - started, 3)
        (out / "reconciliation.json").write_text(json.dumps(summary, indent=2) + "\n")
        if output is Format.JSON:
            print(json.dumps(summary))
        else:
            _print_tables(summary, out)
        if stored is None:
            raise StrictModeError(
                f"--strict: {len(result.quarantine)} record(s) quarantined, so nothing was "
                f"written to the history store; see {out / 'quarantine.jsonl'}"
            )


def _summary(result: IngestResult, quote_load: QuoteLoad | None) -> dict[str, Any]:
    files = [
        {
            "path": f.path, "lines": f.lines, "messages": f.messages, "events": f.events,
            "quarantined": f.quarantined, "skipped": f.skipped,
            "by_msg_type": dict(sorted(f.by_msg_type.items())),
            "by_reason": f.by_reason,
            "skipped_by_reason": dict(sorted(f.skipped_by_reason.items())),
        }
        for f in result.files
    ]
    summary: dict[str, Any] = {"files": files, **result.totals()}
    summary["quotes"] = quote_load.quotes.height if quote_load else 0
    summary["quote_files"] = [
        {"path": str(f.path), "rows": f.rows, "kept": f.kept, "quarantined": f.quarantined,
         "repeated": f.repeated, "by_reason": dict(f.by_reason)}
        for f in (quote_load.files if quote_load else ())
    ]
    summary["data_quality"] = result.data_quality
    summary["own_comp_ids"] = result.own_comp_ids
    return summary


def _print_tables(summary: dict[str, Any], out: Path) -> None:
    screen = console()
    counts = ("lines", "messages", "events", "quarantined", "skipped")
    rows: list[tuple[list[str], list[str | Text]]] = []
    for f in summary["files"]:
        ok = f["lines"] == f["events"] + f["quarantined"] + f["skipped"]
        balanced = Text("yes", style="green") if ok else Text("NO", style="red")
        rows.append(([Path(f["path"]).name], [*(f"{f[k]:,}" for k in counts), balanced]))
    for table in fitted_tables(screen.width, "Reconciliation: lines = events + quarantined "
                               "+ skipped", ["file"], rows, [*counts, "balanced"]):
        screen.print(table)
    reasons: dict[str, int] = {}
    for f in summary["files"]:
        for key, n in {**f["by_reason"], **f["skipped_by_reason"]}.items():
            reasons[key] = reasons.get(key, 0) + n
    if reasons:
        why = Table(title="Quarantined and skipped, by reason")
        why.add_column("reason")
        why.add_column("records", justify="right")
        for key, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            why.add_row(key, f"{n:,}")
        screen.print(why)
    if summary["quote_files"]:
        names: tuple[str, ...] = ("rows", "kept", "quarantined")
        title = "Quotes: rows = kept + quarantined"
        if any(f["repeated"] for f in summary["quote_files"]):
            names += ("repeated",)
            title += "; repeated: kept rows an earlier file gave, held once"
        quote_rows = [([Path(f["path"]).name], [f"{f[k]:,}" for k in names])
                      for f in summary["quote_files"]]
        for table in fitted_tables(screen.width, title, ["file"], quote_rows, names):
            screen.print(table)
    totals = ", ".join(f"{k} {summary[k]:,}" for k in
                       ("orders", "executions", "fills", "rejects", "cancel_rejects", "quotes"))
    screen.print(styled("events:", "bold", " ", totals))
    quality = {k: v for k, v in summary["data_quality"].items() if v}
    if quality:
        screen.print(styled("data quality:", "bold", " ", str(quality)))
    store = summary["store"]
    held = f"{store['events']:,} events and {store['quotes']:,} quotes in all"
    if store["quotes_held_already"]:
        held += f"; {store['quotes_held_already']:,} quotes it held already not added again"
    how = f"appended, {held}" if store["appended"] else held
    history = f"{out}/history (Parquet; {how}), " if store["written"] else ""
    screen.print(styled("written:", "bold", f" {history}{out}/quarantine.jsonl, "
                        f"{out}/reconciliation.json"))
