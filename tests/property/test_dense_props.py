"""DenseStats sums what Stats.merge_all and Stats.rollup sum: any parts, each with its own
reference time, rows given unsummed (keys repeating), some contexts of a part replaced
later, and any ``only`` (the stream's publishes between full ones, docs/stream.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpscore.scoring.estimate import near
from lpscore.stats import dense as dense_module
from lpscore.stats.dense import DenseStats
from lpscore.stats.groupsum import Groups
from lpscore.stats.sketch import sketch_quantiles
from lpscore.stats.table import Decay, Stats

KEYS = ("lp", "symbol", "size_bucket", "vol_regime")
COLUMNS = ("n_orders", "n_orders__w2", "n_orders__n", "x__w", "x__wx")
HALF_LIFE = 3.6e12
FAST = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])

key_values = st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["X", "Y", None]),
                       st.sampled_from(["b1", "b2"]), st.sampled_from(["lo", "hi", None]))
row = st.tuples(key_values, st.lists(st.integers(0, 50), min_size=len(COLUMNS),
                                     max_size=len(COLUMNS)),
                st.lists(st.tuples(st.integers(-3, 40), st.integers(1, 9)), max_size=4))


def frames(rows: list[Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sums and sketch rows, unsummed: a key may repeat, as ``Processor.rows_of`` gives
    them; weights in quarters (sums exact in any order)."""
    keys = {k: [r[0][i] for r in rows] for i, k in enumerate(KEYS)}
    sums = pl.DataFrame({**keys, **{c: [r[1][j] / 4 for r in rows]
                                    for j, c in enumerate(COLUMNS)}},
                        schema={**dict.fromkeys(KEYS, pl.String),
                                **dict.fromkeys(COLUMNS, pl.Float64)})
    cells = [(*r[0], "m", b, w / 4) for r in rows for b, w in r[2]]
    sketches = pl.DataFrame(cells, schema={**dict.fromkeys(KEYS, pl.String), "metric": pl.String,
                                          "bin": pl.Int32, "weight": pl.Float64},
                            orient="row")
    return sums, sketches


def stats_of(rows: list[Any], t_ref: int, decay: Decay | None) -> Stats:
    sums, sketches = frames(rows)
    empty = pl.DataFrame(schema={**dict.fromkeys(KEYS, pl.String), "name": pl.String,
                                 "category": pl.String, "weight": pl.Float64})
    raw = Stats(KEYS, sums, sketches, empty, t_ref if decay else None, decay)
    return raw.rollup(list(KEYS))


@FAST
@given(parts=st.lists(st.tuples(st.lists(row, max_size=12), st.integers(0, 10)), min_size=1,
                      max_size=3),
       replaced=st.lists(row, max_size=6),
       contexts=st.lists(key_values.map(lambda k: k[1:]), max_size=3),
       only=st.sets(st.sampled_from([("X",), ("Y",), (None,), ("X", "b1", "lo"),
                                     ("Y", "b2", None), ("X", "b2")]), max_size=3),
       decayed=st.booleans())
def test_levels_equal_the_merged_rollups(parts: list[Any], replaced: list[Any],
                                        contexts: list[Any], only: set[Any],
                                        decayed: bool) -> None:
    decay = Decay(HALF_LIFE) if decayed else None
    dense = DenseStats(KEYS, decay)
    held = []
    for i, (rows, hours) in enumerate(parts):
        t_ref = 1_700_000_000 * 10**9 + hours * 3_600 * 10**9
        sums, sketches = frames(rows)
        dense.set_rows(f"p{i}", sums, sketches, t_ref if decay else None,
                       latest=t_ref if decay else None)
        held.append(stats_of(rows, t_ref, decay))
    # part 0 gets new rows for some contexts, at a later reference time; its other rows stay
    wanted = set(contexts)
    later = held[0].t_ref + 3_600 * 10**9 if decay and held[0].t_ref is not None else None
    fresh = [r for r in replaced if r[0][1:] in wanted]
    sums, sketches = frames(fresh)
    dense.set_rows("p0", sums, sketches, later, latest=later, only=wanted)
    kept = [r for r in parts[0][0] if r[0][1:] not in wanted]
    first = [stats_of(kept, held[0].t_ref or 0, decay), stats_of(fresh, later or 0, decay)]
    reference = Stats.merge_all([*first, *held[1:]])
    assert dense.t_ref == reference.t_ref
    for depth in (None, 0, 1, 2, 3):
        keys = [] if depth is None else list(KEYS[:depth + 1])
        rows = reference if depth in (None, 0) else near(reference, keys[1:], only)
        want = rows.rollup(keys)
        got = dense.level(depth, only if depth else None)
        expected = want.sums.select(keys).rows() if keys else [()]
        if keys and not want.sums.height:
            expected = []
        if depth is None and not len(dense):
            expected = []
        assert got.groups == expected
        for name in COLUMNS:
            np.testing.assert_allclose(got.column(name), want.sums[name].to_numpy()
                                       if got.groups else np.zeros(0), rtol=1e-12, atol=1e-12)
        quantiles = sketch_quantiles(want.sketches, keys, [0.25, 0.5, 0.9])
        found = {r[:len(keys)]: r[len(keys) + 1:] for r in quantiles.rows()}
        for group, values in zip(got.groups, got.quantiles("m", [0.25, 0.5, 0.9]).tolist(),
                                 strict=True):
            if group in found:
                assert values == pytest.approx(list(found[group]), rel=1e-12)
            else:
                assert all(math.isnan(v) for v in values)


@FAST
@given(rows=st.lists(st.tuples(key_values, st.lists(
    st.floats(allow_nan=False, allow_infinity=False, width=64) | st.sampled_from([0.0, -0.0]),
    min_size=3, max_size=3)), max_size=60))
def test_repeated_keys_are_summed_in_row_order_as_add_at_sums_them(
        rows: list[tuple[tuple[Any, ...], list[float]]]) -> None:
    """``set_rows`` takes the distinct keys in order of first appearance (as
    ``dict.fromkeys`` gives them: ``Groups.numbered``) and adds each group's rows in row
    order from 0.0, to the last bit what ``np.add.at`` gives (its running order;
    ``np.add.reduceat`` differs)."""
    frame = pl.DataFrame([k for k, _ in rows], schema=dict.fromkeys(KEYS, pl.String),
                         orient="row")
    if not rows:
        return
    numbered = Groups.numbered(frame, KEYS)
    distinct, group = numbered.keys.rows(), numbered.ids
    assert distinct == list(dict.fromkeys(k for k, _ in rows))
    assert [distinct[g] for g in group] == [k for k, _ in rows]
    values = np.array([v for _, v in rows], dtype=np.float64).reshape(len(rows), 3)
    want = np.zeros((len(distinct), 3))
    np.add.at(want, (group[:, None], np.arange(3)[None, :]), values)
    got = dense_module._group_sums(values, group, len(distinct))
    assert got.tobytes() == want.tobytes()
