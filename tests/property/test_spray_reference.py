"""The spray and uniform splits give exactly what they gave before their fast paths: the same
LPs in the same order, bit-identical sizes, the same notes. The reference is the earlier code,
kept here as it was (commit b10f732)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lpscore.routing import Candidate, Option, Spray, Uniform
from lpscore.routing.policies import waterfill

EPS = 1e-9


# --------------------------------------------------------------------------- the reference


class RefShape(NamedTuple):
    weights: list[float]
    mass: float
    order: list[int]
    basis: list[str]

    @classmethod
    def of(cls, weights: list[float], basis: list[str]) -> RefShape:
        top = max(weights, default=0.0)
        weights = [w / top for w in weights] if top > 0 else weights
        order = sorted(range(len(weights)), key=weights.__getitem__, reverse=True)
        return cls(weights, sum(weights), order, basis)


def ref_lots(qty: float, lot: float) -> float:
    if math.isinf(qty):
        return qty
    return math.floor(qty / lot + EPS) * lot


def ref_qty_text(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < EPS else f"{x:,.2f}"


def ref_median(values: list[float]) -> float:
    if not values:
        return 1.0
    values.sort()
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0


def ref_factors(candidates: Sequence[Candidate]) -> list[tuple[float, float, float]]:
    rate = [c.fill_rate for c in candidates]
    size = [c.filled_qty_per_order for c in candidates]
    if None not in rate and all(size) and all(c.score is not None for c in candidates):
        return [(max(c.score, 1.0), r, s)  # type: ignore[type-var,misc]
                for c, r, s in zip(candidates, rate, size, strict=True)]
    rate_fill = ref_median([r for r in rate if r is not None and not math.isnan(r)])
    size_fill = ref_median([s for s in size if s and not math.isnan(s)])
    return [(max(c.score, 1.0) if c.score is not None else 1.0 / c.rank,
             r if r is not None and not math.isnan(r) else rate_fill,
             s if s and not math.isnan(s) else size_fill)
            for c, r, s in zip(candidates, rate, size, strict=True)]


def ref_basis(c: Candidate, score: float, rate: float, per_order: float) -> str:
    basis = f"score {score:.1f}" if c.score is not None else f"static rank {c.rank}"
    return f"{basis} x fill rate {rate:.2f} x typical fill {per_order:,.0f}"


def ref_spray_shape(chosen: list[Option]) -> RefShape:
    candidates = [o.candidate for o in chosen]
    factors = ref_factors(candidates)
    return RefShape.of([a * b * c for a, b, c in factors],
                       [ref_basis(c, *f) for c, f in zip(candidates, factors, strict=True)])


def ref_equal_shape(chosen: list[Option]) -> RefShape:
    return RefShape.of([1.0] * len(chosen), [])


def ref_top(options: Iterable[Option], k: float, lot: float) -> list[Option]:
    chosen: list[Option] = []
    for o in options:
        if o.max_qty >= max(o.min_qty, lot) - EPS:
            chosen.append(o)
            if len(chosen) >= k:
                break
    return chosen


def ref_waterfill(total: float, weights: Sequence[float], caps: Sequence[float]
                  ) -> tuple[list[float], float]:
    sizes = [0.0] * len(weights)
    active = [i for i, cap in enumerate(caps) if cap > EPS]
    left = total
    while left > EPS and active:
        mass = sum(weights[i] for i in active)
        taken = 0.0
        for i in active:
            share = weights[i] / mass if mass > 0 else 1.0 / len(active)
            take = min(left * share, caps[i] - sizes[i])
            sizes[i] += take
            taken += take
        left -= taken
        active = [i for i in active if sizes[i] < caps[i] - EPS]
        if taken <= EPS:
            break
    return sizes, max(left, 0.0)


def ref_sizes(qty: float, chosen: Sequence[Option], shape: RefShape, lot: float) -> list[float]:
    caps = [o.max_qty for o in chosen]
    weights, mass = shape.weights, shape.mass
    if mass > 0 and math.inf == min(caps):
        whole = [math.floor(min(qty * w / mass, qty) / lot + EPS) * lot for w in weights]
        target = ref_lots(qty, lot)
    else:
        sizes, left = ref_waterfill(qty, weights, caps)
        whole = [s if s == math.inf else math.floor(s / lot + EPS) * lot for s in sizes]
        target = ref_lots(qty if left <= EPS * max(qty, 1.0) else sum(sizes), lot)
    residual = round((target - sum(whole)) / lot) * lot
    if residual < lot - EPS:
        return whole
    for i in shape.order:
        if residual < lot - EPS:
            break
        take = min(ref_lots(caps[i] - whole[i], lot), residual)
        whole[i] += take
        residual -= take
    return whole


def ref_split(qty: float, chosen: list[Option], lot: float,
              shape_of: Callable[[list[Option]], RefShape]
              ) -> tuple[list[Option], list[float], RefShape]:
    while chosen:
        shape = shape_of(chosen)
        sizes = ref_sizes(qty, chosen, shape, lot)
        small = [i for i, (o, s) in enumerate(zip(chosen, sizes, strict=True))
                 if s < lot - EPS or s < o.min_qty - EPS]
        if not small:
            return chosen, sizes, shape
        del chosen[max(small, key=lambda i: (chosen[i].candidate.rank, i))]
    return [], [], RefShape([], 0.0, [], [])


def ref_spray(qty: float, options: Iterable[Option], lot: float, k: int
              ) -> list[tuple[Candidate, float, str]]:
    chosen, sizes, shape = ref_split(qty, ref_top(options, k, lot), lot, ref_spray_shape)
    if not chosen:
        return []
    of_total = f"of {ref_qty_text(qty)} by"
    out = []
    for o, size, basis in zip(chosen, sizes, shape.basis, strict=True):
        if size > 0:
            note = f"{size / qty:.0%} {of_total} {basis}"
            if size >= o.max_qty - EPS:
                note += f", at its maximum {ref_qty_text(o.max_qty)}"
            out.append((o.candidate, size, note))
    return out


def ref_uniform(qty: float, options: Iterable[Option], lot: float, k: int | None
                ) -> list[tuple[Candidate, float, str]]:
    chosen, sizes, _ = ref_split(qty, ref_top(options, k or math.inf, lot), lot,
                                 ref_equal_shape)
    return [(o.candidate, s, f"1/{len(chosen)} of {ref_qty_text(qty)}")
            for o, s in zip(chosen, sizes, strict=True) if s > 0]


# --------------------------------------------------------------------------- inputs

LIMITS = [0.0, 1.0, 99.0, 100.0, 250.0, 5_000.0, 20_000.0, 50_000.0, 1e6, math.inf]
NICE = st.sampled_from([0.1, 0.3, 0.5, 0.7, 1.0, 3.0, 7.0, 1_000.0, 30_000.0])
"""Factors whose weights are in simple ratios: slices land on exact lot boundaries, where a
rounding difference shows."""
FACTOR = st.one_of(st.none(), st.just(math.nan), st.just(0.0), st.floats(1e-3, 1.0),
                   st.floats(1.0, 1e6), NICE)


@st.composite
def options(draw: st.DrawFn) -> list[Option]:
    n = draw(st.integers(1, 7))
    out = []
    for rank in range(1, n + 1):
        score = draw(st.one_of(st.none(), st.floats(0.0, 100.0), NICE.map(lambda x: x * 10)))
        lo = draw(st.one_of(st.sampled_from(LIMITS[:-1]), st.floats(0.0, 1e6)))
        hi = draw(st.one_of(st.sampled_from(LIMITS), st.floats(0.0, 1e6)))
        cand = Candidate(f"LP_{rank}", draw(st.integers(1, rank)), score, 1.0, False, 10,
                         draw(FACTOR), draw(FACTOR), f"LP_{rank}")
        out.append(Option(cand, lo, max(hi, lo) if draw(st.booleans()) else hi))
    return out


QTY = st.one_of(st.floats(0.0, 1e7), st.sampled_from([20_000.0, 200_000.0, 1e6, 1e7]),
                st.floats(1e7, 1e12), st.integers(1, 10**12).map(float))
LOT = st.sampled_from([1.0, 100.0, 1_000.0, 0.5, 3.0, 0.01])


def got(allocations: list) -> list[tuple[Candidate, str, str]]:
    return [(a.candidate, a.qty.hex(), a.note) for a in allocations]


def want(expected: list[tuple[Candidate, float, str]]) -> list[tuple[Candidate, str, str]]:
    return [(c, q.hex(), note) for c, q, note in expected]


# --------------------------------------------------------------------------- properties


def option(rank: int, score: float, rate: float, per_order: float) -> Option:
    cand = Candidate(f"LP_{rank}", rank, score, 1.0, False, 10, rate, per_order, f"LP_{rank}")
    return Option(cand, 0.0, math.inf)


@settings(max_examples=1_500)
@given(options(), QTY, LOT, st.integers(1, 5))
@example([Option(Candidate("LP_1", 1, 80.0, 1.0, False, 10, 1.0, 40_000.0, "LP_1"),
                 0.0, 20_000.0),
          Option(Candidate("LP_2", 2, 60.0, 1.0, False, 10, 0.5, 20_000.0, "LP_2"),
                 0.0, math.inf),
          Option(Candidate("LP_3", 3, 40.0, 1.0, False, 10, None, 10_000.0, "LP_3"),
                 35_000.0, math.inf)], 100_000.0, 100.0, 3)
@example([option(1, 100.0, 1.0, 1_000.0), option(2, 50.0, 0.1, 1_000.0)],
         698_790_613_647.0, 1.0, 2)     # qty * w / mass and qty * (w / mass) floor apart
@example([option(1, 50.0, 1.0, 1_000.0), option(2, 30.0, 1.0, 1_000.0)],
         462_822_171_400.0, 3.0, 2)
def test_spray_is_the_reference(opts: list[Option], qty: float, lot: float, k: int) -> None:
    policy = Spray(k)
    assert got(policy.allocate(qty, opts, lot)) == want(ref_spray(qty, opts, lot, k))
    # a second time through the remembered shapes
    assert got(policy.allocate(qty, iter(opts), lot)) == want(ref_spray(qty, opts, lot, k))


@settings(max_examples=500)
@given(options(), QTY, LOT, st.one_of(st.none(), st.integers(1, 5)))
def test_uniform_is_the_reference(opts: list[Option], qty: float, lot: float,
                                  k: int | None) -> None:
    assert got(Uniform(k).allocate(qty, opts, lot)) == want(ref_uniform(qty, opts, lot, k))


@settings(max_examples=500)
@given(st.lists(st.one_of(st.just(0.0), st.just(math.nan), st.floats(1e-6, 1e3)), min_size=1,
                max_size=6)
       .flatmap(lambda w: st.tuples(st.just(w), st.lists(st.sampled_from([*LIMITS, math.nan]),
                                                         min_size=len(w),
                                                         max_size=len(w)))),
       st.one_of(st.floats(0.0, 1e9), st.just(math.inf)))
def test_waterfill_is_the_reference(weights_caps: tuple[list[float], list[float]],
                                    total: float) -> None:
    weights, caps = weights_caps
    sizes, left = waterfill(total, weights, caps)
    ref, ref_left = ref_waterfill(total, weights, caps)
    assert ([s.hex() for s in sizes], left.hex()) == ([s.hex() for s in ref], ref_left.hex())
