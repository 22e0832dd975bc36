"""Synthetic LOBSTER pairs: empty sides, crossed and locked books, bad times, pairing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError
from lpscore.marketdata import load_quotes
from lpscore.quarantine import Quarantine

STEM = "TEST_2024-01-02_34200000_57600000"
MESSAGES = (
    "34200.000000001,1,1,100,1000000,1\n"  # 1 ok
    "34200.5,1,2,100,1010000,-1\n"  # 2 locked book: valid
    "34201,3,2,100,1010000,-1\n"  # 3 empty ask side (dummy price)
    "34202.25,3,1,100,1000000,1\n"  # 4 empty bid side (dummy price)
    "34203.000000000,1,3,100,1030000,1\n"  # 5 crossed
    "3420x.1,1,4,100,1000000,1\n"  # 6 bad time
)
BOOKS = (
    "1010000,100,1000000,100\n"
    "1010000,100,1010000,100\n"
    "9999999999,0,1000000,100\n"
    "1010000,100,-9999999999,0\n"
    "1020000,100,1030000,100\n"
    "1010000,100,1000000,100\n"
)
# 2024-01-02 00:00 UTC = 19_724 days * 86_400 s; midnight EST (UTC-5) is 05:00 UTC.
MIDNIGHT_ET_NS = (1_704_153_600 + 5 * 3600) * 10**9


def write_pair(folder: Path, messages: str = MESSAGES, books: str = BOOKS) -> tuple[Path, Path]:
    message = folder / f"{STEM}_message_1.csv"
    orderbook = folder / f"{STEM}_orderbook_1.csv"
    message.write_text(messages)
    orderbook.write_text(books)
    return message, orderbook


def test_reasons_times_and_prices(tmp_path: Path) -> None:
    _, orderbook = write_pair(tmp_path)
    quarantine = Quarantine()
    result = load_quotes([orderbook], MarketDataConfig(), quarantine)
    (load,) = result.files
    assert (load.path, load.rows, load.kept, load.quarantined) == (orderbook, 6, 2, 4)
    assert load.by_reason == {"bad_price": 2, "bad_timestamp": 1, "crossed_quote": 1}
    assert result.quotes["ts"].dt.epoch("ns").to_list() == [
        MIDNIGHT_ET_NS + 34_200_000_000_001,
        MIDNIGHT_ET_NS + 34_200_500_000_000,
    ]
    assert result.quotes["symbol"].to_list() == ["TEST", "TEST"]
    assert result.quotes["bid"].to_list() == [100.0, 101.0]
    assert result.quotes["ask"].to_list() == [101.0, 101.0]
    assert [(r.line, r.reason) for r in quarantine] == [
        (3, "bad_price"),
        (4, "bad_price"),
        (5, "crossed_quote"),
        (6, "bad_timestamp"),
    ]
    book_lines = BOOKS.splitlines(keepends=True)
    first = quarantine.records[0]
    assert first.source == str(orderbook)
    assert first.offset == len(book_lines[0]) + len(book_lines[1])
    assert first.raw == "34201,3,2,100,1010000,-1,9999999999,0,1000000,100"
    assert first.detail == "bid=100.0 ask=None"


def test_gzip_pair_matches_plain(tmp_path: Path) -> None:
    message, orderbook = write_pair(tmp_path)
    for path in (message, orderbook):
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
        path.unlink()
    quarantine = Quarantine()
    result = load_quotes([tmp_path / f"{message.name}.gz"], MarketDataConfig(), quarantine)
    assert result.files[0].path == tmp_path / f"{orderbook.name}.gz"
    assert (result.kept, result.quarantined) == (2, 4)
    assert {r.offset for r in quarantine} == {-1}


def test_missing_partner_is_an_input_error(tmp_path: Path) -> None:
    message, orderbook = write_pair(tmp_path)
    orderbook.unlink()
    with pytest.raises(InputError, match=f"without its orderbook file {orderbook.name}"):
        load_quotes([message], MarketDataConfig(), Quarantine())


def test_unequal_pair_is_an_input_error(tmp_path: Path) -> None:
    _, orderbook = write_pair(tmp_path, books=BOOKS + "1010000,100,1000000,100\n")
    with pytest.raises(InputError, match="7 orderbook rows but 6 rows"):
        load_quotes([orderbook], MarketDataConfig(), Quarantine())


def test_too_few_book_columns_is_an_input_error(tmp_path: Path) -> None:
    _, orderbook = write_pair(tmp_path, messages="34200.1,1,1,1,1,1\n", books="1,2\n")
    with pytest.raises(InputError, match="at least 4 columns"):
        load_quotes([orderbook], MarketDataConfig(), Quarantine())


def test_sub_dollar_prices_are_exact(tmp_path: Path) -> None:
    _, orderbook = write_pair(tmp_path, messages="34200.1,1,1,1,700,-1\n", books="700,1,500,2\n")
    result = load_quotes([orderbook], MarketDataConfig(), Quarantine())
    assert result.quotes.row(0)[2:] == (0.05, 0.07, 2.0, 1.0)
