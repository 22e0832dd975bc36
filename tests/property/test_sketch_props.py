"""Property tests of lpscore.stats.sketch: the error bound, exact order-free merges, scalar and
columnar forms in agreement, decay by scaling, and the dict round trip (KPIS.md, Recency)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
from fix_strategies import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from lpscore.stats.sketch import (
    DEFAULT_ALPHA,
    MIN_INDEXABLE,
    QuantileSketch,
    bin_keys,
    bin_values,
    merge_sketch_frames,
    quantile_names,
    sketch_frame,
    sketch_quantiles,
    sketches_from_frame,
)
from sketch_reference import lower_quantile

BASE = settings(deadline=None)
GAMMA = (1 + DEFAULT_ALPHA) / (1 - DEFAULT_ALPHA)
KEYS = ["lp", "venue"]

# Values from everywhere a sketch cares about: zero, the indexable edge, bucket edges, both signs.
special = st.sampled_from([0.0, -0.0, MIN_INDEXABLE, -MIN_INDEXABLE, 0.999e-9, 1.0, -1.0,
                           GAMMA, GAMMA**-7, GAMMA**40, float(np.nextafter(GAMMA**3, 0.0))])
values = st.one_of(special, st.floats(-1e6, 1e6, allow_nan=False),
                   st.floats(1e-9, 1e12), st.floats(1e-6, 10.0))
counts = st.integers(1, 5).map(float)  # integer weights: every sum is exact
observations = st.lists(st.tuples(values, counts), min_size=1, max_size=60)
rows = st.lists(st.tuples(st.sampled_from(["LP1", "LP2"]), st.sampled_from(["X", "Y", "Z"]),
                          values, counts), min_size=1, max_size=80)
qs = st.floats(0.0, 1.0)


def sketch_of(obs: list[tuple[float, float]]) -> QuantileSketch:
    sketch = QuantileSketch()
    for value, weight in obs:
        sketch.add(value, weight)
    return sketch


def frame_of(data: list[tuple[str, str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(data, schema=["lp", "venue", "v", "w"], orient="row")


def exact_quantile(obs: list[tuple[float, float]], q: float) -> float:
    return lower_quantile([v for v, _ in obs], [w for _, w in obs], q)


@settings(BASE, max_examples=examples(300))
@given(st.one_of(st.floats(MIN_INDEXABLE, 1e300), st.floats(-1e300, -MIN_INDEXABLE)),
       st.sampled_from([0.001, 0.01, 0.05, 0.3]))
def test_representative_within_alpha(value: float, alpha: float) -> None:
    estimate = bin_values(bin_keys([value], alpha), alpha)[0]
    assert abs(estimate - value) <= alpha * abs(value) * (1 + 1e-12)
    assert np.sign(estimate) == np.sign(value)


@settings(BASE, max_examples=examples(300))
@given(values, values)
def test_keys_are_monotone(a: float, b: float) -> None:
    low, high = sorted((a, b))
    key_low, key_high = bin_keys([low, high])
    assert key_low <= key_high
    assert (key_low == 0) == (abs(low) < MIN_INDEXABLE)


@settings(BASE, max_examples=examples(200))
@given(observations, qs)
def test_quantile_is_the_bin_of_the_exact_lower_quantile(obs: list[tuple[float, float]],
                                                         q: float) -> None:
    exact = exact_quantile(obs, q)
    estimate = sketch_of(obs).quantile(q)
    assert estimate == bin_values(bin_keys([exact]))[0]
    assert estimate is not None
    assert abs(estimate - exact) <= DEFAULT_ALPHA * abs(exact) * (1 + 1e-12) + MIN_INDEXABLE


@settings(BASE, max_examples=examples(150))
@given(st.lists(observations, min_size=1, max_size=4), st.permutations(range(4)))
def test_scalar_merge_is_exact_and_order_free(chunks: list[list[tuple[float, float]]],
                                              order: list[int]) -> None:
    whole = sketch_of([o for chunk in chunks for o in chunk])
    parts = [sketch_of(chunks[i]) for i in order if i < len(chunks)]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged == whole
    assert merged.total_weight == whole.total_weight


@settings(BASE, max_examples=examples(60))
@given(st.lists(rows, min_size=1, max_size=4), st.permutations(range(4)))
def test_columnar_merge_is_exact_and_order_free(chunks: list[list[tuple[str, str, float, float]]],
                                                order: list[int]) -> None:
    whole = sketch_frame(frame_of([r for chunk in chunks for r in chunk]), KEYS, "v", "m", "w")
    parts = [sketch_frame(frame_of(chunk), KEYS, "v", "m", "w") for chunk in chunks]
    shuffled = [parts[i] for i in order if i < len(parts)]
    assert merge_sketch_frames(shuffled, KEYS).equals(whole)


@settings(BASE, max_examples=examples(60))
@given(rows, st.lists(qs, min_size=1, max_size=4, unique_by=lambda q: quantile_names([q])[0]),
       st.booleans())
def test_scalar_and_columnar_agree(data: list[tuple[str, str, float, float]], q_list: list[float],
                                   float_weights: bool) -> None:
    frame = frame_of(data)
    if float_weights:  # arbitrary float weights: both forms still sum in the same order
        frame = frame.with_columns(w=pl.col("w") / 3.0 + pl.col("v").abs() % 1.0)
    sketched = sketch_frame(frame, KEYS, "v", "m", "w")
    quantiles = sketch_quantiles(sketched, KEYS, q_list)
    from_frame = sketches_from_frame(sketched, KEYS)
    groups = frame.partition_by(KEYS, as_dict=True)
    assert set(from_frame) == {(*k, "m") for k in groups}
    for (lp, venue), part in groups.items():
        scalar = QuantileSketch()
        scalar.add_many(part["v"].to_numpy(), part["w"].to_numpy())
        assert from_frame[(lp, venue, "m")] == scalar
        got = quantiles.filter(lp=lp, venue=venue).select(quantile_names(q_list)).row(0)
        assert list(got) == [scalar.quantile(q) for q in q_list]
        assert scalar.to_frame("m", {"lp": lp, "venue": venue}).equals(
            sketched.filter(lp=lp, venue=venue))


@settings(BASE, max_examples=examples(150))
@given(observations, st.integers(-60, 60), qs)
def test_scaling_keeps_quantiles_and_scales_weight(obs: list[tuple[float, float]], power: int,
                                                   q: float) -> None:
    sketch = sketch_of(obs)
    scaled = sketch.scaled(2.0**power)  # powers of two: exact, so equality is the claim
    assert scaled.quantile(q) == sketch.quantile(q)
    assert scaled.total_weight == sketch.total_weight * 2.0**power


@settings(BASE, max_examples=examples(100))
@given(st.lists(observations, min_size=1, max_size=5))
def test_halving_per_period_equals_weighting_by_age(periods: list[list[tuple[float, float]]]
                                                    ) -> None:
    stream = QuantileSketch()
    for period in periods:
        stream = stream.scaled(0.5)
        for value, weight in period:
            stream.add(value, weight)
    batch = QuantileSketch()
    for age, period in enumerate(reversed(periods)):
        batch.add_many([v for v, _ in period], [w * 0.5**age for _, w in period])
    assert stream == batch


@settings(BASE, max_examples=examples(150))
@given(st.lists(st.tuples(values, st.floats(0.0, 1e6)), max_size=40),
       st.sampled_from([0.001, 0.01, 0.05]))
def test_dict_round_trip(obs: list[tuple[float, float]], alpha: float) -> None:
    sketch = QuantileSketch(alpha)
    sketch.add_many([v for v, _ in obs], [w for _, w in obs])
    assert QuantileSketch.from_dict(json.loads(json.dumps(sketch.to_dict()))) == sketch
