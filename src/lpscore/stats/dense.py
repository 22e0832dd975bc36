"""Finest-level statistics held as arrays, summed to any coarser group without Polars.

    dense = DenseStats(("lp", "symbol", "size_bucket"), decay)
    dense.set_part("lane-0", stats)                      # every row of one part
    dense.set_part("lane-0", fresh, only={("ACME", "adv<0.1%")})   # just these contexts
    level = dense.level(1, only={("ACME",)})             # LP x symbol, on ACME's path
    level.groups, level.column("n_orders"), level.quantiles("ack_latency_ms", [0.5])

A stream keeps its statistics per part (a lane, another worker's partial) as ``Stats``
frames; rolling them up with Polars costs tens of milliseconds per publish whatever their
size. Here each (part, finest group) is one row of a float matrix: its ``Stats.sums``
columns and, per sketch metric, its weight in each bin. A coarser group's statistics are
the sum of its rows, each first decayed from its part's reference time to the latest
(``Stats.decayed_to``: weights times the factor, ``__w2`` times its square, ``__n`` counts
as they are). Replacing a row overwrites it, so nothing is ever subtracted and no rounding
residue builds up; the sums equal ``Stats.merge_all(parts).rollup(keys)`` to float rounding
(they are added in another order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import polars as pl

from lpscore.stats.groupsum import Groups
from lpscore.stats.sketch import DEFAULT_ALPHA, bin_quantiles
from lpscore.stats.table import Decay, Stats, decay_power

__all__ = ["DenseStats", "LevelSums"]

Array = npt.NDArray[np.float64]
Prefix = tuple[Any, ...]


@dataclass(frozen=True)
class LevelSums:
    """The summed statistics of the groups of one level, in ``groups`` order."""

    keys: tuple[str, ...]
    groups: list[tuple[Any, ...]]
    """Each group's key values (LP first), sorted as ``Stats.rollup`` sorts them."""
    sums: Array
    """``(groups, columns)``: the sums columns, decayed to the latest reference time."""
    columns: dict[str, int]
    sketch: Callable[[str], tuple[list[int], Array] | None]
    """Metric -> its bins, sorted, and ``(groups, bins)`` weights (None: no such metric);
    summed when first asked for, as scoring needs the metrics of its quantile KPIs only."""

    def column(self, name: str) -> Array:
        """A sums column per group (zeros for a column no part holds)."""
        at = self.columns.get(name)
        return np.zeros(len(self.groups)) if at is None else self.sums[:, at]

    def quantiles(self, metric: str, qs: Sequence[float], alpha: float = DEFAULT_ALPHA
                  ) -> Array:
        """``(groups, len(qs))`` sketch quantiles (``sketch_quantiles``' rule); NaN for a
        group without weight."""
        found = self.sketch(metric)
        if found is None or not found[0]:
            return np.full((len(self.groups), len(qs)), np.nan)
        return bin_quantiles(found[0], found[1], qs, alpha)


class DenseStats:
    """Statistics of several parts, one matrix row per (part, finest group)."""

    def __init__(self, keys: Sequence[str], decay: Decay | None) -> None:
        if not keys or keys[0] != "lp":
            raise ValueError(f"DenseStats keys must start with lp, got {tuple(keys)}")
        self.keys = tuple(keys)
        self.decay = decay
        self._columns: dict[str, int] = {}
        self._by_power: list[npt.NDArray[np.int64]] = [np.zeros(0, dtype=np.int64)] * 3
        """The columns ``Stats.decayed_to`` scales by factor ** 0, 1, 2 (``decay_power``)."""
        self._sums = np.zeros((0, 0))
        self._t = np.zeros(0)
        self._alive = np.zeros(0, dtype=bool)
        self._lp = np.zeros(0, dtype=np.int64)
        self._lps: dict[str, int] = {}
        self._prefix_of: list[dict[Prefix, int]] = [{} for _ in self.keys]
        """Per depth d: context prefix (the first d values after lp) -> its code."""
        self._by_first: list[dict[Any, list[Prefix]]] = [{} for _ in self.keys]
        """Per depth: the prefixes by their first value (the symbol)."""
        self._of_context: dict[tuple[str, Prefix], set[tuple[Any, ...]]] = {}
        """(part, finest context) -> the keys of its rows."""
        self._prefix = np.zeros((len(self.keys), 0), dtype=np.int64)
        self._row_of: dict[tuple[Any, ...], int] = {}
        self._free: list[int] = []
        self._parts: dict[str, int | None] = {}
        """Part -> its latest reference time (ns; None undecayed)."""
        self._bins: dict[str, dict[int, int]] = {}
        self._sketch: dict[str, Array] = {}
        self._order: dict[str, tuple[list[int], npt.NDArray[np.int64]]] = {}
        self._memo: dict[tuple[Any, ...], LevelSums] = {}

    @property
    def parts(self) -> list[str]:
        return list(self._parts)

    @property
    def t_ref(self) -> int | None:
        """The latest reference time of any part (``Stats.merge_all``)."""
        times = [t for t in self._parts.values() if t is not None]
        return max(times) if times else None

    def contexts(self, depth: int) -> list[Prefix]:
        """The distinct context prefixes of length ``depth`` that some row holds."""
        codes = np.unique(self._prefix[depth, self._alive]).tolist()
        prefixes = list(self._prefix_of[depth])
        return [prefixes[c] for c in codes]

    def __len__(self) -> int:
        return len(self._row_of)

    def set_part(self, part: str, stats: Stats, only: Collection[Prefix] | None = None
                 ) -> None:
        """Make ``part``'s rows those of ``stats`` (keyed ``self.keys``, decayed to its
        ``t_ref``): every row, or with ``only`` (finest contexts: the values of the keys
        after ``lp``) the rows of those contexts, the others kept. A row whose context is
        in ``only`` but not in ``stats`` goes."""
        if tuple(stats.keys) != self.keys or stats.decay != self.decay:
            raise ValueError(f"stats keyed {stats.keys} ({stats.decay}), expected "
                             f"{self.keys} ({self.decay})")
        self.set_rows(part, stats.sums, stats.sketches, stats.t_ref, latest=stats.t_ref,
                      only=only)

    def set_rows(self, part: str, sums: pl.DataFrame, sketches: pl.DataFrame,
                 t_ref: int | None, *, latest: int | None,
                 only: Collection[Prefix] | None = None) -> None:
        """``set_part`` from rows that need not be summed yet (a group's statistics are
        the sum of its rows: ``sums`` and ``sketches`` frames as in ``Stats``, keys
        repeating), decayed to ``t_ref``; ``latest`` is the part's reference time (the
        scores are decayed to the latest of the parts')."""
        self._memo.clear()
        old = self._parts.get(part)
        self._parts[part] = old if latest is None else max(latest, old or latest)
        wanted = None if only is None else set(only)
        # the distinct keys in order of first appearance and each row's among them: the
        # rows repeat their keys (a group's rows from each held part and live unit), and
        # only the distinct keys go through Python (after a long run the rows of a publish
        # were tens of thousands, each made a tuple and looked up)
        if sums.height:
            numbered = Groups.numbered(sums, self.keys)
            keys, group = numbered.keys, numbered.ids
        else:
            keys, group = sums.select(self.keys), np.empty(0, dtype=np.int64)
        distinct = keys.rows()
        if wanted is not None:
            keep = np.array([k[1:] in wanted for k in distinct], dtype=bool)
            if not keep.all():
                rows = np.flatnonzero(keep[group])
                sums, keys = sums[rows], keys.filter(pl.Series(keep))
                distinct = [k for k, kept in zip(distinct, keep, strict=True) if kept]
                group = (np.cumsum(keep) - 1)[group[rows]]
        held = ([k for k in self._of_context if k[0] == part] if wanted is None else
                [(part, c) for c in wanted if (part, c) in self._of_context])
        new = {(part, *k) for k in distinct}
        for context in held:
            rows_of = self._of_context[context]
            for key in [k for k in rows_of if k not in new]:     # gone from the part
                rows_of.discard(key)
                self._drop(key, self._row_of[key])
            if not rows_of:
                del self._of_context[context]
        if not distinct:
            return
        names = [c for c in sums.columns if c not in self.keys]
        for name in names:
            self._column(name)
        self._reserve(sum((part, *k) not in self._row_of for k in distinct))
        at = np.array([self._row((part, *k)) for k in distinct], dtype=np.int64)
        self._t[at] = t_ref or 0
        values = sums.select(pl.col(names).cast(pl.Float64).fill_null(0.0)).to_numpy()
        self._sums[at] = 0.0
        cols = np.array([self._columns[n] for n in names], dtype=np.int64)
        if len(distinct) == sums.height:
            self._sums[np.ix_(at, cols)] = values
        else:           # each group's rows added in order, from 0.0, as np.add.at adds
            self._sums[np.ix_(at, cols)] = _group_sums(
                np.ascontiguousarray(values), group, len(distinct))
        for matrix in self._sketch.values():
            matrix[at] = 0.0
        if sketches.height:     # each group's row, for the sketch rows to join
            self._set_sketches(keys.with_columns(pl.Series("__row", at)), sketches)

    def drop_part(self, part: str) -> None:
        """Forget ``part`` and its rows."""
        self._memo.clear()
        for held in [k for k in self._of_context if k[0] == part]:
            for key in self._of_context.pop(held):
                self._drop(key, self._row_of[key])
        self._parts.pop(part, None)

    def level(self, depth: int | None, only: Collection[Prefix] | None = None) -> LevelSums:
        """The groups of one level, summed: ``None`` every row in one group (keys ``()``),
        ``d`` per ``keys[:d + 1]`` (LP and the first ``d`` context keys). With ``only``
        (context prefixes), below the LP level just the groups whose context is on the path
        to one of them or under one (its values agree with the prefix's over their common
        length, as ``scoring.estimate.near`` keeps them). Remembered until the next
        ``set_part``."""
        memo = (depth, None if only is None or not depth else frozenset(only))
        found = self._memo.get(memo)
        if found is None:
            found = self._memo[memo] = self._level(depth, only)
        return found

    # -- internals ---------------------------------------------------------------------

    def _level(self, depth: int | None, only: Collection[Prefix] | None) -> LevelSums:
        if depth is None:       # one group of everything: the LP level's groups added up
            lps = self.level(0)
            if not lps.groups:
                return LevelSums((), [], lps.sums, lps.columns, lambda metric: None)
            ones = np.ones((1, len(lps.groups)))

            def pooled(metric: str) -> tuple[list[int], Array] | None:
                found = lps.sketch(metric)
                return None if found is None else (found[0], ones @ found[1])

            return LevelSums((), [()], ones @ lps.sums, lps.columns, functools.cache(pooled))
        rows = np.flatnonzero(self._alive)
        code = self._prefix[depth, rows]
        if only is not None and depth:
            mask = np.isin(code, self._allowed(depth, only))
            rows, code = rows[mask], code[mask]
        width = len(self._prefix_of[depth])
        distinct, gid = np.unique(self._lp[rows] * width + code, return_inverse=True)
        lp_names = list(self._lps)
        prefixes = list(self._prefix_of[depth])
        groups = [(lp_names[c // width], *prefixes[c % width]) for c in distinct.tolist()]
        order = sorted(range(len(groups)), key=lambda i: _sort_key(groups[i]))
        rank = np.empty(len(groups), dtype=np.int64)
        rank[order] = np.arange(len(groups))
        by_group = np.argsort(rank[gid], kind="stable")     # rows grouped, in sorted order
        rows = rows[by_group]
        starts = np.flatnonzero(np.r_[True, np.diff(rank[gid][by_group]) != 0])
        factor = self._factors(rows)[:, None]
        block = self._sums[rows]
        for power, cols in enumerate(self._by_power):
            if power and cols.size:
                block[:, cols] *= factor if power == 1 else factor * factor
        sums = (np.add.reduceat(block, starts, axis=0) if len(rows)
                else np.zeros((0, len(self._columns))))
        sketches = self._sketch
        bin_order = self._bin_order

        def sketch(metric: str) -> tuple[list[int], Array] | None:
            matrix = sketches.get(metric)
            if matrix is None:
                return None
            bins, cols = bin_order(metric)
            weights = matrix[rows][:, cols] * factor
            return bins, (np.add.reduceat(weights, starts, axis=0) if len(rows)
                          else np.zeros((0, len(bins))))

        return LevelSums(self.keys[:depth + 1], [groups[i] for i in order], sums,
                         dict(self._columns), functools.cache(sketch))

    def _allowed(self, depth: int, only: Collection[Prefix]) -> npt.NDArray[np.int64]:
        """The codes of the depth's prefixes on the path to one of ``only`` or under one: a
        prefix equal to a tuple's start, or starting with a shorter tuple."""
        exact = {t[:depth] for t in only if len(t) >= depth}
        shorter: dict[int, set[Prefix]] = {}
        for t in only:
            if len(t) < depth:
                shorter.setdefault(len(t), set()).add(t)
        if () in shorter.get(0, ()):
            return np.arange(len(self._prefix_of[depth]), dtype=np.int64)
        codes = self._prefix_of[depth]
        firsts = {t[0] for t in only if t}
        allowed = []
        for first in firsts:
            for prefix in self._by_first[depth].get(first, ()):
                if prefix in exact or any(prefix[:n] in ts for n, ts in shorter.items()):
                    allowed.append(codes[prefix])
        return np.array(allowed, dtype=np.int64)

    def _factors(self, rows: npt.NDArray[np.int64]) -> Array:
        """Each row's decay factor from its reference time to the latest."""
        t_ref = self.t_ref
        if self.decay is None or t_ref is None:
            return np.ones(len(rows))
        return np.asarray(0.5 ** ((t_ref - self._t[rows]) / self.decay.half_life),
                          dtype=np.float64)

    def _column(self, name: str) -> int:
        at = self._columns.get(name)
        if at is None:
            at = self._columns[name] = len(self._columns)
            power = decay_power(name)
            self._by_power[power] = np.append(self._by_power[power], at)
            grown = np.zeros((self._sums.shape[0], at + 1))
            grown[:, :at] = self._sums
            self._sums = grown
        return at

    def _row(self, key: tuple[Any, ...]) -> int:
        row = self._row_of.get(key)
        if row is not None:
            return row
        if not self._free:
            self._grow()
        row = self._free.pop()
        self._row_of[key] = row
        self._alive[row] = True
        self._lp[row] = self._lps.setdefault(str(key[1]), len(self._lps))
        context = key[2:]
        for depth, codes in enumerate(self._prefix_of):
            prefix = context[:depth]
            code = codes.get(prefix)
            if code is None:
                code = codes[prefix] = len(codes)
                if depth:
                    self._by_first[depth].setdefault(prefix[0], []).append(prefix)
            self._prefix[depth, row] = code
        self._of_context.setdefault((key[0], context), set()).add(key)
        return row

    def _reserve(self, rows: int) -> None:
        """Free rows for ``rows`` new keys, the arrays grown once (a rebuild after a full
        publish adds every row at once: growing by doubling copied every sketch matrix a
        dozen times)."""
        if rows > len(self._free):
            self._grow(rows - len(self._free))

    def _grow(self, at_least: int = 0) -> None:
        old = self._sums.shape[0]
        extra = max(64, old, at_least)
        self._sums = np.vstack([self._sums, np.zeros((extra, self._sums.shape[1]))])
        self._t = np.concatenate([self._t, np.zeros(extra)])
        self._alive = np.concatenate([self._alive, np.zeros(extra, dtype=bool)])
        self._lp = np.concatenate([self._lp, np.zeros(extra, dtype=np.int64)])
        self._prefix = np.hstack([self._prefix, np.zeros((len(self.keys), extra),
                                                         dtype=np.int64)])
        for metric, matrix in self._sketch.items():
            self._sketch[metric] = np.vstack([matrix, np.zeros((extra, matrix.shape[1]))])
        # the rows still free are taken first, then the new ones in ascending order
        self._free = [*range(old + extra - 1, old - 1, -1), *self._free]

    def _drop(self, key: tuple[Any, ...], row: int) -> None:
        del self._row_of[key]
        self._alive[row] = False
        self._sums[row] = 0.0
        for matrix in self._sketch.values():
            matrix[row] = 0.0
        self._free.append(row)

    def _bin_order(self, metric: str) -> tuple[list[int], npt.NDArray[np.int64]]:
        """The metric's bins, sorted, and their columns."""
        found = self._order.get(metric)
        if found is None:
            bins = sorted(self._bins[metric])
            found = self._order[metric] = (bins, np.array(
                [self._bins[metric][b] for b in bins], dtype=np.int64))
        return found

    def _set_sketches(self, groups: pl.DataFrame, sketches: pl.DataFrame) -> None:
        """Add the bins of ``sketches`` to the rows of their groups (``groups``: the keys
        and their ``__row``, one row per group; every sketched group has a sums row,
        kpi_stats; groups not in ``groups`` are not taken). Rows are found by a join and
        bins by a sorted search, not row by row in Python: a publish after a long run
        re-reads tens of thousands of sketch rows."""
        placed = sketches.join(groups, on=list(self.keys), how="left", nulls_equal=True,
                               maintain_order="left")
        for (metric,), frame in placed.partition_by("metric", as_dict=True).items():
            name = str(metric)
            at = frame["__row"].fill_null(-1).to_numpy()
            bins = frame["bin"].to_numpy().astype(np.int64)
            known = self._bins.setdefault(name, {})
            new = [b for b in np.unique(bins).tolist() if b not in known]
            for b in new:                                   # ascending, as np.unique gives
                known[b] = len(known)
            if new:
                self._order.pop(name, None)
            matrix = self._sketch.get(name)
            if matrix is None or matrix.shape[1] < len(known):
                width = max(len(known), 2 * (0 if matrix is None else matrix.shape[1]))
                grown = np.zeros((self._sums.shape[0], width))
                if matrix is not None:
                    grown[:, :matrix.shape[1]] = matrix
                matrix = self._sketch[name] = grown
            take = at >= 0
            ordered, columns = self._bin_order(name)
            cols = columns[np.searchsorted(np.asarray(ordered, dtype=np.int64), bins)]
            np.add.at(matrix, (at[take], cols[take]), frame["weight"].to_numpy()[take])


def _sort_key(group: tuple[Any, ...]) -> tuple[Any, ...]:
    """Sort as Polars sorts keys with ``nulls_last``: by value, None after every value."""
    return tuple((v is None, "" if v is None else v) for v in group)


def _group_sums_py(values: Array, group: npt.NDArray[np.int64], n_groups: int) -> Array:
    """Per group, its rows of ``values`` added in row order from 0.0: what ``np.add.at``
    gives (``np.add.reduceat`` sums in another order), without its slowness."""
    out = np.zeros((n_groups, values.shape[1]))
    for i in range(values.shape[0]):
        g = group[i]
        for j in range(values.shape[1]):
            out[g, j] += values[i, j]
    return out


_group_sums: Callable[[Array, npt.NDArray[np.int64], int], Array] = numba.njit(
    cache=True, nogil=True)(_group_sums_py)
