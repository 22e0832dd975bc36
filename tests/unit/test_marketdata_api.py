"""lpscore.marketdata public surface and format detection."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import lpscore.marketdata
from lpscore.config import MarketDataConfig
from lpscore.errors import InputError, UnknownFormatError
from lpscore.marketdata import REASONS, QuoteLoad, detect_format, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine


def test_public_api_is_exactly_documented() -> None:
    assert set(lpscore.marketdata.__all__) == {
        "ACCEPTED_FORMATS",
        "REASONS",
        "FileLoad",
        "QuoteFormat",
        "QuoteLoad",
        "detect_format",
        "load_quotes",
    }
    assert REASONS == ("bad_timestamp", "bad_symbol", "bad_price", "crossed_quote", "bad_size")


def test_no_paths_gives_an_empty_table_of_the_quote_schema() -> None:
    result = load_quotes([], MarketDataConfig(), Quarantine())
    assert result == QuoteLoad(quotes=result.quotes, files=())
    assert result.quotes.height == 0
    assert result.quotes.schema == polars_schema(QUOTE_SCHEMA)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("q.csv", b"ts,symbol,bid,ask\n", "csv"),
        ("q.CSV.GZ", gzip.compress(b"ts,symbol,bid,ask\n", mtime=0), "csv"),
        ("quotes.dat", b"timestamp,symbol,bid,ask\n", "csv"),
        ("quotes.dat.gz", gzip.compress(b"ts,symbol,bid,ask\n", mtime=0), "csv"),
        ("AMZN_2012-06-21_34200000_57600000_message_1.csv", b"", "lobster"),
        ("AMZN_2012-06-21_34200000_57600000_orderbook_10.csv.gz", b"", "lobster"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("session.log", b"20220106-10:00:00.000 : 8=FIX.4.4\x019=5\x0135=0\x0110=000\x01\n"),
        ("quotes.json", b'{"ts": 1, "bid": 1}\n'),
        ("quotes.parquet", b"not really parquet"),
        ("AMZN_message_1.csv.zip", b"PK\x03\x04"),
    ],
)
def test_unknown_format_names_the_file_and_the_accepted_formats(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnknownFormatError) as info:
        load_quotes([path], MarketDataConfig(), Quarantine())
    message = str(info.value)
    assert str(path) in message
    for accepted in ("CSV", "Parquet", "LOBSTER", ".csv.gz"):
        assert accepted in message


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        detect_format(tmp_path / "absent.csv")
