"""Real quote files: the LOBSTER AMZN slice, TrueFX USD/JPY, Binance BTC/USDT Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from lpscore.config import MarketDataConfig
from lpscore.marketdata import FileLoad, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

DATA = Path(__file__).parents[1] / "data" / "quotes"
REAL = Path("/work/shared/data/real")
STEM = "AMZN_2012-06-21_34200000_57600000"
MESSAGE = DATA / f"{STEM}_message_1.csv"
ORDERBOOK = DATA / f"{STEM}_orderbook_1.csv"

# First message row: time 34200.017459617 s after midnight ET; its book row:
# 2239500,100,2231800,100 (ask, ask size, bid, bid size).
# 2012-06-21 00:00 UTC = 15_512 days * 86_400 = 1_340_236_800 s. Midnight ET (EDT, UTC-4) is
# 04:00 UTC (+14_400 s); +34_200 s is 13:30:00 UTC. So 2012-06-21 13:30:00.017459617 UTC.
FIRST_NS = (1_340_236_800 + 14_400 + 34_200) * 10**9 + 17_459_617


def test_lobster_slice() -> None:
    quarantine = Quarantine()
    result = load_quotes([MESSAGE], MarketDataConfig(), quarantine)
    assert result.files == (
        FileLoad(
            path=ORDERBOOK, file_format="lobster", rows=2000, kept=2000, quarantined=0, by_reason={}
        ),
    )
    assert len(quarantine) == 0
    quotes = result.quotes
    assert quotes.schema == polars_schema(QUOTE_SCHEMA)
    assert quotes["ts"].dt.epoch("ns")[0] == FIRST_NS
    assert str(quotes["ts"][0]) == "2012-06-21 13:30:00.017459+00:00"  # datetime shows us
    assert quotes.row(0)[1:] == ("AMZN", 223.18, 223.95, 100.0, 100.0)
    assert set(quotes["symbol"]) == {"AMZN"}


def test_lobster_slice_keeps_file_order_through_duplicate_times() -> None:
    # The slice is in time order and holds 231 repeated message times: a stable sort by
    # (symbol, ts) must give the orderbook rows back in file order.
    book = np.loadtxt(ORDERBOOK, delimiter=",", dtype=np.int64)
    result = load_quotes([ORDERBOOK], MarketDataConfig(), Quarantine())
    assert result.quotes["ts"].is_sorted()
    assert result.quotes["ts"].n_unique() < 2000
    assert result.quotes["ask"].to_list() == (book[:, 0] / 10_000).tolist()
    assert result.quotes["bid"].to_list() == (book[:, 2] / 10_000).tolist()
    assert result.quotes["ask_size"].to_list() == book[:, 1].astype(float).tolist()


def test_lobster_pair_named_twice_loads_once() -> None:
    result = load_quotes([MESSAGE, ORDERBOOK, MESSAGE], MarketDataConfig(), Quarantine())
    assert len(result.files) == 1
    assert result.quotes.height == 2000


def test_lobster_tz_is_configurable() -> None:
    # London in June is UTC+1, New York UTC-4: the same wall clock is 5 h earlier in UTC.
    config = MarketDataConfig(lobster_tz="Europe/London")
    result = load_quotes([MESSAGE], config, Quarantine())
    assert result.quotes["ts"].dt.epoch("ns")[0] == FIRST_NS - 5 * 3600 * 10**9


def test_truefx_usdjpy_slice() -> None:
    path = DATA / "usdjpy-ticks.csv"
    quarantine = Quarantine()
    result = load_quotes([path], MarketDataConfig(), quarantine)
    assert result.files == (
        FileLoad(path=path, file_format="csv", rows=199, kept=199, quarantined=0, by_reason={}),
    )
    quotes = result.quotes
    # 2013-01-01 00:00 UTC = 1_356_998_400 s; 22:00:00.295 adds 79_200.295 s.
    assert quotes["ts"].dt.epoch("ns")[0] == 1_357_077_600_295_000_000
    assert quotes.row(0)[1:] == ("USD/JPY", 86.655, 86.728, None, None)
    # Last of the 199 ticks: 22:12:08.103 = 79_928.103 s after midnight.
    assert quotes["ts"].dt.epoch("ns")[-1] == 1_357_078_328_103_000_000
    assert quotes.row(-1)[2:4] == (86.738, 86.751)


BTC = REAL / "crypto-nautilus-test_data" / "btcusdt-quotes.parquet"


@pytest.mark.skipif(not BTC.is_file(), reason="shared real data not present")
def test_binance_btcusdt_parquet() -> None:
    table = pq.read_table(BTC)
    result = load_quotes([BTC], MarketDataConfig(), Quarantine())
    assert result.files[0].rows == 451
    assert result.kept == 451
    order = np.argsort(table["timestamp"].to_numpy(), kind="stable")
    expected_ns = table["timestamp"].cast("int64").to_numpy()[order] * 1_000_000
    assert result.quotes["ts"].dt.epoch("ns").to_list() == expected_ns.tolist()
    assert result.quotes["bid"].to_list() == table["bid"].to_numpy()[order].tolist()
    # 2021-01-08 00:00:01.076 UTC; 18_635 days * 86_400 = 1_610_064_000 s.
    assert result.quotes["ts"].dt.epoch("ns")[0] == 1_610_064_001_076_000_000
    assert result.quotes.row(0)[1:] == ("BTC/USDT", 39432.99, 39433.62, 0.0031, 0.066851)


LOBSTER_REAL = REAL / "lobster-sample-level1"


@pytest.mark.skipif(not LOBSTER_REAL.is_dir(), reason="shared real data not present")
def test_full_real_amzn_pair() -> None:
    result = load_quotes(
        [LOBSTER_REAL / f"{STEM}_orderbook_1.csv"], MarketDataConfig(), Quarantine()
    )
    assert (result.rows, result.kept, result.quarantined) == (57_515, 57_515, 0)
    assert result.quotes["ts"].dt.epoch("ns")[0] == FIRST_NS
    # The session ends before 16:00 ET = 20:00 UTC.
    assert result.quotes["ts"].dt.epoch("ns")[-1] < FIRST_NS + int(6.5 * 3600) * 10**9
