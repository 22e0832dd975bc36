"""lpscore.ingest.records.read_bytes: large regular files are mapped, the rest read; gzip
files (logs and quotes, lpscore.gzipped) decompressed, or refused with what to do."""

import gzip
import mmap
import os
import threading
from pathlib import Path

import pytest

from lpscore.config import IngestConfig, load_config
from lpscore.errors import ConfigError, InputError
from lpscore.ingest import ingest_logs, pipeline, records
from lpscore.ingest.records import MAP_MIN_BYTES, read_bytes
from lpscore.marketdata.files import read_bytes as quote_bytes
from realdata import MOEX_ORDERS

LINE = b"20220106-07:00:30.887314000 : 8=FIX.4.4\x019=5\x0135=0\x0110=000\x01\n"


def _open_in(directory: Path) -> int:
    """File descriptors of this process open on files in ``directory``."""
    fds = Path("/proc/self/fd")
    return sum(os.path.realpath(fd).startswith(str(directory.resolve())) for fd in fds.iterdir())


def test_a_large_file_is_mapped_a_small_one_read(tmp_path: Path) -> None:
    copies = MAP_MIN_BYTES // len(LINE) + 1
    path = tmp_path / "a.log"
    path.write_bytes(LINE * copies)
    data = read_bytes(path)
    assert isinstance(data, mmap.mmap)
    assert len(data) == len(LINE) * copies
    assert data[len(LINE) : 2 * len(LINE)] == LINE
    assert read_bytes(path, memory_map=False) == LINE * copies
    small = tmp_path / "small.log"
    small.write_bytes(LINE * (copies - 2))
    assert type(read_bytes(small)) is bytes


def test_an_ingest_holds_a_bounded_number_of_maps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each map holds a file descriptor while the events point into it: an ingest of many
    files maps the first ``_MAX_MAPS`` and reads the others, with the same events."""
    monkeypatch.setattr(records, "MAP_MIN_BYTES", 0)
    monkeypatch.setattr(pipeline, "_MAX_MAPS", 5)
    paths = []
    for i in range(20):
        paths.append(tmp_path / f"f{i}.log")
        paths[-1].write_bytes(MOEX_ORDERS.read_bytes())
    held = ingest_logs(paths, IngestConfig())
    assert _open_in(tmp_path) == 5
    read = ingest_logs(paths, IngestConfig(memory_map=False))
    assert held.events.equals(read.events)
    assert held.events.height > 0


@pytest.mark.parametrize("map_from", [0, MAP_MIN_BYTES])
def test_gzip_files_are_decompressed_empty_ones_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, map_from: int,
) -> None:
    """A gzip file's bytes decompressed, from its map (large) or from the bytes read."""
    monkeypatch.setattr(records, "MAP_MIN_BYTES", map_from)
    zipped = tmp_path / "a.log"  # gzip by its magic bytes, whatever the name
    zipped.write_bytes(gzip.compress(LINE * 3))
    assert read_bytes(zipped) == LINE * 3
    assert type(read_bytes(zipped)) is bytes
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert read_bytes(empty) == b""
    assert _open_in(tmp_path) == 0  # no map kept


def _corrupt_and_truncated(tmp_path: Path) -> list[Path]:
    """A gzip whose deflate stream is garbled (zlib.error, not an OSError) and one cut in
    half (EOFError)."""
    good = gzip.compress(LINE * 2_000, mtime=0)
    corrupt, cut = tmp_path / "corrupt.log.gz", tmp_path / "cut.log.gz"
    corrupt.write_bytes(good[:20] + bytes(b ^ 0x55 for b in good[20:60]) + good[60:])
    cut.write_bytes(good[: len(good) // 2])
    return [corrupt, cut]


@pytest.mark.parametrize("map_from", [0, MAP_MIN_BYTES])
def test_a_broken_gzip_log_stops_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, map_from: int,
) -> None:
    monkeypatch.setattr(records, "MAP_MIN_BYTES", map_from)
    for path in _corrupt_and_truncated(tmp_path):
        with pytest.raises(InputError, match=r"corrupt or truncated gzip .*Copy it again"):
            read_bytes(path)
        with pytest.raises(InputError, match=str(path.name)):
            ingest_logs([path], IngestConfig())


def test_a_broken_gzip_quote_file_stops_the_same_way(tmp_path: Path) -> None:
    for path in _corrupt_and_truncated(tmp_path):
        with pytest.raises(InputError, match=r"corrupt or truncated gzip .*Copy it again"):
            quote_bytes(path)


def test_a_pipe_is_read_not_mapped(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(LINE * 2))
    writer.start()
    data = read_bytes(fifo)
    writer.join()
    assert type(data) is bytes
    assert data == LINE * 2


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read .*check the path"):
        read_bytes(tmp_path / "nope.log")


def test_memory_map_is_an_ingest_option(tmp_path: Path) -> None:
    path = tmp_path / "lpscore.toml"
    path.write_text("[ingest]\nmemory_map = false\n")
    assert load_config(path).ingest.memory_map is False
    path.write_text("[ingest]\nmemory_map = 'no'\n")
    with pytest.raises(ConfigError, match="memory_map"):
        load_config(path)
