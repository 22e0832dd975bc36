"""History store: Parquet datasets partitioned by date and symbol, queryable with DuckDB."""

from lpscore.history.store import (
    read_compact,
    read_events,
    read_quotes,
    write_events,
    write_quotes,
)

__all__ = ["read_compact", "read_events", "read_quotes", "write_events", "write_quotes"]
