"""The ``bayescore`` command: fit, predict, score, diagnose and compare from the shell.

The CLI only parses arguments, calls the public API and prints; it holds no logic of its own.
Tables come from ``xarray``/``pandas`` objects the API returns, rendered with rich.

Examples
--------
.. code-block:: bash

    bayescore fit --dataset wine --kind softmax --out wine.nc
    bayescore diagnose wine.nc
    bayescore score wine.nc --dataset wine
    bayescore compare a.nc b.nc --data test.csv --target label
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["app", "main"]

app = typer.Typer(
    help="Bayesian classifiers with honest probability scores.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV file with features.")]
DatasetOpt = Annotated[
    str | None, typer.Option("--dataset", help="Bundled data set instead of --data.")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Label column of --data.")]


def _load_table(data: Path | None, dataset: str | None, target: str | None):
    """Return (X, y) from a CSV (with a --target column) or a bundled data set."""
    import pandas as pd

    import bayescore as bs

    if (data is None) == (dataset is None):
        raise typer.BadParameter("Give exactly one of --data CSV or --dataset NAME.")
    if dataset is not None:
        ds = bs.load_dataset(dataset)
        return ds.X, ds.y
    frame = pd.read_csv(data)
    if target is None:
        return frame, None
    if target not in frame.columns:
        raise typer.BadParameter(
            f"--target {target!r} is not a column of {data}; columns: {list(frame.columns)}."
        )
    return frame.drop(columns=[target]), frame[target]


def _print_frame(frame: Any, title: str) -> None:
    table = Table(title=title)
    frame = frame.reset_index()
    for col in frame.columns:
        table.add_column(str(col), justify="left" if frame[col].dtype == object else "right")
    for _, row in frame.iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


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
    method: Annotated[str, typer.Option(help="nuts, advi or fullrank_advi.")] = "nuts",
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
    result = bs.score(y, clf.predict_proba_draws(X))
    _print_frame(
        result.to_array("score").to_pandas().rename("value").to_frame(),
        f"Scores of {model.name} (nats; lower NLL/Brier/ECE is better)",
    )


@app.command()
def diagnose(model: Path) -> None:
    """Convergence checks (R-hat, ESS, divergences, BFMI or ELBO) with a verdict."""
    import bayescore as bs

    d = bs.diagnose(bs.load(model))
    console.print(d.table)
    for message in d.messages:
        console.print(f"- {message}")
    console.print("[green]ok[/]" if d.ok else "[red]checks failed[/]")
    raise typer.Exit(0 if d.ok else 1)


@app.command()
def compare(
    models: Annotated[list[Path], typer.Argument(help="Saved models (.nc) to compare.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
) -> None:
    """Compare saved models by held-out NLL with paired standard errors."""
    import bayescore as bs

    X, y = _load_table(data, dataset, target)
    if y is None:
        raise typer.BadParameter("--target is required with --data for comparing.")
    fitted = {path.stem: bs.load(path) for path in models}
    table = bs.compare(fitted, y, X=X)
    _print_frame(
        table.to_pandas() if hasattr(table, "to_pandas") else table,
        "Held-out posterior predictive NLL (lower is better)",
    )


def main() -> None:
    """Entry point of the ``bayescore`` console script."""
    app()
