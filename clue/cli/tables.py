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
    compact: bool = False,
) -> Table:
    """A table whose cells wrap; ``whole`` columns are never narrower than their longest cell.

    ``compact``: no borders, two spaces between columns (2 characters a column fewer than the box).
    """
    from rich import box
    from rich.table import Table

    heading = (title if markup else Text(title)) if title is not None else None
    if compact:
        table = Table(title=heading, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False, show_edge=False)
    else:
        table = Table(title=heading)
    for i, col in enumerate(columns):
        width = max((cell_width(r[i], markup) for r in rows), default=0) if col in whole else None
        # a whole column does not wrap, so that rich shrinks the others when the table is too wide
        table.add_column(col, justify="right" if col in right else "left", overflow="fold", no_wrap=col in whole,
                         min_width=max(width, len(col)) if width is not None else None)
    for r in rows:
        table.add_row(*(c if markup else Text(c) for c in r))
    return table


def min_table_width(columns: Sequence[str], rows: Sequence[Sequence[str]], whole: Collection[str],
                    compact: bool = False) -> int:
    """The narrowest a table can be without cutting a word: ``whole`` columns at their longest cell,
    the others at their longest word, plus padding and borders."""
    needs = [column_need(i, columns, rows, whole) for i in range(len(columns))]
    if compact:  # two spaces between columns: the separator and a padding
        return 2 * (len(columns) - 1) + sum(needs)
    return len(columns) + 1 + sum(need + 2 for need in needs)


def column_need(i: int, columns: Sequence[str], rows: Sequence[Sequence[str]], whole: Collection[str]) -> int:
    """The narrowest column ``i`` can be without cutting a word (a ``whole`` column: without wrapping a cell)."""
    col = columns[i]
    cells = [col, *(r[i] for r in rows)]
    if col in whole:
        return max(cell_width(c, False) for c in cells)
    return max((cell_width(w, False) for c in cells for w in c.split()), default=0)


def fits(console: Console, table: Table, columns: Sequence[str], rows: Sequence[Sequence[str]],
         whole: Collection[str]) -> bool:
    """Whether rich lays ``table`` out within the console with no word cut: each column at least as wide
    as its longest word (``whole`` columns: their longest cell)."""
    widths = table._calculate_column_widths(console, console.options.update_width(console.width - table._extra_width))
    if sum(widths) + table._extra_width > console.width:
        return False
    return all(widths[i] - table._get_padding_width(i) >= column_need(i, columns, rows, whole)
               for i in range(len(columns)))


def rendered_width(console: Console, table: Table) -> int:
    """How wide rich will lay ``table`` out on ``console`` (wider than the console means cut)."""
    # as rich lays a table out: the columns share the width left after the borders
    widths = table._calculate_column_widths(console, console.options.update_width(console.width - table._extra_width))
    return sum(widths) + table._extra_width


def print_table(
    console: Console,
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[str] = (),
    whole: Collection[str] = (),
    layout: str = "auto",
) -> None:
    """Print ``rows`` so that no value is cut, whatever the terminal's width.

    ``layout="auto"``: a boxed table where it fits, else the same table without borders, else
    one block per row (the first cell, then ``column: value`` pairs packed into lines, each pair
    kept whole: ``expected file: MeQSum_....xlsx``). ``layout="table"``: always the borderless
    table, whose cells wrap at words (one layout for a table whose cells are short, like a
    run's results). Cells are plain text; a column empty in every row is left out.
    """
    keep = [i for i, _ in enumerate(columns) if i == 0 or any(r[i] for r in rows)]  # drop columns empty in every row
    columns = [columns[i] for i in keep]
    rows = [[r[i] for i in keep] for r in rows]
    if layout == "table":
        console.print(fold_table(title, columns, rows, right=right, whole=whole, markup=False, compact=True))
        return
    for compact in (False, True):
        table = fold_table(title, columns, rows, right=right, whole=whole, markup=False, compact=compact)
        if min_table_width(columns, rows, whole, compact) <= console.width and fits(console, table, columns, rows, whole):
            console.print(table)
            return
    if title:
        console.print(title, markup=False, highlight=False, soft_wrap=True)
    for r in rows:
        first, *rest = r
        console.print(first, markup=False, highlight=False, style="bold", soft_wrap=True)
        pairs = [f"{col}: {cell}" for col, cell in zip(columns[1:], rest) if cell]
        for line in pack(pairs, console.width - 2):
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def pack(pieces: Sequence[str], width: int, sep: str = " · ") -> list[str]:
    """``pieces`` joined by ``sep`` into lines of at most ``width``; a piece is never split
    (one longer than ``width`` gets a line of its own)."""
    lines: list[str] = []
    for piece in pieces:
        if lines and cell_width(lines[-1] + sep + piece, False) <= width:
            lines[-1] += sep + piece
        else:
            lines.append(piece)
    return lines


def wrap(text: str, width: int, indent: str = "  ") -> str:
    """``text`` wrapped at spaces to ``width``, continuation lines indented; words (URLs, commands' flags,
    file names) are never broken."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width=max(20, width), subsequent_indent=indent, break_long_words=False,
                                   break_on_hyphens=False)) or text
