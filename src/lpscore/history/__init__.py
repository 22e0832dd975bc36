"""History store: Parquet datasets partitioned by date and symbol, queryable with DuckDB."""

from lpscore.history.state import StoreState, read_state, write_state
from lpscore.history.store import (
    append_events,
    append_quotes,
    drop_from,
    read_compact,
    read_events,
    read_quotes,
    store_files,
    write_events,
    write_quotes,
)

__all__ = ["StoreState", "append_events", "append_quotes", "drop_from", "read_compact",
           "read_events", "read_quotes", "read_state", "store_files", "write_events",
           "write_quotes", "write_state"]
