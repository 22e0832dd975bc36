"""History store: Parquet datasets partitioned by date and symbol, queryable with DuckDB."""

from lpscore.history.state import (
    StoreState,
    add_counts,
    clear_state,
    read_data_quality,
    read_state,
    write_state,
)
from lpscore.history.store import (
    append_events,
    append_quotes,
    drop_from,
    files_from,
    new_quotes,
    read_compact,
    read_events,
    read_quotes,
    store_files,
    write_events,
    write_quotes,
)

__all__ = ["StoreState", "add_counts", "append_events", "append_quotes", "clear_state",
           "drop_from", "files_from", "new_quotes", "read_compact", "read_data_quality",
           "read_events", "read_quotes", "read_state", "store_files", "write_events",
           "write_quotes", "write_state"]
