"""JSON that strict parsers read: NaN and the infinities, which ``json.dumps`` writes as
``NaN`` and ``Infinity`` (not JSON), become null, or their text where the value must be
seen (a request echoed in an error)."""

from __future__ import annotations

import json
import math

__all__ = ["finite", "strict_json"]


def finite(value: object, *, as_text: bool = False) -> object:
    """``value`` (made of dicts, lists, tuples and scalars) with each non-finite float null,
    or with ``as_text`` its text (``'nan'``, ``'inf'``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else (str(value) if as_text else None)
    if isinstance(value, dict):
        return {k: finite(v, as_text=as_text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v, as_text=as_text) for v in value]
    return value


def strict_json(payload: object, *, indent: int | None = None) -> str:
    """``payload`` as standard JSON, non-finite floats null (an arrival mid without an
    order, a regret without the oracle)."""
    return json.dumps(finite(payload), indent=indent, allow_nan=False)
