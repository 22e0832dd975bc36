"""What the console tests share: a data directory built by the real pipeline on the bundled
demo data (as `make demo` runs it), users with each role, and the console served by uvicorn
in a thread on a free port.

    data = build_data_dir(tmp_path_factory.mktemp("console"))
    with serve_console(data) as server: httpx.get(f"{server.url}/api/health")
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from lpscore.cli_common import OutputFormat
from lpscore.cli_kpis import write_kpis
from lpscore.config import Config
from lpscore.console import DB_NAME, Console, ConsoleDB, create_console_app, hash_password
from lpscore.console.db import Role
from lpscore.publish import open_store
from lpscore.routing import ScoreCache
from lpscore.scoring import BUILTIN
from serving import free_port

DATA = Path(__file__).parents[1] / "data"
FIX_LOG = DATA / "fix" / "generated" / "demo-amzn-lps.log"
QUOTES = DATA / "quotes" / "AMZN_2012-06-21_34200000_57600000_message_1.csv"
PASSWORD = "correct horse battery"
USERS: dict[str, Role] = {"ada": "admin", "cal": "calibrator", "vic": "viewer"}


def build_data_dir(out: Path) -> Path:
    """``lpscore kpis demo-amzn-lps.log --quotes AMZN...csv --out out``, and one user per role
    (password ``PASSWORD``) in out/console.sqlite."""
    write_kpis([FIX_LOG], [QUOTES], Config(), out, ["lp"], OutputFormat.JSON, html=False)
    db = ConsoleDB(out / DB_NAME)
    hashed = hash_password(PASSWORD)  # one hash for all: argon2 is slow on purpose
    for name, role in USERS.items():
        db.add_user(name, hashed, role)
    return out


_BUILT: dict[str, Path] = {}


def shared_data_dir(factory: pytest.TempPathFactory) -> Path:
    """``build_data_dir`` once per test process (an xdist worker); copy it before changing
    anything in it (``fresh_copy``)."""
    if "dir" not in _BUILT:
        _BUILT["dir"] = build_data_dir(factory.mktemp("console-data"))
    return _BUILT["dir"]


def fresh_copy(data: Path, target: Path) -> Path:
    """A copy of a built data directory (so a test's changes stay its own)."""
    shutil.copytree(data, target)
    return target


@dataclass
class Server:
    url: str
    console: Console



@contextmanager
def running_console(data: Path) -> Iterator[Console]:
    """The console over ``data`` with a private in-process store, every profile published."""
    with open_store(f"memory://console-{uuid.uuid4().hex}") as store:
        cache = ScoreCache(store, list(BUILTIN), poll_interval_s=0.05)
        console = Console.open(data, store, cache)
        console.publish_all()
        with cache.start():
            yield console


@contextmanager
def serve_console(data: Path) -> Iterator[Server]:
    """``lpscore serve --data DIR`` in a thread: uvicorn on a free port until the block ends."""
    with running_console(data) as console:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_console_app(console.cache, console),
                                               host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() - started < 10, "uvicorn did not start in 10 s"
            time.sleep(0.02)
        try:
            assert httpx.get(f"{url}/api/health", timeout=5).status_code == 200
            yield Server(url, console)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
