"""Inline SVG charts for the HTML report: line, grouped bar, horizontal bar, stacked
horizontal bar and histogram.

Each chart function returns one ``<svg>`` element as well-formed XML with a title, axes with
tick labels and a legend where there is more than one series. Every drawn value carries a
``<title>`` tooltip, so it can be read as text. Text is escaped here; callers pass plain
strings. Colours come from a fixed colour-blind-safe palette (Okabe-Ito without its yellow);
past its seven colours, series also differ by dash, marker and fill opacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from lpscore.report.scales import linear, nice_ticks, text_width, tick_label

__all__ = [
    "PALETTE",
    "Bar",
    "BarGroup",
    "Series",
    "Stack",
    "Style",
    "grouped_bar_chart",
    "hbar_chart",
    "histogram",
    "line_chart",
    "stacked_hbar_chart",
    "style",
]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000")
_DASHES = ("", "6 3", "2 3")
_MARKERS = ("circle", "square", "diamond")
_OPACITY = (1.0, 0.45, 0.1)  # the third cycle draws outlined bars


@dataclass(frozen=True, slots=True)
class Style:
    """How one series is drawn."""

    colour: str
    dash: str
    marker: str
    opacity: float


def style(index: int) -> Style:
    """The style of series ``index``: the same index gets the same look in every chart."""
    cycle = (index // len(PALETTE)) % len(_DASHES)
    return Style(PALETTE[index % len(PALETTE)], _DASHES[cycle], _MARKERS[cycle], _OPACITY[cycle])


@dataclass(frozen=True, slots=True)
class Series:
    """One named series: a value (or None, a gap) per category, and optional tooltip notes."""

    name: str
    values: Sequence[float | None]
    style: Style
    notes: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class Stack:
    """One row of a stacked horizontal bar: a non-negative value per segment, summing to the
    bar's length, and an optional interval drawn as a whisker over it."""

    label: str
    parts: Sequence[float]
    low: float | None = None
    high: float | None = None
    faded: bool = False
    """Drawn lighter (a provisional value)."""
    notes: Sequence[str] = ()
    """A tooltip note per part."""


@dataclass(frozen=True, slots=True)
class BarGroup:
    """A titled block of horizontal bars, drawn in one style."""

    name: str
    style: Style
    bars: Sequence[Bar]


def _n(v: float) -> str:
    """A coordinate, compact."""
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tip(text: str) -> str:
    return f"<title>{escape(text)}</title>"


def _ms(v: float) -> str:
    """A bin edge or tick: three significant digits below 100 (the edges of one decade's
    bins, 1 to 1.29 to 1.67..., stay apart), whole numbers above."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _orders(n: int) -> str:
    return f"{n:,} order" + ("" if n == 1 else "s")


@dataclass(frozen=True, slots=True)
class _Box:
    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


def _open(width: float, height: float, title: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
        f'height="{_n(height)}" role="img" aria-label="{escape(title)}">',
        f'<text class="chart-title" x="8" y="18">{escape(title)}</text>',
    ]


def _y_axis(box: _Box, ticks: Sequence[float], y: Callable[[float], float], label: str,
            fmt: Callable[[float], str] | None = None) -> list[str]:
    out = []
    for t in ticks:
        yy = _n(y(t))
        text = fmt(t) if fmt else tick_label(t, ticks)
        out.append(f'<line class="grid" x1="{_n(box.left)}" x2="{_n(box.right)}" y1="{yy}" '
                   f'y2="{yy}"/>')
        out.append(f'<text class="tick" x="{_n(box.left - 6)}" y="{yy}" dy="4" '
                   f'text-anchor="end">{escape(text)}</text>')
    cy = _n(box.top + box.height / 2)
    out.append(f'<text class="axis-label" transform="rotate(-90)" x="-{cy}" y="14" '
               f'text-anchor="middle">{escape(label)}</text>')
    out.append(f'<line class="axis" x1="{_n(box.left)}" x2="{_n(box.left)}" '
               f'y1="{_n(box.top)}" y2="{_n(box.bottom)}"/>')
    return out


def _x_grid(ticks: list[float], x: Callable[[float], float], box: _Box, x_label: str,
            label_dy: float) -> list[str]:
    """Vertical grid lines with tick labels under the box, the axis label and the axis line."""
    out = []
    for t in ticks:
        xx = _n(x(t))
        out.append(f'<line class="grid" x1="{xx}" x2="{xx}" y1="{_n(box.top)}" '
                   f'y2="{_n(box.bottom)}" data-tick="{t!r}"/>')
        out.append(f'<text class="tick" x="{xx}" y="{_n(box.bottom + 16)}" '
                   f'text-anchor="middle">{escape(tick_label(t, ticks))}</text>')
    out.append(f'<text class="axis-label" x="{_n(box.left + box.width / 2)}" '
               f'y="{_n(box.bottom + label_dy)}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(_x_axis_line(box))
    return out


def _x_axis_line(box: _Box) -> str:
    return (f'<line class="axis" x1="{_n(box.left)}" x2="{_n(box.right)}" '
            f'y1="{_n(box.bottom)}" y2="{_n(box.bottom)}"/>')


def _empty(box: _Box, text: str) -> str:
    return (f'<text class="empty" x="{_n(box.left + box.width / 2)}" '
            f'y="{_n(box.top + box.height / 2)}" text-anchor="middle">{escape(text)}</text>')


def _marker(st: Style, x: float, y: float, tip: str) -> str:
    fill = f'fill="{st.colour}"'
    if st.marker == "square":
        return (f'<rect class="point" x="{_n(x - 3.5)}" y="{_n(y - 3.5)}" width="7" height="7" '
                f"{fill}>{_tip(tip)}</rect>")
    if st.marker == "diamond":
        pts = f"{_n(x)},{_n(y - 5)} {_n(x + 5)},{_n(y)} {_n(x)},{_n(y + 5)} {_n(x - 5)},{_n(y)}"
        return f'<polygon class="point" points="{pts}" {fill}>{_tip(tip)}</polygon>'
    return f'<circle class="point" cx="{_n(x)}" cy="{_n(y)}" r="4" {fill}>{_tip(tip)}</circle>'


def _legend(entries: Sequence[tuple[str, Style]], x0: float, y0: float, width: float,
            kind: str) -> tuple[list[str], float]:
    """Legend rows wrapped to ``width``; returns the elements and the height used."""
    out: list[str] = []
    x, y = x0, y0 + 12
    for name, st in entries:
        label = _short(name, 28)
        w = 26 + text_width(label) + 18
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 18
        if kind == "line":
            dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
            out.append(f'<line x1="{_n(x)}" x2="{_n(x + 20)}" y1="{_n(y - 4)}" '
                       f'y2="{_n(y - 4)}" stroke="{st.colour}" stroke-width="2"{dash}/>')
            out.append(_marker(st, x + 10, y - 4, name))
        else:
            out.append(f'<rect x="{_n(x)}" y="{_n(y - 10)}" width="12" height="12" '
                       f'fill="{st.colour}" fill-opacity="{st.opacity}" stroke="{st.colour}" '
                       'stroke-width="1.5"/>')
        out.append(f'<text class="legend" x="{_n(x + 26)}" y="{_n(y)}">{escape(label)}'
                   f"{_tip(name)}</text>")
        x += w
    return out, (y - y0 + 8) if entries else 0.0


def _category_labels(box: _Box, labels: Sequence[str], slot: float) -> list[str]:
    rotate = max((text_width(_short(s, 18), 11) for s in labels), default=0) > slot - 4
    out = []
    for i, label in enumerate(labels):
        x, y = box.left + (i + 0.5) * slot, box.bottom + 16
        text = escape(_short(label, 18))
        if rotate:
            out.append(f'<text class="tick" x="{_n(x)}" y="{_n(y)}" text-anchor="end" '
                       f'transform="rotate(-35 {_n(x)} {_n(y)})">{text}{_tip(label)}</text>')
        else:
            out.append(f'<text class="tick" x="{_n(x)}" y="{_n(y)}" text-anchor="middle">'
                       f"{text}{_tip(label)}</text>")
    return out


def _label_room(labels: Sequence[str], slot: float) -> float:
    longest = max((text_width(_short(s, 18), 11) for s in labels), default=0)
    return longest * 0.6 + 24 if longest > slot - 4 else 28


def line_chart(title: str, categories: Sequence[str], series: Sequence[Series], *,
               x_label: str, y_label: str, unit: str, width: float = 900,
               height: float = 330) -> str:
    """Lines over categorical x; None values leave gaps; a dashed line marks zero."""
    finite = [v for s in series for v in s.values if v is not None]
    box = _Box(64, 34, width - 84, height - 34 - 56)
    ticks = nice_ticks(min([0.0, *finite]), max([0.0, *finite]))
    y = linear(ticks[0], ticks[-1], box.bottom, box.top)
    slot = box.width / max(len(categories), 1)
    legend, legend_h = _legend([(s.name, s.style) for s in series], box.left,
                               box.bottom + 46, box.width, "line")
    out = _open(width, height + legend_h, title)
    out += _y_axis(box, ticks, y, y_label)
    out.append(_x_axis_line(box))
    out += _category_labels(box, categories, slot)
    out.append(f'<text class="axis-label" x="{_n(box.left + box.width / 2)}" '
               f'y="{_n(box.bottom + 36)}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<line class="zero" x1="{_n(box.left)}" x2="{_n(box.right)}" '
               f'y1="{_n(y(0.0))}" y2="{_n(y(0.0))}"/>')
    if not finite:
        out.append(_empty(box, "no values to draw"))
    for s in series:
        points = [(box.left + (i + 0.5) * slot, v) for i, v in enumerate(s.values)]
        if all(v is None for _, v in points):
            continue
        d, pen_up = [], True
        for x, v in points:
            if v is None:
                pen_up = True
                continue
            d.append(f"{'M' if pen_up else 'L'}{_n(x)} {_n(y(v))}")
            pen_up = False
        dash = f' stroke-dasharray="{s.style.dash}"' if s.style.dash else ""
        out.append(f'<path class="series" data-series="{escape(s.name)}" d="{" ".join(d)}" '
                   f'fill="none" stroke="{s.style.colour}" stroke-width="2"{dash}/>')
        for i, (x, v) in enumerate(points):
            if v is not None:
                note = f"; {s.notes[i]}" if i < len(s.notes) and s.notes[i] else ""
                tip = f"{s.name} at {categories[i]}: {v:,.2f} {unit}{note}"
                out.append(_marker(s.style, x, y(v), tip))
    out += legend
    out.append("</svg>")
    return "\n".join(out)


def grouped_bar_chart(title: str, groups: Sequence[str], series: Sequence[Series], *,
                      y_label: str, fmt: Callable[[float], str], y_max: float = 0.0,
                      width: float = 900, height: float = 320) -> str:
    """Vertical bars from zero, one cluster per group and one bar per series in each."""
    finite = [v for s in series for v in s.values if v is not None]
    n_bars = max(len(series), 1)
    width = max(width, 84 + len(groups) * (n_bars * 9 + 8))
    slot = (width - 84) / max(len(groups), 1)
    bottom_room = 16 + _label_room(groups, slot)
    box = _Box(64, 34, width - 84, height - 34 - bottom_room)
    ticks = nice_ticks(min([0.0, *finite]), max([y_max, *finite]))
    y = linear(ticks[0], ticks[-1], box.bottom, box.top)
    legend, legend_h = ([], 0.0) if len(series) < 2 else _legend(
        [(s.name, s.style) for s in series], box.left, box.bottom + bottom_room - 8,
        box.width, "box")
    out = _open(width, height + legend_h, title)
    out += _y_axis(box, ticks, y, y_label, fmt)
    out.append(_x_axis_line(box))
    out += _category_labels(box, groups, slot)
    if not finite:
        out.append(_empty(box, "no values to draw"))
    bar_w = min(slot * 0.8 / n_bars, 56.0)
    pad = (slot - bar_w * n_bars) / 2
    for j, s in enumerate(series):
        for i, v in enumerate(s.values):
            if v is None:
                continue
            x = box.left + i * slot + pad + j * bar_w
            top, base = y(max(v, 0.0)), y(min(v, 0.0))
            note = f"; {s.notes[i]}" if i < len(s.notes) and s.notes[i] else ""
            tip = _tip(f"{groups[i]}, {s.name}: {fmt(v)}{note}")
            out.append(
                f'<rect class="bar" x="{_n(x + 0.5)}" y="{_n(top)}" width="{_n(bar_w - 1)}" '
                f'height="{base - top:.3f}" fill="{s.style.colour}" '
                f'fill-opacity="{s.style.opacity}" stroke="{s.style.colour}" '
                f'stroke-width="1.5" data-value="{v!r}">{tip}</rect>')
            if v == 0:  # a zero-height rect is not drawn: mark it on the axis
                out.append(f'<line class="bar-zero" x1="{_n(x + 0.5)}" x2="{_n(x + bar_w - 0.5)}" '
                           f'y1="{_n(base)}" y2="{_n(base)}" stroke="{s.style.colour}" '
                           f'stroke-width="4">{tip}</line>')
            if text_width(fmt(v), 11) + 6 <= bar_w:  # room for the value above the bar
                out.append(f'<text class="value" x="{_n(x + bar_w / 2)}" y="{_n(top - 4)}" '
                           f'text-anchor="middle">{escape(fmt(v))}{tip}</text>')
    out += legend
    out.append("</svg>")
    return "\n".join(out)


def hbar_chart(title: str, groups: Sequence[BarGroup], *, x_label: str,
               width: float = 900) -> str:
    """Horizontal bars of non-negative counts, in titled blocks (one per group)."""
    labels = [b.label for g in groups for b in g.bars]
    label_w = min(300.0, max((text_width(_short(s, 42), 11) for s in labels), default=60) + 20)
    n_rows = len(labels) + len(groups)
    box = _Box(label_w, 34, width - label_w - 60, max(n_rows, 1) * 20)
    values = [b.value for g in groups for b in g.bars]
    ticks = nice_ticks(0.0, max([1.0, *values]), integer=True)
    x = linear(ticks[0], ticks[-1], box.left, box.right)
    out = _open(width, box.bottom + 44, title)
    out += _x_grid(ticks, x, box, x_label, 36)
    if not groups:
        out.append(_empty(box, "nothing to draw"))
    row = box.top
    for g in groups:
        out.append(f'<text class="group" x="8" y="{_n(row + 15)}">'
                   f"{escape(_short(g.name, 40))}{_tip(g.name)}</text>")
        row += 20
        for b in g.bars:
            w = x(b.value) - box.left
            note = f"; {b.note}" if b.note else ""
            out.append(f'<text class="tick" x="{_n(box.left - 6)}" y="{_n(row + 14)}" '
                       f'text-anchor="end">{escape(_short(b.label, 42))}{_tip(b.label)}</text>')
            out.append(
                f'<rect class="bar" x="{_n(box.left)}" y="{_n(row + 3)}" width="{w:.3f}" '
                f'height="14" fill="{g.style.colour}" fill-opacity="{g.style.opacity}" '
                f'stroke="{g.style.colour}" stroke-width="1.5" data-value="{b.value!r}">'
                f'{_tip(f"{g.name}, {b.label}: {b.value:,.0f}{note}")}</rect>')
            out.append(f'<text class="value" x="{_n(box.left + w + 4)}" y="{_n(row + 14)}">'
                       f"{b.value:,.0f}</text>")
            row += 20
    out.append("</svg>")
    return "\n".join(out)


def histogram(title: str, edges: Sequence[float], counts: Sequence[int], st: Style, *,
              marks: Sequence[tuple[str, float | None]] = (), x_label: str = "ms",
              empty: str = "no values", width: float = 380, height: float = 210) -> str:
    """Counts over log-spaced bins, with labelled vertical marks (percentiles)."""
    box = _Box(48, 30, width - 72, height - 30 - 40)
    total = sum(counts)
    ticks = nice_ticks(0.0, max([1, *counts]), 4, integer=True)
    y = linear(ticks[0], ticks[-1], box.bottom, box.top)
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])
    lx = linear(lo, hi, box.left, box.right)

    def x(v: float) -> float:
        return lx(min(max(math.log10(v), lo), hi)) if v > 0 else box.left

    out = _open(width, height, title)
    out += _y_axis(box, ticks, y, "orders")
    out.append(_x_axis_line(box))
    decades = range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)
    steps = (1, 2, 5) if len(decades) <= 3 else (1,)
    for k in decades:
        for m in steps:
            v = m * 10.0**k
            if v <= edges[-1] * (1 + 1e-9):
                out.append(f'<text class="tick" x="{_n(x(v))}" y="{_n(box.bottom + 15)}" '
                           f'text-anchor="middle">{escape(_ms(v))}</text>')
    out.append(f'<text class="axis-label" x="{_n(box.left + box.width / 2)}" '
               f'y="{_n(box.bottom + 33)}" text-anchor="middle">{escape(x_label)}</text>')
    if total == 0:
        out.append(_empty(box, empty))
    for i, (a, b, c) in enumerate(zip(edges, edges[1:], counts, strict=False)):
        if c:
            span = f"up to {_ms(b)}" if i == 0 else f"{_ms(a)} to {_ms(b)}"   # 0 counts here
            x0, x1 = x(a), x(b)
            out.append(
                f'<rect class="bar" x="{_n(x0 + 0.5)}" y="{_n(y(c))}" '
                f'width="{_n(max(x1 - x0 - 1, 0.5))}" height="{y(0) - y(c):.3f}" '
                f'fill="{st.colour}" fill-opacity="{st.opacity}" stroke="{st.colour}" '
                f'data-value="{c}">'
                f"{_tip(f'{span} {x_label}: {_orders(c)}')}</rect>")
    for i, (name, value) in enumerate(marks):
        if value is None or total == 0:
            continue
        xx = x(value)
        anchor, dx = ("end", -3) if xx > box.right - 40 else ("start", 3)
        out.append(f'<line class="mark mark-{i}" x1="{_n(xx)}" x2="{_n(xx)}" '
                   f'y1="{_n(box.top)}" y2="{_n(box.bottom)}">'
                   f"{_tip(f'{name} = {value:,.2f} {x_label}')}</line>")
        out.append(f'<text class="mark-label" x="{_n(xx + dx)}" y="{_n(box.top + 10 + 12 * i)}" '
                   f'text-anchor="{anchor}">{escape(name)}'
                   f"{_tip(f'{name} = {value:,.2f} {x_label}')}</text>")
    out.append("</svg>")
    return "\n".join(out)


def stacked_hbar_chart(title: str, stacks: Sequence[Stack], segments: Sequence[tuple[str, Style]],
                       *, x_max: float, x_label: str, fmt: Callable[[float], str],
                       width: float = 900) -> str:
    """Horizontal bars on ``0..x_max``, one per stack, each made of one segment per entry of
    ``segments`` (named in the legend); a whisker over a bar spans its ``low..high``."""
    label_w = min(300.0, max((text_width(_short(s.label, 42), 11) for s in stacks),
                             default=60) + 20)
    box = _Box(label_w, 34, width - label_w - 110, max(len(stacks), 1) * 26)
    ticks = nice_ticks(0.0, x_max)
    x = linear(ticks[0], ticks[-1], box.left, box.right)
    legend, legend_h = _legend(segments, box.left, box.bottom + 40, box.width, "box")
    out = _open(width, box.bottom + 44 + legend_h, title)
    out += _x_grid(ticks, x, box, x_label, 34)
    if not stacks:
        out.append(_empty(box, "nothing to draw"))
    for i, s in enumerate(stacks):
        top = box.top + i * 26 + 5
        total = math.fsum(s.parts)
        out.append(f'<g class="stack" data-label="{escape(s.label)}" data-value="{total!r}">')
        out.append(f'<text class="tick" x="{_n(box.left - 6)}" y="{_n(top + 12)}" '
                   f'text-anchor="end">{escape(_short(s.label, 42))}{_tip(s.label)}</text>')
        done = 0.0
        for j, ((name, st), part) in enumerate(zip(segments, s.parts, strict=True)):
            x0, x1 = x(done), x(done + part)
            done += part
            if part <= 0:
                continue
            note = f"; {s.notes[j]}" if j < len(s.notes) and s.notes[j] else ""
            opacity = st.opacity * (0.45 if s.faded else 1.0)
            out.append(
                f'<rect class="segment" x="{x0:.3f}" y="{_n(top)}" width="{x1 - x0:.3f}" '
                f'height="16" fill="{st.colour}" fill-opacity="{opacity:.2f}" '
                f'stroke="#fff" stroke-width="0.5" data-segment="{escape(name)}" '
                f'data-value="{part!r}">{_tip(f"{s.label}, {name}: {fmt(part)}{note}")}</rect>')
        dash = ' stroke-dasharray="3 2"' if s.faded else ""
        out.append(f'<rect class="total" x="{x(0):.3f}" y="{_n(top)}" '
                   f'width="{x(total) - x(0):.3f}" height="16" fill="none" stroke="#444" '
                   f'stroke-width="0.8"{dash}>'
                   f"{_tip(f'{s.label}: {fmt(total)}')}</rect>")
        end = x(total)
        if s.low is not None and s.high is not None:
            lo, hi, mid = x(s.low), x(s.high), top + 8
            tip = _tip(f"{s.label}: interval {fmt(s.low)} to {fmt(s.high)}")
            out.append(f'<path class="whisker" d="M{_n(lo)} {_n(mid)}H{_n(hi)}'
                       f"M{_n(lo)} {_n(mid - 6)}V{_n(mid + 6)}M{_n(hi)} {_n(mid - 6)}"
                       f'V{_n(mid + 6)}" stroke="#222" stroke-width="1.5" fill="none" '
                       f'data-low="{s.low!r}" data-high="{s.high!r}">{tip}</path>')
            end = max(end, hi)
        out.append(f'<text class="value" x="{_n(end + 6)}" y="{_n(top + 12)}">'
                   f"{escape(fmt(total))}</text>")
        out.append("</g>")
    out += legend
    out.append("</svg>")
    return "\n".join(out)
