r"""Fit a model: NUTS (PyMC, nutpie or numpyro) or ADVI (mean-field, full-rank, minibatch).

``fit`` returns an :class:`xarray.DataTree` (ArviZ 1.x). ADVI fits add a ``variational`` group with
the ELBO history and the final ELBO split into its two parts,

.. math::

    \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)] - \mathrm{KL}(q \,\|\, p),

with the KL in closed form when q and the prior are Gaussian (mean-field or full-rank q,
Normal priors) and a Monte Carlo estimate otherwise.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from bayescore._families import family
from bayescore._names import (
    ATTR_FREE_VARS,
    ATTR_KIND,
    ATTR_METHOD,
    ATTR_SAMPLING_TIME,
    ATTR_SETTINGS,
    CLASS,
    CONSTANT_DATA,
    FEATURE,
    ITERATION,
    OBS,
    OBSERVED_DATA,
    POSTERIOR,
    SAMPLE_STATS,
    VARIATIONAL,
    has_group,
)
from bayescore._pymc import import_pymc, quiet_pymc
from bayescore._validation import check_choice, check_int, check_positive
from bayescore.models import ModelSpec, build_from_spec, model_spec

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["ELBOParts", "METHODS", "SAMPLERS", "elbo_parts", "fit"]

#: Extras that provide each NUTS backend.
SAMPLERS = {"pymc": None, "nutpie": "nutpie", "numpyro": "numpyro"}


def _fit_nuts(
    model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    sampler: str = "pymc",
    target_accept: float = 0.8,
    cores: int | None = None,
    **kwargs: Any,
) -> xr.DataTree:
    pm = import_pymc()
    check_choice("sampler", sampler, SAMPLERS, "fit")
    module = SAMPLERS[sampler]
    if module is not None and importlib.util.find_spec(module) is None:
        raise ImportError(
            f"sampler={sampler!r} needs the {module!r} package, which is not installed. "
            "Install the fast backends with `pip install 'bayescore[fast]'`, or use "
            "sampler='pymc' or sampler='nutpie'."
        )
    check_int("draws", draws, min_value=1, func="fit")
    check_int("tune", tune, min_value=0, func="fit")
    check_int("chains", chains, min_value=1, func="fit")
    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=chains if cores is None else cores,
            random_seed=random_seed,
            target_accept=target_accept,
            nuts_sampler=sampler,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
    return idata


@dataclass(frozen=True)
class ELBOParts:
    """The final ELBO and its decomposition ``elbo = expected_log_likelihood - kl``.

    Attributes
    ----------
    elbo, expected_log_likelihood, kl : float
        In nats, summed over observations (full data, also for minibatch fits).
    kl_method : {"closed_form", "monte_carlo", "undefined (flat prior)"}
    mc_se : float
        Monte Carlo standard error of ``expected_log_likelihood`` (and of a Monte Carlo KL).
    n_mc : int
        Draws from q used for the expectations.
    """

    elbo: float
    expected_log_likelihood: float
    kl: float
    kl_method: str
    mc_se: float
    n_mc: int


def _q_moments(approx: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the Gaussian q over the flat unconstrained parameters."""
    mean = np.asarray(approx.mean.eval(), dtype=np.float64)
    if hasattr(approx, "L"):
        L = np.asarray(approx.L.eval(), dtype=np.float64)
        return mean, L @ L.T
    std = np.asarray(approx.std.eval(), dtype=np.float64)
    return mean, np.diag(std**2)


def _gaussian_prior_sd(spec: ModelSpec | None, ordering: dict) -> np.ndarray | None:
    """Prior sd per flat coordinate when every prior is a proper, untransformed Normal."""
    if spec is None or not family(spec.kind).closed_form_kl(spec):
        return None
    size = sum(info[1].stop - info[1].start for info in ordering.values())
    sd = np.empty(size)
    for name, info in ordering.items():
        scale = spec.intercept_prior_scale if name.startswith("intercept") else spec.prior_scale
        sd[info[1]] = scale
    return sd


def _kl_gaussian(mean: np.ndarray, cov: np.ndarray, prior_sd: np.ndarray) -> float:
    """KL(N(mean, cov) || N(0, diag(prior_sd**2))) in closed form."""
    d = mean.size
    prior_var = prior_sd**2
    _, logdet_cov = np.linalg.slogdet(cov)
    return 0.5 * float(
        np.sum(np.diag(cov) / prior_var)
        + np.sum(mean**2 / prior_var)
        - d
        + np.sum(np.log(prior_var))
        - logdet_cov
    )


def elbo_parts(
    approx: Any,
    model: pm.Model,
    *,
    n_mc: int = 1000,
    kl: str = "auto",
    random_seed: int | None = None,
) -> ELBOParts:
    r"""Split the ELBO of a Gaussian approximation into expected log-likelihood and KL.

    .. math::

        \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)]
        - \mathrm{KL}(q(\theta) \,\|\, p(\theta))

    Parameters
    ----------
    approx : pymc.variational.approximations.MeanField or FullRank
        A fitted approximation of ``model``'s posterior.
    model : pymc.Model
        The full-data model (for minibatch fits, the model built without ``batch_size``).
    n_mc : int, default 1000
        Draws from q for the Monte Carlo expectations.
    kl : {"auto", "closed_form", "monte_carlo"}
        ``auto`` uses the closed form when q and the prior are both Gaussian.
    random_seed : int, optional

    Returns
    -------
    ELBOParts
    """
    check_choice("kl", kl, ("auto", "closed_form", "monte_carlo"), "elbo_parts")
    check_int("n_mc", n_mc, min_value=2, func="elbo_parts")
    group = approx.groups[0]
    ordering = [(name, info[1], info[2]) for name, info in group.ordering.items()]
    mean, cov = _q_moments(approx)
    rng = np.random.default_rng(random_seed)
    z = rng.multivariate_normal(mean, cov, size=n_mc, method="cholesky")

    def as_point(flat: np.ndarray) -> dict[str, np.ndarray]:
        return {name: flat[where].reshape(shape) for name, where, shape in ordering}

    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    loglik_fn = model.compile_fn(
        model.logp(vars=model.observed_RVs, sum=True), inputs=value_vars, on_unused_input="ignore"
    )
    loglik = np.array([loglik_fn(as_point(zi)) for zi in z], dtype=np.float64)
    expected_ll = float(loglik.mean())
    ll_se = float(loglik.std(ddof=1) / np.sqrt(n_mc))

    spec = model_spec(model)
    if spec is not None and spec.flat_intercept:
        # KL to an improper flat prior is not defined: report NaN rather than a number.
        return ELBOParts(np.nan, expected_ll, np.nan, "undefined (flat prior)", ll_se, n_mc)
    prior_sd = _gaussian_prior_sd(spec, group.ordering)
    if kl == "closed_form" and prior_sd is None:
        raise ValueError(
            "kl='closed_form' needs Normal priors on every free variable (no Student-t, flat "
            "or zero-sum priors); use kl='monte_carlo'."
        )
    if kl != "monte_carlo" and prior_sd is not None:
        kl_value, kl_method, kl_se = _kl_gaussian(mean, cov, prior_sd), "closed_form", 0.0
    else:
        from scipy.stats import multivariate_normal

        logprior_fn = model.compile_fn(
            model.logp(vars=model.free_RVs, jacobian=True, sum=True),
            inputs=value_vars,
            on_unused_input="ignore",
        )
        logq = multivariate_normal(mean=mean, cov=cov, allow_singular=True).logpdf(z)
        logp = np.array([logprior_fn(as_point(zi)) for zi in z], dtype=np.float64)
        diff = np.atleast_1d(logq) - logp
        kl_value, kl_method = float(diff.mean()), "monte_carlo"
        kl_se = float(diff.std(ddof=1) / np.sqrt(n_mc))
    return ELBOParts(
        elbo=expected_ll - kl_value,
        expected_log_likelihood=expected_ll,
        kl=kl_value,
        kl_method=kl_method,
        mc_se=float(np.hypot(ll_se, kl_se)),
        n_mc=n_mc,
    )


class _ELBOConvergence:
    """Stop ADVI when the windowed mean loss stops improving, then average the iterates.

    Every ``window`` iterations the mean loss (negative ELBO) of the last window is compared
    with the previous window's. The ELBO has flattened when the change is below ``tol``
    relative to its size, or below one standard error of the difference of the two window
    means (minibatch gradients make the loss so noisy that a relative rule alone would never
    fire). After two such checks in a row the optimiser has reached its noise floor: it runs
    ``window`` more iterations and replaces the parameters by their average
    (Polyak-Ruppert averaging), which removes most of the jitter that a constant step
    leaves in the means.
    """

    def __init__(self, window: int, tol: float) -> None:
        self.window = window
        self.tol = tol
        self.calm_checks = 0
        self.converged_at: int | None = None
        self.rel_change = np.nan
        self._sums: list[np.ndarray] | None = None
        self._n_avg = 0

    def __call__(self, approx: Any, losses: np.ndarray, i: int) -> None:
        if self.converged_at is not None:
            values = [p.get_value() for p in approx.params]
            if self._sums is None:
                self._sums = [v.copy() for v in values]
            else:
                for acc, v in zip(self._sums, values, strict=True):
                    acc += v
            self._n_avg += 1
            if self._n_avg >= self.window:
                raise StopIteration(f"ELBO converged at iteration {self.converged_at}")
            return
        w = self.window
        if len(losses) < 2 * w or len(losses) % w:
            return
        current, previous = losses[-w:], losses[-2 * w : -w]
        change = abs(current.mean() - previous.mean())
        noise = np.sqrt((current.var() + previous.var()) / w)
        self.rel_change = float(change / max(abs(current.mean()), 1e-12))
        flat = self.rel_change < self.tol or change < noise
        self.calm_checks = self.calm_checks + 1 if flat else 0
        if self.calm_checks >= 2:
            self.converged_at = i

    def apply_average(self, approx: Any) -> None:
        """Set the approximation's parameters to the averaged iterates."""
        if self._sums is None or self._n_avg == 0:
            return
        for p, acc in zip(approx.params, self._sums, strict=True):
            p.set_value((acc / self._n_avg).astype(p.dtype))


def _fit_vi(
    model: pm.Model,
    *,
    method: str,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    max_iter: int = 50_000,
    learning_rate: float | None = None,
    tol: float = 1e-4,
    window: int = 500,
    batch_size: int | None = None,
    obj_n_mc: int = 1,
    n_mc: int = 1000,
    **kwargs: Any,
) -> xr.DataTree:
    # tune and chains belong to NUTS: ADVI has one optimisation run and one set of draws.
    del tune, chains
    pm = import_pymc()
    check_int("draws", draws, min_value=1, func="fit")
    check_int("max_iter", max_iter, min_value=1, func="fit")
    check_int("window", window, min_value=10, func="fit")
    if learning_rate is None:
        # Minibatch gradients are noisier: a smaller step keeps the averaged iterates close.
        learning_rate = 0.02 if batch_size is None else 0.01
    check_positive("learning_rate", learning_rate, func="fit")
    check_positive("tol", tol, func="fit")
    spec = model_spec(model)
    fit_model = model
    if batch_size is not None:
        check_int("batch_size", batch_size, min_value=1, func="fit")
        if spec is None:
            raise ValueError(
                "batch_size= needs a model made by bayescore.build_model (it rebuilds the "
                "likelihood with pm.Minibatch); for your own model, build it with pm.Minibatch."
            )
        fit_model = build_from_spec(spec, batch_size=batch_size)
    inference_cls = {"advi": pm.ADVI, "fullrank_advi": pm.FullRankADVI}[method]
    stopper = _ELBOConvergence(window=window, tol=tol)
    with fit_model:
        inference = inference_cls(random_seed=random_seed)
        # Adam with a moderate constant step reaches the noise floor in a few thousand
        # steps on standardised features; PyMC's default (adagrad_window, lr 1e-3) needed
        # more than 20 000 on a 5 000-row problem. Iterate averaging then removes the jitter.
        approx = inference.fit(
            n=max_iter,
            obj_optimizer=pm.adam(learning_rate=learning_rate),
            obj_n_mc=obj_n_mc,
            callbacks=[stopper],
            progressbar=progressbar,
            **kwargs,
        )
    stopper.apply_average(approx)
    with fit_model:
        idata = approx.sample(draws, random_seed=random_seed, return_inferencedata=True)
    if batch_size is not None:
        # Minibatch graphs carry no full observed data; record the training data instead.
        idata = _replace_data_groups(idata, spec)
    parts = elbo_parts(approx, model, n_mc=n_mc, random_seed=random_seed)
    history = -np.asarray(inference.hist, dtype=np.float64)
    variational = xr.Dataset(
        {
            "elbo_history": ((ITERATION,), history),
            "elbo": parts.elbo,
            "expected_log_likelihood": parts.expected_log_likelihood,
            "kl": parts.kl,
            "mc_se": parts.mc_se,
        },
        coords={ITERATION: np.arange(1, history.size + 1)},
        attrs={
            "method": method,
            "converged": int(stopper.converged_at is not None),
            "converged_at": -1 if stopper.converged_at is None else int(stopper.converged_at),
            "n_iterations": int(history.size),
            "relative_change": stopper.rel_change,
            "tol": tol,
            "window": window,
            "learning_rate": learning_rate,
            "optimizer": "adam",
            "batch_size": -1 if batch_size is None else int(batch_size),
            "kl_method": parts.kl_method,
            "n_mc": parts.n_mc,
        },
    )
    idata[VARIATIONAL] = xr.DataTree(variational)
    return idata


def _replace_data_groups(idata: xr.DataTree, spec: ModelSpec) -> xr.DataTree:
    idata[OBSERVED_DATA] = xr.DataTree(xr.Dataset({"y": ((OBS,), spec.y)}))
    idata[CONSTANT_DATA] = xr.DataTree(
        xr.Dataset(
            {
                "X": ((OBS, FEATURE), spec.X),
                "x_mean": ((FEATURE,), spec.standardization.mean),
                "x_scale": ((FEATURE,), spec.standardization.scale),
            },
            coords={OBS: np.arange(spec.X.shape[0]), FEATURE: spec.feature_names},
        )
    )
    return idata


METHODS: dict[str, Callable[..., Any]] = {
    "nuts": _fit_nuts,
    "advi": functools.partial(_fit_vi, method="advi"),
    "fullrank_advi": functools.partial(_fit_vi, method="fullrank_advi"),
}


def _attach_metadata(
    idata: xr.DataTree, model: pm.Model, method: str, seconds: float
) -> xr.DataTree:
    spec = model_spec(model)
    attrs = {
        ATTR_METHOD: method,
        ATTR_SAMPLING_TIME: float(seconds),
        # Diagnostics look at these only: deterministics (e.g. the reference class's fixed
        # zeros) have no between-chain variance to judge.
        ATTR_FREE_VARS: json.dumps([rv.name for rv in model.free_RVs]),
    }
    if spec is not None:
        attrs[ATTR_KIND] = spec.kind
        attrs[ATTR_SETTINGS] = json.dumps(spec.settings())
        const = idata[CONSTANT_DATA].to_dataset()
        idata[CONSTANT_DATA] = xr.DataTree(const.assign({"classes": ((CLASS,), spec.classes)}))
    for group in (POSTERIOR, SAMPLE_STATS, CONSTANT_DATA):
        if has_group(idata, group):
            idata[group].attrs.update(attrs)
    return idata


def fit(
    model: pm.Model,
    method: str = "nuts",
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int | None = None,
    progressbar: bool = False,
    warn: bool = True,
    **kwargs: Any,
) -> xr.DataTree:
    """Fit a model by NUTS or ADVI and return an :class:`xarray.DataTree` (ArviZ 1.x).

    Parameters
    ----------
    model : pymc.Model
        Usually from :func:`bayescore.build_model`; any PyMC model works for NUTS and
        full-data ADVI.
    method : {"nuts", "advi", "fullrank_advi"}, default "nuts"
    draws : int, default 1000
        Posterior draws per chain (NUTS) or draws from q (ADVI, one chain).
    tune : int, default 1000
        NUTS tuning steps per chain (ignored by ADVI).
    chains : int, default 2
        NUTS chains (ignored by ADVI).
    random_seed : int, optional
        The same seed gives the same draws, for NUTS and ADVI.
    progressbar : bool, default False
    warn : bool, default True
        Run :func:`bayescore.diagnose` and emit one
        :class:`~bayescore.diagnostics.ConvergenceWarning` summarising failed checks.
    **kwargs
        NUTS: ``sampler`` ("pymc", "nutpie", "numpyro"), ``target_accept`` (0.8, as PyMC),
        ``cores`` (default: one per chain), other ``pm.sample`` arguments.
        ADVI: ``max_iter`` (50 000), ``learning_rate`` (Adam step; 0.02, or 0.01 with
        ``batch_size``), ``tol`` (1e-4 relative
        change of the windowed mean ELBO), ``window`` (500), ``batch_size`` (minibatch size
        for large N), ``obj_n_mc`` (1), ``n_mc`` (1000 draws for the ELBO split).

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats`` (NUTS), ``observed_data`` (``y`` as class indices),
        ``constant_data`` (``X``, ``x_mean``, ``x_scale``, ``classes``); ADVI adds a
        ``variational`` group with ``elbo_history`` and the final ``elbo``,
        ``expected_log_likelihood`` and ``kl``. Attributes ``bayescore_kind``,
        ``bayescore_method`` and ``sampling_time`` (seconds) are set on the groups.

    See Also
    --------
    bayescore.build_model, bayescore.diagnose

    Examples
    --------
    >>> import numpy as np, bayescore as bs
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    >>> idata = bs.fit(bs.build_model(X, y), draws=100, tune=100, random_seed=1, warn=False)
    >>> idata.posterior["coef"].dims
    ('chain', 'draw', 'feature')
    """
    check_choice("method", method, METHODS, "fit")
    start = time.perf_counter()
    fitter = METHODS[method]
    with quiet_pymc(not progressbar):
        idata = fitter(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            **kwargs,
        )
    idata = _attach_metadata(idata, model, method, time.perf_counter() - start)
    if warn:
        from bayescore.diagnostics import warn_if_failed

        warn_if_failed(idata)
    return idata
