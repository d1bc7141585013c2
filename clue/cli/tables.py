"""Tables for the terminal that wrap instead of cutting.

Rich shortens a cell that does not fit its column with an ellipsis
(``medis…``); a task name, file name or flag cut that way is useless to a
reader who must type it. Every column here folds (wraps, breaking a long word
only when it must), and the columns named ``whole`` keep the width of their
longest cell, so the other columns give way first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:  # rich.table costs ~25 ms to import: it loads when a table is shown, not at start
    from rich.console import Console
    from rich.table import Table


def cell_width(cell: str, markup: bool) -> int:
    return (Text.from_markup(cell) if markup else Text(cell)).cell_len


def fold_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[str] = (),
    whole: Collection[str] = (),
    markup: bool = True,
) -> Table:
    """A table whose cells wrap; ``whole`` columns are never narrower than their longest cell."""
    from rich.table import Table

    table = Table(title=(title if markup else Text(title)) if title is not None else None)
    for i, col in enumerate(columns):
        width = max((cell_width(r[i], markup) for r in rows), default=0) if col in whole else None
        table.add_column(col, justify="right" if col in right else "left", overflow="fold", no_wrap=False,
                         min_width=max(width, len(col)) if width is not None else None)
    for r in rows:
        table.add_row(*(c if markup else Text(c) for c in r))
    return table


def min_table_width(columns: Sequence[str], rows: Sequence[Sequence[str]], whole: Collection[str]) -> int:
    """The narrowest a table can be without cutting a word: ``whole`` columns at their longest cell,
    the others at their longest word, plus padding and borders."""
    total = len(columns) + 1
    for i, col in enumerate(columns):
        cells = [col, *(r[i] for r in rows)]
        if col in whole:
            need = max(cell_width(c, False) for c in cells)
        else:
            need = max((cell_width(w, False) for c in cells for w in c.split()), default=0)
        total += need + 2
    return total


def rendered_width(console: Console, table: Table) -> int:
    """How wide rich will lay ``table`` out on ``console`` (wider than the console means cut)."""
    widths = table._calculate_column_widths(console, console.options.update_width(console.width))
    return sum(widths) + table._extra_width


def print_table(
    console: Console,
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[str] = (),
    whole: Collection[str] = (),
) -> None:
    """Print ``rows`` as a folding table, or, where even that is too wide, as one block per row.

    The blocks name each column (``expected file: MeQSum_....xlsx``), so no
    value is ever cut however narrow the terminal is. Cells are plain text;
    a column empty in every row is left out.
    """
    keep = [i for i, _ in enumerate(columns) if i == 0 or any(r[i] for r in rows)]  # drop columns empty in every row
    columns = [columns[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    table = fold_table(title, columns, rows, right=right, whole=whole, markup=False)
    if min_table_width(columns, rows, whole) <= console.width and rendered_width(console, table) <= console.width:
        console.print(table)
        return
    if title:
        console.print(title, markup=False, highlight=False, soft_wrap=True)
    for r in rows:
        first, *rest = r
        console.print(first, markup=False, highlight=False, style="bold", soft_wrap=True)
        for col, cell in zip(columns[1:], rest):
            if cell:
                console.print(f"  {col}: {cell}", markup=False, highlight=False, soft_wrap=True)
