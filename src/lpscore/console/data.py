"""What the console reads from a data directory (``lpscore kpis --out DIR``), read-only.

    data = DataDir.open(Path("out/demo"))
    data.result                     # a KpiResult rebuilt from fills/orders.parquet
    data.summary(["lp"])            # summary_json rows of kpi.aggregate, one per group
    data.series("LP_A", "5m")       # the same KPIs per LP and time bucket
    data.decisions().items          # routing decisions appended so far, oldest first

The KPIs are those of the KPI engine (kpi.aggregate.kpi_stats and summarize, undecayed, as
``lpscore kpis`` prints them); this module only groups and shapes them for the console.
Routing decisions come from ``DIR/decisions.jsonl``, the journal of
``lpscore.routing.journal`` (``data.decisions()``), followed while the console runs: see
``console/decisions.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import polars as pl

from lpscore.console.decisions import DecisionFile, Decisions
from lpscore.errors import InputError
from lpscore.kpi.aggregate import kpi_stats, summarize, summary_json
from lpscore.kpi.engine import KpiResult

__all__ = ["BUCKETS", "DECISIONS", "DataDir"]

BUCKETS = {"1d": "1d", "1h": "1h", "15m": "15m", "5m": "5m", "1m": "1m"}
"""Time-series bucket -> Polars truncation interval."""
HISTOGRAM_BINS = 20
DECISIONS = "decisions.jsonl"
T = TypeVar("T")


@dataclass
class DataDir:
    """A KPI output directory, loaded once; views computed on first use and kept. The
    decision journal is the exception: it grows while the console runs."""

    path: Path
    result: KpiResult | None
    journal: DecisionFile
    _memo: dict[tuple[str, ...], object] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, path: Path) -> DataDir:
        """Read ``path``; a directory without KPI tables still serves users, profiles and
        audit (``result`` is None)."""
        if not path.is_dir():
            raise InputError(f"--data {path}: no such directory; give the --out directory "
                             "of `lpscore kpis`")
        tables = [path / n for n in ("fills.parquet", "orders.parquet", "kpis.json")]
        result = None
        if all(p.is_file() for p in tables):
            horizons = json.loads(tables[2].read_text(encoding="utf-8"))["horizons"]
            fills = pl.read_parquet(tables[0], glob=False)
            if "pi_amount" not in fills.columns and {"pi_bps", "m0", "q"} <= set(fills.columns):
                # written before it was kept: the same, to rounding (kpis.md, deviation 15)
                fills = fills.with_columns(
                    (pl.col("pi_bps") * pl.col("m0") * pl.col("q") / 1e4).alias("pi_amount"))
            result = KpiResult(fills=fills,
                               orders=pl.read_parquet(tables[1], glob=False),
                               horizons=[str(h) for h in horizons],
                               clock_offsets=pl.DataFrame())
        data = cls(path, result, DecisionFile(path / DECISIONS))
        try:
            data.summary(["lp"])        # read now: a table it cannot read stops the start
        except pl.exceptions.PolarsError as exc:
            why = (str(exc).split("; valid columns")[0].splitlines() or [type(exc).__name__])[0]
            raise InputError(f"--data {path}: its KPI tables cannot be read ({why}); they may "
                             "come from another lpscore version: run `lpscore kpis ... --out "
                             f"{path}` again") from exc
        return data

    def decisions(self) -> Decisions:
        """The routing decisions in DIR/decisions.jsonl now, oldest first."""
        return self.journal.read()

    @property
    def horizons(self) -> list[str]:
        return [] if self.result is None else list(self.result.horizons)

    @property
    def lps(self) -> list[str]:
        if self.result is None:
            return []
        return sorted(str(x) for x in self.result.orders["lp"].unique().drop_nulls())

    def _cached(self, key: tuple[str, ...], make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._memo:
                self._memo[key] = make()
            return cast(T, self._memo[key])

    def summary(self, keys: list[str]) -> list[dict[str, Any]]:
        """One row per group of ``keys`` (``lp`` first): the JSON of ``lpscore kpis``."""
        def make() -> list[dict[str, Any]]:
            if self.result is None or self.result.orders.height == 0:
                return []
            stats = kpi_stats(self.result, keys)
            return list(summary_json(summarize(stats, self.horizons), self.horizons,
                                     keys, {})["lps"])
        return list(self._cached(("summary", *keys), make))

    def series(self, lp: str, bucket: str) -> list[dict[str, Any]]:
        """The LP's KPIs per time bucket (``period``: ISO start of the bucket, UTC)."""
        def make() -> list[dict[str, Any]]:
            if self.result is None or self.result.orders.height == 0:
                return []
            orders = self.result.orders.with_columns(
                pl.col("t_send").dt.truncate(BUCKETS[bucket])
                .dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("period"))
            shifted = KpiResult(self.result.fills, orders, self.result.horizons,
                                self.result.clock_offsets)
            stats = kpi_stats(shifted, ["lp", "period"])
            return list(summary_json(summarize(stats, self.horizons), self.horizons,
                                     ["lp", "period"], {})["lps"])
        rows = self._cached(("series", bucket), make)
        return [r for r in rows if r["lp"] == lp]

    def histogram(self, metric: str) -> dict[str, Any]:
        """Counts of ``metric`` (an orders column in ms) per LP over shared bins: 0 to the
        99th percentile of every LP's values, the last bin open-ended."""
        def make() -> dict[str, Any]:
            if self.result is None:
                return {"edges": [], "counts": {}}
            values = self.result.orders.select("lp", pl.col(metric).cast(pl.Float64)) \
                .drop_nulls()
            if values.height == 0:
                return {"edges": [], "counts": {}}
            top = float(np.quantile(values[metric].to_numpy(), 0.99)) or 1.0
            edges = np.linspace(0.0, top, HISTOGRAM_BINS + 1)
            counts = {}
            for (lp,), part in values.partition_by("lp", as_dict=True).items():
                x = np.clip(part[metric].to_numpy(), 0.0, top)
                counts[str(lp)] = [int(c) for c in np.histogram(x, bins=edges)[0]]
            return {"edges": [round(float(e), 4) for e in edges], "counts": counts}
        return dict(self._cached(("hist", metric), make))

