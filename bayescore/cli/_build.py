"""Commands that make models and predictions: datasets, fit, predict, calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bayescore.cli._app import (
    DataOpt,
    DatasetOpt,
    JsonOpt,
    TargetOpt,
    app,
    check_features,
    console,
    load_table,
    print_frame,
    print_json,
)

__all__ = ["calibrate", "datasets", "fit", "predict"]

#: Recalibrators of ``calibrate`` and the fitted attributes each reports.
_RECALIBRATORS = {
    "temperature": ("TemperatureScaling", ("temperature_",)),
    "platt": ("PlattScaling", ("a_", "b_")),
    "isotonic": ("IsotonicCalibration", ()),
}


@app.command()
def datasets(as_json: JsonOpt = False) -> None:
    """List the bundled data sets."""
    import bayescore as bs

    names = list(bs.list_datasets())
    if as_json:
        print_json(names)
        return
    for name in names:
        console().print(name)


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
    prior_scale: Annotated[
        float, typer.Option(help="Prior scale of the standardised coefficients.")
    ] = 2.5,
    intercept_prior_scale: Annotated[
        float, typer.Option(help="Prior scale of the intercept(s).")
    ] = 2.5,
    sampler: Annotated[
        str, typer.Option(help="NUTS backend: auto, pymc, nutpie or numpyro.")
    ] = "auto",
    target_accept: Annotated[
        float, typer.Option(help="NUTS target acceptance rate (raise it on divergences).")
    ] = 0.8,
    cores: Annotated[
        int | None, typer.Option(help="Processes for NUTS chains (default: one per chain).")
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--quiet", help="Show the sampler's progress bar.")
    ] = False,
    seed: int = 0,
) -> None:
    """Fit a Bayesian classifier and save it as netCDF."""
    import bayescore as bs

    X, y = load_table(data, dataset, target)
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
        intercept_prior_scale=intercept_prior_scale,
        sampler=sampler,
        target_accept=target_accept,
        cores=cores,
        progressbar=progress,
        random_seed=seed,
    )
    clf.fit(X, y)
    bs.save(clf, out)
    console().print(f"saved {type(clf).__name__} ({len(clf.classes_)} classes) to {out}")


def _write_probs(probs: Any, classes: Any, out: Path) -> int:
    """CSV of ``prediction`` (the most probable class) and one column per class."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(probs, columns=[str(c) for c in classes])
    frame.insert(0, "prediction", np.asarray(classes)[np.argmax(probs, axis=1)])
    frame.to_csv(out, index=False)
    return len(frame)


@app.command()
def predict(
    model: Path,
    out: Annotated[Path, typer.Option("--out", help="CSV of class probabilities.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
) -> None:
    """Write posterior predictive class probabilities for new rows to CSV.

    Columns: ``prediction`` (the most probable class), then one per class label.
    """
    import bayescore as bs

    clf = bs.load(model)
    X, _ = load_table(data, dataset, target)
    check_features(clf, X, str(data or dataset))
    n = _write_probs(clf.predict_proba(X), clf.classes_, out)
    console().print(f"wrote {n} rows to {out}")


@app.command()
def calibrate(
    model: Path,
    out: Annotated[Path, typer.Option("--out", help="CSV of recalibrated probabilities.")],
    predict_data: Annotated[
        Path,
        typer.Option(
            "--predict", help="CSV of the rows to predict (a --target column is ignored)."
        ),
    ],
    data: Annotated[Path | None, typer.Option("--data", help="Calibration CSV.")] = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    method: Annotated[
        str, typer.Option(help="temperature, platt (binary) or isotonic.")
    ] = "temperature",
    as_json: JsonOpt = False,
) -> None:
    """Recalibrate a saved model on labelled rows; write the recalibrated --predict rows.

    The recalibration map is fitted to the model's posterior predictive probabilities of
    the calibration rows (``--data``/``--target`` or ``--dataset``) and applied to those of
    the ``--predict`` rows; the CSV written has the columns of ``bayescore predict``. The
    table shows the fitted parameters and the calibration rows' NLL before and after (after
    is in-sample, so optimistic: score the recalibrated probabilities of held-out rows with
    ``bayescore score --probs``).
    """
    import bayescore as bs

    if method not in _RECALIBRATORS:
        raise typer.BadParameter(
            f"--method must be one of {list(_RECALIBRATORS)}; got {method!r}."
        )
    clf = bs.load(model)
    X_cal, y_cal = load_table(data, dataset, target)
    if y_cal is None:
        raise typer.BadParameter("--target is required with --data for calibrating.")
    check_features(clf, X_cal, str(data or dataset))
    X_new, _ = load_table(predict_data, None, None)
    if target is not None and target in X_new.columns:
        X_new = X_new.drop(columns=[target])
    check_features(clf, X_new, str(predict_data))
    class_name, fitted_attrs = _RECALIBRATORS[method]
    probs_cal = clf.predict_proba(X_cal)
    recal = getattr(bs, class_name)().fit(probs_cal, y_cal, labels=clf.classes_)
    n = _write_probs(recal.transform(clf.predict_proba(X_new)), clf.classes_, out)
    result = {
        "method": method,
        **{attr.rstrip("_"): float(getattr(recal, attr)) for attr in fitted_attrs},
        "calibration_nll_before": bs.log_loss(y_cal, probs_cal, labels=clf.classes_),
        "calibration_nll_after": bs.log_loss(
            y_cal, recal.transform(probs_cal), labels=clf.classes_
        ),
        "rows_written": n,
        "out": str(out),
    }
    if as_json:
        print_json(result)
        return
    import pandas as pd

    frame = pd.Series(result, name="value").to_frame().rename_axis("result")
    print_frame(frame, f"{class_name} of {model.name} (NLL in nats; after is in-sample)")
