"""``lpscore score``: LPs ranked by a strategy profile's composite score in one context."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lpscore.cli_common import (
    ConfigOption,
    FixFiles,
    LenientOption,
    OutputFormat,
    QuoteFiles,
    exit_on_error,
    run_kpis,
    with_lenient,
)
from lpscore.config import load_config
from lpscore.errors import InputError
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.publish.snapshot import parse_context_key
from lpscore.quarantine import Quarantine
from lpscore.scoring import Scorecard, catalog, load_profile, score_result

__all__ = ["parse_context", "score"]


def score(
    fix_files: FixFiles,
    quotes: QuoteFiles = None,
    profile_spec: Annotated[str, typer.Option(
        "--profile", help="hft, block, best_price, or a .toml/.yaml profile file.")] = "block",
    context: Annotated[str, typer.Option(
        "--context", help="symbol=ACME,size_bucket=...: score within this context "
        "(default: every LP over all its orders).")] = "",
    config_path: ConfigOption = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.TABLE,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write DIR/scores.json, DIR/history and DIR/quarantine.jsonl.")
    ] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Seed of the posterior draws (default: the profile's).")] = None,
    lenient: LenientOption = False,
) -> None:
    """Composite LP scores (docs/scoring.md) from FIX logs and quotes, ranked."""
    with exit_on_error():
        if output is OutputFormat.CSV:
            raise InputError("--format csv is not available for scores: use table or json")
        config = with_lenient(load_config(config_path), lenient)
        wanted = parse_context(context)
        quarantine = Quarantine()
        _, result = run_kpis(fix_files, quotes or [], config, out, output, quarantine)
        specs = catalog(result.horizons)
        profile = load_profile(profile_spec, specs)
        if seed is not None:
            profile = replace(profile, seed=seed)
        order = [*CONTEXT_KEYS, *config.context.extra_keys]
        card = score_result(result, profile, specs, wanted, order)
        payload = card.to_json()
        if out is not None:
            (out / "scores.json").write_text(json.dumps(payload, indent=2) + "\n",
                                             encoding="utf-8")
            quarantine.write_jsonl(out / "quarantine.jsonl")
        if output is OutputFormat.JSON:
            print(json.dumps(payload))
        else:
            print_scorecard(card, Console())


def parse_context(text: str) -> dict[str, str]:
    """``"symbol=ACME,size_bucket=<10k"`` -> ``{"symbol": "ACME", "size_bucket": "<10k"}``
    (publish.snapshot.parse_context_key, with the option's name in the error)."""
    try:
        return parse_context_key(text)
    except ValueError as exc:
        raise InputError(f"--{exc}") from exc


def print_scorecard(card: Scorecard, console: Console) -> None:
    """Two tables: the ranking with intervals and evidence, then each KPI's value and points."""
    where = ", ".join(f"{k}={v}" for k, v in card.context.items()) or "all orders"
    pct = round(100 * card.interval)
    ranking = Table(title=f"Profile {card.profile}, {where}: score 0..100")
    for name in ("rank", "lp", "score", f"{pct}% interval", "rank held", "orders", "n_eff"):
        ranking.add_column(name, justify="left" if name == "lp" else "right")
    for s in card.scores:
        flag = " [yellow](provisional)[/]" if s.provisional else ""
        ranking.add_row(str(s.rank), s.lp + flag, f"{s.score:.1f}",
                        f"{s.ci_low:.1f} - {s.ci_high:.1f}", f"{100 * s.rank_stability:.0f}%",
                        f"{s.n_orders:,}", f"{s.n_eff:,.1f}")
    console.print(ranking)
    kpis = list(card.scores[0].contributions) if card.scores else []
    why = Table(title="Why: each KPI's shrunk value (own value) -> points")
    why.add_column("lp")
    for kpi in kpis:
        why.add_column(kpi, justify="right")
    for s in card.scores:
        why.add_row(s.lp, *(f"{_value(s.kpis[k])} ({_value(s.raw_kpis[k])}) -> "
                            f"{s.contributions[k]:.1f}" for k in kpis))
    console.print(why)
    if any(s.provisional for s in card.scores):
        console.print("[yellow]provisional[/]: fewer child orders than the profile's "
                      "min_orders in this context; the score leans on coarser levels")


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
