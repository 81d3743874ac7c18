r"""Proper scores for probabilistic classifiers, over numpy arrays and xarray objects.

Every model's predictions, and any external model's probabilities, are scored here. All
scores are in nats (natural log) unless ``base=2`` asks for bits; lower is better except
for the spherical score and accuracy.

Inputs: ``probs`` is ``(n_obs, n_classes)`` (or 1-D positive-class
probabilities for binary problems); posterior ``draws`` are ``(S, n_obs, n_classes)``,
``(chain, draw, n_obs, n_classes)`` or a DataArray with dims ``(chain, draw, obs, class)``,
``(sample, obs, class)`` or ``(obs, class)``, possibly dask-backed. ``y`` holds labels matched
**by value** against ``labels=`` or the DataArray's ``class`` coordinate; integer ``y`` is
positional only when no class labels are known (:mod:`bayescore._inputs`).

Same kind in, same kind out: numpy input gives a float (means) or an ndarray (pointwise or
per extra leading axis); DataArray input gives a DataArray (0-d for a mean) with the input's
coords and attrs kept; functions returning several quantities return a Dataset either way.

This module imports neither PyMC, PyTensor nor ArviZ; every public function here validates
its input through :mod:`bayescore._inputs`, applies one kernel from
:mod:`bayescore._array.scores` and wraps the result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._array import binning
from bayescore._array import scores as K
from bayescore._inputs import (
    PreparedDraws,
    prepare_draws,
    reduce_draws,
    resolve_labels,
    wrap,
)
from bayescore._names import OBS
from bayescore._point_scores import (
    Estimate,
    class_prior_baseline,
    class_weighted_nll,
    focal_loss,
    label_smoothing_nll,
    nll_eps,
    point_score,
    prior_nll,
    training_prior_nll,
    uniform_baseline,
    units_of,
)
from bayescore._pointwise import PointwiseScores, pointwise_scores
from bayescore._validation import N_BINS, check_logits, validate_params

__all__ = [
    "Estimate",
    "PointwiseScores",
    "brier_score",
    "class_prior_baseline",
    "class_weighted_nll",
    "focal_loss",
    "gibbs_nll",
    "label_smoothing_nll",
    "log_loss",
    "nll_from_logits",
    "perplexity",
    "pointwise_nll",
    "pointwise_scores",
    "posterior_predictive_nll",
    "score",
    "spherical_score",
    "uncertainty_decomposition",
    "uniform_baseline",
]

Floats = NDArray[np.floating[Any]]


# ----------------------------------------------------------------- point scores


def log_loss(
    y: Any,
    probs: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    eps: float | str = "auto",
    base: float | None = None,
    pointwise: bool = False,
) -> Any:
    r"""Negative log-likelihood (log loss, cross-entropy) of predicted probabilities.

    .. math:: \mathrm{NLL} = -\frac{1}{N}\sum_n \log p_n(y_n)

    Agrees with :func:`sklearn.metrics.log_loss` to 1e-10 on valid input.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Class indices, or labels (see ``labels``). A pandas Series (or a DataArray with an
        ``obs`` coordinate) is matched row by row to a ``probs`` that names its rows too
        (DataFrame index, ``obs`` coordinate); rows on one side only raise ``ValueError``.
    probs : array-like of shape (n_obs, n_classes) or (n_obs,), or DataArray
        Probabilities; 1-D means the positive class of a binary problem. A DataArray with
        extra dims (e.g. ``chain, draw``) gives one log loss per extra index.
    labels : array-like, optional
        Class order of the columns of ``probs``.
    sample_weight : array-like of shape (n_obs,), optional
        In the order of ``y`` (reordered with it when rows are matched by label).
    eps : "auto" or float, default "auto"
        Clip probabilities to ``[eps, 1 - eps]``; ``"auto"`` uses the dtype's machine
        epsilon (as scikit-learn); ``0`` does not clip, so a zero on the true class gives
        ``inf``.
    base : float, optional
        Logarithm base (``2`` for bits); natural log by default.
    pointwise : bool, default False
        Return the per-observation values instead of their mean.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better; 0 for a perfect forecast.

    See Also
    --------
    nll_from_logits, posterior_predictive_nll

    Examples
    --------
    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.164252
    >>> round(log_loss(["cat", "dog"], [0.1, 0.8], labels=["cat", "dog"], base=2), 6)
    0.236966
    """
    scale, units = units_of(base)
    clip = nll_eps(eps)
    return point_score(
        lambda arr, y_idx: K.nll_pointwise(arr, y_idx, clip),
        y,
        probs,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="log_loss",
        scale=scale,
        units=units,
    )


def nll_from_logits(
    y: Any,
    logits: Any,
    *,
    labels: Any = None,
    sample_weight: Any = None,
    base: float | None = None,
    pointwise: bool = False,
) -> Any:
    r"""Negative log-likelihood from unnormalised scores (logits), computed stably.

    .. math:: \mathrm{NLL}_n = \log\sum_k e^{z_{nk}} - z_{n y_n}

    Exact and finite for logits of any magnitude (1e4 and beyond).

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    logits : array-like of shape (n_obs, n_classes) or (n_obs,), or DataArray
        1-D input is a binary logit ``log(p1 / p0)``.
    labels, sample_weight, base, pointwise
        As in :func:`log_loss`.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    Examples
    --------
    >>> nll_from_logits([0, 1], [[1e4, 0.0], [0.0, 1e4]])
    0.0
    >>> round(nll_from_logits([1], [[1e4, 0.0]]), 1)
    10000.0
    """
    scale, units = units_of(base)
    return point_score(
        K.nll_from_logits_pointwise,
        y,
        logits,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="nll",
        scale=scale,
        units=units,
        check=check_logits,
        arg="logits",
    )


def brier_score(
    y: Any, probs: Any, *, labels: Any = None, sample_weight: Any = None, pointwise: bool = False
) -> Any:
    r"""Brier score (quadratic score) of predicted probabilities.

    .. math:: \mathrm{BS} = \frac{1}{N}\sum_n \sum_k (p_{nk} - 1[y_n = k])^2

    ranges from 0 to 2. For 1-D binary input it is :math:`\frac1N\sum_n (p_n - y_n)^2`
    (0 to 1), equal to :func:`sklearn.metrics.brier_score_loss`.

    Parameters
    ----------
    y, probs, labels, sample_weight, pointwise
        As in :func:`log_loss`.

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    Examples
    --------
    >>> round(brier_score([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.05
    >>> round(brier_score([0, 1], [0.1, 0.8]), 6)
    0.025
    """
    binary_1d = np.ndim(getattr(probs, "values", probs)) == 1
    return point_score(
        K.brier_pointwise,
        y,
        probs,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="brier",
        scale=2.0 if binary_1d else 1.0,
        units="squared probability",
    )


def spherical_score(
    y: Any, probs: Any, *, labels: Any = None, sample_weight: Any = None, pointwise: bool = False
) -> Any:
    r"""Spherical score: probability of the true class over the norm of the forecast.

    .. math:: \mathrm{SS} = \frac{1}{N}\sum_n \frac{p_n(y_n)}{\lVert p_n \rVert_2}

    A strictly proper score between 0 and 1; **higher is better**.

    Parameters
    ----------
    y, probs, labels, sample_weight, pointwise
        As in :func:`log_loss`.

    Examples
    --------
    >>> round(spherical_score([0], [[0.6, 0.4]]), 6)  # 0.6 / sqrt(0.36 + 0.16)
    0.83205
    """
    return point_score(
        K.spherical_pointwise,
        y,
        probs,
        labels=labels,
        sample_weight=sample_weight,
        pointwise=pointwise,
        name="spherical",
        units="unitless",
    )


# -------------------------------------------------------------- posterior draws


def _per_obs(values: Floats, d: PreparedDraws, name: str, attrs: dict[str, Any]) -> Any:
    return wrap(values, d.template, name, attrs, dims=(OBS,))


def _scalar(
    value: float | np.floating[Any], d: PreparedDraws, name: str, attrs: dict[str, Any]
) -> Any:
    return wrap(np.float64(value), d.template, name, attrs, dims=())


def posterior_predictive_nll(
    y: Any,
    draws: Any,
    *,
    labels: Any = None,
    base: float | None = None,
    pointwise: bool = False,
    validate: bool = True,
) -> Any:
    r"""Posterior predictive NLL: minus the log of the draw-averaged probability.

    .. math:: -\frac1N\sum_n \log\Big(\frac1S\sum_s p_{sn}(y_n)\Big)

    ``-N`` times it is ArviZ's ``lppd``. The average is taken in probability space, which is
    exact for probabilities (no log of every entry is needed), in cache-sized chunks over
    draws on all cores; dask-backed input is reduced lazily.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    draws : array-like (S, N, K), (C, D, N, K) or (N, K), or DataArray
        Dims ``(chain, draw, obs, class)``, ``(sample, obs, class)`` or ``(obs, class)``.
    labels : array-like, optional
        Class order, if ``y`` holds labels and ``draws`` has no ``class`` coordinate.
    base : float, optional
        ``2`` for bits.
    pointwise : bool, default False
        Return the per-observation values (for standard errors and paired comparisons).
    validate : bool, default True
        Check that every row is a probability vector (done chunk by chunk during the same
        pass, while the chunk is in cache).

    Returns
    -------
    float, ndarray or DataArray
        Lower is better.

    See Also
    --------
    gibbs_nll : the draw-averaged NLL, never smaller (Jensen).

    Examples
    --------
    >>> draws = [[[0.9, 0.1]], [[0.5, 0.5]]]  # 2 draws, 1 observation
    >>> round(posterior_predictive_nll([0], draws), 6)  # -log(0.7)
    0.356675
    """
    scale, units = units_of(base)
    d = prepare_draws(y, draws, labels=labels)
    sums = reduce_draws(d, frozenset({"p_true"}), validate=validate)
    values = K.ppd_nll(sums) / scale
    attrs = {"units": units, "n_draws": sums.n_draws}
    if pointwise:
        return _per_obs(values, d, "nll", attrs)
    return _scalar(values.mean(), d, "nll", attrs)


def gibbs_nll(
    y: Any,
    draws: Any,
    *,
    labels: Any = None,
    base: float | None = None,
    pointwise: bool = False,
    validate: bool = True,
) -> Any:
    r"""Draw-averaged ("Gibbs") NLL: the mean over draws of each draw's NLL.

    .. math:: -\frac1N\sum_n \frac1S\sum_s \log p_{sn}(y_n)

    By Jensen's inequality it is never smaller than :func:`posterior_predictive_nll`.

    Parameters
    ----------
    y, draws, labels, base, pointwise, validate
        As in :func:`posterior_predictive_nll`.

    Examples
    --------
    >>> round(gibbs_nll([0], [[[0.9, 0.1]], [[0.5, 0.5]]]), 6)  # -(log 0.9 + log 0.5) / 2
    0.399254
    """
    scale, units = units_of(base)
    d = prepare_draws(y, draws, labels=labels)
    sums = reduce_draws(d, frozenset({"log_p_true"}), validate=validate)
    assert sums.log_p_true is not None
    values = -sums.log_p_true / sums.n_draws / scale
    attrs = {"units": units, "n_draws": sums.n_draws}
    if pointwise:
        return _per_obs(values, d, "gibbs_nll", attrs)
    return _scalar(values.mean(), d, "gibbs_nll", attrs)


def pointwise_nll(
    y: Any, probs_or_draws: Any, *, labels: Any = None, base: float | None = None
) -> Any:
    """Per-observation NLL: of the draw-averaged probabilities for draws, else log loss.

    Examples
    --------
    >>> pointwise_nll([0, 1], [[0.5, 0.5], [0.0, 1.0]]).round(6).tolist()
    [0.693147, 0.0]
    """
    return posterior_predictive_nll(y, probs_or_draws, labels=labels, base=base, pointwise=True)


def uncertainty_decomposition(draws: Any, *, base: float | None = None) -> xr.Dataset:
    r"""Split predictive entropy into aleatoric and epistemic parts, per observation.

    .. math::

        \underbrace{H\big(\tfrac1S\textstyle\sum_s p_s\big)}_{\text{total}}
        = \underbrace{\tfrac1S\textstyle\sum_s H(p_s)}_{\text{aleatoric}}
        + \underbrace{\text{epistemic}}_{\text{mutual information}\ \ge 0}

    Parameters
    ----------
    draws : array-like (S, N, K) or DataArray (chain, draw, obs, class)
    base : float, optional
        ``2`` for bits.

    Returns
    -------
    Dataset
        ``total``, ``aleatoric``, ``epistemic`` over dim ``obs``.

    Examples
    --------
    >>> split = uncertainty_decomposition([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> [round(float(split[v][0]), 6) for v in ("total", "aleatoric", "epistemic")]
    [0.693147, 0.0, 0.693147]
    """
    scale, units = units_of(base)
    d = prepare_draws(None, draws)
    sums = reduce_draws(d, frozenset({"probs", "entropy"}))
    assert sums.probs is not None and sums.entropy is not None
    total = K.entropy(sums.probs / sums.n_draws) / scale
    aleatoric = sums.entropy / sums.n_draws / scale
    # Mutual information is >= 0; rounding can leave -1e-16 when draws are identical.
    epistemic = np.maximum(total - aleatoric, 0.0)
    parts = {"total": total, "aleatoric": aleatoric, "epistemic": epistemic}
    return xr.Dataset(
        {k: xr.DataArray(v, dims=(OBS,)) for k, v in parts.items()},
        coords=_obs_coords(d),
        attrs={"units": units, "n_draws": sums.n_draws},
    )


def _obs_coords(d: PreparedDraws) -> dict[Any, Any]:
    if d.template is None:
        return {}
    return {k: c.variable for k, c in d.template.coords.items() if set(c.dims) <= {OBS}}


def perplexity(y: Any, probs_or_draws: Any, *, labels: Any = None) -> Any:
    r"""Perplexity :math:`\exp(\mathrm{NLL})`: the effective number of equally likely classes.

    For posterior draws the NLL is the posterior predictive one.

    Parameters
    ----------
    y, probs_or_draws, labels
        As in :func:`posterior_predictive_nll`.

    Returns
    -------
    float, or 0-d DataArray for DataArray input
        Between 1 and ``K`` for forecasts better than uniform; lower is better.

    Examples
    --------
    >>> round(perplexity([0, 1], [[0.5, 0.5], [0.5, 0.5]]), 6)
    2.0
    """
    nll = posterior_predictive_nll(y, probs_or_draws, labels=labels)
    if isinstance(nll, xr.DataArray):
        return xr.ufuncs.exp(nll).rename("perplexity").assign_attrs(units="classes")
    return float(np.exp(nll))


# ------------------------------------------------------------------- summary


@validate_params({"n_bins": N_BINS})
def score(
    y: Any,
    probs_or_draws: Any,
    *,
    labels: Any = None,
    y_train: Any = None,
    n_bins: int = 15,
    base: float | None = None,
    var_name: str | None = None,
    group: str | None = None,
) -> xr.Dataset:
    r"""Every score of probabilities or posterior draws in one Dataset, with standard errors.

    Accepts any PyMC or Bambi result (an ArviZ ``DataTree``): ``score(y, idata,
    var_name="p")`` scores the class probabilities ``p`` of the ``predictions`` or
    ``posterior`` group, whatever its dim names (Bambi: ``model.predict(idata,
    kind="response_params")`` stores ``p``; a binary model may give only :math:`P(y=1)`).
    A DataTree with only a ``log_likelihood`` group gives the NLL-type scores alone.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels. For a log-likelihood (of the labels observed at fit time) only its length
        is checked, and it may be None.
    probs_or_draws : probabilities, draws, DataArray or DataTree
        Probabilities (N, K) / (N,); draws (S, N, K), (C, D, N, K) or a DataArray; or an
        ArviZ DataTree.
    labels : array-like, optional
    y_train : array-like, optional
        Training labels for the class-prior baseline (default: the test labels' own
        frequencies, i.e. the label entropy), matched by value; training labels of a class
        the forecasts lack still count in the training frequencies.
    n_bins : int, default 15
        Bins of the expected calibration error.
    base : float, optional
        ``2`` for bits.
    var_name : str, optional
        DataTree input: the variable of class probabilities (e.g. ``"p"``), or of the
        ``log_likelihood`` group; default the single ``log_likelihood`` variable.
    group : str, optional
        DataTree input: ``"predictions"``, ``"posterior"`` or ``"log_likelihood"``, when
        ``var_name`` is in several (by default searched in that order; a name in several
        groups is taken from the one with ``len(y)`` rows, else an error asks for
        ``group=``).

    Returns
    -------
    Dataset
        ``nll`` (posterior predictive NLL for draws, log loss for probabilities),
        ``gibbs_nll`` (draws only), ``brier``, ``spherical``, ``accuracy`` (of the
        draw-averaged probabilities), each with ``<name>_se``; ``nll_mcse``, the Monte
        Carlo SE of ``nll`` from the finite number of draws (batch means within chains; 0
        for point probabilities, which have no Monte Carlo error; NaN for an infinite
        NLL); ``ece``,
        ``perplexity``, ``baseline_uniform``, ``baseline_class_prior``, and the means of
        ``total``, ``aleatoric`` and ``epistemic`` uncertainty (with SEs). From a
        log-likelihood: ``nll``, ``gibbs_nll`` (with SEs), ``nll_mcse`` and ``perplexity``
        only. Attributes: ``units``, ``n_obs``, ``n_classes``, ``n_draws``.

    Examples
    --------
    >>> s = score([0, 1], [[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]])
    >>> round(float(s["nll"]), 4), round(float(s["gibbs_nll"]), 4)
    (0.2899, 0.299)
    """
    pw = pointwise_scores(
        y, probs_or_draws, labels=labels, base=base, var_name=var_name, group=group
    )
    scale, units = units_of(base)
    data: dict[str, Any] = {}
    for name, values in pw.values.items():
        est = Estimate.of(values)
        data[name], data[f"{name}_se"] = est.mean, est.se
    data["nll_mcse"] = pw.nll_mcse
    data["perplexity"] = float(np.exp(data["nll"] * scale))
    N = int(pw.values["nll"].size)
    attrs: dict[str, Any] = {"units": units, "n_obs": N, "n_draws": pw.n_draws}
    if pw.mean_probs is not None and pw.y_idx is not None:
        mean_probs, y_idx = pw.mean_probs, pw.y_idx
        n_classes = int(mean_probs.shape[-1])
        # The ECE straight from the binning kernel: the mean probabilities are valid already
        # (every draw was checked) and y is resolved, so neither is checked again.
        data["ece"] = binning.ece_mce(*binning.top_label(mean_probs, y_idx), n_bins).ece
        data["baseline_uniform"] = float(np.log(n_classes) / scale)
        if y_train is None:
            prior = prior_nll(y_idx, y_idx, n_classes)
        elif pw.classes is not None:  # training labels by value (a label, not a column)
            prior = training_prior_nll(y_train, y_idx, pw.classes)
        else:  # no class labels known: y_train holds class indices, as y does
            prior = prior_nll(resolve_labels(y_train, n_classes, name="y_train"), y_idx, n_classes)
        data["baseline_class_prior"] = prior / scale
        attrs["n_classes"] = n_classes
    return xr.Dataset(
        {k: ((), v) for k, v in data.items()},
        attrs={
            **attrs,
            "nll_kind": "posterior predictive" if pw.n_draws > 1 else "point",
        },
    )
