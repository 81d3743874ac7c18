r"""The Typer app, its error and warning handling, input loading and output (tables, JSON).

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``bayescore --debug COMMAND ...`` (the flag before the command)
shows the full traceback instead. Warnings (a failed convergence check, unreliable
PSIS-LOO) are printed on stderr as one ``warning: ...`` line each and do not change the exit
code. Advice in messages is rewritten in the command line's syntax (``--method nuts``, not
``method='nuts'``).

Everything printed that comes from users or files (paths, model names, labels, column
names, messages quoting them) is printed as text: rich markup in it is not read
(``[red]m.nc`` stays ``[red]m.nc``) and control characters are shown escaped (``\x1b``),
never sent to the terminal. Tables never truncate: one row per line when they fit the
terminal, else one ``column: value`` block per row; ``--json`` prints the same numbers as
JSON on stdout (NaN and infinities as ``null``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from bayescore._atomic import check_outputs
from bayescore._tables import ColumnError
from bayescore._text import cli_syntax, one_line, printable

if TYPE_CHECKING:
    from bayescore._tables import Table as DataTable

__all__ = [
    "DataOpt",
    "DatasetOpt",
    "DropOpt",
    "FeaturesOpt",
    "JsonOpt",
    "NameOpt",
    "TargetOpt",
    "advice",
    "app",
    "check_out",
    "console",
    "estimate",
    "jsonable",
    "load_table",
    "main",
    "model_names",
    "print_frame",
    "print_json",
    "print_lines",
    "print_rows",
    "say",
    "unique_names",
]

#: Exceptions that mean "bad data, file or setting": one line and exit code 1.
_DATA_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)
#: Python names in the API's messages -> the option that sets them here (beyond the
#: commands' own parameters, which keep their names).
_API_OPTIONS = {
    "random_seed": "--seed",
    "progressbar": "--progress",
    "n_splits": "--cv",
    "n_jobs": "--jobs",
    "prediction": "--prediction-column",
    "target": "--target",
    "features": "--features",
    "drop": "--drop",
}
#: The widest a default table may be, whatever the terminal.
MAX_WIDTH = 100


def _options(group: Any) -> dict[str, str]:
    """Python parameter name -> its command-line option, over every command."""
    found: dict[str, str] = {}
    for command in getattr(group, "commands", {}).values():
        for param in command.params:
            longs = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
            if param.name and longs:
                found.setdefault(param.name, longs[0])
    return {**found, **_API_OPTIONS}


def _debug_requested(argv: Sequence[str]) -> bool:
    """``--debug`` among the options before the command (a command's values never count)."""
    for arg in argv:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False  # the command: what follows is its own
    return False


_OPTIONS: dict[str, str] = dict(_API_OPTIONS)


def advice(text: str) -> str:
    """``text`` with Python-style advice in option syntax, for every command's options.

    ``method='nuts'`` becomes ``--method nuts`` (see :func:`bayescore._text.cli_syntax`).
    """
    return cli_syntax(text, _OPTIONS)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"warning: {category.__name__}: {printable(advice(one_line(message)))}", file=sys.stderr)


class _OneLineErrors(TyperGroup):
    """Print every error as one ``error: ...`` line on stderr, never a traceback.

    Usage errors exit with 2, data errors with 1 (as grep and git do); ``--debug`` before
    the command (or ``BAYESCORE_DEBUG=1``) lets exceptions through with their traceback.
    Warnings are shown once each as one ``warning: Category: message`` line on stderr.
    """

    def main(self, args: Sequence[str] | None = None, *posargs: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = _debug_requested(argv) or os.environ.get("BAYESCORE_DEBUG") == "1"
        _OPTIONS.update(_options(self))
        kwargs["standalone_mode"] = False
        try:
            with warnings.catch_warnings():
                # bayescore's warnings (ConvergenceWarning, ParetoKWarning: UserWarnings)
                # are reported, never raised, even under -W error; other categories keep
                # the interpreter's filters (deprecations stay hidden).
                warnings.filterwarnings("default", category=UserWarning)
                warnings.showwarning = _show_warning
                code = super().main(argv, *posargs, **kwargs)
            _flush_stdout()
        except typer.Exit as exc:
            _flush_stdout_quietly()
            sys.exit(exc.exit_code)
        except typer.Abort:
            _fail("aborted", 1)
        except typer.TyperException as exc:  # typer's own click: usage errors
            if type(exc).__name__ == "NoArgsIsHelpError":
                cast(Any, exc).show()  # no command given: show the help, as click does
                sys.exit(2)
            if debug:
                raise
            message = exc.format_message()
            if "No such option: --debug" in message:
                message += " (--debug goes before the command: bayescore --debug COMMAND ...)"
            _fail(message, int(getattr(exc, "exit_code", 2)))
        except BrokenPipeError:
            # The reader went away (``bayescore ... | head``): nothing to say to anyone.
            _silence_stdout()
            sys.exit(1)
        except ColumnError as exc:  # a column named on the command line does not fit
            if debug:
                raise
            _fail(_one_line(exc), 2)
        except _DATA_ERRORS as exc:
            if debug:
                raise
            _fail(_one_line(exc), 1)
        except KeyboardInterrupt:
            if debug:
                raise
            _fail("interrupted", 130)
        except Exception as exc:  # a dependency failed in a way nobody checked for
            if debug:
                raise
            _fail(
                f"{type(exc).__name__}: {_one_line(exc)} (bayescore --debug COMMAND ... shows "
                "the traceback)",
                1,
            )
        except BaseException as exc:  # e.g. a Rust panic from a sampler (PanicException)
            if debug or isinstance(exc, SystemExit | GeneratorExit):
                raise
            _fail(f"{type(exc).__name__}: {_one_line(exc)}", 1)
        sys.exit(code if isinstance(code, int) else 0)


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
        _silence_stdout()
        raise OSError(
            exc.errno, f"could not write to standard output: {exc.strerror or exc}"
        ) from exc


def _flush_stdout() -> None:
    """Flush stdout now, so a full disk or closed pipe is reported here, not at exit."""
    with _stdout():
        sys.stdout.flush()


def _flush_stdout_quietly() -> None:
    try:
        _flush_stdout()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _fail(_one_line(exc), 1)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # not a real file (tests)
        pass


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        text = f"no such file: {exc.filename}"
    elif isinstance(exc, KeyError):
        text = f"missing key {exc}"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return advice(one_line(text))


def _fail(message: str, code: int) -> None:
    print(f"error: {printable(message)}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Bayesian classifiers with honest probability scores.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: click's own layout, paragraphs rewrapped, no rich markup read from the
    # docstrings, no <bool> shown for flags.
    rich_markup_mode=None,
)


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


DataOpt = Annotated[
    Path | None, typer.Option("--data", metavar="CSV", help="CSV file with features (and labels).")
]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", metavar="NAME", help="Bundled data set instead of --data."),
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", metavar="COLUMN", help="Label column of --data.")
]
FeaturesOpt = Annotated[
    str | None,
    typer.Option(
        "--features",
        metavar="A,B,...",
        help="Feature columns to use, comma-separated (default: every column but --target).",
    ),
]
DropOpt = Annotated[
    str | None,
    typer.Option("--drop", metavar="A,B,...", help="Columns to leave out, comma-separated."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON instead of a table.")
]
NameOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--name", metavar="NAME", help="Name of each model, in order (default: file names)."
    ),
]


def _version(value: bool) -> None:
    if value:
        from bayescore import __version__

        with _stdout():
            print(f"bayescore {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show full tracebacks instead of one-line errors (give it before the command).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Bayesian classifiers with honest probability scores."""


def _column_list(value: str | None, option: str) -> list[str] | None:
    """``a,b,c`` -> ``['a', 'b', 'c']`` (spaces around names dropped)."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",")]
    if not all(names):
        raise typer.BadParameter(f"{option} {value!r} has an empty column name.")
    return names


def load_table(
    data: Path | None,
    dataset: str | None,
    target: str | None,
    features: str | None = None,
    drop: str | None = None,
    *,
    labels_for: str | None = None,
    for_fit: bool = False,
) -> DataTable:
    """Features and labels from a CSV (``--target`` column) or a bundled data set.

    ``labels_for`` names what needs the labels ("fitting"): without them it is a usage
    error. ``for_fit`` asks the features to be numbers with none missing.
    """
    import bayescore as bs
    from bayescore._tables import frame_table, read_table

    if (data is None) == (dataset is None):
        raise typer.BadParameter("give exactly one of --data CSV or --dataset NAME.")
    columns = {
        "features": _column_list(features, "--features"),
        "drop": _column_list(drop, "--drop"),
    }
    if dataset is not None:
        if target is not None:
            raise typer.BadParameter(
                f"--target is for --data; the bundled data set {dataset!r} has its own labels."
            )
        ds = bs.load_dataset(dataset)
        return frame_table(ds.X, target=ds.y, source=dataset, for_fit=for_fit, **columns)
    assert data is not None
    if target is None and labels_for is not None:
        raise typer.BadParameter(f"--target is required with --data for {labels_for}.")
    return read_table(data, target=target, for_fit=for_fit, **columns)


def check_out(out: str, inputs: Sequence[Path | None]) -> Path:
    """``--out`` as a path, refused (usage error) before any work if it cannot be written.

    It must not be one of ``inputs`` and must be a regular file or nothing yet; it is
    checked as typed (``results/`` names a directory).
    """
    try:
        check_outputs(out, inputs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--out'") from None
    return Path(out)


def unique_names(paths: Sequence[Path]) -> list[str]:
    """The shortest distinct trailing parts of ``paths`` (file stems when they differ).

    Examples
    --------
    >>> unique_names([Path("a/model.nc"), Path("b/model.nc"), Path("c/other.nc")])
    ['a/model', 'b/model', 'other']
    """
    parts = [p.with_suffix("").parts for p in paths]
    parts = [p[1:] if len(p) > 1 and Path(p[0]).anchor == p[0] else p for p in parts]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        clashes = {n for n in names if names.count(n) > 1}
        if not clashes:
            return names
        grew = False
        for i, name in enumerate(names):
            if name in clashes and depth[i] < len(parts[i]):
                depth[i] += 1
                grew = True
        if not grew:
            raise typer.BadParameter(f"the same model file is given twice: {sorted(clashes)}.")


def model_names(models: Sequence[Path], name: Sequence[str] | None) -> list[str]:
    """One distinct name per model file: the ``--name`` values, else the file names."""
    if not name:
        return unique_names(models)
    if not all(n.strip() for n in name):
        raise typer.BadParameter(f"every --name needs some text; got {list(name)}.")
    if len(name) != len(models) or len(set(name)) != len(name):
        raise typer.BadParameter(
            f"give one distinct --name per model: {len(models)} models, names {list(name)}."
        )
    return list(name)


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


def main() -> None:
    """Entry point of the ``bayescore`` console script."""
    app()
