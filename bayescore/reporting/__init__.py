"""One self-contained HTML page about fitted classifiers and the rows they are scored on.

The page answers a reader's questions in order: which rows were scored and whether the
models were fitted on them (detected from the training rows a bayescore fit keeps, else as
the caller says); how good the probabilities are (:func:`bayescore.score`, with standard
errors and baselines; in-sample beside held-out when the training rows are given too); did
the fit work (:func:`bayescore.diagnose`, and arviz-stats' per-parameter summary with the
worst parameter named); what the model learnt (coefficients on the original feature scale);
how it classifies (confusion matrix, per-class precision / recall / F1, ROC and
precision-recall curves with their areas, bands over posterior draws); how calibrated and
how uncertain it is (CORP reliability diagrams, aleatoric vs epistemic uncertainty); how the
models compare (:func:`bayescore.compare` with its flags); and a model card per model.

Compute and rendering are apart, as scikit-learn's Displays: :func:`prepare_report`
computes every number (:class:`ReportData`), :func:`render_report` draws the figures and
fills the template, :func:`report` writes the page.

The file needs nothing but a browser: figures are PNG images inlined as base64 ``data:``
URIs, the style sheet is inline, there is no script, and a Content-Security-Policy forbids
every network request, so the page opens offline and never fetches anything. User text is
autoescaped (Jinja2), so a model named ``<script>`` is shown, never run.

The module is ``reporting``, not ``report``: a submodule named like the function it holds
would replace ``bayescore.report`` (the function) by itself as soon as anything imported it.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any

from bayescore._atomic import atomic_write
from bayescore._validation import LEVEL, N_BINS, Interval, validate_params
from bayescore.reporting._prepare import (
    Comparison,
    ModelReport,
    ReportData,
    Split,
    prepare_report,
)
from bayescore.reporting._render import render_report

__all__ = [
    "Comparison",
    "ModelReport",
    "ReportData",
    "Split",
    "prepare_report",
    "render_report",
    "report",
]


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
    train: tuple[Any, Any] | None = None,
    held_out: bool | dict[str, bool | None] | None = None,
    y_train: Any = None,
    n_bins: int = 15,
    level: float = 0.9,
    random_seed: int | None = 0,
) -> Path:
    """Write a self-contained HTML report on fitted classifiers and the rows they score.

    The page shows:

    - **data**: the scored rows (and the training rows, with ``train=``), and per model
      whether it was fitted on them: "held-out", "in-sample" or "partly in-sample (k of N
      rows)", detected by comparing row fingerprints with the training rows a bayescore
      fit keeps; for other models as ``held_out=`` says, else "not known";
    - **scores** of :func:`bayescore.score` with standard errors beside the uniform and
      class-prior baselines, for the scored rows and, with ``train=``, the training rows
      beside them (the gap is the optimism of in-sample scores);
    - **did the fit work**: :func:`bayescore.diagnose`'s verdict and advice, and
      arviz-stats' summary of every free parameter (mean, sd, 94 % interval, bulk and tail
      ESS, R-hat) with the worst parameter named;
    - **coefficients** on the original feature scale (``coef_original``): a forest plot
      of the posterior means and 94 % intervals from the draws;
    - **classification**: confusion matrix, per-class precision, recall and F1, ROC and
      precision-recall curves with AUC and average precision, each class one-vs-rest (the
      positive class for two classes); for posterior draws the curves' band and the
      areas' interval over draws;
    - **reliability**: CORP diagrams (``strategy="pav"``) with the consistency band and,
      for draws, the posterior band; **uncertainty**: aleatoric vs epistemic per row
      (:func:`bayescore.uncertainty_decomposition`), split by right and wrong;
    - **comparison** (two or more models): :func:`bayescore.compare` with its ``diag``
      flags beside the numbers, and a warning when a model was fitted on the scored rows;
    - a **model card** per model (data, classes, priors, method, sampler, fit time,
      library versions).

    scikit-learn classifiers (anything with ``predict_proba`` and ``classes_``) are welcome
    beside bayescore estimators: they have no posterior draws, so the sections that need
    draws (diagnostics, parameters, bands, uncertainty) say that they do not apply.

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
        The rows to score, usually held out. A DataFrame may hold more columns than a model
        was fitted on: each model with ``feature_names_in_`` reads its own, by name (models
        fitted on different columns of one table share one report).
    y : array-like of shape (n_obs,)
        Their labels, matched to each model's ``classes_`` by value.
    path : str or path-like
        Where to write the HTML file (conventionally ``.html``).
    title : str, optional
        Page title (default "bayescore report").
    train : (X_train, y_train), optional
        The rows the models were fitted on: scored beside ``X, y`` (in-sample vs held
        out), and their labels give the class-prior baseline.
    held_out : bool or dict of str -> bool, optional
        Whether ``X`` was held out from fitting, for models that keep no training rows
        (scikit-learn): one answer for all, or one per model name. bayescore models are
        checked against their own training rows instead (a disagreement is shown).
        Default: "not known" for those models.
    y_train : array-like, optional
        Training labels for the class-prior baseline; default: ``train``'s labels, else the
        labels recorded in the first bayescore model's fit, else the scored labels' own
        frequencies.
    n_bins : int, default 15
        Bins of the ECE and of the forecast histogram under the reliability diagrams.
    level : float in (0, 1), default 0.9
        Coverage of the reliability bands and of the ROC / PR bands and area intervals.
    random_seed : int, default 0
        Seed of the consistency bands' resampling (same seed, same page).

    Returns
    -------
    Path
        The file written.

    See Also
    --------
    prepare_report : the numbers behind the page, as data.
    bayescore.score, bayescore.diagnose, bayescore.compare, bayescore.reliability_diagram

    Examples
    --------
    >>> import os, tempfile, bayescore as bs
    >>> from sklearn.linear_model import LogisticRegression
    >>> ds = bs.load_dataset("iris")
    >>> lr = LogisticRegression(max_iter=1000).fit(ds.X, ds.y)
    >>> path = bs.report({"logistic regression": lr}, ds.X, ds.y,
    ...                  os.path.join(tempfile.mkdtemp(), "report.html"), held_out=False)
    >>> html = path.read_text()
    >>> html.startswith("<!DOCTYPE html>"), "data:image/png;base64," in html, "in-sample" in html
    (True, True, True)
    """
    data = prepare_report(
        models, X, y, train=train, held_out=held_out, title=title, y_train=y_train,
        n_bins=n_bins, level=level, random_seed=random_seed,
    )  # fmt: skip
    html = render_report(data)
    return atomic_write(path, html)
