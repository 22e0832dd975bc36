"""``lpscore serve``: the published scores over HTTP (docs/api.md), and with ``--data`` the
review console (docs/console.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from lpscore.api import create_app
from lpscore.cli_common import ConfigOption, exit_on_error, sigterm_raises
from lpscore.cli_output import err, styled
from lpscore.config import load_config
from lpscore.console import Console, create_console_app
from lpscore.errors import ConfigError, StoreUnavailable
from lpscore.heap import settle_heap
from lpscore.publish import ScoreStore, open_store
from lpscore.routing import ScoreCache
from lpscore.scoring import BUILTIN

__all__ = ["serve_scores"]

SHUTDOWN_GRACE_S = 3


def serve_scores(
    store_uri: Annotated[str | None, typer.Option(
        "--store", help="Score store URI: redis://host:port/db, rediss://..., memory://, "
        "valkey+embedded://. Default with --data: memory:// (this process only).")] = None,
    data: Annotated[Path | None, typer.Option(
        "--data", help="The --out directory of `lpscore kpis`: serve the review console on "
        "it (users, profile versions and audit log in DIR/console.sqlite).")] = None,
    profiles: Annotated[list[str] | None, typer.Option(
        "--profile", help="A profile to load at start (repeatable); others are loaded on "
        "their first request.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65_535,
                                      help="Port to listen on.")] = 8000,
    config_path: ConfigOption = None,
) -> None:
    """Serve the published scores over HTTP for routers, and with --data the console.

    /api/scores/..., OpenAPI at /openapi.json (docs/api.md); the console at / (docs/console.md);
    routing.stale_after_s and routing.poll_interval_s of --config apply."""
    with exit_on_error(), sigterm_raises(SystemExit):
        if store_uri is None and data is None:
            raise ConfigError("give --store URI (the scores, for routers), --data DIR (the "
                              "console on an `lpscore kpis` directory), or both")
        routing = load_config(config_path).routing
        followed = list(profiles or [])
        if data is not None:
            followed += [p for p in BUILTIN if p not in followed]
        with open_store(store_uri or "memory://console") as store:
            cache = ScoreCache(store, followed, poll_interval_s=routing.poll_interval_s,
                               stale_after_s=routing.stale_after_s,
                               max_publish_age_s=routing.max_publish_age_s)
            console = None if data is None else _console(data, store, cache)
            with cache.start():
                if not cache.status().connected:
                    err.print(styled("warning:", "yellow", f" {cache.last_error}; serving "
                                     f"anyway, retrying every {routing.poll_interval_s:g} s "
                                     "(GET /api/health shows it)"))
                app = (create_app(cache) if console is None
                       else create_console_app(cache, console))
                if console is not None:
                    err.print(f"console: http://{host}:{port}/ (data {data})")
                server = _Server(uvicorn.Config(app, host=host, port=port, log_level="info",
                                                timeout_graceful_shutdown=SHUTDOWN_GRACE_S),
                                 None if console is None else console.closing.set)
                settle_heap()    # no full collections walking the libraries mid-request
                with contextlib.suppress(KeyboardInterrupt):
                    server.run()  # a port in use: uvicorn says so and exits with status 3


def _console(data: Path, store: ScoreStore, cache: ScoreCache) -> Console:
    """The console over ``data``, every profile's current version scored and published."""
    console = Console.open(data, store, cache)
    if not console.db.users():
        err.print(styled("no users yet:", "yellow", " add one with `lpscore users add NAME "
                         f"--role admin --data {data}`"))
    if console.data.result is None:
        err.print(styled("warning:", "yellow", f" {data} holds no KPI tables (run `lpscore "
                         f"kpis ... --out {data}`); KPI pages and rescoring are unavailable"))
    try:
        console.publish_all()
    except StoreUnavailable as exc:
        err.print(styled("warning:", "yellow", f" scores not published at start: {exc}"))
    return console


class _Server(uvicorn.Server):
    """uvicorn's server, telling the console's event streams to end as soon as shutdown
    starts (they would otherwise hold it until the grace period runs out)."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._on_exit is not None:
            self._on_exit()
        super().handle_exit(sig, frame)
