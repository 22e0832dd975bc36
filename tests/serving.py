"""``lpscore serve`` in a subprocess for tests: a free port, the command, and a block that
waits for /api/health and shuts the server down (SIGTERM) after."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

SERVE = ("import typer; from lpscore.cli_serve import serve_scores; "
         "app = typer.Typer(); app.command()(serve_scores); app()")
"""``python -c SERVE ARGS...`` runs ``lpscore serve ARGS...``."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running server; ``returncode`` and ``err`` (its stderr) are set when it stops."""

    base: str
    port: int
    health: dict[str, Any] = field(default_factory=dict)
    returncode: int | None = None
    err: str = ""


@contextmanager
def lpscore_serve(*args: str, timeout_s: float = 30.0) -> Iterator[Served]:
    """``lpscore serve ARGS --port P``, up once /api/health answers (within ``timeout_s``:
    a loaded CI machine starts Python slowly), terminated after the block."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE, *args, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = Served(f"http://127.0.0.1:{port}", port)
    try:
        started = time.monotonic()
        while True:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                served.health = httpx.get(f"{served.base}/api/health", timeout=1.0).json()
                break
            except httpx.TransportError:
                assert time.monotonic() - started < timeout_s, "lpscore serve did not start"
                time.sleep(0.05)
        yield served
    finally:
        proc.terminate()
        _, served.err = proc.communicate(timeout=10)
        served.returncode = proc.returncode
