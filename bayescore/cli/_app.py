"""The Typer app, its error and warning handling, input loading and output (tables, JSON).

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``--debug`` (before the command) shows the full traceback instead.
Warnings (a failed convergence check, unreliable PSIS-LOO) are printed on stderr as
``warning: ...`` and do not change the exit code. Tables never truncate: one row per line
when they fit the terminal, else one ``column: value`` block per row; ``--json`` prints the
same numbers as JSON on stdout (NaN and infinities as ``null``).
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, cast

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

__all__ = [
    "DataOpt",
    "DatasetOpt",
    "JsonOpt",
    "NameOpt",
    "TargetOpt",
    "app",
    "check_features",
    "console",
    "jsonable",
    "load_table",
    "main",
    "model_names",
    "print_frame",
    "print_json",
    "read_csv",
    "unique_names",
]

#: Exceptions that mean "bad data, file or setting": one line and exit code 1.
_DATA_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"warning: {category.__name__}: {message}", file=sys.stderr)


class _OneLineErrors(TyperGroup):
    """Print every error as one ``error: ...`` line on stderr, never a traceback.

    Usage errors exit with 2, data errors with 1 (as grep and git do); ``--debug`` (or
    ``BAYESCORE_DEBUG=1``) lets exceptions through with their traceback. Warnings are shown
    once each as ``warning: Category: message`` on stderr.
    """

    def main(self, args: Sequence[str] | None = None, *posargs: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get("BAYESCORE_DEBUG") == "1"
        kwargs["standalone_mode"] = False
        try:
            with warnings.catch_warnings():
                # bayescore's warnings (ConvergenceWarning, ParetoKWarning: UserWarnings)
                # are reported, never raised, even under -W error; other categories keep
                # the interpreter's filters (deprecations stay hidden).
                warnings.filterwarnings("default", category=UserWarning)
                warnings.showwarning = _show_warning
                code = super().main(argv, *posargs, **kwargs)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            _fail("aborted", 1)
        except typer.TyperException as exc:  # typer's own click: usage errors
            if type(exc).__name__ == "NoArgsIsHelpError":
                cast(Any, exc).show()  # no command given: show the help, as click does
                sys.exit(2)
            if debug:
                raise
            _fail(exc.format_message(), int(getattr(exc, "exit_code", 2)))
        except _DATA_ERRORS as exc:
            if debug:
                raise
            _fail(_one_line(exc), 1)
        sys.exit(code if isinstance(code, int) else 0)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename is not None:
        text = f"no such file: {exc.filename}"
    elif isinstance(exc, KeyError):
        text = f"missing key {text}"
    return text


def _fail(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=_OneLineErrors,
    help="Bayesian classifiers with honest probability scores.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def console() -> Console:
    """A console sized to the terminal (or ``COLUMNS``) at the time of printing."""
    return Console()


DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV file with features.")]
DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help="Bundled data set instead of --data.")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Label column of --data.")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON instead of a table.")
]
NameOpt = Annotated[
    list[str] | None,
    typer.Option("--name", help="Name of each model, in order (default: file names)."),
]


def _version(value: bool) -> None:
    if value:
        from bayescore import __version__

        console().print(f"bayescore {__version__}")
        raise typer.Exit(0)


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Bayesian classifiers with honest probability scores."""


def read_csv(path: Path) -> Any:
    """A CSV file as a DataFrame; unreadable files raise one clear ValueError."""
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {path} as CSV: {' '.join(str(exc).split())}") from None


def load_table(data: Path | None, dataset: str | None, target: str | None) -> tuple[Any, Any]:
    """Return (X, y) from a CSV (with a --target column) or a bundled data set."""
    import bayescore as bs

    if (data is None) == (dataset is None):
        raise typer.BadParameter("give exactly one of --data CSV or --dataset NAME.")
    if dataset is not None:
        ds = bs.load_dataset(dataset)
        return ds.X, ds.y
    assert data is not None
    frame = read_csv(data)
    if target is None:
        return frame, None
    if target not in frame.columns:
        raise typer.BadParameter(
            f"--target {target!r} is not a column of {data}; columns: {list(frame.columns)}."
        )
    return frame.drop(columns=[target]), frame[target]


def check_features(clf: Any, X: Any, source: str) -> None:
    """Say which CSV columns the model never saw, and suggest --target for a label column."""
    names = getattr(clf, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if names is None or columns is None:
        return
    extra = [str(c) for c in columns if str(c) not in set(names)]
    missing = [str(n) for n in names if n not in set(map(str, columns))]
    if extra or missing:
        hint = f" If {extra[0]!r} is the label column, pass --target {extra[0]}." if extra else ""
        raise ValueError(
            f"the columns of {source} do not match the model's features: unknown "
            f"{extra}, missing {missing}.{hint}"
        )


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
    """``value`` as indented JSON on stdout (strict: no NaN literals)."""
    print(json.dumps(jsonable(value), indent=2, allow_nan=False))


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "NO"
    return str(value)


def print_frame(frame: Any, title: str) -> None:
    """A table that never truncates: one row per line, or one block per row when too wide."""
    frame = frame.reset_index()
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    out = console()
    table = Table(title=Text(title))
    justify: list[Any] = ["right" if frame[c].dtype.kind in "iuf" else "left" for c in frame]
    for col, how in zip(frame.columns, justify, strict=True):
        table.add_column(str(col), justify=how, no_wrap=True)
    for row in cells:
        table.add_row(*(Text(c) for c in row))  # Text: no markup is read into the cells
    widths = [
        max([len(str(col))] + [len(row[j]) for row in cells])
        for j, col in enumerate(frame.columns)
    ]
    if sum(widths) + 3 * len(widths) + 1 <= out.width:
        out.print(table)
        return
    # Too wide for this terminal: print each row as "column: value" lines instead.
    out.print(title, markup=False)
    width = max(len(str(c)) for c in frame.columns)
    for row in cells:
        out.print()
        for col, value in zip(frame.columns, row, strict=True):
            line = f"  {str(col):<{width}}  {value}"
            out.print(line, soft_wrap=True, highlight=False, markup=False)


def main() -> None:
    """Entry point of the ``bayescore`` console script."""
    app()
