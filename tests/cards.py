"""Comparing scorecards computed two ways (tests/unit/test_scoring_dense.py,
tests/integration/test_stream.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lpscore.scoring import Scorecard


def by_context(cards: list[Scorecard]) -> dict[str, Scorecard]:
    return {repr(sorted(c.context.items())): c for c in cards}


def assert_same_cards(got: list[Scorecard], want: list[Scorecard]) -> None:
    """The same contexts and LPs, every number to 1e-9. Ranks agree except between LPs
    whose scores tie to 1e-9 (two LPs of one context score exactly 50 each under
    ``robust_z``: float rounding, added in another order, may break such a tie)."""
    a, b = by_context(got), by_context(want)
    assert sorted(a) == sorted(b)
    assert b, "nothing scored: the comparison would be empty"
    for key, card in b.items():
        mine = {s.lp: s for s in a[key].scores}
        assert a[key].drawn == card.drawn and a[key].t_ref == card.t_ref, key
        assert sorted(mine) == sorted(s.lp for s in card.scores), key
        for y in card.scores:
            x = mine[y.lp]
            tied = any(abs(o.score - y.score) <= 1e-9 for o in card.scores if o.lp != y.lp)
            assert x.rank == y.rank or tied, (key, y.lp)
            assert (x.n_orders, x.provisional) == (y.n_orders, y.provisional)
            for name in ("score", "ci_low", "ci_high", "rank_stability", "n_eff"):
                if name == "rank_stability" and tied:
                    continue
                close(getattr(x, name), getattr(y, name), (key, x.lp, name))
            for table in ("contributions", "kpis", "raw_kpis"):
                mine_values, want_values = getattr(x, table), getattr(y, table)
                assert mine_values.keys() == want_values.keys()
                for kpi, value in want_values.items():
                    close(mine_values[kpi], value, (key, x.lp, table, kpi))


def close(a: float | None, b: float | None, where: Any) -> None:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        assert a is None or math.isnan(a), where
    else:
        assert a is not None and a == pytest.approx(b, rel=1e-9, abs=1e-9), where
