"""Numbers as text and HTML tables for the report; every piece of data is escaped here.

A value that is missing, null, NaN or infinite is None and prints as ``n/a``, never as 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from lpscore.report.svg import Style

__all__ = ["fmt", "get", "num", "section", "swatch", "table", "td", "td_lp", "td_text"]

_NA = '<td class="na" title="no value: no benchmark or no data">n/a</td>'
_FORMATS: dict[str, Callable[[float], str]] = {
    "pct": lambda v: f"{v * 100:.2f}%",      # a fraction 0..1
    "bps": lambda v: f"{v:,.2f}",
    "ratio": lambda v: f"{v:.2f}",
    "pp": lambda v: f"{v * 100:+.2f} pp",    # a difference of two fractions
    "ms": lambda v: f"{v:,.2f}",
    "int": lambda v: f"{v:,.0f}",
    "qty": lambda v: f"{v:,.0f}" if v == int(v) else f"{v:,.2f}",
    "money": lambda v: f"{v:,.2f}",          # in the quote currency
}


def num(value: object) -> float | None:
    """``value`` as a finite float, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def get(row: Mapping[str, Any], key: str, sub: str | None = None) -> float | None:
    """``row[key]`` (or ``row[key][sub]``) as a number, None when absent or null."""
    value = row.get(key)
    if sub is not None:
        value = value.get(sub) if isinstance(value, Mapping) else None
    return num(value)


def fmt(kind: str, value: float | None) -> str | None:
    """``value`` formatted as ``kind`` (pct, bps, ratio, pp, ms, int, qty, money); None stays
    None. A value that rounds to zero prints without a sign (``0.00``, not ``-0.00``), as
    ``+0.00 pp`` for a difference."""
    if value is None:
        return None
    text = _FORMATS[kind](value)
    return text if not _NEGATIVE_ZERO.match(text) else _FORMATS[kind](0.0)


_NEGATIVE_ZERO = re.compile(r"-0(?:\.0+)?(?![\d.,])")


def td(text: str | None) -> str:
    """A numeric cell, or ``n/a`` for None."""
    return _NA if text is None else f"<td>{escape(text)}</td>"


def td_text(text: str) -> str:
    return f'<td class="text">{escape(text)}</td>'


def swatch(st: Style) -> str:
    """A small colour key matching how ``st`` draws bars."""
    outlined = st.opacity < 0.4
    fill = "#fff" if outlined else st.colour
    return (f'<span class="sw" style="background:{fill};border-color:{st.colour};'
            f'opacity:{1.0 if outlined else max(st.opacity, 0.6)}"></span>')


def td_lp(name: str, st: Style) -> str:
    return f'<td class="text">{swatch(st)}{escape(name)}</td>'


def table(head: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], *,
          text_cols: int = 1, groups: Sequence[tuple[str, int]] = ()) -> str:
    """A table: ``head`` is (label, tooltip) per column, ``rows`` hold ready ``<td>`` cells;
    the first ``text_cols`` columns are left-aligned text; ``groups`` adds a header row of
    (label, column span) above the labels."""
    ths = "".join(_th(h, tip, text=i < text_cols) for i, (h, tip) in enumerate(head))
    top = "".join(f'<th colspan="{span}" class="group">{escape(label)}</th>'
                  for label, span in groups)
    thead = (f"<tr>{top}</tr>" if groups else "") + f"<tr>{ths}</tr>"
    trs = "\n".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return (f'<div class="scroll"><table>\n<thead>{thead}</thead>\n<tbody>\n{trs}\n'
            "</tbody></table></div>")


def _th(label: str, tip: str, *, text: bool) -> str:
    cls = ' class="text"' if text else ""
    title = f' title="{escape(tip)}"' if tip else ""
    return f"<th{cls}{title}>{escape(label)}</th>"


def section(title: str, note: str, *parts: str) -> str:
    """A titled report section; ``note`` is plain text, ``parts`` ready HTML."""
    return "\n".join([f"<section>\n<h2>{escape(title)}</h2>",
                      f'<p class="note">{escape(note)}</p>', *parts, "</section>"])
