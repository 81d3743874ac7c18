r"""What the CLI prints: lines, tables and JSON on stdout, all of it inert and never cut.

Text from users and files (paths, model names, labels, column names) is printed as text:
rich markup in it is not read (``[red]m.nc`` stays ``[red]m.nc``) and control characters
are shown escaped (``\x1b``), never sent to the terminal. Tables never truncate: one row
per line when they fit the terminal (columns marked to wrap break at spaces, never inside a
word), else one ``column: value`` block per row. A full disk or device on stdout is one
``OSError`` saying so; a closed pipe ends quietly.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bayescore._text import printable

__all__ = [
    "MAX_WIDTH",
    "console",
    "estimate",
    "flush_stdout",
    "jsonable",
    "print_frame",
    "print_json",
    "print_lines",
    "print_rows",
    "say",
    "silence_stdout",
]

#: The widest a default table may be, whatever the terminal.
MAX_WIDTH = 100


@contextlib.contextmanager
def _stdout() -> Iterator[None]:
    """Writes to stdout: a full disk or device is reported as such, once.

    A closed pipe passes through (the reader left; nothing to say).
    """
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        silence_stdout()
        raise OSError(
            exc.errno, f"could not write to standard output: {exc.strerror or exc}"
        ) from exc


def flush_stdout() -> None:
    """Flush stdout now, so a full disk or closed pipe is reported here, not at exit."""
    with _stdout():
        sys.stdout.flush()


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (tests)
        pass


def console(width: int | None = None) -> Console:
    """A console sized to the terminal (or ``COLUMNS``) at the time of printing."""
    return Console(width=width, highlight=False)


def say(text: str, *, wrap: bool = False) -> None:
    """Print text as it is: no markup read, control characters escaped.

    ``wrap`` breaks long lines at spaces to the terminal's width (at most 100 columns);
    otherwise the line is printed whole (paths stay one piece to copy).
    """
    if wrap:
        out = console(min(console().width, MAX_WIDTH))
        with _stdout():
            out.print(Text(printable(text)), overflow="fold")
    else:
        with _stdout():
            console().print(Text(printable(text)), soft_wrap=True)


def print_lines(lines: Sequence[str], *, wrap: bool = False) -> None:
    """Print each line as :func:`say` does."""
    for line in lines:
        say(line, wrap=wrap)


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars and arrays unwrapped, NaN and infinities as None.

    Examples
    --------
    >>> jsonable({"a": np.float64(0.5), "b": [np.nan, np.int64(2)], "c": np.bool_(True)})
    {'a': 0.5, 'b': [None, 2], 'c': True}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout.

    Strict JSON (no NaN literals); control characters and non-ASCII are escaped by
    ``json.dumps``, so nothing reaches the terminal raw.
    """
    text = json.dumps(jsonable(value), indent=2, allow_nan=False)
    with _stdout():
        print(text)


def _number(value: float, digits: int = 4) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}g}"


def estimate(value: float, se: float | None) -> str:
    """``value ± se`` with the SE to two significant digits and the value to match.

    Examples
    --------
    >>> estimate(0.123456, 0.01396), estimate(1234.5, 12.3), estimate(0.5, 0.0)
    ('0.123 ± 0.014', '1234 ± 12', '0.5 ± 0')
    >>> estimate(0.25, float("nan")), estimate(float("nan"), None)
    ('0.25', 'nan')
    """
    value = float(value)
    if se is None or not math.isfinite(float(se)) or math.isnan(value):
        return _number(value)
    se = float(se)
    if se == 0:
        return f"{_number(value)} ± 0"
    decimals = min(max(0, 1 - math.floor(math.log10(se))), 10)
    return f"{value:.{decimals}f} ± {se:.{decimals}f}"


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return _number(float(value))
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "NO"
    return printable(value)


#: Columns are separated by two spaces; the first and last touch the margins.
_GAP = 2


def _widths(
    columns: Sequence[str], rows: Sequence[Sequence[str]], wrap: Sequence[bool], width: int
) -> list[int] | None:
    """Column widths that fit ``width`` without cutting a word or a non-wrapping cell.

    Wrapping columns give up width, widest first, down to their longest word; None when
    even that does not fit.
    """
    from rich.cells import cell_len

    full, least = [], []
    for j, column in enumerate(columns):
        cells = [column, *(row[j] for row in rows)]
        full.append(max(cell_len(cell) for cell in cells))
        words = [cell_len(word) for cell in cells for word in cell.split()] or [0]
        least.append(max(words) if wrap[j] else full[-1])
    room = width - _GAP * (len(columns) - 1)
    widths = list(full)
    while sum(widths) > room:
        shrinkable = [j for j in range(len(widths)) if widths[j] > least[j]]
        if not shrinkable:
            return None
        j = max(shrinkable, key=lambda k: widths[k])
        widths[j] -= 1
    return widths


def _render(table: Table, width: int) -> str | None:
    """``table`` as text at most ``width`` columns wide, or None if it would not fit."""
    from rich.cells import cell_len

    out = Console(file=io.StringIO(), width=width, highlight=False, color_system=None)
    out.print(table)
    lines = [line.rstrip() for line in cast(io.StringIO, out.file).getvalue().splitlines()]
    if any(cell_len(line) > width for line in lines):
        return None
    return "\n".join(lines) + "\n"


def _blocks(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Each row as ``column: value`` lines (for tables too wide for the terminal)."""
    say(title, wrap=True)
    width = max(len(c) for c in columns)
    for row in rows:
        with _stdout():
            print()
        for column, value in zip(columns, row, strict=True):
            say(f"  {column:<{width}}  {value}")


def print_rows(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[bool] | None = None,
    wrap: Sequence[bool] | None = None,
    max_width: int | None = None,
    note: str | None = None,
) -> None:
    """Text cells as a table as wide as the terminal (at most ``max_width``), never cut.

    ``wrap`` marks the columns whose text may wrap onto more lines at spaces (words are
    never cut); a table that does not fit even so is printed as one ``column: value`` block
    per row.
    """
    width = console().width if max_width is None else min(console().width, max_width)
    right = right or [False] * len(columns)
    wrap = wrap or [False] * len(columns)
    columns = [printable(c) for c in columns]
    rows = [[printable(c) for c in row] for row in rows]
    text = None
    widths = _widths(columns, rows, wrap, width)
    if widths is not None:
        table = Table(
            title=Text(printable(title)),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, _GAP - 1, 0, 0),
        )
        for column, r, w, n in zip(columns, right, wrap, widths, strict=True):
            table.add_column(
                column, justify="right" if r else "left", no_wrap=not w, width=n, overflow="fold"
            )
        for row in rows:
            table.add_row(*(Text(c) for c in row))  # Text: no markup read
        text = _render(table, width)
    if text is None:
        _blocks(title, columns, rows)
    else:
        with _stdout():
            sys.stdout.write(text)
    if note:
        say(note, wrap=True)


def print_frame(frame: Any, title: str) -> None:
    """A DataFrame that never truncates: one row per line, or one block per row when wide."""
    frame = frame.reset_index()
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    right = [frame[c].dtype.kind in "iuf" for c in frame]
    print_rows(title, [str(c) for c in frame.columns], cells, right=right)
