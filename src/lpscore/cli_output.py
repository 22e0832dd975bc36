"""How the ``lpscore`` commands print: consoles that print names as they are, a few styled
words, progress-bar columns, and tables that fit the terminal without cutting a number."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.progress import TextColumn
from rich.table import Table
from rich.text import Text

__all__ = ["console", "err", "fitted_tables", "styled", "task_columns"]


def console(*, stderr: bool = False) -> Console:
    """A console that prints text as it is given. LP names, symbols, contexts, paths and FIX
    texts come from the data and the user, and '[...]' in them is not console markup (a
    '[/b]' stopped a command with a MarkupError, a '[red]' vanished): markup is off, and
    the few words lpscore styles are ``Text`` (``styled``)."""
    return Console(stderr=stderr, markup=False)


err = console(stderr=True)


def styled(label: str, style: str, *rest: str | Text) -> Text:
    """``label`` in ``style``, then ``rest`` as plain text (``Text.assemble``)."""
    return Text.assemble((label, style), *rest)


def task_columns(name: str) -> list[TextColumn]:
    """A progress bar's first columns: the command's ``name`` in bold, then the task's
    description (a file name, say) as plain text."""
    return [TextColumn(name, style="bold", markup=False),
            TextColumn("{task.description}", markup=False)]


def fitted_tables(width: int, title: str, keys: Sequence[str],
                  rows: Sequence[tuple[Sequence[str], Sequence[str | Text]]],
                  names: Sequence[str]) -> list[Table]:
    """A table of key columns (``keys``: names, which fold onto more lines) and value
    columns (``names``: counts and numbers, never cut), in as many tables as it takes to fit
    in ``width``: each repeats the key columns beside a run of the value columns, the next
    ones titled '..., continued'. ``rows`` are (labels, values)."""
    runs, key_widths, widths = _fitting(width, keys, rows, names)
    tables = []
    for part, (first, last) in enumerate(runs):
        table = Table(title=title if not part else f"{title}, continued")
        for key, w in zip(keys, key_widths, strict=True):  # "fold": never an ellipsis
            table.add_column(key, overflow="fold", width=w)
        for name, w in zip(names[first:last], widths[first:last], strict=True):
            table.add_column(name, justify="right", overflow="fold", width=w)
        for labels, values in rows:
            table.add_row(*labels, *values[first:last])
        tables.append(table)
    return tables


_KEY_WIDTH = 12
"""The narrowest a key column is made to leave room for the values."""


def _fitting(width: int, keys: Sequence[str],
             rows: Sequence[tuple[Sequence[str], Sequence[str | Text]]],
             names: Sequence[str]) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """The value columns of a table cut into runs ``[first, last)`` that each fit in
    ``width`` beside the key columns, and the widths of the key and value columns: each
    header on one line when the whole table fits so, else the longest value or header
    word (headers wrap at their spaces), in as many runs as it takes. A label longer than
    its key column's share folds: the keys share what the values leave when that is at
    least ``_KEY_WIDTH`` each, else half the width, so a long file name leaves room for the
    numbers. No number is ever cut to fit a narrow terminal (a table too wide had rich
    shorten "32,454" to "32,4…", and cut the reconciliation's last columns off)."""

    def need(texts: Iterable[str | Text], header: str, *, whole: bool) -> int:
        heads = [header] if whole else header.split()
        return max(cell_len(t.plain if isinstance(t, Text) else t) for t in [*texts, *heads])

    def cut(whole: bool) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        widths = [need([values[i] for _, values in rows], name, whole=whole)
                  for i, name in enumerate(names)]
        left = (width - 1 - sum(w + 3 for w in widths)) // max(len(keys), 1) - 3
        share = left if left >= _KEY_WIDTH else (width // 2) // max(len(keys), 1) - 3
        key_widths = [min(need([labels[i] for labels, _ in rows], key, whole=whole),
                          max(share, _KEY_WIDTH, need([], key, whole=False)))
                      for i, key in enumerate(keys)]
        used = 1 + sum(w + 3 for w in key_widths)      # each column: padding 2, a border
        runs: list[tuple[int, int]] = []
        first, total = 0, used
        for i, w in enumerate(widths):
            if total + w + 3 > width and i > first:
                runs.append((first, i))
                first, total = i, used
            total += w + 3
        runs.append((first, len(names)))
        return runs, key_widths, widths

    one_line = cut(whole=True)
    return one_line if len(one_line[0]) == 1 else cut(whole=False)
