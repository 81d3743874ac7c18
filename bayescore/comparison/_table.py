r"""The comparison table: each metric's difference to the best model with a paired SE.

For every metric :math:`m` and model :math:`j` the table holds the value, its SE, the
difference to the best model on that metric oriented so that :math:`d \ge 0` means worse,

.. math:: d_j = \sigma_m\,(m_j - m_\mathrm{best}), \qquad
          \sigma_m = +1 \text{ (lower is better) or } -1 \text{ (higher is better)},

the SE of that difference, and ``p_worse`` :math:`= \Phi(d_j / \mathrm{SE}(d_j))`, the
normal-approximation probability that model :math:`j` is truly worse than the best (the
convention of arviz-stats' ``compare``: NaN for the best model itself). Scores that are
means over observations (NLL, Brier, spherical, accuracy) get the SE of the *paired*
per-observation differences; the ECE, which is not such a mean, gets a paired bootstrap
over observations (the same resampled rows for every model).

Flags in ``diag`` (per model, ``"; "``-separated, empty for the best model), after
Sivula et al. (2025) and arviz-stats: ``N < 100`` (the normal approximation of the
difference is poorly calibrated on few observations); ``|d_nll| < 2 d_se`` (the models
are not told apart); ``nll_mcse not small``: the Monte Carlo SE of the NLL difference,
``d_nll_mcse`` :math:`= \sqrt{\mathrm{mcse}_j^2 + \mathrm{mcse}_\mathrm{best}^2}`
(independent draws of the two posteriors), exceeds both a quarter of a non-zero paired SE
``d_se`` (it would add more than 3 % to the total SE) and a tenth of ``|d_nll|`` (it could
move the difference itself). Below either bound it changes no conclusion: the first
keeps the SE honest, the second the size of a difference that is many SEs wide. This flag
also raises :class:`ComparisonWarning`, because more posterior draws fix it.

A true class given probability 0 makes a row's NLL infinite, and ``inf - inf`` makes no
difference at all. So such rows are counted (``n_zero_prob``, flag ``p = 0 on k rows``,
a :class:`ComparisonWarning`) and the ranking is defined: fewer zero-probability rows
first, then the NLL over the rows no model gives probability 0; ``d_nll`` is ``inf`` for
a model with more zero rows than the best, else the paired difference over those rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.stats import norm

from bayescore._array import binning
from bayescore._names import MODEL
from bayescore._point_scores import Estimate

__all__ = [
    "METRICS",
    "ComparisonWarning",
    "ModelScores",
    "check_metrics",
    "comparison_table",
]

#: Metrics :func:`bayescore.compare` knows: +1 lower is better, -1 higher is better.
METRICS: dict[str, int] = {"nll": 1, "brier": 1, "ece": 1, "spherical": -1, "accuracy": -1}
#: Observations below which the normal approximation of a difference is flagged.
SMALL_N = 100
#: A difference under this many paired SEs does not tell the models apart.
CLOSE_SE = 2.0
#: Monte Carlo error of a difference above this fraction of its paired SE ...
MCSE_OF_SE = 0.25
#: ... and above this fraction of the difference itself is flagged.
MCSE_OF_DIFF = 0.1
#: Elements of one block of bootstrap row indices (resamples x observations).
_BOOT_BLOCK = 1 << 20

Floats = NDArray[np.float64]


class ComparisonWarning(UserWarning):
    """A comparison is less certain than its paired SE says (Monte Carlo error too large)."""


class ModelScores(NamedTuple):
    """One model's inputs to the table.

    Attributes
    ----------
    pointwise : dict of str to ndarray (n_obs,)
        Per-observation values of the metrics that are means (``nll`` always).
    conf, correct : ndarray (n_obs,) or None
        Top-label confidence and correctness, for the ECE and its bootstrap (None without
        probabilities).
    ece : float
        ECE on all rows (NaN without probabilities).
    nll_mcse : float or None
        Monte Carlo SE of the NLL (None: not applicable, e.g. cross-validation folds).
    """

    pointwise: dict[str, Floats]
    conf: NDArray[np.floating[Any]] | None = None
    correct: NDArray[np.floating[Any]] | None = None
    ece: float = float("nan")
    nll_mcse: float | None = None


def check_metrics(metrics: str | Iterable[str], func: str = "compare") -> tuple[str, ...]:
    """The metrics asked for, ``nll`` first (the table is ranked by it); checked.

    Examples
    --------
    >>> check_metrics(("brier", "ece"))
    ('nll', 'brier', 'ece')
    >>> check_metrics("auc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The 'metrics' parameter of compare must hold names among (...). Got 'auc' ...
    """
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for name in names:
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(
                f"The 'metrics' parameter of {func} must hold names among "
                f"{tuple(METRICS)}. Got {name!r} instead."
            )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"The 'metrics' parameter of {func} names {dup} more than once.")
    return ("nll",) + tuple(n for n in names if n != "nll")


def _p_worse(d: Floats, se: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, d / se, np.nan)
    return np.asarray(norm.cdf(z), dtype=np.float64)  # NaN stays NaN (the best model)


def _paired(values: list[Floats], sign: int) -> dict[str, Floats]:
    """Value, SE, oriented difference to the best and its paired SE, per model."""
    means = np.array([v.mean() for v in values])
    best = values[int(np.argmin(sign * means))]
    own = [Estimate.of(v) for v in values]
    diff = [Estimate.of(sign * (v - best)) for v in values]
    return {
        "": means,
        "_se": np.array([e.se for e in own]),
        "d_": np.array([e.mean for e in diff]),
        "d_se": np.array([e.se for e in diff]),
    }


def _paired_nll(values: list[Floats]) -> tuple[dict[str, Floats], NDArray[np.int64]]:
    """:func:`_paired` for the NLL, defined when some rows have probability 0 (NLL inf).

    ``values`` are sorted best first (:func:`_nll_order`). A model with more zero-probability
    rows than the best is infinitely worse: ``d = inf`` (SE NaN). Otherwise the difference
    and its paired SE are taken over the rows every model predicts with non-zero
    probability, so zeros that two models share count as ties, never as ``inf - inf``.
    Returns the columns and the number of infinite rows per model.
    """
    n_inf = np.array([int(np.isposinf(v).sum()) for v in values], dtype=np.int64)
    if not n_inf.any():
        return _paired(values, 1), n_inf
    common = np.all([np.isfinite(v) for v in values], axis=0)
    best = values[0][common]
    own = [Estimate.of(v) if np.isfinite(v).all() else Estimate(np.inf, np.nan) for v in values]
    d, d_se = [], []
    for j, v in enumerate(values):
        if n_inf[j] > n_inf[0]:
            d.append(np.inf)
            d_se.append(np.nan)
        elif common.any():
            est = Estimate.of(v[common] - best)
            d.append(est.mean)
            d_se.append(est.se)
        else:  # no row every model gives a non-zero probability: nothing to pair
            d.append(0.0 if j == 0 else np.nan)
            d_se.append(np.nan)
    return {
        "": np.array([e.mean for e in own]),
        "_se": np.array([e.se for e in own]),
        "d_": np.array(d),
        "d_se": np.array(d_se),
    }, n_inf


def _nll_order(values: list[Floats]) -> NDArray[np.int64]:
    """Models best first: by mean NLL, or, with zero-probability rows, by a defined rule.

    With rows of NLL inf: by how many such rows (fewer is better), then by the mean NLL over
    the rows no model gives probability 0 (plain means would all be inf, and tie).
    """
    n_inf = np.array([np.isposinf(v).sum() for v in values])
    if not n_inf.any():
        return np.argsort([v.mean() for v in values], kind="stable")
    common = np.all([np.isfinite(v) for v in values], axis=0)
    on_common = np.array([v[common].mean() if common.any() else 0.0 for v in values])
    return np.lexsort((on_common, n_inf))


def _bootstrap_ece(
    scores: list[ModelScores], n_bins: int, n_boot: int, random_seed: int | None
) -> dict[str, Floats]:
    """ECE, bootstrap SE, difference to the best and paired bootstrap SE, per model."""
    conf = [s.conf for s in scores]
    correct = [s.correct for s in scores]
    assert all(c is not None for c in conf) and all(c is not None for c in correct)
    n_obs = conf[0].size  # type: ignore[union-attr]
    bins = [binning.bin_index(c, n_bins)[0] for c in conf]  # type: ignore[arg-type]
    gaps = [o - c for o, c in zip(correct, conf, strict=True)]  # type: ignore[operator]
    rng = np.random.default_rng(random_seed)
    boots = np.empty((len(scores), n_boot))
    block = max(1, _BOOT_BLOCK // n_obs)
    for start in range(0, n_boot, block):
        # The same resampled rows for every model: the bootstrap is paired.
        rows = rng.integers(0, n_obs, (min(block, n_boot - start), n_obs))
        for j, (idx, gap) in enumerate(zip(bins, gaps, strict=True)):
            boots[j, start : start + rows.shape[0]] = binning.ece_resampled(idx, gap, rows, n_bins)
    ece = np.array([s.ece for s in scores])
    best = int(np.argmin(ece))
    return {
        "": ece,
        "_se": boots.std(axis=1, ddof=1),
        "d_": ece - ece[best],
        "d_se": (boots - boots[best]).std(axis=1, ddof=1),
    }


def _flags(
    table: dict[str, Floats], mc_diff: Floats | None, n_obs: int, n_inf: NDArray[np.int64]
) -> tuple[list[str], list[int]]:
    """``diag`` text per model, and the rows whose Monte Carlo error is not small."""
    d, se = table["d_nll"], table["d_se"]
    best = int(np.argmin(table["nll"]))
    diag, noisy = [], []
    for j in range(d.size):
        flags = []
        if n_inf[j]:
            flags.append(f"p = 0 on {int(n_inf[j])} rows")
        if j != best:
            if n_obs < SMALL_N:
                flags.append(f"N < {SMALL_N}")
            if abs(d[j]) < CLOSE_SE * se[j] or d[j] == 0:
                flags.append("|d_nll| < 2 d_se")
            # d_se = 0: the same per-observation NLL as the best (e.g. the same draws
            # twice), where Monte Carlo errors are not independent but identical.
            if (
                mc_diff is not None
                and se[j] > 0
                and mc_diff[j] > max(MCSE_OF_SE * se[j], MCSE_OF_DIFF * abs(d[j]))
            ):
                flags.append("nll_mcse not small")
                noisy.append(j)
        diag.append("; ".join(flags))
    return diag, noisy


def comparison_table(
    scores: Mapping[str, ModelScores],
    *,
    metrics: tuple[str, ...] = ("nll",),
    extra: Mapping[str, Mapping[str, float]] | None = None,
    units: str = "nats",
    n_bins: int = 15,
    n_boot: int = 1000,
    random_seed: int | None = 0,
    stacklevel: int = 3,
) -> xr.Dataset:
    """The ranked table over dim ``model`` (see the module docstring for every column).

    Parameters
    ----------
    scores : mapping of model name to ModelScores
        All on the same observations.
    metrics : tuple of str
        From :func:`check_metrics` (``nll`` first).
    extra : mapping of model name to {column: value}, optional
        Columns copied as they are (``brier``, ``ece``, ``accuracy`` of the draw-averaged
        probabilities).
    units : str
    n_bins, n_boot, random_seed
        Bins of the ECE, bootstrap resamples and their seed.
    stacklevel : int
        Of the :class:`ComparisonWarning`, so it points at the user's call.

    Returns
    -------
    Dataset over ``model``, sorted by ``nll`` (best first)

    Examples
    --------
    >>> t = comparison_table({"a": ModelScores({"nll": np.array([0.1, 0.3])}),
    ...                       "b": ModelScores({"nll": np.array([0.5, 0.4])})})
    >>> t["model"].values.tolist(), t["d_nll"].round(6).values.tolist()
    (['a', 'b'], [0.0, 0.25])
    """
    names = list(scores)
    order = _nll_order([scores[n].pointwise["nll"] for n in names])
    names = [names[i] for i in order]
    rows = [scores[n] for n in names]
    n_obs = int(rows[0].pointwise["nll"].size)
    nll, n_inf = _paired_nll([r.pointwise["nll"] for r in rows])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(nll["d_se"] > 0, nll["d_"] / nll["d_se"], np.nan)
    z = np.where(np.isposinf(nll["d_"]), np.inf, z)  # more zero-probability rows: worse
    cols: dict[str, Floats] = {
        "nll": nll[""],
        "se": nll["_se"],
        "d_nll": nll["d_"],
        "d_se": nll["d_se"],
        "z": z,
        "prob_better": np.asarray(norm.cdf(z), dtype=np.float64),
    }
    extra = extra or {}
    for key in next(iter(extra.values()), {}):
        cols[key] = np.array([extra[n][key] for n in names], dtype=np.float64)
    for metric in metrics:
        if metric == "nll":
            part = nll
        elif metric == "ece":
            part = _bootstrap_ece(rows, n_bins, n_boot, random_seed)
        else:
            part = _paired([r.pointwise[metric] for r in rows], METRICS[metric])
        cols[metric] = part[""]
        cols[f"{metric}_se"] = part["_se"]
        cols[f"d_{metric}"] = part["d_"]
        cols[f"d_{metric}_se"] = part["d_se"]
        cols[f"p_worse_{metric}"] = _p_worse(part["d_"], part["d_se"])
        if metric == "nll":
            cols["p_worse_nll"] = np.where(np.isposinf(part["d_"]), 1.0, cols["p_worse_nll"])
    mc_diff = None
    if all(r.nll_mcse is not None for r in rows):
        mcse = np.array([r.nll_mcse for r in rows], dtype=np.float64)
        best = int(np.argmin(cols["nll"]))
        # Independent posteriors: Monte Carlo variances add (0 for the best row itself).
        mc_diff = np.where(np.arange(mcse.size) == best, 0.0, np.hypot(mcse, mcse[best]))
        cols["nll_mcse"], cols["d_nll_mcse"] = mcse, mc_diff
    diag, noisy = _flags(cols, mc_diff, n_obs, n_inf)
    if n_inf.any():
        zeros = ", ".join(f"{names[j]!r}: {int(n_inf[j])}" for j in np.flatnonzero(n_inf))
        warnings.warn(
            "Some models give probability 0 to the true class of some rows, so their NLL is "
            f"infinite (rows per model: {zeros}). They are ranked by how many such rows they "
            "have, then by NLL on the rows every model predicts with non-zero probability, "
            "and d_nll is taken over those rows (inf for a model with more zero rows than "
            "the best). Clip or smooth the probabilities if a zero is not meant.",
            ComparisonWarning,
            stacklevel=stacklevel,
        )
    if noisy and mc_diff is not None:
        detail = ", ".join(
            f"{names[j]!r}: d_nll_mcse = {mc_diff[j]:.3g}, d_nll = {cols['d_nll'][j]:.3g}, "
            f"d_se = {cols['d_se'][j]:.3g}"
            for j in noisy
        )
        warnings.warn(
            "The Monte Carlo error of the NLL difference to the best model is not small "
            f"against the difference and its paired SE ({detail}): the posterior draws are "
            "too few for this comparison. Draw more posterior samples.",
            ComparisonWarning,
            stacklevel=stacklevel,
        )
    data: dict[str, Any] = {k: ((MODEL,), v) for k, v in cols.items()}
    data["n_zero_prob"] = ((MODEL,), n_inf)
    data["diag"] = ((MODEL,), np.array(diag, dtype=object))
    return xr.Dataset(
        data,
        coords={MODEL: names},
        attrs={
            "units": units,
            "n_obs": n_obs,
            "sorted_by": "nll",
            "metrics": list(metrics),
            "p_worse": "Phi(d / d_se): probability the model is worse than the best",
            "diag": (
                f"N < {SMALL_N}; |d_nll| < {CLOSE_SE:g} d_se; nll_mcse not small: "
                f"d_nll_mcse > max({MCSE_OF_SE:g} d_se, {MCSE_OF_DIFF:g} |d_nll|); "
                "p = 0 on k rows: the true class has probability 0 (NLL inf)"
            ),
        },
    )
