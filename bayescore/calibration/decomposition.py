r"""Score decompositions: Murphy's Brier split, the log-loss split, and calibration drift.

Every function returns a Dataset, for numpy and DataArray input alike; labels follow the
by-value rule of :mod:`bayescore._inputs`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._array import binning
from bayescore._array.scores import nll_pointwise
from bayescore._inputs import prepare
from bayescore._validation import LEVEL, N_BINS, Interval, Options, validate_params
from bayescore.calibration.recalibrate import IsotonicCalibration, TemperatureScaling

__all__ = ["brier_decomposition", "calibration_drift", "log_loss_decomposition"]

_EPS = float(np.finfo(np.float64).eps)


@validate_params({"n_bins": N_BINS})
def brier_decomposition(y: Any, probs: Any, n_bins: int = 15, *, labels: Any = None) -> xr.Dataset:
    r"""Murphy decomposition of the Brier score: reliability - resolution + uncertainty.

    For each class k the forecasts :math:`p_{nk}` are binned (uniform bins) and

    .. math::

        \mathrm{REL} = \sum_b \frac{n_b}{N}(\bar p_b - \bar o_b)^2,\quad
        \mathrm{RES} = \sum_b \frac{n_b}{N}(\bar o_b - \bar o)^2,\quad
        \mathrm{UNC} = \bar o (1 - \bar o),

    summed over classes (1-D binary input: the positive class only, matching
    ``brier_score``'s binary convention). ``brier = REL - RES + UNC + within_bin``, where the
    within-bin term vanishes when forecasts are constant within bins.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray (obs, class)
    n_bins : int, default 15
    labels : array-like, optional

    Returns
    -------
    Dataset
        ``brier``, ``reliability`` (lower is better), ``resolution`` (higher is better),
        ``uncertainty``, ``within_bin``.

    Examples
    --------
    >>> out = brier_decomposition([0, 1, 1, 1], [0.5, 0.5, 0.9, 0.9], n_bins=10)
    >>> round(float(out["reliability"] - out["resolution"] + out["uncertainty"]), 6)
    0.13
    """
    binary_1d = np.ndim(getattr(probs, "values", probs)) == 1
    p = prepare(y, probs, labels=labels)
    assert p.y_idx is not None
    arr, y_idx = p.values, p.y_idx
    columns = [1] if binary_1d else range(arr.shape[1])
    parts = np.zeros(4)
    for k in columns:
        forecast, o = arr[:, k], (y_idx == k).astype(float)
        idx, _ = binning.bin_index(forecast, n_bins, "uniform")
        stats = binning.bin_stats(forecast, o, idx, n_bins)
        filled = stats.n > 0
        w = stats.n[filled] / forecast.size
        rel = np.sum(w * (stats.mean_conf[filled] - stats.accuracy[filled]) ** 2)
        res = np.sum(w * (stats.accuracy[filled] - o.mean()) ** 2)
        unc = o.mean() * (1 - o.mean())
        brier = np.mean((forecast - o) ** 2)
        parts += [brier, rel, res, unc]
    brier, rel, res, unc = parts
    return xr.Dataset(
        {
            "brier": brier,
            "reliability": rel,
            "resolution": res,
            "uncertainty": unc,
            "within_bin": brier - (rel - res + unc),
        },
        attrs={"n_bins": n_bins},
    )


@validate_params({"method": Options(("isotonic", "temperature"))})
def log_loss_decomposition(
    y: Any, probs: Any, *, method: str = "isotonic", labels: Any = None
) -> xr.Dataset:
    r"""Split the log loss into miscalibration and refinement by recalibrating in-sample.

    .. math::

        \mathrm{NLL}(p) = \underbrace{\mathrm{NLL}(p) - \mathrm{NLL}(\hat r(p))}_{\text{MCB}}
        + \underbrace{\mathrm{NLL}(\hat r(p))}_{\text{refinement}},\qquad
        \mathrm{DSC} = \mathrm{UNC} - \text{refinement}

    with :math:`\hat r` the recalibration map fitted on the same data (isotonic, as in
    CORP (Dimitriadis et al., 2021), or temperature scaling) and UNC the entropy of the label
    frequencies.

    Parameters
    ----------
    y : array-like of shape (n_obs,)
    probs : array-like (n_obs, n_classes) or (n_obs,), or DataArray (obs, class)
    method : {"isotonic", "temperature"}, default "isotonic"
    labels : array-like, optional

    Returns
    -------
    Dataset
        ``nll``, ``miscalibration``, ``refinement``, ``discrimination``, ``uncertainty``
        (nats; the log loss clips at machine epsilon as :func:`~bayescore.log_loss`).

    Examples
    --------
    >>> out = log_loss_decomposition([0, 1, 0, 1], [0.1, 0.9, 0.6, 0.8], method="temperature")
    >>> round(float(out["miscalibration"] + out["refinement"] - out["nll"]), 12)
    0.0
    """
    p = prepare(y, probs, labels=labels)
    assert p.y_idx is not None
    arr, y_idx = p.values, p.y_idx
    recal = IsotonicCalibration() if method == "isotonic" else TemperatureScaling()
    fitted = recal.fit(arr, y_idx).transform(arr)
    nll = float(nll_pointwise(arr, y_idx, _EPS).mean())
    refinement = float(nll_pointwise(fitted, y_idx, _EPS).mean())
    freq = np.bincount(y_idx, minlength=arr.shape[1]) / y_idx.size
    unc = float(-np.sum(freq[freq > 0] * np.log(freq[freq > 0])))
    return xr.Dataset(
        {
            "nll": nll,
            "miscalibration": nll - refinement,
            "refinement": refinement,
            "discrimination": unc - refinement,
            "uncertainty": unc,
        },
        attrs={"method": method, "units": "nats"},
    )


def _window(
    probs: NDArray[np.float64], y_idx: NDArray[np.int64]
) -> tuple[NDArray[np.floating[Any]], NDArray[np.float64], NDArray[np.floating[Any]]]:
    conf, correct = binning.top_label(probs, y_idx)
    return conf, correct, nll_pointwise(probs, y_idx, _EPS)


@validate_params(
    {"n_bins": N_BINS, "level": LEVEL, "n_boot": Interval(numbers.Integral, 2, None, "left")}
)
def calibration_drift(
    y_ref: Any,
    p_ref: Any,
    y_new: Any,
    p_new: Any,
    *,
    n_bins: int = 15,
    labels: Any = None,
    n_boot: int = 1000,
    level: float = 0.95,
    random_seed: int | None = 0,
) -> xr.Dataset:
    """Change in ECE and NLL between a reference window and a new one, with a verdict.

    Each window is resampled independently (bootstrap over observations); the change is
    called drift when its interval excludes 0.

    Parameters
    ----------
    y_ref, p_ref : labels and probabilities of the reference window
    y_new, p_new : labels and probabilities of the new window (same classes)
    n_bins : int, default 15
    labels : array-like, optional
    n_boot : int, default 1000
    level : float in (0, 1), default 0.95
    random_seed : int, optional

    Returns
    -------
    Dataset
        ``ece_ref``, ``ece_new``, ``d_ece`` with ``d_ece_lower``/``d_ece_upper``,
        ``nll_ref``, ``nll_new``, ``d_nll`` with its interval; attr ``verdict``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 2000); y = (rng.random(2000) < p).astype(int)
    >>> out = calibration_drift(y, p, y, np.clip(p * 1.6 - 0.3, 0.01, 0.99), n_boot=200)
    >>> out.attrs["verdict"].startswith("drift")
    True
    """
    ref = prepare(y_ref, p_ref, labels=labels, name="p_ref")
    new = prepare(y_new, p_new, labels=labels, name="p_new")
    assert ref.y_idx is not None and new.y_idx is not None
    if ref.values.shape[-1] != new.values.shape[-1]:
        raise ValueError(
            f"p_ref has {ref.values.shape[-1]} classes but p_new has {new.values.shape[-1]}."
        )
    cr, kr, lr = _window(ref.values, ref.y_idx)
    cn, kn, ln = _window(new.values, new.y_idx)
    rng = np.random.default_rng(random_seed)
    d_ece, d_nll = np.empty(n_boot), np.empty(n_boot)
    for b in range(n_boot):
        i = rng.integers(0, cr.size, cr.size)
        j = rng.integers(0, cn.size, cn.size)
        d_ece[b] = (
            binning.ece_mce(cn[j], kn[j], n_bins).ece - binning.ece_mce(cr[i], kr[i], n_bins).ece
        )
        d_nll[b] = ln[j].mean() - lr[i].mean()
    alpha = (1 - level) / 2
    ece_ref = binning.ece_mce(cr, kr, n_bins).ece
    ece_new = binning.ece_mce(cn, kn, n_bins).ece
    out: dict[str, float] = {
        "ece_ref": ece_ref,
        "ece_new": ece_new,
        "d_ece": ece_new - ece_ref,
        "d_ece_lower": float(np.quantile(d_ece, alpha)),
        "d_ece_upper": float(np.quantile(d_ece, 1 - alpha)),
        "nll_ref": float(lr.mean()),
        "nll_new": float(ln.mean()),
        "d_nll": float(ln.mean() - lr.mean()),
        "d_nll_lower": float(np.quantile(d_nll, alpha)),
        "d_nll_upper": float(np.quantile(d_nll, 1 - alpha)),
    }
    worse = out["d_ece_lower"] > 0 or out["d_nll_lower"] > 0
    better = out["d_ece_upper"] < 0 and out["d_nll_upper"] < 0
    verdict = (
        "drift: calibration got worse"
        if worse
        else "drift: calibration improved"
        if better
        else "no evidence of drift"
    )
    return xr.Dataset(
        dict(out),
        attrs={"verdict": verdict, "level": level, "n_boot": n_boot},
    )
