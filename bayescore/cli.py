"""The ``bayescore`` command: fit, predict, score, diagnose and compare from the shell.

The CLI only parses arguments, calls the public API and prints; it holds no logic of its own.
Tables come from ``xarray``/``pandas`` objects the API returns, rendered with rich.

Errors are one line on stderr, ``error: ...``, with exit code 2 for a wrong command line and
1 for bad data or files; ``--debug`` (before the command) shows the full traceback instead.

Examples
--------
.. code-block:: bash

    bayescore fit --dataset wine --kind softmax --out wine.nc
    bayescore diagnose wine.nc
    bayescore score wine.nc --dataset wine
    bayescore compare a.nc b.nc --data test.csv --target label --name small --name big
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

__all__ = ["app", "main", "unique_names"]

#: Exceptions that mean "bad data, file or setting": one line and exit code 1.
_DATA_ERRORS = (ValueError, TypeError, KeyError, OSError, ImportError)


class _OneLineErrors(TyperGroup):
    """Print every error as one ``error: ...`` line on stderr, never a traceback.

    Usage errors exit with 2, data errors with 1 (as grep and git do); ``--debug`` (or
    ``BAYESCORE_DEBUG=1``) lets exceptions through with their traceback.
    """

    def main(self, args: Sequence[str] | None = None, *posargs: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get("BAYESCORE_DEBUG") == "1"
        kwargs["standalone_mode"] = False
        try:
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
console = Console()

DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV file with features.")]
DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help="Bundled data set instead of --data.")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Label column of --data.")]


def _version(value: bool) -> None:
    if value:
        from bayescore import __version__

        console.print(f"bayescore {__version__}")
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


def _read_csv(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read {path} as CSV: {' '.join(str(exc).split())}") from None


def _load_table(data: Path | None, dataset: str | None, target: str | None) -> tuple[Any, Any]:
    """Return (X, y) from a CSV (with a --target column) or a bundled data set."""
    import bayescore as bs

    if (data is None) == (dataset is None):
        raise typer.BadParameter("give exactly one of --data CSV or --dataset NAME.")
    if dataset is not None:
        ds = bs.load_dataset(dataset)
        return ds.X, ds.y
    assert data is not None
    frame = _read_csv(data)
    if target is None:
        return frame, None
    if target not in frame.columns:
        raise typer.BadParameter(
            f"--target {target!r} is not a column of {data}; columns: {list(frame.columns)}."
        )
    return frame.drop(columns=[target]), frame[target]


def _check_features(clf: Any, X: Any, source: str) -> None:
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


def _print_frame(frame: Any, title: str) -> None:
    """A table that never truncates: one row per line, or one block per row when too wide."""
    frame = frame.reset_index()
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in frame.values]
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(
            str(col),
            justify="left" if frame[col].dtype == object else "right",
            no_wrap=True,
            overflow="ignore",
        )
    for row in cells:
        table.add_row(*row)
    widths = [
        max([len(str(col))] + [len(row[j]) for row in cells])
        for j, col in enumerate(frame.columns)
    ]
    if sum(widths) + 3 * len(widths) + 1 <= console.width:
        console.print(table)
        return
    # Too wide for this terminal: print each row as "column: value" lines instead.
    console.print(title)
    width = max(len(str(c)) for c in frame.columns)
    for row in cells:
        console.print()
        for col, value in zip(frame.columns, row, strict=True):
            console.print(f"  {str(col):<{width}}  {value}", soft_wrap=True)


@app.command()
def datasets() -> None:
    """List the bundled data sets."""
    import bayescore as bs

    for name in bs.list_datasets():
        console.print(name)


@app.command()
def fit(
    out: Annotated[Path, typer.Option("--out", help="Where to save the model (.nc).")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    kind: Annotated[str, typer.Option(help="logistic or softmax.")] = "softmax",
    method: Annotated[
        str, typer.Option(help="nuts, advi, fullrank_advi, laplace or pathfinder.")
    ] = "nuts",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    prior_scale: float = 2.5,
    seed: int = 0,
) -> None:
    """Fit a Bayesian classifier and save it as netCDF."""
    import bayescore as bs

    X, y = _load_table(data, dataset, target)
    if y is None:
        raise typer.BadParameter("--target is required with --data for fitting.")
    cls = {"logistic": bs.BayesianLogisticClassifier, "softmax": bs.BayesianSoftmaxClassifier}
    if kind not in cls:
        raise typer.BadParameter(f"--kind must be 'logistic' or 'softmax'; got {kind!r}.")
    clf = cls[kind](
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        prior_scale=prior_scale,
        random_seed=seed,
    )
    clf.fit(X, y)
    bs.save(clf, out)
    console.print(f"saved {type(clf).__name__} ({len(clf.classes_)} classes) to {out}")


@app.command()
def predict(
    model: Path,
    out: Annotated[Path, typer.Option("--out", help="CSV of class probabilities.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
) -> None:
    """Write posterior predictive class probabilities for new rows to CSV."""
    import pandas as pd

    import bayescore as bs

    clf = bs.load(model)
    X, _ = _load_table(data, dataset, target)
    _check_features(clf, X, str(data or dataset))
    probs = pd.DataFrame(clf.predict_proba(X), columns=[str(c) for c in clf.classes_])
    probs.insert(0, "prediction", clf.predict(X))
    probs.to_csv(out, index=False)
    console.print(f"wrote {len(probs)} rows to {out}")


@app.command()
def score(
    model: Path,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
) -> None:
    """Score a saved model's posterior predictive on labelled data (NLL, Brier, ECE...)."""
    import bayescore as bs

    clf = bs.load(model)
    X, y = _load_table(data, dataset, target)
    if y is None:
        raise typer.BadParameter("--target is required with --data for scoring.")
    _check_features(clf, X, str(data or dataset))
    result = bs.score(y, clf.predict_proba_draws(X))
    _print_frame(
        result.to_dataarray("score").to_pandas().rename("value").to_frame(),
        f"Scores of {model.name} (nats; lower NLL/Brier/ECE is better)",
    )


@app.command()
def diagnose(model: Path) -> None:
    """Convergence checks (R-hat, ESS, divergences, BFMI or ELBO, Pareto k) with a verdict."""
    import bayescore as bs

    d = bs.diagnose(bs.load(model))
    console.print(str(d))
    console.print("[green]ok[/]" if d.ok else "[red]checks failed[/]")
    raise typer.Exit(0 if d.ok else 1)


@app.command()
def compare(
    models: Annotated[list[Path], typer.Argument(help="Saved models (.nc) to compare.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    name: Annotated[
        list[str] | None,
        typer.Option("--name", help="Name of each model, in order (default: file names)."),
    ] = None,
) -> None:
    """Compare saved models by held-out NLL with paired standard errors."""
    import bayescore as bs

    X, y = _load_table(data, dataset, target)
    if y is None:
        raise typer.BadParameter("--target is required with --data for comparing.")
    if name:
        if len(name) != len(models) or len(set(name)) != len(name):
            raise typer.BadParameter(
                f"give one distinct --name per model: {len(models)} models, names {name}."
            )
        names = list(name)
    else:
        names = unique_names(models)
    fitted = {n: bs.load(path) for n, path in zip(names, models, strict=True)}
    for clf in fitted.values():
        _check_features(clf, X, str(data or dataset))
    table = bs.compare(fitted, y, X=X)
    _print_frame(table.to_pandas(), "Held-out posterior predictive NLL (lower is better)")


def main() -> None:
    """Entry point of the ``bayescore`` console script."""
    app()
