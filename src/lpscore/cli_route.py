"""``lpscore route``: the routing plan for one order from the published scores."""

from __future__ import annotations

import json
import math
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from lpscore.cli_common import ConfigOption, Format, QuoteFiles, exit_on_error, run_kpis
from lpscore.cli_output import console, err, styled
from lpscore.cli_score import parse_context
from lpscore.config import Config, load_config
from lpscore.errors import InputError
from lpscore.kpi.context import load_adv, size_bucket_of
from lpscore.model.enums import Side
from lpscore.publish import ScoreStore, open_store
from lpscore.publish.publisher import publish_result
from lpscore.quarantine import Quarantine
from lpscore.routing import DecisionLog, Plan, Router, RouteRequest, ScoreCache
from lpscore.routing.policies import policy_named, qty_text
from lpscore.scoring import catalog, load_profile

__all__ = ["route"]


def route(
    symbol: Annotated[str, typer.Option("--symbol", help="Instrument, as in the FIX logs.")],
    side: Annotated[str, typer.Option("--side", help="buy or sell.")],
    qty: Annotated[float, typer.Option("--qty", help="Order quantity.", min=0.0)],
    fix_files: Annotated[list[Path] | None, typer.Argument(
        help="FIX logs to score now (instead of --store): the scores are published to an "
        "in-process store and routed on.")] = None,
    quotes: QuoteFiles = None,
    profile: Annotated[str, typer.Option(
        "--profile", help="Published profile name (with FIX logs: hft, block, best_price or "
        "a profile file).")] = "block",
    store_uri: Annotated[str | None, typer.Option(
        "--store", help="Score store URI (redis://..., valkey+embedded://); without it the "
        "configured static ranking is used.")] = None,
    policy_name: Annotated[str, typer.Option(
        "--policy", help="primary (one LP), spray (split across the top LPs by score) or "
        "uniform (equal slices to the top LPs: the baseline that ignores scores).")
    ] = "primary",
    price: Annotated[float | None, typer.Option(
        "--price", help="Limit or reference price (notional size bucket, max_notional).")
    ] = None,
    context: Annotated[str, typer.Option(
        "--context", help="size_bucket=...,vol_regime=...: context keys to use as given "
        "(default: size bucket from ADV or notional, no regime).")] = "",
    config_path: ConfigOption = None,
    output: Annotated[Format, typer.Option("--format", help="table or json.")
                      ] = Format.TABLE,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", metavar="FILE", help="Also append the decision to this JSON-lines "
        "journal (one record per decision: time, symbol, side, qty and the plan, as "
        "--format json prints it); `lpscore serve --data DIR` shows DIR/decisions.jsonl.")
    ] = None,
) -> None:
    """Which LPs an order goes to, how much each, and why (docs/routing.md)."""
    with exit_on_error():
        config = load_config(config_path)
        request = _request(symbol, side, qty, price, context, config)
        try:
            policy = policy_named(policy_name, top_k=config.routing.spray_top_k)
        except ValueError as exc:
            raise InputError(f"--policy {policy_name}: {exc}") from exc
        if fix_files and store_uri is not None:
            raise InputError("give FIX logs to score now or --store to read published scores, "
                             "not both")
        with ExitStack() as stack:
            # opened first, so an unwritable FILE fails before any scoring work
            journal = None if decisions is None else stack.enter_context(_journal(decisions))
            cache = None
            if fix_files:
                store_uri = f"memory://route-{uuid.uuid4().hex}"
                profile = _publish_now(fix_files, quotes or [], profile, config,
                                       stack.enter_context(open_store(store_uri)), output)
            if store_uri is not None:
                store = stack.enter_context(open_store(store_uri))
                cache = ScoreCache(store, [profile],
                                   stale_after_s=config.routing.stale_after_s,
                                   max_publish_age_s=config.routing.max_publish_age_s)
                if not cache.refresh():
                    err.print(styled("warning:", "yellow", f" {cache.last_error}; routing on "
                                     "the configured static ranking, marked stale"))
            plan = Router(cache, profile, config.routing).plan(request, policy)
            if journal is not None:   # a plan that routed nothing is a decision too
                journal.write(plan, ts_ns=time.time_ns(), symbol=request.symbol,
                              side=_side_text(request.side), qty=request.qty)
        if output is Format.JSON:
            print(json.dumps(plan.to_json()))
        else:
            _print(plan, request, config.routing.lot_size)
        if not plan.children:
            raise typer.Exit(code=1)


def _publish_now(fix_files: list[Path], quote_files: list[Path], profile_spec: str,
                 config: Config, store: ScoreStore, output: Format) -> str:
    """Score the logs and publish every level to ``store``; the profile's name."""
    _, result = run_kpis(fix_files, quote_files, config, None, output, Quarantine())
    specs = catalog(result.horizons)
    profile = load_profile(profile_spec, specs)
    publish_result(result, profile, specs, store)
    return profile.name


def _journal(path: Path) -> DecisionLog:
    try:
        return DecisionLog(path)
    except OSError as exc:
        raise InputError(f"--decisions {path}: cannot append to it ({exc.strerror or exc}); "
                         "give a writable file") from exc


def _side_text(side: Side) -> str:
    return "buy" if side is Side.BUY else "sell"


def _request(symbol: str, side: str, qty: float, price: float | None, context: str,
             config: Config) -> RouteRequest:
    sides = {"buy": Side.BUY, "sell": Side.SELL}
    if side.lower() not in sides:
        raise InputError(f"--side {side}: use buy or sell")
    if not 0 < qty < math.inf:
        raise InputError(f"--qty {qty}: give a positive, finite quantity")
    if price is not None and not 0 < price < math.inf:
        raise InputError(f"--price {price}: give a positive, finite price")
    wanted = {k: str(v) for k, v in parse_context(context, published=True).items()}
    if "symbol" in wanted and wanted.pop("symbol") != symbol:
        raise InputError("--context symbol=... differs from --symbol: give the symbol once")
    if "size_bucket" not in wanted:
        bucket = size_bucket_of(qty, price, load_adv(config.context).get(symbol),
                                config.context)
        if bucket is not None:
            wanted["size_bucket"] = bucket
    return RouteRequest(symbol, sides[side.lower()], qty, price, wanted)


def _print(plan: Plan, request: RouteRequest, lot: float) -> None:
    screen = console()
    title = Text.assemble(
        f"{plan.policy}: {_side_text(request.side)} {qty_text(request.qty)} {request.symbol} "
        f"under {plan.profile}, context {plan.context}",
        (" (stale)" if plan.stale else "", "bold red"))
    table = Table(title=title)
    table.add_column("lp")
    table.add_column("qty", justify="right")
    table.add_column("reason")
    for child in plan.children:
        table.add_row(child.lp, qty_text(child.qty), child.reason)
    screen.print(table)
    if plan.fallback:
        screen.print(f"fallback: {plan.fallback}")
    for skipped in plan.skipped:
        screen.print(f"skipped {skipped.lp}: {skipped.why}")
    if plan.unrouted > 0:
        small = (f" (less than a lot: routing.lot_size = {qty_text(lot)})"
                 if plan.unrouted < lot - 1e-9 else "")
        screen.print(Text(f"unrouted: {qty_text(plan.unrouted)}{small}", style="yellow"))
