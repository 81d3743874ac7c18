"""One self-contained HTML page about one or more fitted classifiers on held-out data.

The page holds the scores with standard errors and baselines (:func:`bayescore.score`), each
fit's convergence verdict and advice (:func:`bayescore.diagnose`), CORP reliability diagrams
with their bands, histograms of the epistemic and aleatoric uncertainty
(:func:`bayescore.uncertainty_decomposition`), the paired comparison of several models
(:func:`bayescore.compare`) and a model card per model. Everything is computed by the public
functions named; this module only gathers their results and lays them out.

The file needs nothing but a browser: figures are PNG images inlined as base64 ``data:``
URIs, the style sheet is inline, there is no script, and a Content-Security-Policy forbids
every network request, so the page opens offline and never fetches anything.

The module is ``reporting``, not ``report``: a submodule named like the function it holds
would replace ``bayescore.report`` (the function) by itself as soon as anything imported it.
"""

from __future__ import annotations

import base64
import io
import json
import numbers
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayescore._atomic import atomic_write
from bayescore._names import (
    ATTR_METHOD,
    ATTR_SAMPLER,
    ATTR_SAMPLING_TIME,
    ATTR_SETTINGS,
    ATTR_VERSION,
    ATTR_WARM_START,
    CHAIN,
    CLASS,
    CONSTANT_DATA,
    DRAW,
    OBS,
    OBSERVED_DATA,
    POSTERIOR,
    has_group,
)
from bayescore._validation import LEVEL, N_BINS, Interval, validate_params

__all__ = ["report"]

#: Score columns of the table: key in bs.score, header, whether lower is better, help text.
_SCORES = (
    ("nll", "NLL", True, "posterior predictive negative log-likelihood (log loss of points)"),
    ("gibbs_nll", "Gibbs NLL", True, "mean over draws of each draw's NLL (>= NLL by Jensen)"),
    ("brier", "Brier", True, "multiclass Brier score, 0 to 2"),
    ("spherical", "spherical", False, "spherical score p(y) / ||p||"),
    ("accuracy", "accuracy", False, "accuracy of the posterior mean probabilities"),
    ("ece", "ECE", True, "expected calibration error, top label, equal-width bins"),
    ("perplexity", "perplexity", True, "exp(NLL): effective number of equally likely classes"),
)
#: Columns of the comparison table (bs.compare): key, header, lower is better.
_COMPARE = (
    ("nll", "NLL", True),
    ("se", "SE", None),
    ("d_nll", "ΔNLL to best", True),
    ("d_se", "paired SE of Δ", None),
    ("z", "z = Δ / SE", None),
    ("prob_better", "P(best is better)", None),
    ("brier", "Brier", True),
    ("ece", "ECE", True),
    ("accuracy", "accuracy", False),
)
_PACKAGES = ("pymc", "arviz-base", "arviz-stats", "xarray", "numpy", "scikit-learn", "matplotlib")


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


def _png(fig: Any) -> str:
    """A matplotlib figure as a base64 PNG (drawn by Agg, no pyplot state)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _reliability_png(y: Any, preds: xr.DataArray, name: str, level: float, seed: Any) -> str:
    from matplotlib.figure import Figure

    from bayescore.plots import reliability_diagram

    fig = Figure(figsize=(5.2, 5.2))
    ax = fig.subplots()
    reliability_diagram(y, preds, strategy="pav", ax=ax, label=name, level=level, random_seed=seed)
    ax.set_title(f"{name}: CORP reliability diagram", fontsize=10)
    return _png(fig)


def _uncertainty_png(split: xr.Dataset, correct: np.ndarray) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.4))
    axes = fig.subplots(1, 2)
    for ax, part in zip(axes, ("aleatoric", "epistemic"), strict=True):
        values = split[part].values
        bins = np.histogram_bin_edges(values, bins=20)
        ax.hist(
            [values[correct], values[~correct]],
            bins=bins,
            stacked=True,
            color=["C0", "C3"],
            label=["correct", "wrong"],
        )
        ax.axvline(values.mean(), color="0.2", ls="--", lw=1, label=f"mean {values.mean():.3g}")
        ax.set_xlabel(f"{part} uncertainty ({split.attrs.get('units', 'nats')})")
        ax.set_ylabel("observations")
        ax.legend(fontsize=8)
    axes[0].set_title("aleatoric: expected entropy of the draws", fontsize=10)
    axes[1].set_title("epistemic: mutual information", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _comparison_png(table: xr.Dataset) -> str:
    from matplotlib.figure import Figure

    from bayescore.plots import comparison_chart

    fig = Figure(figsize=(6.5, 0.6 * table.sizes["model"] + 1.6))
    comparison_chart(table, ax=fig.subplots())
    return _png(fig)


def _float(value: Any) -> float:
    return float(np.asarray(value))


def _score_row(name: str, scores: xr.Dataset) -> dict[str, Any]:
    cells = []
    for key, *_ in _SCORES:
        value = _float(scores[key]) if key in scores else None
        se_key = f"{key}_se"
        se = _float(scores[se_key]) if se_key in scores else None
        cells.append({"key": key, "value": value, "se": se})
    return {"name": name, "cells": cells}


def _diagnosis(model: Any) -> dict[str, Any] | None:
    if not hasattr(model, "idata_"):
        return None
    from bayescore.diagnostics import diagnose

    d = diagnose(model)
    rows = [
        {
            "check": str(check),
            "value": _float(d.table["value"].sel(check=check)),
            "rule": str(d.table["rule"].sel(check=check).values),
            "threshold": _float(d.table["threshold"].sel(check=check)),
            "passed": bool(d.table["passed"].sel(check=check)),
        }
        for check in d.table["check"].values
    ]
    return {"ok": d.ok, "method": d.method, "rows": rows, "messages": list(d.messages)}


def _priors(settings: dict[str, Any]) -> str:
    scale = settings.get("prior_scale")
    if settings.get("prior") == "student_t":
        coef = f"StudentT(nu={settings.get('prior_nu')}, 0, {scale})"
    else:
        coef = f"Normal(0, {scale})"
    if settings.get("flat_intercept"):
        intercept = "flat"
    elif settings.get("coding") == "zerosum":
        intercept = f"ZeroSumNormal({settings.get('intercept_prior_scale')})"
    else:
        intercept = f"Normal(0, {settings.get('intercept_prior_scale')})"
    return f"coefficients (standardised features) ~ {coef}; intercept ~ {intercept}"


def _class_counts(classes: Iterable[Any], counts: Iterable[int]) -> str:
    return ", ".join(f"{c} ({int(n)})" for c, n in zip(classes, counts, strict=True))


def _bayes_card(model: Any, rows: list[tuple[str, str]]) -> None:
    idata = model.idata_
    attrs = idata[POSTERIOR].attrs
    settings = json.loads(attrs.get(ATTR_SETTINGS, "{}"))
    post = idata[POSTERIOR]
    method = str(attrs.get(ATTR_METHOD, getattr(model, "method", "unknown")))
    rows.append(("inference", method))
    if ATTR_SAMPLER in attrs:
        warm = attrs.get(ATTR_WARM_START, "none")
        rows.append(("sampler", f"{attrs[ATTR_SAMPLER]} (warm start: {warm})"))
    n_chain, n_draw = post.sizes.get(CHAIN, 1), post.sizes.get(DRAW, 1)
    rows.append(("posterior draws", f"{n_chain} chain(s) × {n_draw} = {n_chain * n_draw}"))
    if ATTR_SAMPLING_TIME in attrs:
        rows.append(("fit time", f"{float(attrs[ATTR_SAMPLING_TIME]):.2f} s"))
    if settings:
        rows.append(("model", str(settings.get("kind", ""))))
        rows.append(("priors", _priors(settings)))
        rows.append(("model settings", ", ".join(f"{k}={v}" for k, v in settings.items())))
    const = idata[CONSTANT_DATA]
    X = const["X"]
    rows.append(("training data", f"{X.shape[0]} rows × {X.shape[1]} features"))
    if has_group(idata, OBSERVED_DATA) and "y" in idata[OBSERVED_DATA]:
        counts = np.bincount(
            np.asarray(idata[OBSERVED_DATA]["y"].values), minlength=len(model.classes_)
        )
        rows.append(("training classes", _class_counts(model.classes_, counts)))
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        rows.append(("features", ", ".join(str(n) for n in names)))
    fitted = [
        f"{attrs[key]} {attrs[version]}"
        for key, version in (
            ("inference_library", "inference_library_version"),
            ("creation_library", "creation_library_version"),
        )
        if key in attrs and version in attrs
    ]
    if fitted:
        rows.append(("fitted with", ", ".join(fitted)))
    if ATTR_VERSION in attrs:
        rows.append(("saved by", f"bayescore {attrs[ATTR_VERSION]}"))


def _card(name: str, model: Any, versions: dict[str, str]) -> dict[str, Any]:
    rows: list[tuple[str, str]] = [("estimator", type(model).__name__)]
    rows.append(("classes", ", ".join(str(c) for c in model.classes_)))
    if hasattr(model, "idata_"):
        _bayes_card(model, rows)
    else:
        rows.append(("inference", "point estimate (no posterior draws)"))
        n_features = getattr(model, "n_features_in_", None)
        if n_features is not None:
            rows.append(("features", str(n_features)))
    if hasattr(model, "get_params"):
        params = model.get_params(deep=False)
        rows.append(("parameters", ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))))
    shown = ("bayescore", "pymc", "arviz-base", "arviz-stats")
    rows.append(("versions (report)", ", ".join(f"{p} {versions[p]}" for p in shown)))
    return {"name": name, "rows": rows}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    from bayescore import __version__

    out = {"bayescore": __version__}
    for package in _PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def _format(value: Any) -> str:
    """Four significant digits; NaN as a dash."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, numbers.Real):
        value = float(value)
        return "–" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def _exact(value: Any) -> str:
    """The full-precision value, for ``data-value`` attributes (``repr`` round-trips)."""
    return repr(float(value))


def _render(context: dict[str, Any]) -> str:
    from importlib.resources import files

    import jinja2

    source = files("bayescore").joinpath("templates", "report.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = _format
    env.filters["exact"] = _exact
    return env.from_string(source).render(**context)


@validate_params(
    {
        "n_bins": N_BINS,
        "level": LEVEL,
        "random_seed": Interval(numbers.Integral, 0, None, "left"),
    }
)
def report(
    models: Any,
    X: Any,
    y: Any,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    y_train: Any = None,
    n_bins: int = 15,
    level: float = 0.9,
    random_seed: int | None = 0,
) -> Path:
    """Write a self-contained HTML report on fitted classifiers scored on held-out data.

    The page shows, for every model: the scores of :func:`bayescore.score` with standard
    errors, beside the uniform and class-prior baselines; the convergence verdict of
    :func:`bayescore.diagnose` with its advice; the CORP reliability diagram
    (``strategy="pav"``) with the consistency band under calibration and, for posterior
    draws, the posterior band; histograms of the aleatoric and epistemic uncertainty per
    observation (:func:`bayescore.uncertainty_decomposition`), split by correct and wrong
    predictions; and a model card (data, classes, priors, method, sampler, fit time,
    library versions). With several models it adds the :func:`bayescore.compare` table
    (held-out NLL with paired standard errors) and its chart.

    scikit-learn classifiers (anything with ``predict_proba`` and ``classes_``) are welcome
    beside bayescore estimators: they have no posterior draws, so they appear in the
    scores, reliability, comparison and model cards, and the diagnostics and uncertainty
    sections say that they do not apply.

    The file is one HTML page with its figures as inline base64 PNG images and its style
    inline; it has no script and its Content-Security-Policy blocks every network request,
    so it opens offline. It is written atomically (a temporary file beside ``path``,
    synced and renamed), so ``path`` never holds a half-written report.

    Parameters
    ----------
    models : fitted classifier or dict of str -> fitted classifier
        bayescore estimators (posterior draws) or scikit-learn classifiers; a single model
        is named by its class.
    X : array-like or DataFrame of shape (n_obs, n_features)
        Held-out features.
    y : array-like of shape (n_obs,)
        Held-out labels, matched to each model's ``classes_`` by value.
    path : str or path-like
        Where to write the HTML file (conventionally ``.html``).
    title : str, optional
        Page title (default "bayescore report").
    y_train : array-like, optional
        Training labels for the class-prior baseline; default: the labels recorded in the
        first bayescore model's fit, else the held-out labels' own frequencies.
    n_bins : int, default 15
        Bins of the ECE and of the forecast histogram under the reliability diagrams.
    level : float in (0, 1), default 0.9
        Coverage of the reliability diagrams' consistency and posterior bands.
    random_seed : int, default 0
        Seed of the consistency bands' resampling (same seed, same page).

    Returns
    -------
    Path
        The file written.

    See Also
    --------
    bayescore.score, bayescore.diagnose, bayescore.compare, bayescore.reliability_diagram

    Examples
    --------
    >>> import os, tempfile, bayescore as bs
    >>> from sklearn.linear_model import LogisticRegression
    >>> ds = bs.load_dataset("iris")
    >>> lr = LogisticRegression(max_iter=1000).fit(ds.X, ds.y)
    >>> path = bs.report({"logistic regression": lr}, ds.X, ds.y,
    ...                  os.path.join(tempfile.mkdtemp(), "report.html"))
    >>> html = path.read_text()
    >>> html.startswith("<!DOCTYPE html>"), "data:image/png;base64," in html
    (True, True)
    """
    models = _models(models)
    if title is None:
        title = "bayescore report"
    from bayescore.comparison import compare
    from bayescore.scoring import pointwise_scores, score, uncertainty_decomposition

    predictions = {name: _predictions(model, X) for name, model in models.items()}
    if y_train is None:
        y_train = _training_labels(models)
    y_arr = np.asarray(y)
    versions = _versions()
    rows, diagnoses, figures, cards = [], [], [], []
    first: xr.Dataset | None = None
    for name, model in models.items():
        preds = predictions[name]
        scores = score(y_arr, preds, y_train=y_train, n_bins=n_bins)
        first = scores if first is None else first
        rows.append(_score_row(name, scores))
        diagnoses.append({"name": name, "diagnosis": _diagnosis(model)})
        figure = {
            "name": name,
            "reliability": _reliability_png(y_arr, preds, name, level, random_seed),
            "uncertainty": None,
        }
        if CHAIN in preds.dims:
            split = uncertainty_decomposition(preds)
            # Right or wrong by the same label matching as the scores (by value).
            correct = pointwise_scores(y_arr, preds).values["accuracy"] > 0.5
            figure["uncertainty"] = _uncertainty_png(split, correct)
            figure["means"] = {k: float(split[k].mean()) for k in ("aleatoric", "epistemic")}
        figures.append(figure)
        cards.append(_card(name, model, versions))
    assert first is not None
    comparison = None
    if len(models) > 1:
        table = compare(predictions, y_arr, n_bins=n_bins)
        comparison = {
            "columns": [(key, header) for key, header, _ in _COMPARE],
            "rows": [
                {
                    "name": str(m),
                    "cells": [
                        {"key": key, "value": _float(table[key].sel(model=m))}
                        for key, *_ in _COMPARE
                    ],
                }
                for m in table["model"].values
            ],
            "chart": _comparison_png(table),
        }
    context = {
        "title": title,
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "n_obs": int(first.attrs["n_obs"]),
        "n_classes": int(first.attrs["n_classes"]),
        "n_features": int(np.shape(X)[1]) if np.ndim(X) == 2 else None,
        "units": first.attrs["units"],
        "classes": [str(c) for c in predictions[next(iter(models))][CLASS].values],
        "baselines": {
            "uniform": _float(first["baseline_uniform"]),
            "class_prior": _float(first["baseline_class_prior"]),
            "from_training": y_train is not None,
        },
        "score_columns": [
            {"key": k, "label": label, "lower": lower, "help": text}
            for k, label, lower, text in _SCORES
        ],
        "score_rows": rows,
        "diagnoses": diagnoses,
        "figures": figures,
        "comparison": comparison,
        "cards": cards,
        "versions": versions,
        "level": level,
    }
    html = _render(context)
    return atomic_write(path, html)
