"""Learning from routed orders (docs/learn.md): models and allocators that learn each LP's
liquidity from censored fills, cost-aware splitting, and the dark pool benchmark.

- ``CensoredLiquidity``: discounted Kaplan-Meier estimate of each LP's available size from
  partial (exact) and full (censored) fills.
- ``lpscore.learn.allocation``: greedy, bandit, censored greedy and Thompson allocators.
- ``lpscore.learn.policy``: the learners as routing policies.
- ``lpscore.learn.costsplit``: Cont-Kukanov expected-cost splitting, exact and by projected SGD.
"""

from lpscore.learn.censored import CensoredLiquidity

__all__ = ["CensoredLiquidity"]
