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

**No false significance.** A difference below the numerical floor of its inputs is no
difference. Two tests, either suffices, with :math:`\epsilon` the machine epsilon of the
inputs (float32 :math:`1.2\times10^{-7}`, float64 :math:`2.2\times10^{-16}`; the larger of
the two models'):

- *rounding*: the mean difference is within the rounding of the scores, a few units of
  :math:`\epsilon` per observation relative to the score's size (an absolute error
  :math:`\epsilon` in :math:`p` is one of about :math:`\epsilon` in :math:`-\log p`),

  .. math:: |d_j| \le 16\,\epsilon\,\overline{\big(1 + |s_{jn}| + |s_{bn}|\big)};

- *the same forecasts*: every observation's scores agree to :math:`\sqrt\epsilon`,

  .. math:: |s_{jn} - s_{bn}| \le \sqrt\epsilon\,(1 + |s_{jn}| + |s_{bn}|)
            \quad \text{for all } n.

  Forecasts that come out of a fit are determined only to about :math:`\sqrt\epsilon`:
  the minimum of a smooth objective pins its argument down to :math:`\sqrt\epsilon`
  relative accuracy, not :math:`\epsilon` (Gill, Murray & Wright 1981, *Practical
  Optimization*, §8.2.2). A logistic model and its two-class softmax twin fitted by
  Laplace differ by :math:`3\times10^{-13}` in probability, :math:`5\times10^{-15}`
  nats in mean NLL, with a paired SE of the same size; fitted by NUTS, by
  :math:`7\times10^{-18}` nats with "z = 1.35" (issue 22).

Such a row gets ``p_worse = 0.5``, ``z = NaN`` and the flag ``no difference``, and no
warning; the ECE, which has no per-observation values, uses the rounding test or the NLL's
"same forecasts" verdict.

**Monte Carlo error of a difference.** ``d_nll_mcse`` is the batch-means MCSE (within
chains) of the linearised NLL difference. Two models whose draws have the same layout
(the same number of chains and draws per chain) are **paired** draw block by draw block:
the MCSE comes from the per-block differences, which is exact when the draws are shared
(the same posterior scored twice, or a model and its reparametrised twin fitted from the
same seed, where it is ~0) and still unbiased when they are independent (the cross term
averages to 0, leaving :math:`\mathrm{mcse}_j^2 + \mathrm{mcse}_b^2`). Models with other
layouts are independent: :math:`\sqrt{\mathrm{mcse}_j^2 + \mathrm{mcse}_b^2}`.

Flags in ``diag`` (per model, ``"; "``-separated, empty for the best model), after
Sivula et al. (2025) and arviz-stats: ``no difference`` (above; alone); ``N < 100`` (the
normal approximation of the difference is poorly calibrated on few observations);
``|d_nll| < 2 d_se`` (the models are not told apart); ``nll_mcse not small``: more posterior
draws could change the verdict at the stated level, i.e. the threshold :math:`2\,
\mathrm{d\_se}` lies within :math:`2\,\mathrm{d\_nll\_mcse}` of :math:`|d|`,

.. math:: \big|\,|d_j| - 2\,\mathrm{SE}(d_j)\big| < 2\,\mathrm{mcse}(d_j).

Only this flag raises :class:`ComparisonWarning` (pointing at the user's line), because more
draws fix it; a Monte Carlo error that cannot move :math:`|d|` across the threshold changes
no conclusion, however large it is beside a small difference.

**Probability 0.** A true class given probability 0 makes a row's NLL infinite, and
``inf - inf`` makes no difference at all. So such rows are counted (``n_zero_prob``, flag
``p = 0 on k rows``, a :class:`ComparisonWarning`) and the ranking is defined: fewer
zero-probability rows first, then the NLL over the rows no model gives probability 0;
``d_nll`` is ``inf`` for a model with more zero rows than the best, else the paired
difference over those rows.

**Deprecated aliases** (kept for one release, removed in 0.4): ``se`` (= ``nll_se``),
``d_se`` (= ``d_nll_se``), ``prob_better`` (= ``p_worse_nll``: on each model's row the
probability that the *best* model is better than this one, NaN on the best row; it never
reads "this model is better") and ``z`` (= ``d_nll / d_nll_se``, NaN where there is no
difference). Each carries ``attrs["deprecated"]`` naming its replacement; the Dataset's
``attrs["deprecated_aliases"]`` lists them. They stay plain variables rather than warning
when read: a warn-on-read needs a ``Dataset`` subclass, and xarray itself reads every
variable (``data_vars``, ``to_dataframe``, ``to_netcdf``), so every table dump would warn
about fields its caller never asked for.
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
from bayescore._array.scores import batch_means_mcse
from bayescore._names import MODEL
from bayescore._point_scores import Estimate
from bayescore._pointwise import NllMonteCarlo
from bayescore._stack import user_stacklevel

__all__ = [
    "DEPRECATED_ALIASES",
    "METRICS",
    "ComparisonWarning",
    "ModelScores",
    "check_metrics",
    "comparison_table",
]

#: Metrics :func:`bayescore.compare` knows: +1 lower is better, -1 higher is better.
METRICS: dict[str, int] = {
    "nll": 1,
    "brier": 1,
    "ece": 1,
    "spherical": -1,
    "accuracy": -1,
    "aurc": 1,
}
#: Observations below which the normal approximation of a difference is flagged.
SMALL_N = 100
#: A difference under this many paired SEs does not tell the models apart (the stated
#: level: about 95 % two-sided).
CLOSE_SE = 2.0
#: Rounding of a per-observation score, in units of the inputs' machine epsilon times
#: (1 + |score|): storage rounding of p, the log, sums over classes, and a twin model's
#: other code path (sigmoid vs softmax) each add a few; 16 leaves a margin.
FLOOR_ULPS = 16.0
#: Elements of one block of bootstrap row indices (resamples x observations).
_BOOT_BLOCK = 1 << 20
_EPS64 = float(np.finfo(np.float64).eps)

#: Deprecated columns (kept for one release): alias -> what replaces it.
DEPRECATED_ALIASES: dict[str, str] = {
    "se": "nll_se",
    "d_se": "d_nll_se",
    "prob_better": "p_worse_nll",
    "z": "d_nll / d_nll_se",
}

Floats = NDArray[np.float64]


class ComparisonWarning(UserWarning):
    """More posterior draws could change a comparison's verdict (Monte Carlo error)."""


class ModelScores(NamedTuple):
    """One model's inputs to the table.

    Attributes
    ----------
    pointwise : dict of str to ndarray (n_obs,)
        Per-observation values of the metrics that are means (``nll`` always; ``aurc`` as
        the pseudo-values of :func:`bayescore.selective_risk`, whose mean is the AURC).
    conf, correct : ndarray (n_obs,) or None
        Top-label confidence and correctness, for the ECE and its bootstrap (None without
        probabilities).
    ece : float
        ECE on all rows (NaN without probabilities).
    nll_mcse : float or None
        Monte Carlo SE of the NLL (None: not applicable, e.g. cross-validation folds).
    precision : float
        Machine epsilon of the model's forecasts (the numerical floor's unit).
    nll_mc : NllMonteCarlo or None
        Batch means for the paired Monte Carlo SE of a difference (None for one draw).
    """

    pointwise: dict[str, Floats]
    conf: NDArray[np.floating[Any]] | None = None
    correct: NDArray[np.floating[Any]] | None = None
    ece: float = float("nan")
    nll_mcse: float | None = None
    precision: float = _EPS64
    nll_mc: NllMonteCarlo | None = None


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


def _p_worse(d: Floats, se: Floats, none: NDArray[np.bool_], best: int) -> Floats:
    """``Phi(d / se)``; 0.5 where there is no difference; NaN on the best row."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, d / se, np.nan)
    p = np.asarray(norm.cdf(z), dtype=np.float64)
    p[none] = 0.5
    p[best] = np.nan
    return p


def _paired(values: list[Floats], sign: int, eps: Floats) -> dict[str, Any]:
    """Value, SE, oriented difference to the best, its paired SE and floor, per model."""
    means = np.array([v.mean() for v in values])
    best = int(np.argmin(sign * means))
    ref = values[best]
    own = [Estimate.of(v) for v in values]
    diff = [Estimate.of(sign * (v - ref)) for v in values]
    pair_eps = np.maximum(eps, eps[best])
    size = [1.0 + np.abs(v) + np.abs(ref) for v in values]
    floor = FLOOR_ULPS * pair_eps * np.array([float(np.mean(z)) for z in size])
    # The same forecasts: every row agrees to sqrt(eps) of its size (module doc).
    same = np.array(
        [
            bool(np.all(np.abs(v - ref) <= np.sqrt(e) * z))
            for v, e, z in zip(values, pair_eps, size, strict=True)
        ]
    )
    return {
        "": means,
        "_se": np.array([e.se for e in own]),
        "d_": np.array([e.mean for e in diff]),
        "d_se": np.array([e.se for e in diff]),
        "floor": floor,
        "same": same,
        "best": best,
    }


def _paired_nll(values: list[Floats], eps: Floats) -> tuple[dict[str, Any], NDArray[np.int64]]:
    """:func:`_paired` for the NLL, defined when some rows have probability 0 (NLL inf).

    ``values`` are sorted best first (:func:`_nll_order`). A model with more zero-probability
    rows than the best is infinitely worse: ``d = inf`` (SE NaN). Otherwise the difference,
    its paired SE and its floor are taken over the rows every model predicts with non-zero
    probability, so zeros that two models share count as ties, never as ``inf - inf``.
    Returns the columns and the number of infinite rows per model.
    """
    n_inf = np.array([int(np.isposinf(v).sum()) for v in values], dtype=np.int64)
    if not n_inf.any():
        return _paired(values, 1, eps), n_inf
    common = np.all([np.isfinite(v) for v in values], axis=0)
    on_common = _paired([v[common] for v in values], 1, eps) if common.any() else None
    own = [Estimate.of(v) if np.isfinite(v).all() else Estimate(np.inf, np.nan) for v in values]
    worse = n_inf > n_inf[0]
    if on_common is None:  # no row every model gives a non-zero probability: nothing to pair
        d = np.where(np.arange(len(values)) == 0, 0.0, np.nan)
        d_se, floor, same = np.full(len(values), np.nan), np.zeros(len(values)), ~worse
    else:
        d, d_se = on_common["d_"].copy(), on_common["d_se"].copy()
        floor, same = on_common["floor"], on_common["same"] & ~worse
    d[worse], d_se[worse] = np.inf, np.nan
    return {
        "": np.array([e.mean for e in own]),
        "_se": np.array([e.se for e in own]),
        "d_": d,
        "d_se": d_se,
        "floor": floor,
        "same": same,
        "best": 0,
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
) -> dict[str, Any]:
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
    eps = np.array([s.precision for s in scores])
    return {
        "": ece,
        "_se": boots.std(axis=1, ddof=1),
        "d_": ece - ece[best],
        "d_se": (boots - boots[best]).std(axis=1, ddof=1),
        "floor": FLOOR_ULPS * np.maximum(eps, eps[best]) * (1.0 + ece + ece[best]),
        "same": np.zeros(ece.size, dtype=bool),
        "best": best,
    }


def _pairable(a: NllMonteCarlo | None, b: NllMonteCarlo | None) -> bool:
    return (
        a is not None
        and b is not None
        and a.layout == b.layout
        and a.batch_size == b.batch_size
        and a.batch_means.shape == b.batch_means.shape
    )


def _mc_of_differences(rows: list[ModelScores], best: int) -> tuple[Floats, list[bool]] | None:
    """``d_nll_mcse`` per model (0 for the best) and whether it was paired (see module doc)."""
    if not all(r.nll_mcse is not None for r in rows):
        return None
    mcse = np.array([r.nll_mcse for r in rows], dtype=np.float64)
    out = np.zeros(mcse.size)
    paired = [False] * mcse.size
    ref = rows[best].nll_mc
    for j, row in enumerate(rows):
        if j == best:
            continue
        if _pairable(row.nll_mc, ref):
            assert row.nll_mc is not None and ref is not None
            # Paired per-draw-block differences: exact for shared draws, unbiased otherwise.
            diff = row.nll_mc.batch_means - ref.batch_means
            out[j] = batch_means_mcse(diff, row.nll_mc.batch_size, row.nll_mc.n_draws)
            paired[j] = True
        else:  # independent posteriors: Monte Carlo variances add
            out[j] = float(np.hypot(mcse[j], mcse[best]))
    return out, paired


def _flags(
    d: Floats,
    se: Floats,
    none: NDArray[np.bool_],
    mc_diff: Floats | None,
    best: int,
    n_obs: int,
    n_inf: NDArray[np.int64],
) -> tuple[list[str], list[int]]:
    """``diag`` text per model, and the rows where more draws could change the verdict."""
    diag, noisy = [], []
    for j in range(d.size):
        flags = [f"p = 0 on {int(n_inf[j])} rows"] if n_inf[j] else []
        if j == best:
            pass
        elif none[j]:
            flags.append("no difference")
        else:
            if n_obs < SMALL_N:
                flags.append(f"N < {SMALL_N}")
            if abs(d[j]) < CLOSE_SE * se[j] or d[j] == 0:
                flags.append(f"|d_nll| < {CLOSE_SE:g} d_se")
            # More draws move d by about +-2 mcse: flag only when that could carry |d|
            # across the 2-SE threshold of the verdict (module doc).
            if (
                mc_diff is not None
                and se[j] > 0
                and abs(abs(d[j]) - CLOSE_SE * se[j]) < CLOSE_SE * mc_diff[j]
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
    attrs: Mapping[str, Any] | None = None,
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
    attrs : mapping, optional
        Extra attributes of the Dataset (e.g. how ``aurc`` was computed).

    Returns
    -------
    Dataset over ``model``, sorted by ``nll`` (best first)
        A :class:`ComparisonWarning` (pointing at the first frame outside bayescore) when
        more draws could change a verdict.

    Examples
    --------
    >>> t = comparison_table({"a": ModelScores({"nll": np.array([0.1, 0.3])}),
    ...                       "b": ModelScores({"nll": np.array([0.5, 0.4])})})
    >>> t["model"].values.tolist(), t["d_nll"].round(6).values.tolist()
    (['a', 'b'], [0.0, 0.25])
    >>> twin = comparison_table({"a": ModelScores({"nll": np.array([0.1, 0.3])}),
    ...                          "b": ModelScores({"nll": np.array([0.1, 0.3 + 1e-16])})})
    >>> twin["diag"].values.tolist(), twin["p_worse_nll"].values.tolist()
    (['', 'no difference'], [nan, 0.5])
    """
    names = list(scores)
    order = _nll_order([scores[n].pointwise["nll"] for n in names])
    names = [names[i] for i in order]
    rows = [scores[n] for n in names]
    n_obs = int(rows[0].pointwise["nll"].size)
    eps = np.array([r.precision for r in rows], dtype=np.float64)
    cols: dict[str, Floats] = {}
    extra = extra or {}
    for key in next(iter(extra.values()), {}):
        cols[key] = np.array([extra[n][key] for n in names], dtype=np.float64)
    parts: dict[str, dict[str, Any]] = {}
    for metric in metrics:  # nll first: the ECE borrows its "same forecasts" verdict
        if metric == "ece":
            part = _bootstrap_ece(rows, n_bins, n_boot, random_seed)
            part["same"] = parts["nll"]["same"]
        elif metric == "nll":
            part, n_inf = _paired_nll([r.pointwise["nll"] for r in rows], eps)
        else:
            part = _paired([r.pointwise[metric] for r in rows], METRICS[metric], eps)
        none = (np.abs(part["d_"]) <= part["floor"]) | part["same"]
        parts[metric] = {**part, "none": none}
        cols[metric] = part[""]
        cols[f"{metric}_se"] = part["_se"]
        cols[f"d_{metric}"] = part["d_"]
        cols[f"d_{metric}_se"] = part["d_se"]
        cols[f"p_worse_{metric}"] = _p_worse(part["d_"], part["d_se"], none, part["best"])
        if metric == "nll":  # more zero-probability rows than the best: surely worse
            cols["p_worse_nll"] = np.where(np.isposinf(part["d_"]), 1.0, cols["p_worse_nll"])
    nll = parts["nll"]
    best = int(nll["best"])
    mc = _mc_of_differences(rows, best)
    mc_diff = None
    if mc is not None:
        mc_diff, paired = mc
        cols["nll_mcse"] = np.array([r.nll_mcse for r in rows], dtype=np.float64)
        cols["d_nll_mcse"] = mc_diff
    diag, noisy = _flags(nll["d_"], nll["d_se"], nll["none"], mc_diff, best, n_obs, n_inf)
    if n_inf.any():
        zeros = ", ".join(f"{names[j]!r}: {int(n_inf[j])}" for j in np.flatnonzero(n_inf))
        warnings.warn(
            "Some models give probability 0 to the true class of some rows, so their NLL is "
            f"infinite (rows per model: {zeros}). They are ranked by how many such rows they "
            "have, then by NLL on the rows every model predicts with non-zero probability, "
            "and d_nll is taken over those rows (inf for a model with more zero rows than "
            "the best). Clip or smooth the probabilities if a zero is not meant.",
            ComparisonWarning,
            stacklevel=user_stacklevel(),
        )
    if noisy and mc_diff is not None:
        detail = ", ".join(
            f"{names[j]!r}: d_nll = {cols['d_nll'][j]:.3g}, d_nll_se = {cols['d_nll_se'][j]:.3g}, "
            f"d_nll_mcse = {mc_diff[j]:.3g}"
            for j in noisy
        )
        warnings.warn(
            "More posterior draws could change whether these models are told apart at "
            f"{CLOSE_SE:g} paired SEs: the Monte Carlo error of the NLL difference could carry "
            f"|d_nll| across {CLOSE_SE:g} d_nll_se ({detail}). Draw more posterior samples.",
            ComparisonWarning,
            stacklevel=user_stacklevel(),
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(nll["d_se"] > 0, nll["d_"] / nll["d_se"], np.nan)
    z = np.where(np.isposinf(nll["d_"]), np.inf, z)  # more zero-probability rows: worse
    z[nll["none"]] = np.nan
    z[best] = np.nan
    aliases = {
        "se": cols["nll_se"],
        "d_se": cols["d_nll_se"],
        "z": z,
        "prob_better": cols["p_worse_nll"],
    }
    data: dict[str, Any] = {k: ((MODEL,), v) for k, v in cols.items()}
    data["diag"] = ((MODEL,), np.array(diag, dtype=object))
    data["n_zero_prob"] = ((MODEL,), n_inf)
    for alias, values in aliases.items():
        note = f"deprecated alias of {DEPRECATED_ALIASES[alias]} (kept in 0.3, removed in 0.4)"
        data[alias] = ((MODEL,), values.copy(), {"deprecated": note})
    table_attrs: dict[str, Any] = {
        "units": units,
        "n_obs": n_obs,
        "sorted_by": "nll",
        "metrics": list(metrics),
        "p_worse": (
            "Phi(d / d_se): probability the model is worse than the best (NaN for the best; "
            "0.5 where there is no difference)"
        ),
        "no_difference": (
            f"|d| <= {FLOOR_ULPS:g} eps mean(1 + |s_model| + |s_best|), or every row "
            "|s_model - s_best| <= sqrt(eps) (1 + |s_model| + |s_best|); eps the inputs' "
            "machine epsilon"
        ),
        "diag": (
            f"no difference; N < {SMALL_N}; |d_nll| < {CLOSE_SE:g} d_se; nll_mcse not "
            f"small: ||d_nll| - {CLOSE_SE:g} d_se| < {CLOSE_SE:g} d_nll_mcse; p = 0 on k "
            "rows: the true class has probability 0 (NLL inf)"
        ),
        "deprecated_aliases": [f"{k} -> {v}" for k, v in DEPRECATED_ALIASES.items()],
        **(attrs or {}),
    }
    if mc is not None:
        table_attrs["d_nll_mcse"] = (
            "paired per-draw-block differences for "
            + (", ".join(repr(n) for n, p in zip(names, mc[1], strict=True) if p) or "none")
            + "; independent (sqrt of summed squares) for the others"
        )
    return xr.Dataset(data, coords={MODEL: names}, attrs=table_attrs)
