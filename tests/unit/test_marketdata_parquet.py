"""Quote Parquet files: timestamp units and zones, the `timestamp` alias, bad rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError
from lpscore.marketdata import FileLoad, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

# 2021-01-08 00:00:00 UTC = 18_635 days * 86_400 s after the epoch.
JAN8_NS = 1_610_064_000 * 10**9


def write_table(path: Path, columns: dict[str, pa.Array]) -> Path:
    pq.write_table(pa.table(columns), path)
    return path


def test_ms_tz_aware_timestamp_alias_like_binance(tmp_path: Path) -> None:
    # Same layout as nautilus' btcusdt-quotes.parquet: timestamp[ms, UTC], symbol, ask_size,
    # ask, bid_size, bid.
    stamps = [datetime(2021, 1, 8, 0, 0, 1, 76_000, tzinfo=UTC)] * 3 + [None]
    path = write_table(
        tmp_path / "q.parquet",
        {
            "timestamp": pa.array(stamps, type=pa.timestamp("ms", tz="UTC")),
            "symbol": pa.array(["BTC/USDT"] * 4),
            "ask_size": pa.array([0.5, 0.5, 0.5, 0.5]),
            "ask": pa.array([39433.62, 39433.62, 39433.62, 39433.62]),
            "bid_size": pa.array([2.0, 2.0, -1.0, 2.0]),
            "bid": pa.array([39432.99, 39434.0, 39432.99, 39432.99]),
        },
    )
    quarantine = Quarantine()
    result = load_quotes([path], MarketDataConfig(), quarantine)
    assert result.files == (
        FileLoad(
            path=path,
            file_format="parquet",
            rows=4,
            kept=1,
            quarantined=3,
            by_reason={"bad_size": 1, "bad_timestamp": 1, "crossed_quote": 1},
        ),
    )
    assert result.quotes.schema == polars_schema(QUOTE_SCHEMA)
    assert result.quotes["ts"].dt.epoch("ns").to_list() == [JAN8_NS + 1_076_000_000]
    assert result.quotes.row(0)[1:] == ("BTC/USDT", 39432.99, 39433.62, 2.0, 0.5)
    # Parquet has no lines: the line is the 1-based row number, the offset unknown.
    assert [(r.offset, r.line, r.reason) for r in quarantine] == [
        (-1, 2, "crossed_quote"),
        (-1, 3, "bad_size"),
        (-1, 4, "bad_timestamp"),
    ]
    assert quarantine.records[0].raw == (
        "2021-01-08 00:00:01.076+00:00,BTC/USDT,0.5,39433.62,2.0,39434.0"
    )


def test_int64_epoch_ns_and_dictionary_symbols(tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "q.parquet",
        {
            "ts": pa.array([JAN8_NS + 7, JAN8_NS + 3], type=pa.int64()),
            "symbol": pa.array(["EUR/USD", "EUR/USD"]).dictionary_encode(),
            "bid": pa.array([1.1, 0.0]),
            "ask": pa.array([1.2, 1.2]),
        },
    )
    quarantine = Quarantine()
    result = load_quotes([path], MarketDataConfig(), quarantine)
    assert result.quotes["ts"].dt.epoch("ns").to_list() == [JAN8_NS + 7]
    assert result.quotes["symbol"].to_list() == ["EUR/USD"]
    assert result.quotes["bid_size"].to_list() == [None]
    assert result.files[0].by_reason == {"bad_price": 1}


@pytest.mark.parametrize(
    ("arrow_type", "value", "config_tz", "expected_ns"),
    [
        # 09:00 in Tokyo (UTC+9) is 00:00 UTC.
        (pa.timestamp("s", tz="Asia/Tokyo"), datetime(2021, 1, 8, 0, 0, tzinfo=UTC), "UTC", 0),
        # Naive values are read in csv_tz: 19:00 in New York (UTC-5 in January) = 00:00 UTC.
        (pa.timestamp("us"), datetime(2021, 1, 7, 19, 0), "America/New_York", 0),
        (pa.timestamp("ns", tz="UTC"), datetime(2021, 1, 8, 0, 0, tzinfo=UTC), "UTC", 0),
        (pa.string(), "2021-01-08T09:00:00+09:00", "UTC", 0),
    ],
)
def test_timestamp_units_and_zones(
    tmp_path: Path, arrow_type: pa.DataType, value: object, config_tz: str, expected_ns: int
) -> None:
    path = write_table(
        tmp_path / "q.parquet",
        {
            "ts": pa.array([value], type=arrow_type),
            "symbol": pa.array(["X"]),
            "bid": pa.array([1.0]),
            "ask": pa.array([2.0]),
        },
    )
    result = load_quotes([path], MarketDataConfig(csv_tz=config_tz), Quarantine())
    assert result.quotes["ts"].dt.epoch("ns").to_list() == [JAN8_NS + expected_ns]


def test_missing_column_and_bad_ts_type_are_input_errors(tmp_path: Path) -> None:
    no_ask = write_table(
        tmp_path / "a.parquet",
        {"ts": pa.array([1], type=pa.int64()), "symbol": pa.array(["X"]), "bid": pa.array([1.0])},
    )
    with pytest.raises(InputError, match=r"a\.parquet: missing required column\(s\) ask"):
        load_quotes([no_ask], MarketDataConfig(), Quarantine())
    float_ts = write_table(
        tmp_path / "b.parquet",
        {
            "ts": pa.array([1.5]),
            "symbol": pa.array(["X"]),
            "bid": pa.array([1.0]),
            "ask": pa.array([2.0]),
        },
    )
    with pytest.raises(InputError, match=r"b\.parquet: column 'ts' has type Float64"):
        load_quotes([float_ts], MarketDataConfig(), Quarantine())


def test_parquet_without_suffix_is_detected_by_magic(tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "quotes.bin",
        {
            "ts": pa.array([JAN8_NS], type=pa.int64()),
            "symbol": pa.array(["X"]),
            "bid": pa.array([1.0]),
            "ask": pa.array([2.0]),
        },
    )
    result = load_quotes([path], MarketDataConfig(), Quarantine())
    assert result.files[0].file_format == "parquet"
    assert result.kept == 1
