"""``lpscore score``: LPs ranked by a strategy profile's composite score in one context."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lpscore.cli_common import (
    ConfigOption,
    Format,
    HistoryOption,
    LenientOption,
    LogsOrStore,
    QuoteFiles,
    exit_on_error,
    kpis_of,
    out_dir,
    store_or_logs,
    store_to_map,
    with_lenient,
    working,
)
from lpscore.cli_kpis import EngineOption, SchedulerOption, check_engine
from lpscore.cli_output import console, styled
from lpscore.config import Config, load_config
from lpscore.engine import Engine
from lpscore.errors import ConfigError, InputError
from lpscore.kpi.context import CONTEXT_KEYS
from lpscore.publish.publisher import published_context
from lpscore.publish.snapshot import parse_context_key
from lpscore.quarantine import Quarantine
from lpscore.scoring import (
    Profile,
    Scorecard,
    catalog,
    config_catalog,
    context_keys,
    load_profile,
    no_orders_in,
    score_contexts,
    score_result,
)

__all__ = ["parse_context", "score"]


def score(
    fix_files: LogsOrStore = None,
    quotes: QuoteFiles = None,
    history: HistoryOption = None,
    profile_spec: Annotated[str, typer.Option(
        "--profile", help="hft, block, best_price, or a .toml/.yaml profile file.")] = "block",
    context: Annotated[str, typer.Option(
        "--context", help="symbol=ACME,size_bucket=...: score within this context "
        "(default: every LP over all its orders).")] = "",
    config_path: ConfigOption = None,
    output: Annotated[Format, typer.Option("--format")] = Format.TABLE,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write DIR/scores.json, DIR/quarantine.jsonl and, from FIX logs, "
        "DIR/history.",
        callback=out_dir)
    ] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", min=0, help="Seed of the posterior draws (default: the profile's).")] = None,
    lenient: LenientOption = False,
    engine: EngineOption = Engine.LOCAL,
    scheduler: SchedulerOption = None,
) -> None:
    """Composite LP scores (docs/scoring.md) from FIX logs and quotes, or a history store,
    ranked."""
    with exit_on_error():
        check_engine(engine, scheduler)
        store = store_or_logs("score", "score", fix_files or [], quotes or [], history, out)
        if scheduler is not None and out is None and store is None:
            raise InputError("--scheduler: the workers read the history store, so give --out "
                             "DIR on storage they can read")
        config = with_lenient(load_config(config_path), lenient)
        wanted = parse_context(context)
        quarantine = Quarantine()
        specs = config_catalog(config.kpi)
        profile = load_profile(profile_spec, specs)
        if seed is not None:
            profile = replace(profile, seed=seed)
        order = [*CONTEXT_KEYS, *config.context.extra_keys]
        inputs = (store, fix_files or [], quotes or [])
        if engine is Engine.DASK:
            with store_to_map(inputs, config, out, output, quarantine) as (root, _), \
                    working(output, "statistics of the history store on Dask, then scoring"):
                card = _score_on_dask(root, config, quarantine, (profile, wanted, order),
                                      scheduler)
        else:
            result, _ = kpis_of(inputs, config, out, output, quarantine)
            _check_extra_keys(wanted, result.orders.columns, config_path)
            with working(output, f"scoring under {profile.name}"):
                card = score_result(result, profile, specs, wanted, order)
        payload = card.to_json()
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)   # made by the ingest, unless --history
            (out / "scores.json").write_text(json.dumps(payload, indent=2) + "\n",
                                             encoding="utf-8")
            quarantine.write_jsonl(out / "quarantine.jsonl")
        if output is Format.JSON:
            print(json.dumps(payload))
        else:
            print_scorecard(card, console())


def _score_on_dask(store: Path, config: Config, quarantine: Quarantine,
                   what: tuple[Profile, dict[str, str], list[str]], scheduler: str | None
                   ) -> Scorecard:
    """``score_result`` on a Dask cluster: map over the history store at ``store``, score
    the merged statistics."""
    from lpscore.engine.dask import cluster_stats, connect  # noqa: PLC0415  (imports dask)

    profile, wanted, order = what
    keys = context_keys(wanted, order)
    with connect(scheduler) as client:
        run = cluster_stats(store, config, ["lp", *keys], decay=profile.decay, client=client)
    quarantine.extend(run.quarantined)
    cards = score_contexts(run.stats, profile, catalog(run.horizons), keys,
                           where={k: str(wanted[k]) for k in keys})
    if cards:
        return cards[0]
    raise no_orders_in(wanted, keys, run.stats)


def _check_extra_keys(wanted: dict[str, str], columns: list[str],
                      config_path: Path | None) -> None:
    """ConfigError for a key of ``--context`` that ``context.extra_keys`` made known but the
    orders table has no column of (a ValueError naming --by, which score has not)."""
    missing = sorted(set(wanted) - set(columns))
    if missing:
        where = f"{config_path}: " if config_path is not None else ""
        raise ConfigError(f"{where}context.extra_keys: unknown key(s) {', '.join(missing)}: "
                          "use columns of the orders table (docs/kpi-outputs.md)")


def parse_context(text: str, *, published: bool = False) -> dict[str, str]:
    """``"symbol=ACME,size_bucket=<10k"`` -> ``{"symbol": "ACME", "size_bucket": "<10k"}``
    (publish.snapshot.parse_context_key, with the option's name in the error); with
    ``published``, only keys a published context has (publish.publisher.published_context)."""
    try:
        return published_context(text) if published else parse_context_key(text)
    except ValueError as exc:
        raise InputError(f"--{exc}") from exc


def print_scorecard(card: Scorecard, screen: Console) -> None:
    """Two tables: the ranking with intervals and evidence, then each KPI's value and points."""
    where = ", ".join(f"{k}={v}" for k, v in card.context.items()) or "all orders"
    pct = round(100 * card.interval)
    ranking = Table(title=f"Profile {card.profile}, {where}: score 0..100")
    for name in ("rank", "lp", "score", f"{pct}% interval", "rank held", "orders", "n_eff"):
        ranking.add_column(name, justify="left" if name == "lp" else "right")
    for s in card.scores:
        flag = " (provisional)" if s.provisional else ""
        ranking.add_row(str(s.rank), Text.assemble(s.lp, (flag, "yellow")), f"{s.score:.1f}",
                        f"{s.ci_low:.1f} - {s.ci_high:.1f}", f"{100 * s.rank_stability:.0f}%",
                        f"{s.n_orders:,}", f"{s.n_eff:,.1f}")
    screen.print(ranking)
    kpis = list(card.scores[0].contributions) if card.scores else []
    why = Table(title="Why: each KPI's shrunk value (own value) -> points")
    why.add_column("lp")
    for kpi in kpis:  # a long KPI name folds onto a second line rather than being cut
        why.add_column(kpi, justify="right", overflow="fold")
    for s in card.scores:
        why.add_row(s.lp, *(f"{_value(s.kpis[k])} ({_value(s.raw_kpis[k])}) -> "
                            f"{s.contributions[k]:.1f}" for k in kpis))
    screen.print(why)
    if any(s.provisional for s in card.scores):
        screen.print(styled("provisional", "yellow", ": n_eff (the effective orders after "
                            "decay) below the profile's min_orders in this context; the score "
                            "leans on coarser levels"))


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
