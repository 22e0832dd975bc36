"""``lpscore serve``: the published scores over HTTP (docs/api.md)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from lpscore.api import create_app
from lpscore.cli_common import ConfigOption, err, exit_on_error
from lpscore.cli_publish import StoreOption
from lpscore.config import load_config
from lpscore.publish import open_store
from lpscore.routing import ScoreCache

__all__ = ["serve_scores"]


def serve_scores(
    store_uri: StoreOption,
    profiles: Annotated[list[str] | None, typer.Option(
        "--profile", help="A profile to load at start (repeatable); others are loaded on "
        "their first request.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    config_path: ConfigOption = None,
) -> None:
    """Serve the published scores over HTTP, for routers in any language.

    /api/scores/..., OpenAPI at /openapi.json (docs/api.md); routing.stale_after_s and
    routing.poll_interval_s of --config apply."""
    with exit_on_error(), _sigterm_unwinds():
        routing = load_config(config_path).routing
        with open_store(store_uri) as store, ScoreCache(
                store, profiles or [], poll_interval_s=routing.poll_interval_s,
                stale_after_s=routing.stale_after_s,
                max_publish_age_s=routing.max_publish_age_s).start() as cache:
            if not cache.status().connected:
                err.print(f"[yellow]warning:[/] {cache.last_error}; serving anyway, retrying "
                          f"every {routing.poll_interval_s:g} s (GET /api/health shows it)")
            uvicorn.run(create_app(cache), host=host, port=port, log_level="info")


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """After its graceful shutdown uvicorn re-raises SIGTERM with the handler it found; make
    that handler end the command normally, so the cache stops and the store closes (an
    embedded Valkey server with it) instead of the process dying."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only
        return
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
