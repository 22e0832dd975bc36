"""The ``lpscore`` command.

Each command's module is imported only when that command runs (``_LazyGroup``): they import
Polars, the KPI engine, FastAPI, the simulator..., which took 0.7 s before ``lpscore
version`` printed anything. ``lpscore --help`` lists them from ``COMMANDS`` without
importing them (a test holds each entry's help to its command's own).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import typer
from typer.core import TyperCommand, TyperGroup

from lpscore import __version__

if TYPE_CHECKING:   # Typer's own click (typer._click), whose classes TyperGroup takes
    from typer._click import Command, Context

__all__ = ["COMMANDS", "app", "main"]

COMMANDS: dict[str, tuple[str, str, str]] = {
    "kpis": ("lpscore.cli_kpis", "kpis",
             "Per-fill, per-order and per-LP KPIs (docs/kpis.md) from FIX logs and quotes, or a "
             "history store."),
    "report": ("lpscore.cli_kpis", "report",
               "A self-contained HTML page (no CDN) of the KPIs in an `lpscore kpis` "
               "directory."),
    "score": ("lpscore.cli_score", "score",
              "Composite LP scores (docs/scoring.md) from FIX logs and quotes, or a history "
              "store, ranked."),
    "publish": ("lpscore.cli_publish", "publish",
                "Score every context level (LP, symbol, size bucket, regime) and publish the "
                "snapshots."),
    "scores": ("lpscore.cli_publish", "scores",
               "The scores published for one profile and context, as a router sees them."),
    "route": ("lpscore.cli_route", "route",
              "Which LPs an order goes to, how much each, and why (docs/routing.md)."),
    "serve": ("lpscore.cli_serve", "serve_scores",
              "Serve the published scores over HTTP for routers, and with --data the "
              "console."),
    "simulate": ("lpscore.cli_sim", "simulate",
                 "Run a scenario through the closed loop (router, simulated LPs over FIX, "
                 "scorecard)."),
    "bench-routing": ("lpscore.cli_sim", "bench_routing_command",
                      "Compare routing policies on the same seeds, against an oracle."),
    "bench-allocation": ("lpscore.cli_learn", "bench_allocation",
                         "The dark pool problem and Cont-Kukanov splitting: learners against "
                         "the ideal."),
    "stream": ("lpscore.cli_stream", "stream",
               "Score a live FIX stream incrementally and publish every change to the store."),
    "replay": ("lpscore.cli_stream", "replay",
               "Push FIX logs onto a Kafka topic (keyed by symbol) or append them to a file, "
               "at the speed they were captured or faster."),
    "ingest": ("lpscore.cli_ingest", "ingest",
               "Ingest FIX logs (and quotes) into events, a history store and a quarantine."),
    "users": ("lpscore.cli_users", "users_app",
              "Users of the console: add, list (docs/console.md)."),
}
"""Command -> (its module, the function or Typer app there, its help's first sentence, as
``lpscore --help`` lists it)."""


class _LazyGroup(TyperGroup):
    """The root command: each of ``COMMANDS`` stands as a stub (its name and help, for
    ``--help``) until it is run, when its module is imported and the stub replaced."""

    def __init__(self, **attrs: object) -> None:
        super().__init__(**attrs)  # type: ignore[arg-type]
        eager = dict(self.commands)
        self.commands.clear()     # listed in the order of COMMANDS, then ``version``
        for name, (_, _, short) in COMMANDS.items():
            self.commands[name] = TyperCommand(name, help=short, short_help=short)
        self.commands.update(eager)

    def resolve_command(self, ctx: Context, args: list[str]
                        ) -> tuple[str | None, Command | None, list[str]]:
        if args and args[0] in COMMANDS:
            self.commands[args[0]] = load_command(args[0])
        return super().resolve_command(ctx, args)


def load_command(name: str) -> Command:
    """The click command of one of ``COMMANDS``, its module imported."""
    module, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


app = typer.Typer(
    name="lpscore",
    help="Score liquidity providers from your own FIX traffic.",
    no_args_is_help=True,
    add_completion=False,
    cls=_LazyGroup,
)


@app.callback()
def _root() -> None:
    pass   # a group with no options of its own; its help is the app's


@app.command()
def version() -> None:
    """Print the lpscore version."""
    print(__version__)


def main() -> None:
    """Entry point of the ``lpscore`` console script."""
    app(prog_name="lpscore")


if __name__ == "__main__":  # pragma: no cover
    main()
