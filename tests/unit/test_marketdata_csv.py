"""Quote CSVs: every quarantine reason, timestamp forms, reconciliation and line numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from lpscore.config import MarketDataConfig
from lpscore.errors import InputError, UnknownFormatError
from lpscore.marketdata import FileLoad, QuoteLoad, load_quotes
from lpscore.model.schema import QUOTE_SCHEMA, polars_schema
from lpscore.quarantine import Quarantine

# 2024-03-01 00:00:00 UTC is 1_709_251_200 s after the epoch (19_783 days * 86_400);
# 10:00 UTC adds 36_000 s.
TEN_UTC_NS = 1_709_287_200 * 10**9

REASONS_CSV = """\
ts,symbol,bid,ask,bid_size,ask_size
2024-03-01T10:00:00Z,EUR/USD,1.1,1.2,1,2
2024-03-01T10:00:01Z,EUR/USD,1.3,1.2,1,2
2024-03-01T10:00:02Z,EUR/USD,1.2,1.2,1,2
2024-03-01T10:00:03Z,EUR/USD,0,1.2,1,2
2024-03-01T10:00:04Z,EUR/USD,1.1,NaN,1,2
2024-03-01T10:00:05Z,EUR/USD,1.1,1.2,-5,2
not-a-time,EUR/USD,1.1,1.2,1,2
2024-03-01T10:00:06Z,EUR/USD,1.1,1.2,,
"""
# line: 1 header, 2 ok, 3 crossed, 4 locked (ok), 5 zero bid, 6 NaN ask, 7 negative size,
# 8 bad timestamp, 9 ok without sizes.


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def load(*paths: Path, config: MarketDataConfig | None = None) -> tuple[QuoteLoad, Quarantine]:
    quarantine = Quarantine()
    result = load_quotes(list(paths), config or MarketDataConfig(), quarantine)
    for file in result.files:
        assert file.rows == file.kept + file.quarantined
    return result, quarantine


def epoch_ns(frame: pl.DataFrame) -> list[int]:
    return frame["ts"].dt.epoch("ns").to_list()


def test_each_reason_is_counted_and_located(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", REASONS_CSV)
    result, quarantine = load(path)

    assert result.files == (
        FileLoad(
            path=path,
            file_format="csv",
            rows=8,
            kept=3,
            quarantined=5,
            by_reason={"bad_price": 2, "bad_size": 1, "bad_timestamp": 1, "crossed_quote": 1},
        ),
    )
    records = [(r.line, r.reason) for r in quarantine]
    assert records == [
        (3, "crossed_quote"),
        (5, "bad_price"),
        (6, "bad_price"),
        (7, "bad_size"),
        (8, "bad_timestamp"),
    ]
    lines = REASONS_CSV.splitlines()
    for record in quarantine:
        text = lines[record.line - 1]
        assert record.raw == text
        assert record.offset == REASONS_CSV.index(text + "\n")
        assert record.source == str(path)
        assert record.stage == "marketdata"
    assert quarantine.records[0].detail == "bid=1.3 ask=1.2"
    assert quarantine.by_reason(str(path)) == result.files[0].by_reason


def test_kept_rows_include_the_locked_quote(tmp_path: Path) -> None:
    result, _ = load(write(tmp_path, "q.csv", REASONS_CSV))
    quotes = result.quotes
    assert quotes.schema == polars_schema(QUOTE_SCHEMA)
    assert quotes["bid"].to_list() == [1.1, 1.2, 1.1]
    assert quotes["ask"].to_list() == [1.2, 1.2, 1.2]
    assert quotes["bid_size"].to_list() == [1.0, 1.0, None]
    assert quotes["ask_size"].to_list() == [2.0, 2.0, None]
    assert epoch_ns(quotes) == [TEN_UTC_NS, TEN_UTC_NS + 2 * 10**9, TEN_UTC_NS + 6 * 10**9]


def test_other_bad_values(tmp_path: Path) -> None:
    text = (
        "ts,symbol,bid,ask,bid_size,ask_size\n"
        "2024-03-01T10:00:00Z,X,-1,2,1,1\n"  # 2 negative bid
        "2024-03-01T10:00:00Z,X,,2,1,1\n"  # 3 missing bid
        "2024-03-01T10:00:00Z,X,abc,2,1,1\n"  # 4 bid not a number
        "2024-03-01T10:00:00Z,X,1,inf,1,1\n"  # 5 infinite ask
        "2024-03-01T10:00:00Z,X,1,2,1,lots\n"  # 6 size not a number
        "2024-03-01T10:00:00Z,X,1,2,NaN,1\n"  # 7 NaN size
        "2024-03-01T10:00:00Z,,1,2,1,1\n"  # 8 no symbol
        ",X,1,2,1,1\n"  # 9 no ts
        "2024-02-30T10:00:00Z,X,1,2,1,1\n"  # 10 no such day
        "2024-03-01T10:00:00Z,X,1,2,0,0\n"  # 11 zero sizes are fine
    )
    path = write(tmp_path, "q.csv", text)
    result, quarantine = load(path)
    assert result.files[0].by_reason == {
        "bad_price": 4,
        "bad_size": 2,
        "bad_symbol": 1,
        "bad_timestamp": 2,
    }
    assert (result.files[0].rows, result.files[0].kept) == (10, 1)
    assert [r.line for r in quarantine] == [2, 3, 4, 5, 6, 7, 8, 9, 10]


def test_timestamp_forms_give_the_same_utc_instant(tmp_path: Path) -> None:
    text = (
        "ts,symbol,bid,ask\n"
        "2024-03-01T10:00:00Z,A,1,2\n"
        "2024-03-01T12:00:00+02:00,B,1,2\n"
        "2024-03-01T05:00:00.5-0500,C,1,2\n"
        "2024-03-01 10:00:00.123456789,D,1,2\n"
        f"{TEN_UTC_NS + 1},E,1,2\n"
        "2024-03-01 10:00:00+00:00,F,1,2\n"
    )
    result, quarantine = load(write(tmp_path, "q.csv", text))
    assert len(quarantine) == 0
    assert result.quotes["symbol"].to_list() == ["A", "B", "C", "D", "E", "F"]
    assert epoch_ns(result.quotes) == [
        TEN_UTC_NS,
        TEN_UTC_NS,
        TEN_UTC_NS + 500_000_000,
        TEN_UTC_NS + 123_456_789,
        TEN_UTC_NS + 1,
        TEN_UTC_NS,
    ]


def test_naive_times_use_csv_tz(tmp_path: Path) -> None:
    text = (
        "ts,symbol,bid,ask\n"
        "2024-03-01 11:00:00,A,1,2\n"  # CET, UTC+1: 10:00 UTC
        "2024-07-01 12:00:00,B,1,2\n"  # CEST, UTC+2: 10:00 UTC on 2024-07-01
        "2024-03-31 02:30:00,C,1,2\n"  # skipped by the spring-forward change: no such time
        "2024-03-01T10:00:00Z,D,1,2\n"  # an explicit offset ignores csv_tz
    )
    config = MarketDataConfig(csv_tz="Europe/Berlin")
    result, quarantine = load(write(tmp_path, "q.csv", text), config=config)
    # 2024-07-01 is 122 days after 2024-03-01.
    assert epoch_ns(result.quotes) == [TEN_UTC_NS, TEN_UTC_NS + 122 * 86_400 * 10**9, TEN_UTC_NS]
    assert [(r.line, r.reason) for r in quarantine] == [(4, "bad_timestamp")]


def test_sorted_by_symbol_then_time_keeping_file_order_for_ties(tmp_path: Path) -> None:
    first = write(
        tmp_path,
        "a.csv",
        "ts,symbol,bid,ask\n"
        "2024-03-01T10:00:02Z,B,1,9\n"
        "2024-03-01T10:00:01Z,B,2,9\n"
        "2024-03-01T10:00:01Z,A,3,9\n"
        "2024-03-01T10:00:01Z,B,4,9\n",
    )
    second = write(tmp_path, "b.csv", "ts,symbol,bid,ask\n2024-03-01T10:00:01Z,B,5,9\n")
    result, _ = load(first, second)
    assert result.quotes["symbol"].to_list() == ["A", "B", "B", "B", "B"]
    assert result.quotes["bid"].to_list() == [3.0, 2.0, 4.0, 5.0, 1.0]
    assert [f.path for f in result.files] == [first, second]
    assert (result.rows, result.kept, result.quarantined) == (5, 5, 0)


def test_header_variants_extra_columns_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "\ufeffTimestamp, Symbol ,BID,Ask,venue,ask_size\n"
        "2024-03-01T10:00:00Z,X,1,2,ECN1,7\n"
        "\n"
        "2024-03-01T10:00:01Z,X,0,2,ECN1,7\n"
        "\n"
    )
    path = write(tmp_path, "q.csv", text)
    result, quarantine = load(path)
    assert result.files[0].rows == 2
    assert result.files[0].empty_rows == 2
    assert result.quotes["ask_size"].to_list() == [7.0]
    assert result.quotes["bid_size"].to_list() == [None]
    assert [(r.line, r.reason) for r in quarantine] == [(4, "bad_price")]


def test_gzip_csv_has_lines_but_no_file_offsets(tmp_path: Path) -> None:
    path = tmp_path / "q.csv.gz"
    path.write_bytes(gzip.compress(REASONS_CSV.replace("\n", "\r\n").encode()))
    result, quarantine = load(path)
    assert result.files[0].by_reason == {
        "bad_price": 2,
        "bad_size": 1,
        "bad_timestamp": 1,
        "crossed_quote": 1,
    }
    assert [r.line for r in quarantine] == [3, 5, 6, 7, 8]
    assert {r.offset for r in quarantine} == {-1}
    assert quarantine.records[0].raw == "2024-03-01T10:00:01Z,EUR/USD,1.3,1.2,1,2"


def test_quoted_newline_falls_back_to_rendered_values(tmp_path: Path) -> None:
    text = 'ts,symbol,bid,ask\n2024-03-01T10:00:00Z,"EUR\nUSD",2,1\n'
    result, quarantine = load(write(tmp_path, "q.csv", text))
    assert result.files[0].by_reason == {"crossed_quote": 1}
    record = quarantine.records[0]
    assert (record.offset, record.line) == (-1, -1)
    assert record.raw == "2024-03-01T10:00:00Z,EUR\\x0aUSD,2,1"


def test_header_only_file_loads_nothing(tmp_path: Path) -> None:
    result, _ = load(write(tmp_path, "q.csv", "ts,symbol,bid,ask\n"))
    assert result.quotes.height == 0
    assert result.quotes.schema == polars_schema(QUOTE_SCHEMA)
    assert result.files[0].rows == 0


def test_missing_required_column_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", "ts,bid,ask\n2024-03-01T10:00:00Z,1,2\n")
    with pytest.raises(InputError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    assert "missing required column(s) symbol" in message
    assert "ts,symbol,bid,ask,bid_size,ask_size" in message
    assert not isinstance(info.value, UnknownFormatError)


@pytest.mark.parametrize(("header", "named"), [
    ("ts,symbol,bid,ask,ts", "'ts' appears twice in the header ('ts', 'ts')"),
    ("ts,symbol,bid,Bid,ask", "'bid' appears twice in the header ('bid', 'Bid')"),
    ("timestamp,symbol,bid,ask,Timestamp", "'ts' appears twice"),
])
def test_a_column_named_twice_is_an_input_error(tmp_path: Path, header: str,
                                                named: str) -> None:
    """Which of the two columns holds the values is anyone's guess: none is taken."""
    path = write(tmp_path, "q.csv", f"{header}\n2024-03-01T10:00:00Z,X,1,2,3\n")
    with pytest.raises(InputError, match=r"keep one") as info:
        load(path)
    assert named in str(info.value)


def test_ts_and_its_alias_together_take_ts(tmp_path: Path) -> None:
    text = "timestamp,symbol,bid,ask,ts\n2024-03-01T10:00:00Z,X,1,2,2024-03-01T10:00:05Z\n"
    result, _ = load(write(tmp_path, "q.csv", text))
    assert result.quotes["ts"].dt.second().to_list() == [5]


def test_errors_come_before_any_quarantine(tmp_path: Path) -> None:
    good = write(tmp_path, "q.csv", REASONS_CSV)
    unknown = write(tmp_path, "notes.txt", "hello\n")
    quarantine = Quarantine()
    with pytest.raises(UnknownFormatError):
        load_quotes([good, unknown], MarketDataConfig(), quarantine)
    assert len(quarantine) == 0


def test_empty_csv_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty file"):
        load(write(tmp_path, "q.csv", ""))
