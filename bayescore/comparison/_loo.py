r"""PSIS-LOO and WAIC from bayescore's own pointwise log-likelihood, or any PyMC/Bambi result."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from bayescore._array.scores import log_mean_exp, true_class
from bayescore._datatree import LOG_LIK, is_tree, tree_forecast
from bayescore._inputs import prepare_draws, reduce_draws
from bayescore._names import (
    ATTR_KIND,
    CLASS,
    CONSTANT_DATA,
    LOG_LIKELIHOOD,
    OBS,
    POSTERIOR,
    as_idata,
    has_group,
)

__all__ = ["WAIC", "ParetoKWarning", "loo", "loo_compare", "waic"]


class ParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above 0.7)."""


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


def _psis_loo(idata: xr.DataTree, pointwise: bool) -> Any:
    """arviz-stats' PSIS-LOO, with draws checked first and its failures said plainly."""
    import arviz_stats

    _check_loo_draws(idata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's k warning, re-said below
        try:
            return arviz_stats.loo(idata, pointwise=pointwise)
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
    return xr.DataArray(ll.reshape(shape), dims=dims, coords=probs.drop_vars(CLASS).coords)


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
    else:
        raise TypeError(
            "loo needs a fitted bayescore estimator or an ArviZ DataTree (PyMC, Bambi); got "
            f"{type(obj).__name__}."
        )
    groups = {LOG_LIKELIHOOD: xr.Dataset({"y": ll})}
    if has_group(idata, POSTERIOR):
        # A new tree sharing the posterior: no deep copy of the fit's groups.
        groups[POSTERIOR] = idata[POSTERIOR].to_dataset()
    return xr.DataTree.from_dict(groups)


def _surface_pareto(elpd: Any) -> Any:
    k = np.asarray(getattr(elpd, "pareto_k", []))
    good_k = float(getattr(elpd, "good_k", 0.7))
    bad = int(np.sum(k > good_k))
    if bad:
        warnings.warn(
            f"PSIS-LOO is unreliable for {bad} of {k.size} observations (Pareto k > "
            f"{good_k:.2f}): those points are highly influential. Trust K-fold "
            "cross_validate instead, or refit without them to check.",
            ParetoKWarning,
            stacklevel=3,
        )
    return elpd


def loo(
    estimator_or_idata: Any,
    *,
    var_name: str | None = None,
    y: Any = None,
    labels: Any = None,
    pointwise: bool = True,
) -> Any:
    r"""PSIS-LOO from bayescore's own pointwise log-likelihood, or any PyMC/Bambi result.

    A bayescore fit needs no PyMC round trip: the log-likelihood is computed here. Any other
    ArviZ DataTree gives its ``log_likelihood`` group (PyMC's
    ``idata_kwargs={"log_likelihood": True}`` or ``pm.compute_log_likelihood``), or the
    class probabilities ``var_name`` of its ``posterior`` group scored at the training
    labels ``y`` (:math:`\log p_{sn}(y_n)`, labels matched by value).

    Parameters
    ----------
    estimator_or_idata : fitted bayescore estimator or DataTree
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

    Returns
    -------
    arviz_stats.ELPDData
        ``elpd`` (expected log pointwise predictive density, higher is better), ``se``,
        ``p`` (effective number of parameters), ``elpd_i`` and ``pareto_k`` per observation,
        ``good_k`` (the sample-size dependent Pareto k threshold). Observations above
        ``good_k`` raise a :class:`ParetoKWarning` in plain words.

    Raises
    ------
    ValueError
        Fewer than 25 posterior draws (PSIS cannot smooth so few), or a log-likelihood
        PSIS cannot use (draws that never move).
    """
    idata = _with_log_likelihood(estimator_or_idata, var_name, y, labels)
    return _surface_pareto(_psis_loo(idata, pointwise))


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

    The models must be fitted to the same training rows. Returns arviz-stats' DataFrame
    (rank, elpd, p, elpd difference with its paired SE ``dse``, ``p_worse``, weight,
    warnings).
    """
    import arviz_stats

    data = {name: _with_log_likelihood(m) for name, m in models.items()}
    for name, tree in data.items():
        _check_loo_draws(tree, f"model {name!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's own k warning, re-said below
        table = arviz_stats.compare(data)
    flagged = [str(n) for n in table.index[table["diag_elpd"].astype(str).str.len() > 0]]
    if flagged:
        warnings.warn(
            f"LOO is unreliable for model(s) {flagged} (high Pareto k): prefer K-fold "
            "cross_validate for these.",
            ParetoKWarning,
            stacklevel=2,
        )
    return table
