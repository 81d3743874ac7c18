r"""``fit``: one entry for every method, its options checked once at the boundary.

Each method is a :class:`Method` of :data:`METHODS`: its options dataclass (the keywords it
accepts, with their defaults and rules: :mod:`bayescore.inference.options`) and the function
that runs it. :func:`fit` validates the shared settings and the method's options, runs it,
and stamps the result with what made it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import xarray as xr

from bayescore._names import (
    ATTR_AUTO,
    ATTR_FREE_VARS,
    ATTR_KIND,
    ATTR_METHOD,
    ATTR_SAMPLING_TIME,
    ATTR_SETTINGS,
    CLASS,
    CONSTANT_DATA,
    POSTERIOR,
    SAMPLE_STATS,
    has_group,
)
from bayescore._progress import reporting
from bayescore._progress import resolve as resolve_progress
from bayescore._pymc import quiet_pymc
from bayescore._validation import Options
from bayescore.inference.advi import AdviOptions, FullRankAdviOptions, fit_advi_fixed
from bayescore.inference.auto import AutoOptions, fit_auto
from bayescore.inference.cluster import DASK_METHODS
from bayescore.inference.laplace import LaplaceOptions, fit_laplace
from bayescore.inference.nuts import NutsOptions, fit_nuts
from bayescore.inference.options import FitSettings, MethodOptions
from bayescore.inference.pathfinder import PathfinderOptions, fit_pathfinder
from bayescore.inference.threads import one_blas_thread
from bayescore.models import ModelSpec, free_names, model_spec, pymc_model

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["METHODS", "Method", "fit", "method_options", "run"]


def _closed_form_spec(model: pm.Model | ModelSpec, method: str) -> ModelSpec:
    """The model's specification, when bayescore's closed-form posterior covers it."""
    spec = model_spec(model)
    if spec is None or not spec.closed_form:
        raise ValueError(
            f"method={method!r} needs a logistic or reference-coded softmax model from "
            "bayescore.build_model; use method='fullrank_advi' or 'nuts' for this one."
        )
    return spec


def _laplace(
    model: pm.Model | ModelSpec, settings: FitSettings, options: MethodOptions
) -> xr.DataTree:
    assert isinstance(options, LaplaceOptions)
    tree, _ = fit_laplace(_closed_form_spec(model, "laplace"), settings, options)
    return tree


def _pathfinder(
    model: pm.Model | ModelSpec, settings: FitSettings, options: MethodOptions
) -> xr.DataTree:
    assert isinstance(options, PathfinderOptions)
    return fit_pathfinder(_closed_form_spec(model, "pathfinder"), settings, options)


def _auto(
    model: pm.Model | ModelSpec, settings: FitSettings, options: MethodOptions
) -> xr.DataTree:
    assert isinstance(options, AutoOptions)
    tree, _ = fit_auto(model, settings, options)
    return tree


def _nuts(
    model: pm.Model | ModelSpec, settings: FitSettings, options: MethodOptions
) -> xr.DataTree:
    assert isinstance(options, NutsOptions)
    return fit_nuts(model, settings, options)


def _advi(
    model: pm.Model | ModelSpec, settings: FitSettings, options: MethodOptions
) -> xr.DataTree:
    """ADVI: fixed-draw L-BFGS in numpy where it applies, PyMC's stochastic gradients else."""
    assert isinstance(options, AdviOptions)
    full_rank = isinstance(options, FullRankAdviOptions)
    method = options.method
    spec = model_spec(model)
    stochastic_options = options.passed("stochastic")
    stochastic = options.stochastic
    if stochastic is None:
        # The deterministic objective needs the closed-form posterior and all the data;
        # options of the stochastic optimiser ask for that route.
        stochastic = spec is None or not spec.closed_form or bool(stochastic_options)
    if stochastic and spec is not None and spec.distributed:
        raise ValueError(
            f"{stochastic_options or ['stochastic']} ask for PyMC's stochastic ADVI, which "
            "does not run on a Dask X; ADVI on fixed draws does: drop them."
        )
    if stochastic:
        if options.n_points is not None:
            raise ValueError("n_points= sets the fixed draws of stochastic=False ADVI.")
        from bayescore.inference.advi_pymc import fit_stochastic

        return fit_stochastic(pymc_model(model), settings, options, full_rank=full_rank)
    if stochastic_options:
        raise ValueError(
            f"{stochastic_options} set the stochastic optimiser; drop them or pass "
            "stochastic=True."
        )
    return fit_advi_fixed(_closed_form_spec(model, method), settings, options, full_rank=full_rank)


@dataclass(frozen=True)
class Method:
    """A fitting method: the options it accepts and the function that runs it."""

    options: type[MethodOptions]
    run: Callable[[pm.Model | ModelSpec, FitSettings, MethodOptions], xr.DataTree]


#: The registry of methods, by name.
METHODS: dict[str, Method] = {
    "auto": Method(AutoOptions, _auto),
    "nuts": Method(NutsOptions, _nuts),
    "advi": Method(AdviOptions, _advi),
    "fullrank_advi": Method(FullRankAdviOptions, _advi),
    "laplace": Method(LaplaceOptions, _laplace),
    "pathfinder": Method(PathfinderOptions, _pathfinder),
}


def _attach_metadata(
    idata: xr.DataTree, model: pm.Model | ModelSpec, method: str, seconds: float
) -> xr.DataTree:
    spec = model_spec(model)
    attrs: dict[str, object] = {
        ATTR_METHOD: method,
        ATTR_SAMPLING_TIME: float(seconds),
        # Diagnostics look at these only: deterministics (e.g. the reference class's fixed
        # zeros) have no between-chain variance to judge.
        ATTR_FREE_VARS: json.dumps(free_names(model)),
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


@one_blas_thread
def run(
    model: pm.Model | ModelSpec,
    method: str,
    settings: FitSettings,
    options: MethodOptions,
    *,
    warn: bool = True,
) -> xr.DataTree:
    """Run a method whose settings and options are already checked (the estimators' path).

    Methods that cannot run on a Dask X (NUTS, stochastic ADVI) refuse it here, saying
    which do.

    BLAS runs on one thread meanwhile (:mod:`bayescore.inference.threads`): the engine's
    products are many and mid-sized, and on a busy machine OpenBLAS's threads made a
    Hessian 50 times slower.
    """
    spec = model_spec(model)
    if spec is not None and spec.distributed and method not in DASK_METHODS:
        raise ValueError(
            f"method={method!r} does not run on a Dask X: NUTS needs thousands of sequential "
            "gradients, and each would be a round trip to the cluster. Use one of "
            f"{list(DASK_METHODS)} (map-reduce over the partitions), or X.compute() when X "
            "fits in memory."
        )
    start = time.perf_counter()
    with (
        quiet_pymc(not settings.progressbar),
        reporting(settings.progressbar, f"fit, method={method!r}"),
    ):
        idata = METHODS[method].run(model, settings, options)
    if method == "auto":  # the fit is the chosen method's: Laplace's or NUTS's
        method = json.loads(idata[POSTERIOR].attrs[ATTR_AUTO])["choice"]
    idata = _attach_metadata(idata, model, method, time.perf_counter() - start)
    if warn:
        from bayescore.diagnostics import warn_if_failed

        warn_if_failed(idata)
    return idata


def method_options(method: str, kwargs: Mapping[str, object], func: str = "fit") -> MethodOptions:
    """The checked options of ``method`` from a call's keywords."""
    Options(tuple(METHODS)).check("method", method, func)
    return METHODS[method].options.from_kwargs(kwargs, func)


def fit(
    model: pm.Model | ModelSpec,
    method: str = "auto",
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int | None = None,
    progressbar: bool | None = None,
    warn: bool = True,
    **kwargs: object,
) -> xr.DataTree:
    """Fit a model by NUTS, ADVI, Laplace or Pathfinder; return an :class:`xarray.DataTree`.

    Parameters
    ----------
    model : pymc.Model or ModelSpec
        Usually from :func:`bayescore.build_model`; any PyMC model works for NUTS and
        full-data ADVI. A :class:`~bayescore.models.ModelSpec` (from
        :func:`~bayescore.models.make_spec`) is fitted the same way, its PyMC model built
        only by the routes that run PyMC (the estimators pass one: the numpy routes then
        never build a graph).
    method : {"auto", "nuts", "advi", "fullrank_advi", "laplace", "pathfinder"}, default "auto"
        ``auto``: the Laplace approximation when its verdict says its draws are usable as
        they are (the posterior's means within 0.2 sd, sds within 0.8-1.25 times, checked
        by importance sampling), else NUTS warm-started from it; the choice and its reason
        are recorded (``bayescore_auto``) and the fit is the chosen method's.
        ``nuts``: NUTS sampling, exact up to Monte Carlo error; what the docs recommend
        for final, small-data analyses. ``laplace``: the Gaussian at the posterior mode
        with the inverse Hessian as its covariance. ``pathfinder``: the Gaussians along
        L-BFGS paths with the L-BFGS inverse Hessian as covariance, the one of largest ELBO
        per path, several paths pooled by Pareto-smoothed importance resampling (Zhang et
        al. 2022). Both are computed in numpy, without compiling the model, for logistic
        and reference-coded softmax models from :func:`bayescore.build_model`.
    draws : int, default 1000
        Posterior draws per chain (NUTS) or draws from the approximation (one chain).
    tune : int, default 1000
        NUTS tuning steps per chain (ignored by the approximations).
    chains : int, default 2
        NUTS chains (ignored by the approximations).
    random_seed : int, optional
        The same seed gives the same draws, in any process. An int in [0, 2**32 - 1].
    progressbar : bool or None, default None
        Show the sampler's (or optimiser's) progress; None shows it in an interactive
        terminal or a notebook and stays silent otherwise (scripts, pipes, CI).
    warn : bool, default True
        Run :func:`bayescore.diagnose` and emit one
        :class:`~bayescore.diagnostics.ConvergenceWarning` summarising failed checks.
    **kwargs
        The method's options; each method's table in the inference guide lists them with
        their defaults (they are the fields of :class:`~bayescore.inference.nuts.NutsOptions`,
        :class:`~bayescore.inference.advi.AdviOptions`,
        :class:`~bayescore.inference.laplace.LaplaceOptions`,
        :class:`~bayescore.inference.auto.AutoOptions` and
        :class:`~bayescore.inference.pathfinder.PathfinderOptions`). An unknown option
        raises ``ValueError`` naming it.

    Returns
    -------
    xarray.DataTree
        ``posterior``, ``sample_stats`` (NUTS), ``observed_data`` (``y`` as class indices),
        ``constant_data`` (``X``, ``x_mean``, ``x_scale``, ``classes``); approximations add
        a ``variational`` group with the final ``elbo``, ``expected_log_likelihood``,
        ``kl`` and ``pareto_k`` (ADVI also ``elbo_history``; Pathfinder per path
        ``path_elbo``, ``path_iteration``, ``path_n_iterations``, ``path_converged``).
        Attributes ``bayescore_kind``, ``bayescore_method`` and ``sampling_time`` (seconds)
        are set on the groups.

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
    options = method_options(method, kwargs)
    settings = FitSettings.checked(
        draws=draws,
        tune=tune,
        chains=chains,
        random_seed=random_seed,
        progressbar=resolve_progress(progressbar),
    )
    return run(model, method, settings, options, warn=warn)
