"""lpscore: a liquidity-provider scorecard built from a desk's own FIX traffic.

The data flow is fix -> ingest -> kpi -> stats -> scoring -> publish -> routing; see
docs/architecture.md.
"""

from lpscore.heap import keep_freed_pages

keep_freed_pages()  # before anything loads Polars (lpscore.heap)

__version__ = "0.1.0"

__all__ = ["__version__"]
