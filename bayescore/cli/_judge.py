"""Commands that judge models: score, diagnose, compare, cv, loo, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from bayescore.cli._app import (
    DataOpt,
    DatasetOpt,
    JsonOpt,
    NameOpt,
    TargetOpt,
    app,
    check_features,
    console,
    load_table,
    model_names,
    print_frame,
    print_json,
    read_csv,
)

__all__ = ["compare", "cv", "diagnose", "loo", "report", "score"]

ModelsArg = Annotated[list[Path], typer.Argument(help="Saved models (.nc).")]


def _labelled(data: Path | None, dataset: str | None, target: str | None, what: str) -> Any:
    X, y = load_table(data, dataset, target)
    if y is None:
        raise typer.BadParameter(f"--target is required with --data for {what}.")
    return X, y


def _records(frame: Any) -> list[dict[str, Any]]:
    return list(frame.reset_index().to_dict(orient="records"))


@app.command()
def score(
    model: Annotated[
        Path | None, typer.Argument(help="Saved model (.nc); or give --probs instead.")
    ] = None,
    probs: Annotated[
        Path | None,
        typer.Option(
            "--probs",
            help="CSV of any model's class probabilities, one column per class label (a "
            "'prediction' column, as `bayescore predict` writes, is ignored).",
        ),
    ] = None,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a saved model's posterior predictive, or any probabilities, on labelled data.

    With ``--probs`` the labels (``--target`` of ``--data``, or ``--dataset``) are matched to
    the CSV's column names by value, as text; rows are matched by position.
    """
    import bayescore as bs

    if (model is None) == (probs is None):
        raise typer.BadParameter("give exactly one of MODEL or --probs PROBS.csv.")
    X, y = _labelled(data, dataset, target, "scoring")
    if model is not None:
        clf = bs.load(model)
        check_features(clf, X, str(data or dataset))
        result = bs.score(y, clf.predict_proba_draws(X))
        source = model.name
    else:
        assert probs is not None
        frame = read_csv(probs).drop(columns=["prediction"], errors="ignore")
        labels = [str(c) for c in frame.columns]
        result = bs.score(np.asarray(y).astype(str), frame.to_numpy(), labels=labels)
        source = probs.name
    values = {k: float(v) for k, v in result.data_vars.items()}
    if as_json:
        print_json({"source": source, **result.attrs, "scores": values})
        return
    print_frame(
        result.to_dataarray("score").to_pandas().rename("value").to_frame(),
        f"Scores of {source} (nats; lower NLL/Brier/ECE is better)",
    )


@app.command()
def diagnose(model: Path, as_json: JsonOpt = False) -> None:
    """Convergence checks (R-hat, ESS, divergences, BFMI or ELBO, Pareto k) with a verdict.

    Exits with 1 when a check failed, so scripts can stop on a bad fit.
    """
    import bayescore as bs

    d = bs.diagnose(bs.load(model))
    frame = d.table.to_dataframe()[["value", "rule", "threshold", "passed"]]
    if as_json:
        checks = _records(frame)
        print_json({"ok": d.ok, "method": d.method, "checks": checks, "messages": d.messages})
    else:
        # "info" rows are reported, not judged: their threshold means nothing.
        shown = frame.astype({"threshold": object})
        shown.loc[shown["rule"] == "info", "threshold"] = ""
        print_frame(shown, f"Convergence checks of {model.name} ({d.method})")
        out = console()
        for message in d.messages:
            out.print(f"- {message}", markup=False)
        out.print("[green]ok: every check passed[/]" if d.ok else "[red]checks failed[/]")
    raise typer.Exit(0 if d.ok else 1)


@app.command()
def compare(
    models: ModelsArg,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    name: NameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare saved models by held-out NLL with paired standard errors."""
    import bayescore as bs

    X, y = _labelled(data, dataset, target, "comparing")
    names = model_names(models, name)
    fitted = {n: bs.load(path) for n, path in zip(names, models, strict=True)}
    for clf in fitted.values():
        check_features(clf, X, str(data or dataset))
    table = bs.compare(fitted, y, X=X)
    if as_json:
        print_json({**table.attrs, "models": _records(table.to_pandas())})
        return
    print_frame(table.to_pandas(), "Held-out posterior predictive NLL (lower is better)")


@app.command()
def cv(
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    kind: Annotated[str, typer.Option(help="logistic or softmax.")] = "softmax",
    method: Annotated[
        list[str] | None,
        typer.Option(help="Inference method; repeat to compare several (default nuts)."),
    ] = None,
    prior_scale: Annotated[
        list[float] | None,
        typer.Option(help="Coefficient prior scale; repeat to compare several (default 2.5)."),
    ] = None,
    folds: Annotated[int, typer.Option("--cv", min=2, help="Number of folds.")] = 5,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    seed: Annotated[int, typer.Option(help="Seed of the folds and of every fit.")] = 0,
    jobs: Annotated[
        int | None, typer.Option(help="Fit (setting, fold) pairs in parallel.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """K-fold held-out NLL of one or more model settings, on the same stratified folds.

    Every combination of ``--method`` and ``--prior-scale`` is one model; each is refitted
    on every fold, and the table compares them with paired standard errors.
    """
    import bayescore as bs

    X, y = _labelled(data, dataset, target, "cross-validation")
    cls = {"logistic": bs.BayesianLogisticClassifier, "softmax": bs.BayesianSoftmaxClassifier}
    if kind not in cls:
        raise typer.BadParameter(f"--kind must be 'logistic' or 'softmax'; got {kind!r}.")
    settings = [(m, s) for m in method or ["nuts"] for s in prior_scale or [2.5]]
    names = [f"{m} prior_scale={s:g}" for m, s in settings]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"the same setting is given twice: {names}.")
    estimators = {
        n: cls[kind](
            method=m, prior_scale=s, draws=draws, tune=tune, chains=chains, random_seed=seed
        )
        for n, (m, s) in zip(names, settings, strict=True)
    }
    table = bs.cross_validate(estimators, X, y, cv=folds, random_state=seed, n_jobs=jobs)
    frame = table.drop_vars(["nll_pointwise", "fold"]).to_pandas()
    if as_json:
        print_json({**table.attrs, "models": _records(frame)})
        return
    print_frame(
        frame, f"{folds}-fold held-out NLL per observation, {table.attrs['n_obs']} rows (nats)"
    )


@app.command()
def loo(model: Path, as_json: JsonOpt = False) -> None:
    """PSIS-LOO of a saved model: elpd, NLL per observation with its SE, Pareto k summary.

    The NLL is ``-elpd / N`` and its SE ``se / N``. Pareto k counts: ``k_good`` (k <=
    ``good_k``, which depends on the number of draws), ``k_bad`` (up to 1), ``k_very_bad``
    (above 1) and ``k_nan`` (undefined); LOO is unreliable for all but the good ones.
    """
    import bayescore as bs

    result = bs.loo(bs.load(model))
    k = np.asarray(result.pareto_k).ravel()
    good_k, n = float(result.good_k), int(result.n_data_points)
    summary = {
        "elpd": float(result.elpd),
        "se": float(result.se),
        "p": float(result.p),
        "n_obs": n,
        "nll": -float(result.elpd) / n,
        "nll_se": float(result.se) / n,
        "good_k": good_k,
        "k_max": float(np.nanmax(k)) if np.isfinite(k).any() else float("nan"),
        "k_good": int(np.sum(k <= good_k)),
        "k_bad": int(np.sum((k > good_k) & (k <= 1))),
        "k_very_bad": int(np.sum(k > 1)),
        "k_nan": int(np.sum(np.isnan(k))),
    }
    if as_json:
        print_json(summary)
        return
    import pandas as pd

    frame = pd.Series(summary, dtype=float, name="value").to_frame().rename_axis("estimate")
    print_frame(frame, f"PSIS-LOO of {model.name} (elpd: higher is better; NLL in nats)")


@app.command()
def report(
    models: ModelsArg,
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    name: NameOpt = None,
    title: Annotated[str | None, typer.Option(help="Title of the page.")] = None,
) -> None:
    """Write a self-contained HTML report on saved models scored on labelled data.

    Scores with standard errors and baselines, convergence checks with advice, CORP
    reliability diagrams, uncertainty histograms, the comparison of several models and a
    model card for each; one file that opens offline.
    """
    import bayescore as bs

    X, y = _labelled(data, dataset, target, "the report")
    names = model_names(models, name)
    fitted = {n: bs.load(path) for n, path in zip(names, models, strict=True)}
    for clf in fitted.values():
        check_features(clf, X, str(data or dataset))
    path = bs.report(fitted, X, y, out, title=title)
    console().print(f"wrote a report on {len(fitted)} model(s) to {path}")
