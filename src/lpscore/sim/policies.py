"""Policies the simulator needs besides the router's own (lpscore.routing.policies)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from lpscore.routing.policies import Allocation, Option, Policy, lots

__all__ = ["RandomOne"]


class RandomOne(Policy):
    """The whole order to one eligible LP drawn uniformly (the desk's exploratory flow)."""

    name = "random"

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def allocate(self, qty: float, options: Iterable[Option], lot: float) -> list[Allocation]:
        fitting = [o for o in options if lots(min(qty, o.max_qty), lot) >= max(o.min_qty, lot)]
        if not fitting:
            return []
        pick = fitting[int(self._rng.integers(len(fitting)))]
        return [Allocation(pick.candidate, lots(min(qty, pick.max_qty), lot),
                           f"drawn at random among {len(fitting)} eligible LPs")]
