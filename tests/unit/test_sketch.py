"""lpscore.stats.sketch: bins, the lower-quantile rule, accuracy, merge, decay, both forms."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import lpscore.stats.sketch
from lpscore.stats.sketch import (
    DEFAULT_ALPHA,
    MIN_INDEXABLE,
    QUANTILE_EPS,
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

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)
GAMMA = (1 + DEFAULT_ALPHA) / (1 - DEFAULT_ALPHA)


def assert_close(estimate: float | None, exact: float, alpha: float = DEFAULT_ALPHA) -> None:
    assert estimate is not None
    assert abs(estimate - exact) <= alpha * abs(exact) * (1 + 1e-9) + MIN_INDEXABLE
    # Stronger: the answer is the representative of the very bin holding the exact quantile.
    assert estimate == bin_values(bin_keys([exact], alpha), alpha)[0]


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(20240611)
    n = 20_000
    ones = np.ones(n)
    mixed = rng.normal(0.0, 1.0, n)
    mixed[::7] = 0.0
    mixed[::11] = rng.uniform(-1e-9, 1e-9, mixed[::11].size)  # below the indexable magnitude
    return {
        "lognormal": (rng.lognormal(-7.0, 1.5, n), ones),
        "uniform": (rng.uniform(0.0, 250.0, n), ones),
        "with_zeros": (np.where(rng.random(n) < 0.3, 0.0, rng.exponential(0.002, n)), ones),
        "with_negatives": (mixed, ones),
        "weighted": (rng.lognormal(-5.0, 1.0, n), rng.lognormal(0.0, 1.0, n)),
        "decayed": (rng.gamma(2.0, 0.01, n), 0.5 ** (rng.uniform(0.0, 5.0, n))),
        "integer_weights": (rng.integers(1, 50, n) * 1e-4, rng.integers(1, 4, n).astype(float)),
    }


def test_public_api_is_exactly_documented() -> None:
    assert set(lpscore.stats.sketch.__all__) == {
        "DEFAULT_ALPHA", "DEFAULT_QS", "MIN_INDEXABLE", "QUANTILE_EPS", "QuantileSketch",
        "bin_keys", "bin_quantiles", "bin_values", "merge_sketch_frames", "quantile_names",
        "sketch_frame", "sketch_quantiles", "sketches_from_frame",
    }


def test_bin_keys_signs_zero_and_dtype() -> None:
    keys = bin_keys(np.array([0.0, 5e-10, -5e-10, 1e-9, -1e-9, 1.0, -1.0, 2.0, -0.0]))
    assert keys.dtype == np.int32
    assert keys[:3].tolist() == [0, 0, 0]
    assert keys[3] == 1
    assert keys[4] == -1
    assert keys[5] > 1
    assert keys[6] == -keys[5]
    assert keys[7] > keys[5]
    assert keys[8] == 0
    assert bin_values(np.array([0])).tolist() == [0.0]


def test_bin_keys_are_monotone_in_value() -> None:
    rng = np.random.default_rng(1)
    values = np.sort(np.concatenate([
        rng.lognormal(0, 10, 50_000), -rng.lognormal(0, 10, 50_000), rng.uniform(-1e-8, 1e-8, 1000),
        GAMMA ** np.arange(-1100, 1100), np.nextafter(GAMMA ** np.arange(-1100, 1100), np.inf)]))
    assert (np.diff(bin_keys(values).astype(np.int64)) >= 0).all()


@pytest.mark.parametrize("alpha", [0.001, 0.01, 0.05, 0.2])
def test_bin_values_within_alpha_and_the_bound_is_tight(alpha: float) -> None:
    rng = np.random.default_rng(2)
    gamma = (1 + alpha) / (1 - alpha)
    edges = gamma ** np.arange(-50, 50)
    mags = np.concatenate([np.logspace(-9, 300, 200_000), rng.lognormal(0, 5, 100_000), edges,
                           np.nextafter(edges, 0), np.nextafter(edges, np.inf), [MIN_INDEXABLE]])
    mags = mags[mags >= MIN_INDEXABLE]
    values = np.concatenate([mags, -mags])
    rel = np.abs(bin_values(bin_keys(values, alpha), alpha) - values) / np.abs(values)
    assert rel.max() <= alpha * (1 + 1e-12)
    assert rel.max() > alpha * 0.99  # bins are as wide as the bound allows, not narrower
    # [1, 10] spans ln(10)/ln(gamma) bins, plus the one 1.0 closes: the sketch's size.
    per_decade = np.unique(bin_keys(np.logspace(0, 1, 10_000), alpha)).size
    assert abs(per_decade - 1 - math.log(10) / math.log(gamma)) <= 1


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.01, 1e-9, math.nan])
def test_alpha_out_of_range_raises(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        QuantileSketch(alpha)


@pytest.mark.parametrize("name", list(datasets()))
def test_quantiles_within_alpha_of_exact_lower_quantile(name: str) -> None:
    values, weights = datasets()[name]
    sketch = QuantileSketch()
    sketch.add_many(values, weights)
    frame = pl.DataFrame({"lp": "A", "v": values, "w": weights})
    columnar = sketch_quantiles(sketch_frame(frame, ["lp"], "v", "ack", "w"), ["lp"], QS)
    for q, column in zip(QS, quantile_names(QS), strict=True):
        exact = lower_quantile(values, weights, q)
        assert_close(sketch.quantile(q), exact)
        assert columnar[column].item() == sketch.quantile(q)


def test_lower_quantile_rule_on_small_examples() -> None:
    sketch = QuantileSketch()
    sketch.add_many([4.0, 1.0, 3.0, 2.0])
    expected = {0.0: 1.0, 0.25: 1.0, 0.26: 2.0, 0.5: 2.0, 0.75: 3.0, 0.76: 4.0, 1.0: 4.0}
    for q, exact in expected.items():
        assert_close(sketch.quantile(q), exact)
    weighted = QuantileSketch()
    weighted.add_many([1.0, 10.0], [3.0, 1.0])
    assert_close(weighted.quantile(0.75), 1.0)
    assert_close(weighted.quantile(0.7501), 10.0)
    # 0.3 is 0.75 of 0.3 + 0.1 in exact arithmetic, an ulp short in floats: QUANTILE_EPS keeps
    # the answer on the lower bin, in both forms.
    assert 0.3 < (0.3 + 0.1) * 0.75
    tie = QuantileSketch()
    tie.add_many([1.0, 2.0], [0.3, 0.1])
    assert_close(tie.quantile(0.75), 1.0)
    assert_close(sketch_quantiles(tie.to_frame("m"), [], (0.75,))["p75"].item(), 1.0)


def test_quantile_q_out_of_range_raises() -> None:
    sketch = QuantileSketch()
    sketch.add(1.0)
    for q in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match="quantile"):
            sketch.quantile(q)
        with pytest.raises(ValueError, match="quantile"):
            QuantileSketch().quantile(q)
        with pytest.raises(ValueError, match="quantile"):
            sketch_quantiles(sketch.to_frame("ack"), [], (q,))


def test_empty_gives_none_and_empty_frames() -> None:
    sketch = QuantileSketch()
    assert sketch.quantile(0.5) is None
    assert sketch.total_weight == 0.0
    frame = pl.DataFrame({"lp": ["A", "B"], "v": [None, math.nan]})
    sketched = sketch_frame(frame, ["lp"], "v", "ack")
    assert sketched.height == 0
    assert sketched.schema == pl.Schema(
        {"lp": pl.String, "metric": pl.String, "bin": pl.Int32, "weight": pl.Float64})
    quantiles = sketch_quantiles(sketched, ["lp"])
    assert quantiles.height == 0
    assert quantiles.columns == ["lp", "metric", "p50", "p95", "p99"]
    assert quantiles.schema["p50"] == pl.Float64


def test_null_and_nan_are_skipped_not_counted() -> None:
    sketch = QuantileSketch()
    sketch.add(math.nan)
    sketch.add(math.nan, weight=-5.0)  # an absent value's weight is not looked at
    assert sketch == QuantileSketch()
    sketch.add_many([1.0, math.nan, 2.0], [1.0, math.nan, 1.0])
    clean = QuantileSketch()
    clean.add_many([1.0, 2.0])
    assert sketch == clean
    assert sketch.total_weight == 2.0
    frame = pl.DataFrame({"lp": ["A", "A", "A", "A", "B"], "v": [1.0, None, math.nan, 2.0, None],
                          "w": [1.0, None, math.nan, 1.0, 3.0]})
    sketched = sketch_frame(frame, ["lp"], "v", "ack", "w")
    expected = sketch_frame(frame.filter(pl.col("v").is_not_nan()), ["lp"], "v", "ack", "w")
    assert sketched.equals(expected)
    assert sketched["weight"].sum() == 2.0
    assert sketched["lp"].unique().to_list() == ["A"]  # B had no value: absent


def test_inf_raises_everywhere() -> None:
    for bad in (math.inf, -math.inf):
        with pytest.raises(ValueError, match="finite"):
            QuantileSketch().add(bad)
        with pytest.raises(ValueError, match="infinit"):
            QuantileSketch().add_many([1.0, bad])
        with pytest.raises(ValueError, match="inf"):
            sketch_frame(pl.DataFrame({"lp": ["A", "A"], "v": [1.0, bad]}), ["lp"], "v", "ack")


@pytest.mark.parametrize("weight", [-1.0, math.nan, math.inf, None])
def test_bad_weight_on_a_present_value_raises(weight: float | None) -> None:
    if weight is not None:
        with pytest.raises(ValueError, match="weight"):
            QuantileSketch().add(1.0, weight)
        with pytest.raises(ValueError, match="weight"):
            QuantileSketch().add_many([1.0, 2.0], [1.0, weight])
        with pytest.raises(ValueError, match="weight"):
            QuantileSketch.from_bins([5, 6], [1.0, weight])
    frame = pl.DataFrame({"lp": ["A", "A"], "v": [1.0, 2.0], "w": [1.0, weight]})
    with pytest.raises(ValueError, match="'w'"):
        sketch_frame(frame, ["lp"], "v", "ack", "w")


def test_zero_weight_adds_nothing() -> None:
    sketch = QuantileSketch()
    sketch.add(1.0, 0.0)
    sketch.add_many([2.0, 3.0], [0.0, 1.0])
    assert len(sketch.bins) == 1
    frame = pl.DataFrame({"lp": ["A", "A"], "v": [2.0, 3.0], "w": [0.0, 1.0]})
    assert sketch_frame(frame, ["lp"], "v", "ack", "w").height == 1


def test_merge_is_new_exact_and_checks_alpha() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(0, 1, 1000), rng.lognormal(1, 2, 1000)
    sa, sb, sab = QuantileSketch(), QuantileSketch(), QuantileSketch()
    sa.add_many(a)
    sb.add_many(b)
    sab.add_many(np.concatenate([a, b]))
    before = sa.to_dict()
    merged = sa.merge(sb)
    assert merged == sab
    assert merged is not sa
    assert sa.to_dict() == before
    assert sb.merge(sa) == sab
    with pytest.raises(ValueError, match="alpha"):
        sa.merge(QuantileSketch(0.02))


def test_scaled_keeps_quantiles_and_scales_weight() -> None:
    rng = np.random.default_rng(4)
    sketch = QuantileSketch()
    sketch.add_many(rng.lognormal(-6, 1, 5000), rng.uniform(0.5, 2.0, 5000))
    for factor in (0.5, 0.5 ** (3.7 / 24), 1e-6, 3.0):
        scaled = sketch.scaled(factor)
        assert scaled.total_weight == pytest.approx(sketch.total_weight * factor, rel=1e-12)
        for q in QS:
            assert scaled.quantile(q) == sketch.quantile(q)
    assert sketch.scaled(1e-320).scaled(1e-10) == QuantileSketch()  # underflow drops bins
    for factor in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="factor"):
            sketch.scaled(factor)


def test_decayed_stream_equals_weighted_batch() -> None:
    """KPIS.md Recency: a stream that decays by one half-life per day equals a batch weighting
    each observation by 0.5 ** age_in_days."""
    rng = np.random.default_rng(5)
    days = [rng.lognormal(-7, 1, 300) for _ in range(4)]
    stream = QuantileSketch()
    for day in days:
        stream = stream.scaled(0.5)
        stream.add_many(day)
    ages = np.concatenate([np.full(d.size, 3 - i) for i, d in enumerate(days)])
    batch = sketch_frame(pl.DataFrame({"v": np.concatenate(days), "w": 0.5**ages}),
                         [], "v", "ack", "w")
    assert sketches_from_frame(batch, [])[("ack",)] == stream


def test_dict_round_trip_through_json() -> None:
    sketch = QuantileSketch(0.02)
    sketch.add_many([-3.0, 0.0, 1e-12, 0.1, 0.1, 7.5], [1.0, 2.0, 0.3, 1 / 3, 1e-300, 5.0])
    data = json.loads(json.dumps(sketch.to_dict()))
    assert QuantileSketch.from_dict(data) == sketch
    assert data["alpha"] == 0.02
    assert [k for k, _ in data["bins"]] == sorted(k for k, _ in data["bins"])


def grouped_frame(rng: np.random.Generator, n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "lp": rng.choice(["LP1", "LP2", "LP3"], n),
        "symbol": rng.choice(["AAPL", "MSFT", "EURUSD", "?"], n),
        "v": rng.lognormal(-7, 2, n),
        "w": rng.uniform(0.01, 3.0, n),
    }).with_columns(v=pl.when(pl.Series(rng.random(n)) < 0.05).then(None).otherwise("v"),
                    symbol=pl.col("symbol").replace("?", None))  # a null key is a group too


def test_scalar_and_columnar_agree_bin_for_bin_with_several_groups() -> None:
    rng = np.random.default_rng(6)
    frame = grouped_frame(rng, 30_000)
    keys = ["lp", "symbol"]
    sketched = sketch_frame(frame, keys, "v", "ack", "w")
    assert sketched.equals(sketched.sort([*keys, "bin"], nulls_last=True))
    from_frame = sketches_from_frame(sketched, keys)
    qs = (0.0, 0.5, 0.95, 0.99, 0.999, 1.0)
    quantiles = sketch_quantiles(sketched, keys, qs)
    assert quantiles.height == len(from_frame) == 12
    for (lp, symbol), rows in frame.partition_by(keys, as_dict=True).items():
        scalar = QuantileSketch()
        scalar.add_many(rows["v"].to_numpy(), rows["w"].to_numpy())
        assert from_frame[(lp, symbol, "ack")] == scalar  # same bins, same float sums
        row = quantiles.filter(pl.col("lp") == lp, pl.col("symbol").eq_missing(symbol))
        assert [row[c].item() for c in quantile_names(qs)] == [scalar.quantile(q) for q in qs]
        back = scalar.to_frame("ack", {"lp": lp, "symbol": symbol})
        same = sketched.filter(pl.col("lp") == lp, pl.col("symbol").eq_missing(symbol))
        assert back.cast({"symbol": pl.String}).equals(same)


def test_columnar_merge_equals_sketch_of_union() -> None:
    rng = np.random.default_rng(7)
    frame = grouped_frame(rng, 20_000).with_columns(w=pl.lit(1.0))
    parts = [frame[:5000], frame[5000:12000], frame[12000:]]
    keys = ["lp", "symbol"]
    whole = sketch_frame(frame, keys, "v", "ack", "w")
    sketched = [sketch_frame(p, keys, "v", "ack", "w") for p in parts]
    assert merge_sketch_frames(sketched, keys).equals(whole)
    assert merge_sketch_frames(sketched[::-1], keys).equals(whole)
    assert merge_sketch_frames([whole], keys).equals(whole)
    with pytest.raises(ValueError, match="at least one"):
        merge_sketch_frames([], keys)


def test_metrics_stay_apart_in_one_frame() -> None:
    frame = pl.DataFrame({"lp": ["A", "A", "B"], "ack": [1.0, 2.0, 3.0],
                          "fill": [10.0, 20.0, 30.0]})
    both = merge_sketch_frames([sketch_frame(frame, ["lp"], "ack", "ack_latency"),
                                sketch_frame(frame, ["lp"], "fill", "fill_latency")], ["lp"])
    quantiles = sketch_quantiles(both, ["lp"], (1.0,))
    assert quantiles.select("lp", "metric").rows() == [
        ("A", "ack_latency"), ("A", "fill_latency"), ("B", "ack_latency"), ("B", "fill_latency")]
    assert_close(quantiles.filter(lp="A", metric="fill_latency")["p100"].item(), 20.0)


def aggregation_cases() -> dict[str, pl.DataFrame]:
    """Frames that take each way of summing by (group, bin) in sketch_frame."""
    rng = np.random.default_rng(8)
    n = 5000
    return {
        # few groups, a narrow span of bins: a lookup table and a dense count
        "dense": pl.DataFrame({"g": rng.integers(0, 5, n), "v": rng.lognormal(0, 1, n),
                               "w": rng.uniform(0, 2, n)}),
        # a span of bins too wide for a lookup table: positions by sorting
        "wide_span": pl.DataFrame({"g": [1, 1, 1, 2, 2, 2, 2, 2],
                                   "v": [1e-9, 1e300, -1e300, 0.0, 1.0, 1e-9, 5e299, 1e-300],
                                   "w": [1.0, 0.5, 2.0, 1.0, 3.0, 0.25, 1.0, 1.0]}),
        # many groups times many distinct bins: only the cells in use are counted
        "sparse": pl.DataFrame({"g": np.arange(n) % 700, "v": GAMMA ** rng.integers(-400, 400, n),
                                "w": rng.uniform(0, 2, n)}),
    }


@pytest.mark.parametrize("case", list(aggregation_cases()))
def test_every_aggregation_path_agrees_with_the_scalar_form(case: str) -> None:
    frame = aggregation_cases()[case]
    qs = (0.0, 0.5, 0.9, 1.0)
    sketched = sketch_frame(frame, ["g"], "v", "m", "w")
    assert sketched.equals(sketched.sort("g", "bin"))
    sketches = sketches_from_frame(sketched, ["g"])
    quantiles = sketch_quantiles(sketched, ["g"], qs)
    assert quantiles.height == len(sketches) == frame["g"].n_unique()
    for (g,), rows in frame.partition_by("g", as_dict=True).items():
        scalar = QuantileSketch()
        scalar.add_many(rows["v"].to_numpy(), rows["w"].to_numpy())
        assert sketches[(g, "m")] == scalar
        assert quantiles.filter(g=g).row(0)[2:] == tuple(scalar.quantile(q) for q in qs)
        for q in qs:
            assert_close(scalar.quantile(q), lower_quantile(rows["v"].to_numpy(),
                                                            rows["w"].to_numpy(), q))


def test_alpha_is_carried_through_the_columnar_form() -> None:
    frame = pl.DataFrame({"g": [1, 1, 2], "v": [1.0, 2.0, 3.0]})
    sketched = sketch_frame(frame, ["g"], "v", "m", alpha=0.05)
    scalar = QuantileSketch(0.05)
    scalar.add_many([1.0, 2.0])
    assert sketches_from_frame(sketched, ["g"], 0.05)[(1, "m")] == scalar
    assert sketch_quantiles(sketched, ["g"], (1.0,), 0.05)["p100"][0] == scalar.quantile(1.0)


def test_integer_value_column_and_no_keys() -> None:
    frame = pl.DataFrame({"v": [1, 2, 3, 4]})
    assert_close(sketch_quantiles(sketch_frame(frame, [], "v", "m"), [], (0.5,))["p50"].item(), 2)


def test_quantile_column_names() -> None:
    assert quantile_names((0.5, 0.95, 0.99)) == ["p50", "p95", "p99"]
    assert quantile_names((0.0, 1.0, 0.999, 0.001, 0.05)) == ["p0", "p100", "p99_9", "p0_1", "p5"]
    with pytest.raises(ValueError, match="repeat"):
        quantile_names((0.5, 0.5))


@pytest.mark.parametrize("key", ["metric", "bin", "weight"])
def test_reserved_key_names_raise(key: str) -> None:
    frame = pl.DataFrame({key: ["A"], "v": [1.0]})
    with pytest.raises(ValueError, match="rename"):
        sketch_frame(frame, [key], "v", "ack")


def _polars_quantiles(frame: pl.DataFrame, keys: list[str], qs: tuple[float, ...],
                      alpha: float) -> pl.DataFrame:
    """sketch_quantiles as Polars expressions (the form the compiled pass replaced)."""
    group = [*keys, "metric"]
    names = quantile_names(qs)
    summed = lpscore.stats.sketch._sum_by_bin(frame.select(*group, "bin", "weight"), group)
    ranked = summed.with_columns(cum=pl.col("weight").cum_sum().over(group))
    found = ranked.group_by(group, maintain_order=True).agg(
        pl.col("bin").filter(pl.col("cum") >= pl.col("cum").last() * (q - QUANTILE_EPS)).first()
        .alias(name) for q, name in zip(qs, names, strict=True))
    return lpscore.stats.sketch._as_values(found, names, alpha)


@pytest.mark.parametrize("seed", range(12))
def test_compiled_quantiles_are_the_polars_ones(seed: int) -> None:
    """Bit for bit, on frames with repeated (group, bin) rows, weights that are fractions
    (decayed), a null key, a group whose weights cancel out, and q = 0 and 1."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    frame = pl.DataFrame({
        "lp": rng.choice(["LP_A", "LP_B", "LP_C"], n).tolist(),
        "symbol": [None if x < 0.1 else f"S{int(x * 5)}" for x in rng.random(n)],
        "metric": rng.choice(["ack_latency_ms", "hold_time_ms"], n).tolist(),
        "bin": rng.integers(-40, 900, n).astype(np.int32),
        "weight": rng.choice([1.0, 0.5 ** rng.random() * 3, 1e-3, 7.25], n),
    })
    cancel = pl.DataFrame({"lp": ["LP_Z", "LP_Z"], "symbol": ["S9", "S9"],
                           "metric": ["ack_latency_ms"] * 2, "bin": [5, 5],
                           "weight": [2.0, -2.0]}, schema=frame.schema)
    frame = pl.concat([frame, cancel])
    qs = (0.0, 0.25, 0.5, 0.95, 0.99, 1.0)
    for keys in (["lp", "symbol"], ["lp"]):
        want = _polars_quantiles(frame, keys, qs, DEFAULT_ALPHA)
        got = sketch_quantiles(frame, keys, qs)
        assert_frame_equal(got, want)
    assert sketch_quantiles(frame.head(0), ["lp"], qs).height == 0
