"""Commands that judge models: score, diagnose, compare, cv, loo, report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from bayescore.cli._app import (
    DataOpt,
    DatasetOpt,
    DropOpt,
    FeaturesOpt,
    JsonOpt,
    NameOpt,
    TargetOpt,
    advice,
    app,
    check_out,
    load_table,
    model_names,
)
from bayescore.cli._output import (
    MAX_WIDTH,
    estimate,
    print_frame,
    print_json,
    print_rows,
    say,
)

__all__ = ["compare", "cv", "diagnose", "loo", "report", "score"]

ModelsArg = Annotated[list[Path], typer.Argument(metavar="MODEL...", help="Saved models (.nc).")]


def _records(frame: Any) -> list[dict[str, Any]]:
    return list(frame.reset_index().to_dict(orient="records"))


def _load_models(
    models: Sequence[Path], names: Sequence[str], table: Any
) -> tuple[dict[str, Any], Any]:
    """Each saved model, checked to find its columns in the table, and the shared table.

    The table is arranged so each model takes its own columns (see
    :func:`bayescore._tables.shared_columns`).
    """
    import bayescore as bs
    from bayescore._tables import model_columns, shared_columns

    fitted = {}
    for name, path in zip(names, models, strict=True):
        clf = bs.load(path)
        model_columns(
            table.X, getattr(clf, "feature_names_in_", None), source=table.source, model=path.name
        )
        fitted[name] = clf
    X = shared_columns(table.X, [getattr(m, "feature_names_in_", None) for m in fitted.values()])
    return fitted, X


def _score_rows(values: dict[str, float]) -> list[list[str]]:
    """One row per score, ``value ± SE`` when the SE is there (``nll`` with ``nll_se``)."""
    rows = []
    for key, value in values.items():
        if key.endswith("_se") and key[: -len("_se")] in values:
            continue
        rows.append([key, estimate(value, values.get(f"{key}_se"))])
    return rows


@app.command()
def score(
    model: Annotated[
        Path | None,
        typer.Argument(metavar="MODEL", help="Saved model (.nc); or give --probs instead."),
    ] = None,
    probs: Annotated[
        Path | None,
        typer.Option(
            "--probs",
            metavar="CSV",
            help="CSV of any model's class probabilities, one column per class label (the "
            "--prediction-column, as bayescore predict writes it, is ignored).",
        ),
    ] = None,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    prediction_column: Annotated[
        str,
        typer.Option(
            "--prediction-column",
            metavar="NAME",
            help="Column of predicted classes in --probs, left out of the scores.",
        ),
    ] = "prediction",
    as_json: JsonOpt = False,
) -> None:
    """Score a saved model's posterior predictive, or any probabilities, on labelled data.

    Each score is shown with its standard error (value ± SE). With --probs the labels
    (--target of --data, or --dataset) are matched to the CSV's column names by value, as
    text; rows are matched by position.
    """
    import bayescore as bs
    from bayescore._tables import model_columns, read_probabilities

    if (model is None) == (probs is None):
        raise typer.BadParameter("give exactly one of MODEL or --probs PROBS.csv.")
    table = load_table(data, dataset, target, features, drop, labels_for="scoring")
    if model is not None:
        clf = bs.load(model)
        names = getattr(clf, "feature_names_in_", None)
        X = model_columns(table.X, names, source=table.source, model=model.name)
        result = bs.score(table.y, clf.predict_proba_draws(X))
        source = model.name
    else:
        assert probs is not None
        y = np.asarray(table.y).astype(str)
        frame = read_probabilities(
            probs, prediction=prediction_column, labels=np.unique(y).tolist()
        )
        labels = [str(c) for c in frame.columns]
        result = bs.score(y, frame.to_numpy(), labels=labels)
        source = probs.name
    values = {k: float(v) for k, v in result.data_vars.items()}
    if as_json:
        print_json({"source": source, **result.attrs, "scores": values})
        return
    print_rows(
        f"Scores of {source}, value ± SE ({result.attrs.get('units', 'nats')}; lower "
        "NLL/Brier/ECE is better)",
        ["score", "value ± SE"],
        _score_rows(values),
        right=[False, True],
    )


def _verdict_digits(value: float, threshold: float) -> str:
    """``value`` with enough digits to differ from ``threshold`` when it does.

    1.0099 against 1.01 prints as ``1.0099``, never as ``1.01 < 1.01``.
    """
    if math.isnan(value):
        return "nan"
    for digits in range(4, 16):
        text = f"{value:.{digits}g}"
        if value == threshold or text != f"{threshold:.{digits}g}":
            return text
    return repr(value)


@app.command()
def diagnose(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Saved model (.nc).")],
    as_json: JsonOpt = False,
) -> None:
    """Convergence checks (R-hat, ESS, divergences, BFMI or ELBO, Pareto k) with a verdict.

    Values are shown with the digits needed to compare them with their threshold; info rows
    (the ELBO and its parts) are reported, not judged. Exits with 1 when a check failed, so
    scripts can stop on a bad fit.
    """
    import bayescore as bs

    d = bs.diagnose(bs.load(model))
    frame = d.table.to_dataframe()[["value", "rule", "threshold", "passed"]]
    messages = [advice(m) for m in d.messages]
    verdict = None if d.verdict is None else d.verdict.decision
    if as_json:
        checks = _records(frame)
        print_json(
            {
                "ok": d.ok,
                "method": d.method,
                "verdict": verdict,
                "auto": d.auto,
                "checks": checks,
                "messages": messages,
            }
        )
        raise typer.Exit(0 if d.ok else 1)
    rows = []
    for check, row in frame.iterrows():
        info = row["rule"] == "info"
        value, threshold = float(row["value"]), float(row["threshold"])
        rows.append(
            [
                str(check),
                f"{value:.4g}" if info else _verdict_digits(value, threshold),
                str(row["rule"]),
                "" if info else f"{threshold:.4g}",
                "info" if info else ("yes" if row["passed"] else "NO"),
            ]
        )
    print_rows(
        f"Convergence checks of {model.name} ({d.method})",
        ["check", "value", "rule", "threshold", "passed"],
        rows,
        right=[False, True, False, True, False],
    )
    for message in messages:
        say(f"- {message}", wrap=True)
    if d.auto is not None:
        say(f"--method auto chose {d.auto['choice']}: {d.auto['reason']}.", wrap=True)
    if verdict is not None:
        say(f"verdict on the approximation: {verdict}")
    say("ok: every check passed" if d.ok else "checks failed")
    raise typer.Exit(0 if d.ok else 1)


def _column(table: Any, *names: str) -> np.ndarray | None:
    """The first of ``names`` that ``table`` has (the API's names change between releases)."""
    for name in names:
        if name in table:
            return np.asarray(table[name].values)
    return None


def _compact(table: Any) -> tuple[list[str], list[list[str]], list[bool], list[bool]]:
    """One row per model: main metrics as value ± SE, ΔNLL ± paired SE, diag.

    P(worse) is left to --wide and --json: it is Phi(ΔNLL / SE), which the row shows.

    Columns are read by their SPEC names, falling back to the older duplicates (``se``,
    ``d_se``, ``prob_better``), so the table survives either release of ``bs.compare``.
    """
    n = table.sizes["model"]
    nll = _column(table, "nll")
    nll = np.full(n, np.nan) if nll is None else nll
    nll_se = _column(table, "nll_se", "se")
    d_nll = _column(table, "d_nll")
    d_se = _column(table, "d_nll_se", "d_se")
    diag = _column(table, "diag")
    best = int(np.nanargmin(nll)) if np.isfinite(nll).any() else -1
    metrics = [m for m in table.attrs.get("metrics", ["nll"]) if m != "nll" and m in table]
    columns = ["model", "NLL", "ΔNLL"]
    columns += [{"ece": "ECE", "brier": "Brier"}.get(m, m) for m in metrics]
    rows = []
    for i, model in enumerate(table["model"].values):
        if i == best or d_nll is None:
            delta = "best" if i == best else ""
        else:
            delta = estimate(d_nll[i], None if d_se is None else d_se[i])
        row = [str(model), estimate(nll[i], None if nll_se is None else nll_se[i]), delta]
        for m in metrics:
            se = _column(table, f"{m}_se")
            row.append(estimate(table[m].values[i], None if se is None else se[i]))
        rows.append(row)
    right = [False] + [True] * (len(columns) - 1)
    wrap = [True] + [False] * (len(columns) - 1)
    if diag is not None:
        columns.append("diag")
        for row, flags in zip(rows, diag, strict=True):
            row.append(str(flags))
        right.append(False)
        wrap.append(True)
    return columns, rows, right, wrap


@app.command()
def compare(
    models: ModelsArg,
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    name: NameOpt = None,
    wide: Annotated[
        bool, typer.Option("--wide", help="Show every field of the comparison, not the summary.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare saved models by held-out NLL with paired standard errors.

    One row per model, best first: NLL, Brier and ECE as value ± SE, the NLL difference to
    the best model with the SE of the paired differences, and the diag flags; at most 100
    columns wide. Each model takes its own feature columns from the one CSV. --wide shows
    every field (P(worse), z, Monte Carlo SEs, each metric's differences), --json prints
    them as JSON.
    """
    import bayescore as bs

    table = load_table(data, dataset, target, features, drop, labels_for="comparing")
    names = model_names(models, name)
    fitted, X = _load_models(models, names, table)
    result = bs.compare(fitted, table.y, X=X)
    if as_json:
        print_json({**result.attrs, "models": _records(result.to_pandas())})
        return
    title = (
        f"Held-out scores on {result.attrs.get('n_obs', len(table.X))} rows "
        f"({result.attrs.get('units', 'nats')}; lower is better), value ± SE"
    )
    if wide:
        print_frame(result.to_pandas(), title)
        return
    columns, rows, right, wrap = _compact(result)
    print_rows(
        title,
        columns,
        rows,
        right=right,
        wrap=wrap,
        max_width=MAX_WIDTH,
        note="ΔNLL: NLL difference to the best model ± SE of the paired differences; "
        "--wide shows every field.",
    )


@app.command()
def cv(
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    kind: Annotated[str, typer.Option(metavar="KIND", help="logistic or softmax.")] = "softmax",
    method: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METHOD", help="Inference method; repeat to compare several (default auto)."
        ),
    ] = None,
    prior_scale: Annotated[
        list[float] | None,
        typer.Option(
            metavar="SCALE",
            help="Coefficient prior scale; repeat to compare several (default 2.5).",
        ),
    ] = None,
    folds: Annotated[int, typer.Option("--cv", min=2, metavar="K", help="Number of folds.")] = 5,
    draws: Annotated[int, typer.Option(metavar="N", help="Posterior draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(metavar="N", help="NUTS tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(metavar="N", help="NUTS chains.")] = 2,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the folds and of every fit.")
    ] = 0,
    jobs: Annotated[
        int | None, typer.Option(metavar="N", help="Fit (setting, fold) pairs in parallel.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """K-fold held-out NLL of one or more model settings, on the same stratified folds.

    Every combination of --method and --prior-scale is one model; each is refitted on
    every fold, and the table compares them with paired standard errors.
    """
    import bayescore as bs

    table = load_table(
        data, dataset, target, features, drop, labels_for="cross-validation", for_fit=True
    )
    cls = {"logistic": bs.BayesianLogisticClassifier, "softmax": bs.BayesianSoftmaxClassifier}
    if kind not in cls:
        raise typer.BadParameter(f"--kind must be 'logistic' or 'softmax'; got {kind!r}.")
    settings = [(m, s) for m in method or ["auto"] for s in prior_scale or [2.5]]
    names = [f"{m} prior_scale={s:g}" for m, s in settings]
    if len(set(names)) != len(names):
        raise typer.BadParameter(f"the same setting is given twice: {names}.")
    estimators = {
        n: cls[kind](
            method=m, prior_scale=s, draws=draws, tune=tune, chains=chains, random_seed=seed
        )
        for n, (m, s) in zip(names, settings, strict=True)
    }
    result = bs.cross_validate(
        estimators, table.X, table.y, cv=folds, random_state=seed, n_jobs=jobs
    )
    frame = result.drop_vars(["nll_pointwise", "fold"]).to_pandas()
    if as_json:
        print_json({**result.attrs, "models": _records(frame)})
        return
    print_frame(
        frame, f"{folds}-fold held-out NLL per observation, {result.attrs['n_obs']} rows (nats)"
    )


@app.command()
def loo(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Saved model (.nc).")],
    as_json: JsonOpt = False,
) -> None:
    """PSIS-LOO of a saved model: elpd, NLL per observation with its SE, Pareto k summary.

    The NLL is -elpd / N and its SE se / N. Pareto k counts: k_good (k at most good_k,
    which depends on the number of draws), k_bad (up to 1), k_very_bad (above 1) and k_nan
    (undefined); LOO is unreliable for all but the good ones.
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
    out: Annotated[
        str, typer.Option("--out", metavar="PATH", help="Where to write the HTML report.")
    ],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    name: NameOpt = None,
    title: Annotated[str | None, typer.Option(metavar="TEXT", help="Title of the page.")] = None,
) -> None:
    """Write a self-contained HTML report on saved models scored on labelled data.

    Scores with standard errors and baselines, convergence checks with advice, CORP
    reliability diagrams, uncertainty histograms, the comparison of several models and a
    model card for each; one file that opens offline. Each model takes its own feature
    columns from the one CSV.
    """
    import bayescore as bs

    out_path = check_out(out, [*models, data])
    table = load_table(data, dataset, target, features, drop, labels_for="the report")
    names = model_names(models, name)
    fitted, X = _load_models(models, names, table)
    bs.report(fitted, X, table.y, out_path, title=title)
    say(f"wrote a report on {len(fitted)} model(s) to {out}")
