"""A self-contained HTML report of the LP KPIs of one `lpscore kpis` run.

    render_report(summary, orders, fills, *, title) -> str     the HTML5 document
    write_report(path, summary, orders, fills, *, title) -> Path

``summary`` is the JSON that `lpscore kpis --format json` prints; ``orders`` and ``fills`` are
the orders.parquet and fills.parquet of the same run (docs/kpi-outputs.md). The page has
inline CSS and SVG charts and no script or external reference; docs/report.md shows what each
section holds.
"""

from lpscore.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
