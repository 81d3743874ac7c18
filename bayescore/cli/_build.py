"""Commands that make models and predictions: datasets, fit, predict, calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bayescore.cli._app import (
    DataOpt,
    DatasetOpt,
    DropOpt,
    FeaturesOpt,
    JsonOpt,
    TargetOpt,
    app,
    check_out,
    load_table,
)
from bayescore.cli._output import (
    print_frame,
    print_json,
    say,
)

__all__ = ["calibrate", "datasets", "fit", "predict"]

#: Recalibrators of ``calibrate`` and the fitted attributes each reports.
_RECALIBRATORS = {
    "temperature": ("TemperatureScaling", ("temperature_",)),
    "platt": ("PlattScaling", ("a_", "b_")),
    "isotonic": ("IsotonicCalibration", ()),
}

RawOpt = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Write text cells as they are. By default a cell or column name starting with "
        "=, +, -, @, tab or CR (a spreadsheet formula) gets a leading ' (OWASP's rule).",
    ),
]
PredictionOpt = Annotated[
    str,
    typer.Option(
        "--prediction-column",
        metavar="NAME",
        help="Name of the column of predicted classes (change it if a class has this name).",
    ),
]


@app.command()
def datasets(as_json: JsonOpt = False) -> None:
    """List the bundled data sets."""
    import bayescore as bs

    names = list(bs.list_datasets())
    if as_json:
        print_json(names)
        return
    for name in names:
        say(name)


@app.command()
def fit(
    out: Annotated[
        str, typer.Option("--out", metavar="PATH", help="Where to save the model (.nc).")
    ],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    kind: Annotated[str, typer.Option(metavar="KIND", help="logistic or softmax.")] = "softmax",
    method: Annotated[
        str,
        typer.Option(
            metavar="METHOD",
            help="auto (Laplace when its verdict allows, else NUTS), nuts, advi, "
            "fullrank_advi, laplace or pathfinder.",
        ),
    ] = "auto",
    draws: Annotated[int, typer.Option(metavar="N", help="Posterior draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(metavar="N", help="NUTS tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(metavar="N", help="NUTS chains.")] = 2,
    prior_scale: Annotated[
        float,
        typer.Option(metavar="SCALE", help="Prior scale of the standardised coefficients."),
    ] = 2.5,
    intercept_prior_scale: Annotated[
        float, typer.Option(metavar="SCALE", help="Prior scale of the intercept(s).")
    ] = 2.5,
    sampler: Annotated[
        str, typer.Option(metavar="NAME", help="NUTS backend: auto, pymc, nutpie or numpyro.")
    ] = "auto",
    target_accept: Annotated[
        float,
        typer.Option(
            metavar="RATE", help="NUTS target acceptance rate (raise it on divergences)."
        ),
    ] = 0.8,
    cores: Annotated[
        int | None,
        typer.Option(metavar="N", help="Processes for NUTS chains (default: one per chain)."),
    ] = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--quiet",
            help="Show the fit's progress (default: in a terminal only).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Random seed.")] = 0,
) -> None:
    """Fit a Bayesian classifier and save it as netCDF.

    Every column of --data but --target is a feature, unless --features or --drop says
    otherwise; features must be numbers with no missing values (leave text columns out with
    --drop, or encode them as numbers first). The model remembers its feature names, so
    predict, score, compare and report take its columns from any CSV that holds them.
    """
    import bayescore as bs
    from bayescore._progress import reporting, resolve

    out_path = check_out(out, [data])
    if kind not in ("logistic", "softmax"):
        raise typer.BadParameter(f"--kind must be 'logistic' or 'softmax'; got {kind!r}.")
    # The display starts at the call: imports, the table and the model come first.
    with reporting(resolve(progress), f"fit, method={method!r}") as shown:
        with shown.phase("loading bayescore"):
            cls = {
                "logistic": bs.BayesianLogisticClassifier,
                "softmax": bs.BayesianSoftmaxClassifier,
            }[kind]
        with shown.phase(f"reading {data if data is not None else dataset}"):
            table = load_table(
                data, dataset, target, features, drop, labels_for="fitting", for_fit=True
            )
        clf = cls(
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
        clf.fit(table.X, table.y)
        with shown.phase(f"saving {out}"):
            bs.save(clf, out_path)
    say(
        f"saved {type(clf).__name__} ({len(clf.classes_)} classes, {table.X.shape[1]} "
        f"features) to {out}"
    )
    choice = bs.diagnose(clf).auto
    if choice is not None:
        say(f"--method auto chose {choice['choice']}: {choice['reason']}.", wrap=True)


def _write_probs(probs: object, classes: object, out: Path, column: str, raw: bool) -> int:
    from bayescore._tables import probability_table, write_csv

    frame = probability_table(probs, classes, prediction=column)  # type: ignore[arg-type]
    write_csv(frame, out, raw=raw)
    return len(frame)


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Saved model (.nc).")],
    out: Annotated[str, typer.Option("--out", metavar="PATH", help="CSV of class probabilities.")],
    data: DataOpt = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    prediction_column: PredictionOpt = "prediction",
    raw: RawOpt = False,
) -> None:
    """Write posterior predictive class probabilities for new rows to CSV.

    Columns: prediction (the most probable class), then one per class label. The model
    takes its own feature columns, by name, from the CSV; other columns are ignored.
    """
    import bayescore as bs
    from bayescore._tables import model_columns

    out_path = check_out(out, [model, data])
    clf = bs.load(model)
    table = load_table(data, dataset, target, features, drop)
    names = getattr(clf, "feature_names_in_", None)
    X = model_columns(table.X, names, source=table.source, model=model.name)
    n = _write_probs(clf.predict_proba(X), clf.classes_, out_path, prediction_column, raw)
    say(f"wrote {n} rows to {out}")


@app.command()
def calibrate(
    model: Annotated[Path, typer.Argument(metavar="MODEL", help="Saved model (.nc).")],
    out: Annotated[
        str, typer.Option("--out", metavar="PATH", help="CSV of recalibrated probabilities.")
    ],
    predict_data: Annotated[
        Path,
        typer.Option(
            "--predict",
            metavar="CSV",
            help="CSV of the rows to predict (columns the model does not use are ignored).",
        ),
    ],
    data: Annotated[
        Path | None, typer.Option("--data", metavar="CSV", help="Calibration CSV.")
    ] = None,
    dataset: DatasetOpt = None,
    target: TargetOpt = None,
    features: FeaturesOpt = None,
    drop: DropOpt = None,
    method: Annotated[
        str, typer.Option(metavar="METHOD", help="temperature, platt (binary) or isotonic.")
    ] = "temperature",
    prediction_column: PredictionOpt = "prediction",
    raw: RawOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Recalibrate a saved model on labelled rows; write the recalibrated --predict rows.

    The recalibration map is fitted to the model's posterior predictive probabilities of
    the calibration rows (--data and --target, or --dataset) and applied to those of the
    --predict rows; the CSV written has the columns of bayescore predict. The table shows
    the fitted parameters and the calibration rows' NLL before and after (after is
    in-sample, so optimistic: score the recalibrated probabilities of held-out rows with
    bayescore score --probs).
    """
    import bayescore as bs
    from bayescore._tables import model_columns

    out_path = check_out(out, [model, data, predict_data])
    if method not in _RECALIBRATORS:
        raise typer.BadParameter(
            f"--method must be one of {list(_RECALIBRATORS)}; got {method!r}."
        )
    clf = bs.load(model)
    names = getattr(clf, "feature_names_in_", None)
    cal = load_table(data, dataset, target, features, drop, labels_for="calibrating")
    X_cal = model_columns(cal.X, names, source=cal.source, model=model.name)
    new = load_table(predict_data, None, None, features, drop)
    X_new = model_columns(new.X, names, source=new.source, model=model.name)
    class_name, fitted_attrs = _RECALIBRATORS[method]
    probs_cal = clf.predict_proba(X_cal)
    recal = getattr(bs, class_name)().fit(probs_cal, cal.y, labels=clf.classes_)
    probs_new = recal.transform(clf.predict_proba(X_new))
    n = _write_probs(probs_new, clf.classes_, out_path, prediction_column, raw)
    result = {
        "method": method,
        **{attr.rstrip("_"): float(getattr(recal, attr)) for attr in fitted_attrs},
        "calibration_nll_before": bs.log_loss(cal.y, probs_cal, labels=clf.classes_),
        "calibration_nll_after": bs.log_loss(
            cal.y, recal.transform(probs_cal), labels=clf.classes_
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
