"""Everything the report shows, computed: :func:`prepare_report` returns it as data.

Compute only: the public functions named in each field do the work (``score``,
``diagnose``, ``compare``, ``reliability_table``, ``uncertainty_decomposition``,
arviz-stats' ``summary``), with the classification kernels of
:mod:`bayescore._array.ranking`; :mod:`bayescore.reporting._render` draws and lays out the
result. So a test (or a user) can check every number without reading HTML.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr

from bayescore._inputs import encode_labels
from bayescore._names import CHAIN, CLASS, DRAW, OBS, OBSERVED_DATA, has_group
from bayescore._validation import LEVEL, N_BINS, Interval, validate_params
from bayescore.reporting._cards import class_counts, model_card, versions
from bayescore.reporting._model import (
    Classification,
    Coefficients,
    ParameterSummary,
    classification,
    coefficients,
    parameter_summary,
)
from bayescore.reporting._rows import RowStatus, row_matrix, row_status, training_rows

__all__ = ["Comparison", "ModelReport", "ReportData", "Split", "prepare_report"]

#: Score columns of the table: key in bs.score, header, whether lower is better, help text.
SCORES = (
    ("nll", "NLL", True, "posterior predictive negative log-likelihood (log loss of points)"),
    ("gibbs_nll", "Gibbs NLL", True, "mean over draws of each draw's NLL (>= NLL by Jensen)"),
    ("brier", "Brier", True, "multiclass Brier score, 0 to 2"),
    ("spherical", "spherical", False, "spherical score p(y) / ||p||"),
    ("accuracy", "accuracy", False, "accuracy of the posterior mean probabilities"),
    ("ece", "ECE", True, "expected calibration error, top label, equal-width bins"),
    ("perplexity", "perplexity", True, "exp(NLL): effective number of equally likely classes"),
)
#: Columns of the comparison table: key, header, and older names of the same column
#: (``bs.compare`` is being reworked: read whichever the table holds).
COMPARE = (
    ("nll", "NLL", ()),
    ("nll_se", "SE", ("se",)),
    ("d_nll", "ΔNLL to best", ()),
    ("d_nll_se", "paired SE of Δ", ("d_se",)),
    ("z", "z = Δ / SE", ()),
    ("p_worse_nll", "P(worse than best)", ("prob_better",)),
    ("brier", "Brier", ()),
    ("ece", "ECE", ()),
    ("accuracy", "accuracy", ()),
)
#: Data splits: the rows passed as X, y and those passed as train=.
SCORED, TRAIN = "scored", "train"


@dataclass(frozen=True)
class Split:
    """One set of labelled rows the models are scored on."""

    key: str
    title: str
    n_obs: int
    classes: str


@dataclass
class ModelReport:
    """Everything about one model: per split (``"scored"``, ``"train"``) and overall.

    ``status``, ``scores`` and ``classification`` are keyed by split; ``reliability`` (the
    CORP table), ``shares`` (forecast histogram) and ``uncertainty`` (aleatoric and
    epistemic per row, with ``correct``) are for the scored rows. ``diagnosis``,
    ``summary`` and ``coefficients`` are None for models without posterior draws.
    """

    name: str
    estimator: str
    bayesian: bool
    status: dict[str, RowStatus]
    scores: dict[str, xr.Dataset]
    classification: dict[str, Classification]
    reliability: xr.Dataset
    shares: tuple[np.ndarray, np.ndarray]
    card: list[tuple[str, str]]
    diagnosis: Any = None
    summary: ParameterSummary | None = None
    coefficients: Coefficients | None = None
    uncertainty: xr.Dataset | None = None
    correct: np.ndarray | None = None


@dataclass(frozen=True)
class Comparison:
    """The :func:`bayescore.compare` table on the scored rows, as shown.

    ``columns`` are the (key, header) pairs the table holds; ``values[name][key]`` the
    numbers; ``flags[name]`` the ``diag`` flags (empty when the table has none);
    ``in_sample`` the models that were fitted on some of the scored rows.
    """

    table: xr.Dataset
    columns: list[tuple[str, str]]
    values: dict[str, dict[str, float]]
    flags: dict[str, list[str]]
    in_sample: list[str] = field(default_factory=list)


@dataclass
class ReportData:
    """What :func:`bayescore.report` shows, before it is drawn and laid out."""

    title: str
    created: str
    versions: dict[str, str]
    splits: list[Split]
    models: list[ModelReport]
    classes: list[str]
    n_features: int | None
    units: str
    level: float
    n_bins: int
    baselines: dict[str, Any]
    comparison: Comparison | None = None
    #: Risk-coverage curves (``bs.selective_risk``), once that function exists: None.
    risk_coverage: Any = None


def _models(models: Any) -> dict[str, Any]:
    """Name -> fitted classifier; a single classifier is named by its class."""
    if hasattr(models, "predict_proba"):
        models = {type(models).__name__: models}
    if not isinstance(models, dict) or not models:
        got = "an empty dict" if isinstance(models, dict) else type(models).__name__
        raise TypeError(
            "report() takes a fitted classifier or a non-empty dict of name -> fitted "
            f"classifier; got {got}."
        )
    for name, model in models.items():
        if not isinstance(name, str):
            raise TypeError(f"report() model names must be str; got {name!r}.")
        if not hasattr(model, "predict_proba"):
            raise TypeError(
                "report() needs fitted classifiers with predict_proba (bayescore or "
                f"scikit-learn); models[{name!r}] is {type(model).__name__}. Score "
                "probabilities or draws with bayescore.score or bayescore.compare instead."
            )
        if not hasattr(model, "classes_"):
            raise TypeError(
                f"report() needs fitted classifiers; models[{name!r}] "
                f"({type(model).__name__}) is not fitted. Call its fit method first."
            )
    return dict(models)


def _held_out(held_out: Any, names: list[str]) -> dict[str, bool | None]:
    """``held_out=`` per model: one bool (or None) for all, or a dict by model name."""
    if held_out is None or isinstance(held_out, bool | np.bool_):
        return dict.fromkeys(names, None if held_out is None else bool(held_out))
    if isinstance(held_out, Mapping):
        unknown = sorted(set(map(str, held_out)) - set(names))
        if unknown:
            raise ValueError(
                f"held_out names models that report() was not given: {unknown}; "
                f"the models are {names}."
            )
        out: dict[str, bool | None] = dict.fromkeys(names, None)
        for name, value in held_out.items():
            if value is not None and not isinstance(value, bool | np.bool_):
                raise TypeError(
                    f"held_out[{name!r}] must be True, False or None. Got {value!r} instead."
                )
            out[str(name)] = None if value is None else bool(value)
        return out
    raise TypeError(
        "The 'held_out' parameter of report must be True, False, None or a dict of model "
        f"name -> True/False. Got {held_out!r} instead."
    )


def _train(train: Any) -> tuple[Any, Any] | None:
    if train is None:
        return None
    if not isinstance(train, tuple | list) or len(train) != 2:
        raise TypeError(
            "The 'train' parameter of report must be a pair (X_train, y_train). "
            f"Got {type(train).__name__} instead."
        )
    return train[0], train[1]


def _model_columns(model: Any, X: Any) -> Any:
    """``X`` with the model's own columns, when it is a DataFrame holding more than those.

    Models fitted on different columns of one table (a user's CSV) can then share one
    report: each reads the columns it was fitted on, by name, in its own order.
    """
    names = getattr(model, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if names is None or columns is None or list(columns) == list(names):
        return X
    if set(map(str, names)) <= set(map(str, columns)):
        return X[[str(n) for n in names]]
    return X


def _predictions(model: Any, X: Any) -> xr.DataArray:
    """Posterior draws (chain, draw, obs, class) of a bayescore model, else (obs, class)."""
    if hasattr(model, "predict_proba_draws"):
        return model.predict_proba_draws(X)
    probs = np.asarray(model.predict_proba(X), dtype=float)
    return xr.DataArray(probs, dims=(OBS, CLASS), coords={CLASS: np.asarray(model.classes_)})


def _training_labels(models: dict[str, Any]) -> Any:
    """Training labels recorded in the first bayescore fit, for the class-prior baseline."""
    for model in models.values():
        idata = getattr(model, "idata_", None)
        if idata is not None and has_group(idata, OBSERVED_DATA) and "y" in idata[OBSERVED_DATA]:
            return np.asarray(model.classes_)[np.asarray(idata[OBSERVED_DATA]["y"].values)]
    return None


def _mean_and_draws(preds: xr.DataArray) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean probabilities (N, K) and the draws (S, N, K), None for point forecasts."""
    if CHAIN not in preds.dims:
        return np.asarray(preds.transpose(OBS, CLASS).values, dtype=np.float64), None
    values = np.asarray(preds.transpose(CHAIN, DRAW, OBS, CLASS).values, dtype=np.float64)
    draws = values.reshape((-1,) + values.shape[2:])
    return draws.mean(axis=0), draws


def _split_title(key: str) -> str:
    return "scored rows (X, y)" if key == SCORED else "training rows (train=)"


def _comparison(
    predictions: dict[str, xr.DataArray], y: np.ndarray, n_bins: int, models: list[ModelReport]
) -> Comparison:
    from bayescore.comparison import compare

    table = compare(predictions, y, n_bins=n_bins)
    columns: list[tuple[str, str]] = []
    values: dict[str, dict[str, float]] = {str(m): {} for m in table["model"].values}
    for key, header, older in COMPARE:
        found = next((k for k in (key, *older) if k in table), None)
        if found is None:
            continue
        columns.append((key, header))
        for m in table["model"].values:
            values[str(m)][key] = float(np.asarray(table[found].sel(model=m)))
    flags: dict[str, list[str]] = {}
    for m in table["model"].values:
        raw = str(table["diag"].sel(model=m).values) if "diag" in table else ""
        flags[str(m)] = [f.strip() for f in raw.split(";") if f.strip()]
    in_sample = [
        m.name for m in models if m.status[SCORED].status in ("in-sample", "partly in-sample")
    ]
    return Comparison(table, columns, values, flags, in_sample)


@validate_params(
    {
        "n_bins": N_BINS,
        "level": LEVEL,
        "random_seed": Interval(numbers.Integral, 0, None, "left"),
    }
)
def prepare_report(
    models: Any,
    X: Any,
    y: Any,
    *,
    train: tuple[Any, Any] | None = None,
    held_out: bool | dict[str, bool | None] | None = None,
    title: str | None = None,
    y_train: Any = None,
    n_bins: int = 15,
    level: float = 0.9,
    random_seed: int | None = 0,
) -> ReportData:
    """Compute everything :func:`bayescore.report` shows, as data (nothing drawn).

    Parameters are those of :func:`bayescore.report` (without ``path``).

    Returns
    -------
    ReportData
        ``splits`` (the scored rows, then the training rows when ``train=`` is given),
        ``models`` (one :class:`ModelReport` each, in the order given), ``comparison``
        (two or more models), ``baselines``, ``versions`` and the settings.

    Examples
    --------
    >>> import bayescore as bs
    >>> from sklearn.linear_model import LogisticRegression
    >>> ds = bs.load_dataset("iris")
    >>> lr = LogisticRegression(max_iter=1000).fit(ds.X, ds.y)
    >>> data = prepare_report({"lr": lr}, ds.X, ds.y, held_out=False)
    >>> data.models[0].status["scored"].text, data.models[0].classification["scored"].accuracy
    ('in-sample', 0.9733333333333334)
    """
    from bayescore.calibration import reliability_table
    from bayescore.calibration.corp import corp_forecasts
    from bayescore.diagnostics import diagnose
    from bayescore.scoring import pointwise_scores, score, uncertainty_decomposition

    fitted = _models(models)
    names = list(fitted)
    said = _held_out(held_out, names)
    pair = _train(train)
    if y_train is None:
        y_train = pair[1] if pair is not None else _training_labels(fitted)
    data_sets = {SCORED: (X, np.asarray(y))}
    if pair is not None:
        data_sets[TRAIN] = (pair[0], np.asarray(pair[1]))
    library = versions()
    reports, predictions = [], {}
    for name, model in fitted.items():
        classes = [str(c) for c in model.classes_]
        train_rows = training_rows(model)
        status, scores, classified = {}, {}, {}
        for key, (X_all, y_split) in data_sets.items():
            X_split = _model_columns(model, X_all)
            preds = _predictions(model, X_split)
            if key == SCORED:
                predictions[name] = preds
            rows = row_matrix(X_split)
            told = said[name] if key == SCORED else False
            status[key] = row_status(
                rows, train_rows, held_out=told, said="held_out=" if key == SCORED else "train="
            )
            scores[key] = score(y_split, preds, y_train=y_train, n_bins=n_bins)
            y_idx = encode_labels(y_split, np.asarray(model.classes_), source="the classes_")
            mean, draws = _mean_and_draws(preds)
            classified[key] = classification(mean, y_idx, classes, draws, level)
        preds, y_arr = predictions[name], data_sets[SCORED][1]
        table = reliability_table(
            y_arr, preds, strategy="pav", level=level, random_seed=random_seed
        )
        forecast = corp_forecasts(y_arr, preds).forecast[0]
        counts, edges = np.histogram(forecast, bins=n_bins, range=(0.0, 1.0))
        report = ModelReport(
            name=name,
            estimator=type(model).__name__,
            bayesian=hasattr(model, "idata_"),
            status=status,
            scores=scores,
            classification=classified,
            reliability=table,
            shares=(edges, counts / forecast.size),
            card=model_card(model, library),
        )
        if report.bayesian:
            report.diagnosis = diagnose(model)
            report.summary = parameter_summary(model.idata_)
            report.coefficients = coefficients(model.idata_)
        if CHAIN in preds.dims:
            report.uncertainty = uncertainty_decomposition(preds)
            # Right or wrong by the same label matching as the scores (by value).
            report.correct = pointwise_scores(y_arr, preds).values["accuracy"] > 0.5
        reports.append(report)
    first = reports[0].scores[SCORED]
    splits = []
    for key, (_, ys) in data_sets.items():
        counts = class_counts(*np.unique(ys, return_counts=True))
        splits.append(Split(key, _split_title(key), int(ys.size), counts))
    comparison = None
    if len(reports) > 1:
        comparison = _comparison(predictions, data_sets[SCORED][1], n_bins, reports)
    return ReportData(
        title="bayescore report" if title is None else title,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        versions=library,
        splits=splits,
        models=reports,
        classes=reports[0].classification[SCORED].classes,
        n_features=int(np.shape(X)[1]) if np.ndim(X) == 2 else None,
        units=str(first.attrs["units"]),
        level=level,
        n_bins=n_bins,
        baselines={
            "uniform": float(first["baseline_uniform"]),
            "class_prior": float(first["baseline_class_prior"]),
            "from_training": y_train is not None,
        },
        comparison=comparison,
    )
