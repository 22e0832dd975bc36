"""lpscore.ingest.records.read_bytes: uncompressed regular files are mapped, the rest read."""

import gzip
import mmap
import os
from pathlib import Path

import pytest

from lpscore.config import load_config
from lpscore.errors import ConfigError, InputError
from lpscore.ingest.records import read_bytes

LINE = b"20220106-07:00:30.887314000 : 8=FIX.4.4\x019=5\x0135=0\x0110=000\x01\n"


def test_a_regular_file_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(LINE * 3)
    data = read_bytes(path)
    assert isinstance(data, mmap.mmap)
    assert data[:] == LINE * 3
    assert data[len(LINE) : 2 * len(LINE)] == LINE
    assert read_bytes(path, memory_map=False) == LINE * 3


def test_gzip_and_empty_files_are_read(tmp_path: Path) -> None:
    zipped = tmp_path / "a.log"  # gzip by its magic bytes, whatever the name
    zipped.write_bytes(gzip.compress(LINE))
    assert read_bytes(zipped) == LINE
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert read_bytes(empty) == b""


def test_a_pipe_is_read_not_mapped(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # the writer
        with open(fifo, "wb") as out:
            out.write(LINE * 2)
        os._exit(0)
    data = read_bytes(fifo)
    os.waitpid(pid, 0)
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
