"""History store: Parquet datasets partitioned by date and symbol, queryable with DuckDB."""

from lpscore.history.state import (
    StoreState,
    add_counts,
    begin_append,
    clear_state,
    end_append,
    held,
    read_data_quality,
    read_state,
    unfinished,
    write_state,
)
from lpscore.history.store import (
    append_events,
    append_quotes,
    new_quotes,
    partitions_of,
    read_compact,
    read_events,
    read_quotes,
    store_files,
    write_events,
    write_quotes,
)

__all__ = ["StoreState", "add_counts", "append_events", "append_quotes", "begin_append",
           "clear_state", "end_append", "held", "new_quotes",
           "partitions_of", "read_compact", "read_data_quality", "read_events", "read_quotes",
           "read_state", "store_files", "unfinished", "write_events", "write_quotes",
           "write_state"]
