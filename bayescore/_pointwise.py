"""Every per-observation score of one model from one validated pass: the core of ``score``.

:func:`pointwise_scores` reduces probabilities or posterior draws (numpy, xarray, dask, or
any ArviZ DataTree through :mod:`bayescore._datatree`) to per-observation scores, the
draw-averaged probabilities and the Monte Carlo SE of the posterior predictive NLL.
:func:`bayescore.score` and :func:`bayescore.compare` both build on it; its public home is
:mod:`bayescore.scoring`. This module imports neither PyMC, PyTensor nor ArviZ.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from bayescore._array import scores as K
from bayescore._datatree import PROBS, is_tree, tree_forecast
from bayescore._inputs import prepare_draws, reduce_draws
from bayescore._names import CHAIN, OBS
from bayescore._point_scores import units_of
from bayescore._validation import check_consistent_length

__all__ = ["NllMonteCarlo", "PointwiseScores", "pointwise_scores"]


class NllMonteCarlo(NamedTuple):
    """What the Monte Carlo SE of an NLL *difference* needs from one model's draws.

    Attributes
    ----------
    batch_means : ndarray (M,)
        Batch means of the linearised per-draw NLL fluctuation
        (:func:`bayescore._array.scores.ppd_nll_batch_means`).
    batch_size : int
        Draws per batch.
    n_draws : int
        All draws ``S``.
    layout : tuple of int
        ``(chains, draws per chain)``: two models with the same layout have batch means
        that can be paired draw block by draw block.
    """

    batch_means: np.ndarray
    batch_size: int
    n_draws: int
    layout: tuple[int, int]


class PointwiseScores(NamedTuple):
    """Per-observation scores of one model from one pass over its draws.

    Attributes
    ----------
    values : dict of str to ndarray (n_obs,)
        ``nll`` (posterior predictive), ``brier``, ``spherical``, ``accuracy`` (of the
        draw-averaged probabilities), ``total``, ``aleatoric``, ``epistemic`` and, for more
        than one draw, ``gibbs_nll``. From a log-likelihood: ``nll`` and ``gibbs_nll`` only.
    mean_probs : ndarray (n_obs, n_classes) or None
        Draw-averaged probabilities (None for a log-likelihood).
    y_idx : ndarray of int64 (n_obs,) or None
        Class indices of ``y`` (matched by value); None for a log-likelihood.
    n_draws : int
    classes : ndarray or None
        Class labels, when known.
    nll_mcse : float
        Monte Carlo SE of the mean posterior predictive NLL (batch means within chains,
        :func:`bayescore._array.scores.ppd_nll_mcse`); 0 for point probabilities (one draw),
        NaN when the NLL is infinite (a true class with probability 0 in every draw).
    y_rows : ndarray of int64 or None
        Rows matched by label (:func:`bayescore._inputs.match_rows`): the values are in the
        forecast's row order, row ``i`` being row ``y_rows[i]`` of ``y``; None when they are
        in ``y``'s order already.
    rows : ndarray or None
        The forecast's row labels (its ``obs`` coordinate), in the order of the values.
    precision : float
        Machine epsilon of the forecasts' dtype (float32 draws: 1.2e-7; float64: 2.2e-16),
        which sets the numerical floor below which differences are rounding noise.
    nll_mc : NllMonteCarlo or None
        Batch means for a paired Monte Carlo SE of a difference (None for one draw).
    """

    values: dict[str, np.ndarray]
    mean_probs: np.ndarray | None
    y_idx: np.ndarray | None
    n_draws: int
    classes: np.ndarray | None
    nll_mcse: float
    y_rows: np.ndarray | None = None
    rows: np.ndarray | None = None
    precision: float = float(np.finfo(np.float64).eps)
    nll_mc: NllMonteCarlo | None = None


def _precision(dtype: Any) -> float:
    """Machine epsilon of a float dtype; float64's for anything else (cast to float64)."""
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) if dtype.kind == "f" else float(np.finfo(np.float64).eps)


def _n_labels(y: Any) -> int | None:
    return None if y is None else int(np.shape(getattr(y, "values", y))[0])


def _from_log_likelihood(y: Any, ll: xr.DataArray, scale: float) -> PointwiseScores:
    """NLL-type scores from a pointwise log-likelihood ``(*sample dims, obs)``."""
    values = np.asarray(ll.values, dtype=np.float64).reshape(-1, ll.sizes[OBS])
    n_labels = _n_labels(y)
    if n_labels is not None:
        check_consistent_length(n_labels, values.shape[1], "y", "the log-likelihood")
    n_chains = int(ll.sizes[CHAIN]) if CHAIN in ll.dims else 1
    S = values.shape[0]
    batches = K.batch_layout(n_chains, S // n_chains)
    nll, gibbs, mcse, means = K.loglik_scores(values, batches)
    per_obs = {"nll": nll / scale}
    if S > 1:
        per_obs["gibbs_nll"] = gibbs / scale
    mc = None
    if means is not None:
        mc = NllMonteCarlo(means / scale, batches.size, S, (n_chains, S // n_chains))
    precision = _precision(ll.dtype)
    return PointwiseScores(
        per_obs, None, None, S, None, mcse / scale, precision=precision, nll_mc=mc
    )


def pointwise_scores(
    y: Any,
    probs_or_draws: Any,
    *,
    labels: Any = None,
    base: float | None = None,
    var_name: str | None = None,
    group: str | None = None,
) -> PointwiseScores:
    """Every per-observation score of probabilities or draws, from one validated pass.

    The shared core of :func:`bayescore.score` and :func:`bayescore.compare`.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
        Labels; for a log-likelihood (which already holds the observed labels) only its
        length is checked, and it may be None.
    probs_or_draws : probabilities, draws, DataArray or DataTree
        A DataTree (PyMC, Bambi) is read by :func:`bayescore._datatree.tree_forecast`.
    labels : array-like, optional
    base : float, optional
        ``2`` for bits.
    var_name, group : str, optional
        Which variable of a DataTree to score (see :func:`~bayescore._datatree.tree_forecast`).

    Returns
    -------
    PointwiseScores

    Examples
    --------
    >>> pw = pointwise_scores([0, 1], [[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]])
    >>> pw.n_draws, pw.values["accuracy"].tolist()
    (2, [1.0, 1.0])
    """
    scale, _ = units_of(base)
    arg = "probs_or_draws"
    if is_tree(probs_or_draws):
        forecast = tree_forecast(probs_or_draws, var_name, group=group, n_obs=_n_labels(y))
        if forecast.kind != PROBS:
            return _from_log_likelihood(y, forecast.draws, scale)
        probs_or_draws = forecast.draws
    elif var_name is not None or group is not None:
        raise TypeError(
            "var_name= and group= apply to DataTree input (an ArviZ result); got "
            f"{type(probs_or_draws).__name__}."
        )
    d = prepare_draws(y, probs_or_draws, labels=labels, name=arg)
    want = frozenset({"p_true", "log_p_true", "probs", "entropy", "p_true_batches"})
    sums = reduce_draws(d, want, name=arg)
    y_idx = d.y_idx
    assert y_idx is not None and sums.probs is not None and sums.entropy is not None
    assert sums.log_p_true is not None
    S = sums.n_draws
    mean_probs = sums.probs / S
    per_obs = {
        "nll": K.ppd_nll(sums) / scale,
        "brier": K.brier_pointwise(mean_probs, y_idx),
        "spherical": K.spherical_pointwise(mean_probs, y_idx),
        "accuracy": (np.argmax(mean_probs, axis=-1) == y_idx).astype(float),
        "total": K.entropy(mean_probs) / scale,
        "aleatoric": sums.entropy / S / scale,
    }
    if S > 1:
        per_obs["gibbs_nll"] = -sums.log_p_true / S / scale
    per_obs["epistemic"] = np.maximum(per_obs["total"] - per_obs["aleatoric"], 0.0)
    mcse = K.ppd_nll_mcse(sums) / scale
    means = K.ppd_nll_batch_means(sums)
    mc = None
    if means is not None:
        layout = (d.n_chains, S // d.n_chains)
        mc = NllMonteCarlo(means / scale, sums.batch_size, S, layout)
    # 1-D binary input is widened to float64 on the way in: the floor follows the input.
    raw_dtype = getattr(getattr(probs_or_draws, "data", probs_or_draws), "dtype", np.float64)
    precision = max(_precision(d.values.dtype), _precision(raw_dtype))
    return PointwiseScores(
        per_obs,
        mean_probs,
        y_idx,
        S,
        d.classes,
        mcse,
        y_rows=d.y_rows,
        rows=d.rows,
        precision=precision,
        nll_mc=mc,
    )
