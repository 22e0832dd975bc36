"""``lpscore publish`` and ``lpscore scores``: write score snapshots to a store, read them back."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from lpscore.cli_common import (
    ConfigOption,
    FixFiles,
    Format,
    LenientOption,
    QuoteFiles,
    exit_on_error,
    run_kpis,
    with_lenient,
)
from lpscore.cli_output import console
from lpscore.cli_score import parse_context
from lpscore.config import load_config
from lpscore.errors import InputError
from lpscore.publish import context_key, open_store
from lpscore.publish.publisher import publish_result
from lpscore.quarantine import Quarantine
from lpscore.routing import ScoreCache
from lpscore.scoring import catalog, load_profile

__all__ = ["publish", "scores"]

StoreOption = Annotated[str, typer.Option(
    "--store", help="Score store URI: redis://host:port/db, rediss://..., memory:// "
    "(this process only), valkey+embedded:// (a private server for this run).")]
FormatOption = Annotated[Format, typer.Option("--format", help="table or json.")]


def publish(
    fix_files: FixFiles,
    store_uri: StoreOption,
    quotes: QuoteFiles = None,
    profile_spec: Annotated[str, typer.Option(
        "--profile", help="hft, block, best_price, or a .toml/.yaml profile file.")] = "block",
    config_path: ConfigOption = None,
    output: FormatOption = Format.TABLE,
    lenient: LenientOption = False,
) -> None:
    """Score every context level (LP, symbol, size bucket, regime) and publish the snapshots."""
    with exit_on_error():
        config = with_lenient(load_config(config_path), lenient)
        _, result = run_kpis(fix_files, quotes or [], config, None, output, Quarantine())
        specs = catalog(result.horizons)
        profile = load_profile(profile_spec, specs)
        with open_store(store_uri) as store:
            done = publish_result(result, profile, specs, store)
        rows = [{"profile": p.profile, "context": p.context, "version": p.version,
                 "changed": p.changed} for p in done]
        if output is Format.JSON:
            print(json.dumps({"published": rows}))
            return
        table = Table(title=f"Published to {store_uri}: {sum(p.changed for p in done)} new "
                      f"version(s), {sum(not p.changed for p in done)} unchanged")
        for name in ("profile", "context", "version", "changed"):
            table.add_column(name, justify="right" if name == "version" else "left")
        for p in done:
            table.add_row(p.profile, p.context, str(p.version), "yes" if p.changed else "no")
        console().print(table)


def scores(
    store_uri: StoreOption,
    profile: Annotated[str, typer.Option("--profile", help="Profile name as published.")],
    context: Annotated[str, typer.Option(
        "--context", help="symbol=ACME,size_bucket=... (default: LP level).")] = "",
    output: FormatOption = Format.TABLE,
    config_path: ConfigOption = None,
    max_age: Annotated[float | None, typer.Option(
        "--max-age", help="Seconds: report stale when the profile's newest publish is older "
        "(default: routing.max_publish_age_s of --config, else never).")] = None,
) -> None:
    """The scores published for one profile and context, as a router sees them."""
    with exit_on_error():
        wanted = parse_context(context, published=True)
        routing = load_config(config_path).routing
        with open_store(store_uri) as store:
            cache = ScoreCache(store, [profile], stale_after_s=routing.stale_after_s,
                               max_publish_age_s=max_age if max_age is not None
                               else routing.max_publish_age_s)
            if not cache.refresh() and cache.last_error is not None:
                raise cache.last_error
            entry = cache.entry(profile, context_key(wanted))
            if entry is None:
                raise InputError(f"nothing published for profile {profile!r}, context "
                                 f"{context_key(wanted)}; published contexts: "
                                 f"{', '.join(cache.contexts(profile)[:10]) or 'none'}")
        snap, stale = entry.snapshot, cache.stale(profile)
        if output is Format.JSON:
            print(json.dumps({**snap.to_json(), "stale": stale}))
            return
        table = Table(title=Text.assemble(
            f"{profile}, {context_key(snap.context) if snap.context else 'all orders'}: "
            f"version {snap.version}",
            (" (stale)" if stale else "", "bold red")))
        for name in ("rank", "lp", "score", "interval", "provisional", "orders"):
            table.add_column(name, justify="left" if name == "lp" else "right")
        for s in snap.scores:
            table.add_row(str(s["rank"]), s["lp"], f"{s['score']:.1f}",
                          "pending" if s["ci_low"] is None or s["ci_high"] is None
                          else f"{s['ci_low']:.1f} - {s['ci_high']:.1f}",
                          "yes" if s["provisional"] else "no", f"{s['n_orders']:,}")
        console().print(table)
