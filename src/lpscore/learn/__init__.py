"""Learning from routed orders (docs/learn.md): models that feed learning routing policies
through ``Policy.observe``.

- ``CensoredLiquidity``: discounted Kaplan-Meier estimate of each LP's available size from
  partial (exact) and full (censored) fills.
"""

from lpscore.learn.censored import CensoredLiquidity

__all__ = ["CensoredLiquidity"]
