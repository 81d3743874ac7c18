r"""PSIS-LOO and WAIC from bayescore's own pointwise log-likelihood, or any PyMC/Bambi result.

Three refinements make :func:`loo` trustworthy wherever plain PSIS-LOO is not:

- **Approximate posteriors** (Laplace, ADVI, single-path Pathfinder) draw from a Gaussian
  :math:`q`, not from the posterior. Their leave-one-out weights carry the ratio
  :math:`p(\theta, y)/q(\theta)` as well (Magnusson et al. 2019, arviz-stats'
  ``loo_approximate_posterior``):

  .. math:: \log w_{is} = \log p(\theta_s, y) - \log q(\theta_s)
            - \log p(y_i \mid \theta_s),

  Pareto-smoothed per observation; :func:`bayescore.inference.importance.log_ratios` gives
  the first two terms. Fits whose draws target the posterior (NUTS, importance-resampled
  multi-path Pathfinder) use plain PSIS-LOO.
- **Exact refits** (``reloo=True``): the rows whose Pareto :math:`\hat k` exceeds
  ``k_threshold`` (default: arviz-stats' sample-size dependent ``good_k``) are left out
  one at a time and the estimator (cloned with the same parameters) refitted without each;
  the row's elpd is then exact,
  :math:`\log \frac1S \sum_s p(y_i \mid \theta^{(-i)}_s)` (Vehtari, Gelman & Gabry 2017,
  §2.1; R loo's ``reloo``, arviz-stats' ``reloo``, which does the bookkeeping here).
- **Subsampling** for large data: above ``SUBSAMPLE_N`` observations (or when asked) the
  Pareto smoothing runs on a simple random subsample of rows and the total comes from
  the difference estimator with the cheap log predictive density of every row as the
  approximation (Magnusson et al. 2019; arviz-stats' ``loo_subsample``).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayescore._array.scores import log_mean_exp, true_class
from bayescore._datatree import LOG_LIK, is_tree, tree_forecast
from bayescore._inputs import prepare_draws, reduce_draws
from bayescore._names import (
    ATTR_KIND,
    CHAIN,
    CLASS,
    CONSTANT_DATA,
    DRAW,
    LOG_LIKELIHOOD,
    OBS,
    POSTERIOR,
    as_idata,
    has_group,
)
from bayescore._stack import user_stacklevel
from bayescore._validation import Boolean, Interval, validate_params

__all__ = ["WAIC", "ParetoKWarning", "loo", "loo_compare", "waic"]


class ParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above the threshold)."""


#: Observations above which :func:`loo` subsamples by default (``subsample="auto"``): the
#: Pareto fit per row is the cost of PSIS-LOO, ~1 ms a row, so 10^5 rows take minutes.
SUBSAMPLE_N = 100_000
_REAL = Interval(numbers.Real, None, None, "neither")
#: Rows Pareto-smoothed by a subsampled LOO: its SE from subsampling is then a small part of
#: the SE of the elpd (Magnusson et al. 2019 use 100-2000; 2000 keeps it below ~10 %).
SUBSAMPLE_SIZE = 2_000


#: PSIS fits a generalised Pareto to the largest fifth of the S importance ratios (when
#: S r_eff <= 225) and needs at least 5 of them: fewer than 25 draws cannot be smoothed
#: (arviz-stats fails with an IndexError or "n_draws_tail must be at least 5").
MIN_LOO_DRAWS = 25


def _check_loo_draws(idata: xr.DataTree, name: str = "this fit") -> None:
    ll = idata[LOG_LIKELIHOOD]["y"]
    n_draws = int(np.prod([ll.sizes[d] for d in ll.dims if d != OBS]))
    if n_draws < MIN_LOO_DRAWS:
        raise ValueError(
            f"loo needs at least {MIN_LOO_DRAWS} posterior draws (PSIS smooths the largest "
            f"fifth of the importance ratios and needs 5 of them); {name} has {n_draws}. "
            "Refit with more draws (hundreds), or use cross_validate."
        )


@contextmanager
def _plainly() -> Iterator[None]:
    """arviz-stats' failures on a log-likelihood PSIS cannot use, said plainly."""
    try:
        yield
    except (ValueError, IndexError, FloatingPointError) as exc:
        raise ValueError(
            f"PSIS-LOO could not be computed from this fit's log-likelihood ({exc}): its "
            "draws repeat or do not move (stuck chains, few distinct draws). Check "
            "bayescore.diagnose, refit with more draws, or use cross_validate."
        ) from exc


def _is_bayescore_fit(idata: Any) -> bool:
    return (
        has_group(idata, POSTERIOR)
        and has_group(idata, CONSTANT_DATA)
        and ATTR_KIND in idata[POSTERIOR].attrs
    )


def _external_log_likelihood(
    idata: xr.DataTree, var_name: str | None, y: Any, labels: Any
) -> xr.DataArray:
    """Pointwise log-likelihood ``(chain, draw, obs)`` of a PyMC/Bambi DataTree."""
    group = None
    if var_name is not None and not (
        has_group(idata, LOG_LIKELIHOOD) and var_name in idata[LOG_LIKELIHOOD].data_vars
    ):
        group = POSTERIOR  # LOO is about the fitted rows, never the predictions group
    forecast = tree_forecast(idata, var_name, group=group)
    if forecast.kind == LOG_LIK:
        if y is not None:
            raise ValueError(
                f"y= is not used with {forecast.source}: a log-likelihood already holds the "
                "observed labels. Drop y=, or pass var_name= naming a probability variable."
            )
        return forecast.draws
    if y is None:
        instead = (
            "or drop var_name= to use its log_likelihood group"
            if has_group(idata, LOG_LIKELIHOOD)
            else "this DataTree has no log_likelihood group to use instead"
        )
        raise ValueError(
            f"loo needs the training labels y= to score the probabilities in "
            f"{forecast.source} ({instead})."
        )
    probs = forecast.draws
    d = prepare_draws(y, probs, labels=labels, name=forecast.source)
    reduce_draws(d, frozenset(), name=forecast.source)  # checks every row is a probability
    assert d.y_idx is not None
    with np.errstate(divide="ignore"):
        ll = np.log(true_class(np.asarray(d.values, dtype=np.float64), d.y_idx))
    dims = [dim for dim in probs.dims if dim != CLASS]
    shape = [probs.sizes[dim] for dim in dims]
    # A Bernoulli P(y = 1) has a class dim without a class coordinate (Bambi's ``p``).
    coords = {k: c for k, c in probs.coords.items() if CLASS not in c.dims and k != CLASS}
    return xr.DataArray(ll.reshape(shape), dims=dims, coords=coords)


def _draws_log_likelihood(draws: Any, y: Any, labels: Any) -> xr.DataArray:
    """``log p_sn(y_n)`` ``(chain, draw, obs)`` of draws (S, N, K), (C, D, N, K) or a DataArray."""
    if y is None:
        raise ValueError(
            "loo of posterior draws needs the training labels y= to score them (log p(y_n) "
            "per draw)."
        )
    d = prepare_draws(y, draws, labels=labels, name="draws")
    if d.n_draws < 2:
        raise ValueError(
            "loo needs posterior draws (chain, draw, obs, class); point probabilities have "
            "no posterior to leave a row out of."
        )
    reduce_draws(d, frozenset(), name="draws")  # checks every row is a probability
    assert d.y_idx is not None
    with np.errstate(divide="ignore"):
        ll = np.log(true_class(np.asarray(d.values, dtype=np.float64), d.y_idx))
    n_draws = d.n_draws // d.n_chains
    return xr.DataArray(ll.reshape(d.n_chains, n_draws, d.n_obs), dims=(CHAIN, DRAW, OBS))


def _with_log_likelihood(
    obj: Any, var_name: str | None = None, y: Any = None, labels: Any = None
) -> xr.DataTree:
    """A DataTree with a ``log_likelihood`` group: bayescore's own, or the model's."""
    idata = as_idata(obj)
    if _is_bayescore_fit(idata) and var_name is None and y is None:
        from bayescore.predictive import log_likelihood_draws

        ll = log_likelihood_draws(idata)
    elif is_tree(idata):
        ll = _external_log_likelihood(idata, var_name, y, labels)
    elif isinstance(obj, xr.DataArray | np.ndarray | list):
        # Posterior draws of the training rows' class probabilities, as score takes them.
        ll = _draws_log_likelihood(obj, y, labels)
        return xr.DataTree.from_dict({LOG_LIKELIHOOD: xr.Dataset({"y": ll})})
    else:
        raise TypeError(
            "loo needs a fitted bayescore estimator, an ArviZ DataTree (PyMC, Bambi) or "
            f"posterior draws of the training rows' probabilities; got {type(obj).__name__}."
        )
    groups = {LOG_LIKELIHOOD: xr.Dataset({"y": ll})}
    if has_group(idata, POSTERIOR):
        # A new tree sharing the posterior: no deep copy of the fit's groups.
        groups[POSTERIOR] = idata[POSTERIOR].to_dataset()
    return xr.DataTree.from_dict(groups)


def _training_data(estimator: Any) -> tuple[Any, np.ndarray]:
    """The rows a fitted bayescore estimator was trained on, from its ``constant_data``."""
    const = estimator.idata_[CONSTANT_DATA]
    X: Any = np.asarray(const["X"].values)
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        X = pd.DataFrame(X, columns=list(names))
    classes = np.asarray(const["classes"].values)
    y = classes[np.asarray(const["y_obs"].values, dtype=np.int64)]
    return X, y


def _refit_wrapper(estimator: Any, idata: xr.DataTree) -> Any:
    """An arviz-stats ``SamplingWrapper`` that refits a bayescore estimator without a row."""
    from arviz_stats.loo import SamplingWrapper
    from sklearn.base import clone

    X, y = _training_data(estimator)

    def rows(data: Any, keep: np.ndarray) -> Any:
        return data.iloc[keep] if hasattr(data, "iloc") else data[keep]

    class EstimatorRefits(SamplingWrapper):
        """Leave one row out, refit a clone, score the row under the refit's posterior."""

        def sel_observations(self, idx: Any) -> tuple[Any, Any]:
            keep = np.ones(y.size, dtype=bool)
            keep[int(idx)] = False
            return (rows(X, keep), y[keep]), (rows(X, ~keep), y[~keep])

        def sample(self, modified_observed_data: Any) -> Any:
            X_keep, y_keep = modified_observed_data
            if np.unique(y_keep).size < np.asarray(estimator.classes_).size:
                raise ValueError(
                    "loo(reloo=True) cannot leave out the only training row of a class: the "
                    "refit would not know that class. Use bayescore.cross_validate instead."
                )
            return clone(estimator).fit(X_keep, y_keep)

        def get_inference_data(self, fitted_model: Any) -> Any:
            return fitted_model

        def log_likelihood__i(self, excluded_obs: Any, idata__i: Any) -> xr.DataArray:
            X_i, y_i = excluded_obs
            draws = idata__i.predict_proba_draws(X_i)
            d = prepare_draws(y_i, draws, name="refit draws")
            assert d.y_idx is not None
            with np.errstate(divide="ignore"):
                ll = np.log(true_class(np.asarray(d.values, dtype=np.float64), d.y_idx))
            return xr.DataArray(
                ll.reshape(draws.sizes[CHAIN], draws.sizes[DRAW], 1), dims=(CHAIN, DRAW, OBS)
            )

    return EstimatorRefits(model=estimator, idata_orig=idata)


def _surface_pareto(elpd: Any, k_threshold: float) -> Any:
    k = np.asarray(elpd.pareto_k if elpd.pareto_k is not None else [], dtype=float)
    bad = int(np.sum(k > k_threshold))
    if bad:
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad} of {k.size} observations (Pareto k > "
            f"{k_threshold:.2f}): those points are highly influential. Pass reloo=True with "
            "a fitted bayescore estimator to refit them exactly, or trust K-fold "
            "cross_validate instead.",
            ParetoKWarning,
            stacklevel=user_stacklevel(),
        )
    return elpd


def _subsample_size(subsample: int | str | None, n_obs: int) -> int | None:
    if subsample is None:
        return None
    if isinstance(subsample, str):
        if subsample != "auto":
            raise ValueError(
                "The 'subsample' parameter of loo must be 'auto', None or an int >= 1. Got "
                f"{subsample!r} instead."
            )
        return SUBSAMPLE_SIZE if n_obs > SUBSAMPLE_N else None
    size = _SUBSAMPLE.check("subsample", subsample, "loo")
    return None if size >= n_obs else int(size)


_SUBSAMPLE = Interval(numbers.Integral, 1, None, "left")


@validate_params({"pointwise": Boolean(), "reloo": Boolean(), "k_threshold": _REAL})
def loo(
    estimator_or_idata: Any,
    *,
    var_name: str | None = None,
    y: Any = None,
    labels: Any = None,
    pointwise: bool = True,
    reloo: bool = False,
    k_threshold: float | None = None,
    subsample: int | str | None = "auto",
    random_seed: int = 0,
) -> Any:
    r"""PSIS-LOO, with exact refits, approximate-posterior weights and subsampling.

    .. math:: \widehat{\mathrm{elpd}}_\mathrm{loo} = \sum_i \log
              \frac{\sum_s w_{is}\, p(y_i \mid \theta_s)}{\sum_s w_{is}}

    with Pareto-smoothed weights :math:`w_{is}` of :math:`1/p(y_i \mid \theta_s)`, times
    :math:`p(\theta_s, y)/q(\theta_s)` for an approximate fit (Laplace, ADVI, single-path
    Pathfinder; see the user guide). A bayescore fit needs no PyMC round trip: the
    log-likelihood is computed here. Any other ArviZ DataTree gives its ``log_likelihood``
    group (PyMC's ``idata_kwargs={"log_likelihood": True}`` or
    ``pm.compute_log_likelihood``), or the class probabilities ``var_name`` of its
    ``posterior`` group scored at the training labels ``y`` (:math:`\log p_{sn}(y_n)`,
    labels matched by value; Bambi's Bernoulli ``p`` = :math:`P(y = 1)` without a class
    dim too).

    Parameters
    ----------
    estimator_or_idata : fitted bayescore estimator, DataTree or posterior draws
        Posterior draws of the *training* rows' class probabilities (``(S, N, K)``,
        ``(C, D, N, K)`` or a DataArray ``(chain, draw, obs, class)``) need ``y=``; without
        a posterior group the draws are taken as independent (``r_eff = 1``).
    var_name : str, optional
        A variable of the ``log_likelihood`` group, or of class probabilities in
        ``posterior`` (e.g. Bambi's ``"p"``); default the single ``log_likelihood``
        variable.
    y : array-like of shape (n_obs,), optional
        Training labels, needed with a probability variable.
    labels : array-like, optional
        Class order of the probabilities, when their class dim has no labels.
    pointwise : bool, default True
        Keep the per-observation elpd and Pareto k.
    reloo : bool, default False
        Refit the rows whose Pareto k exceeds ``k_threshold`` exactly: one fit of a clone
        of the estimator (same parameters) per such row, on the training rows minus that
        one, stored with the fit. Needs a fitted bayescore estimator; not with a subsample.
    k_threshold : float, optional
        Pareto k above which a row is refitted (``reloo=True``) or warned about. Default:
        the sample-size dependent threshold ``good_k`` :math:`= \min(1 - 1/\log_{10} S,
        0.7)` of Vehtari et al. (2024) and arviz-stats (0.7 from about 2,000 draws on; 0.57
        for 200 draws, where the Pareto fit has fewer tail draws to go on).
    subsample : "auto", int or None, default "auto"
        Pareto-smooth only this many randomly chosen rows and estimate the total by the
        difference estimator; ``"auto"``: 2,000 rows when there are more than 100,000
        (``SUBSAMPLE_N``), else all rows; None: never.
    random_seed : int, default 0
        Seed of the subsample.

    Returns
    -------
    arviz_stats.ELPDData
        ``elpd`` (expected log pointwise predictive density, higher is better), ``se``,
        ``p`` (effective number of parameters), ``elpd_i`` and ``pareto_k`` per observation
        (k = 0 for refitted rows), ``good_k``, ``approx_posterior`` (True when the
        :math:`p/q` weights were used); and two attributes set here: ``refitted`` (int
        array of the obs positions refitted exactly) and ``loo_method`` (``"psis"``,
        ``"psis-approximate"``, ``"psis-subsample"`` or ``"psis-approximate-subsample"``).
        Rows left above ``k_threshold`` raise a :class:`ParetoKWarning` in plain words.

    Raises
    ------
    TypeError
        ``reloo=True`` without a fitted bayescore estimator.
    ValueError
        ``reloo=True`` with a subsampled LOO; a ``subsample`` that is not "auto", None or an
        int >= 1; fewer than 25 posterior draws (PSIS cannot smooth so few), or a
        log-likelihood PSIS cannot use (draws that never move).

    See Also
    --------
    bayescore.nll_crosscheck : LOO against K-fold and a test set, with the refits.

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] + rng.logistic(size=200) > 0).astype(int)
    >>> clf = bs.BayesianLogisticClassifier(method="laplace", draws=400).fit(X, y)
    >>> result = bs.loo(clf, reloo=True)
    >>> result.loo_method, result.refitted.tolist(), bool(result.elpd < 0)
    ('psis-approximate', [], True)
    """
    return _loo(
        estimator_or_idata,
        var_name=var_name,
        y=y,
        labels=labels,
        pointwise=pointwise,
        reloo=reloo,
        k_threshold=k_threshold,
        subsample=subsample,
        random_seed=random_seed,
    )


def _loo(
    estimator_or_idata: Any,
    *,
    var_name: str | None = None,
    y: Any = None,
    labels: Any = None,
    pointwise: bool = True,
    reloo: bool = False,
    k_threshold: float | None = None,
    subsample: int | str | None = "auto",
    random_seed: int = 0,
    name: str = "this fit",
) -> Any:
    """:func:`loo`, its errors naming the fit as ``name``."""
    import arviz_stats

    is_estimator = hasattr(estimator_or_idata, "predict_proba_draws") and hasattr(
        estimator_or_idata, "get_params"
    )
    if reloo and not is_estimator:
        raise TypeError(
            "loo(reloo=True) refits rows exactly, which needs a fitted bayescore estimator "
            f"(its parameters and training rows); got {type(estimator_or_idata).__name__}. "
            "Pass the estimator, or reloo=False."
        )
    idata = _with_log_likelihood(estimator_or_idata, var_name, y, labels)
    _check_loo_draws(idata, name)
    n_obs = int(idata[LOG_LIKELIHOOD]["y"].sizes[OBS])
    size = _subsample_size(subsample, n_obs)
    if reloo and size is not None:
        raise ValueError(
            f"loo(reloo=True) refits rows of the full PSIS-LOO, but subsample={subsample!r} "
            f"asks for a subsampled LOO of {size} of {n_obs} rows. Pass subsample=None to "
            "refit, or reloo=False."
        )
    ratios = None
    source = as_idata(estimator_or_idata)
    if _is_bayescore_fit(source) and var_name is None and y is None:
        from bayescore.inference.importance import log_ratios

        ratios = log_ratios(source)
    method = "psis" if ratios is None else "psis-approximate"
    refitted = np.zeros(0, dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's k warning, re-said below
        with _plainly():
            result = _psis(idata, ratios, size, random_seed)
        threshold = float(result.good_k) if k_threshold is None else float(k_threshold)
        if reloo:
            refitted = np.flatnonzero(np.asarray(result.pareto_k.values) > threshold)
            if refitted.size:
                result = arviz_stats.reloo(
                    _refit_wrapper(estimator_or_idata, idata),
                    loo_orig=result,
                    k_threshold=threshold,
                    pointwise=True,
                )
    if size is not None:
        method += "-subsample"
    result.refitted = refitted
    result.loo_method = method
    _surface_pareto(result, threshold)
    if not pointwise:
        result.elpd_i = None
        result.pareto_k = None
    return result


def _psis(idata: xr.DataTree, ratios: xr.DataArray | None, size: int | None, seed: int) -> Any:
    """arviz-stats' PSIS-LOO of ``idata``: subsampled, weighted by ``p/q``, or plain."""
    import arviz_stats

    if size is not None:
        extra: dict[str, Any] = {}
        if ratios is not None:
            extra = {"log_p": ratios, "log_q": xr.zeros_like(ratios)}
        if not has_group(idata, POSTERIOR):
            extra["reff"] = 1.0
        return arviz_stats.loo_subsample(idata, size, pointwise=True, seed=seed, **extra)
    if ratios is not None:
        # Only log p - log q enters the weights: passing it as log_p with log_q = 0 is
        # exact, and log_ratios needs no second density evaluation.
        return arviz_stats.loo_approximate_posterior(
            idata, log_p=ratios, log_q=xr.zeros_like(ratios), pointwise=True
        )
    if has_group(idata, POSTERIOR):
        return arviz_stats.loo(idata, pointwise=True)
    # No posterior to estimate the draws' relative efficiency from (a log-likelihood group
    # or draws alone): r_eff = 1, the draws taken as independent.
    return arviz_stats.loo(idata, pointwise=True, reff=1.0)


@dataclass(frozen=True)
class WAIC:
    """Widely applicable information criterion on the log score (higher ``elpd`` is better).

    Attributes
    ----------
    elpd, se : float
        ``lppd - p`` and the SE of its pointwise terms (``sd * sqrt(N)``, as ArviZ).
    p : float
        Effective number of parameters: the summed posterior variance of the log-likelihood.
    elpd_i : DataArray over ``obs``
    warning : bool
        True when some pointwise variance exceeds 0.4 (Vehtari, Gelman & Gabry 2017).
    """

    elpd: float
    se: float
    p: float
    elpd_i: xr.DataArray
    warning: bool


def waic(estimator_or_idata: Any) -> WAIC:
    r"""WAIC from bayescore's own pointwise log-likelihood (see :func:`loo`).

    .. math:: \mathrm{elpd}_\mathrm{WAIC} = \sum_n \Big[\log \frac1S \sum_s
              p(y_n \mid \theta_s) - \mathrm{Var}_s \log p(y_n \mid \theta_s)\Big]

    ArviZ 1.x dropped WAIC in favour of PSIS-LOO, which is more reliable; it is kept here
    for comparison with published results.
    """
    from bayescore.predictive import log_likelihood_draws

    ll = log_likelihood_draws(as_idata(estimator_or_idata))
    values = ll.values.reshape(-1, ll.sizes[OBS])
    lppd_i = log_mean_exp(values, axis=0)
    var_i = values.var(axis=0, ddof=1)
    elpd_i = lppd_i - var_i
    return WAIC(
        elpd=float(elpd_i.sum()),
        se=float(elpd_i.std(ddof=0) * np.sqrt(elpd_i.size)),
        p=float(var_i.sum()),
        elpd_i=xr.DataArray(elpd_i, dims=(OBS,), coords={OBS: ll[OBS].values}, name="elpd_i"),
        warning=bool((var_i > 0.4).any()),
    )


def loo_compare(models: dict[str, Any]) -> Any:
    """Compare fitted models by PSIS-LOO with arviz-stats' ``compare``.

    The models must be fitted to the same training rows. Each model's LOO is
    :func:`loo`'s (approximate fits weighted by :math:`p/q`). Returns arviz-stats' DataFrame
    (rank, elpd, p, elpd difference with its paired SE ``dse``, ``p_worse``, weight,
    warnings).
    """
    import arviz_stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's own k warning, re-said below
        # Each model's LOO as loo() computes it: p/q weights for approximate fits.
        data = {
            name: _loo(m, subsample=None, name=f"model {name!r}") for name, m in models.items()
        }
        table = arviz_stats.compare(data)
    flagged = [str(n) for n in table.index[table["diag_elpd"].astype(str).str.len() > 0]]
    if flagged:
        warnings.warn(
            f"LOO is unreliable for model(s) {flagged} (high Pareto k): prefer K-fold "
            "cross_validate for these.",
            ParetoKWarning,
            stacklevel=user_stacklevel(),
        )
    return table
