r"""Fit a model: NUTS (PyMC, nutpie, numpyro), ADVI (incl. minibatch), Laplace, Pathfinder.

``fit`` returns an :class:`xarray.DataTree` (ArviZ 1.x). Approximate fits add a
``variational`` group with the final ELBO split into its two parts (and ADVI's ELBO history),

.. math::

    \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)] - \mathrm{KL}(q \,\|\, p),

with the KL in closed form when q and the prior are Gaussian (Normal priors) and a Monte
Carlo estimate otherwise, and the Pareto k-hat of the importance ratios p/q that
:func:`bayescore.diagnose` judges them by.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import xarray as xr

from bayescore._approx import fit_advi_fixed, fit_laplace, fit_pathfinder
from bayescore._density import supports as supports_closed_form
from bayescore._names import (
    ATTR_FREE_VARS,
    ATTR_KIND,
    ATTR_METHOD,
    ATTR_SAMPLER,
    ATTR_SAMPLING_TIME,
    ATTR_SETTINGS,
    ATTR_WARM_START,
    CLASS,
    CONSTANT_DATA,
    POSTERIOR,
    SAMPLE_STATS,
    has_group,
)
from bayescore._nuts import prepare_warm_start, sample_nutpie, sample_pymc
from bayescore._progress import resolve as resolve_progress
from bayescore._pymc import import_pymc, quiet_pymc
from bayescore._validation import TARGET_ACCEPT, check_choice, check_int
from bayescore._vi import ELBOParts, elbo_parts, fit_vi
from bayescore.models import ModelSpec, free_names, model_spec, pymc_model

if TYPE_CHECKING:
    import pymc as pm

__all__ = ["ELBOParts", "METHODS", "SAMPLERS", "elbo_parts", "fit"]

#: NUTS backends and the package each needs ("auto": nutpie where the warm start applies).
SAMPLERS = {"auto": None, "pymc": None, "nutpie": "nutpie", "numpyro": "numpyro"}

#: ``pm.sample`` options that only PyMC's own route understands.
_PYMC_ONLY = frozenset(
    {
        "init",
        "initvals",
        "nuts_sampler_kwargs",
        "compile_kwargs",
        "mp_ctx",
        "discard_tuned_samples",
        "jitter_max_retries",
    }
)


def _fit_nuts(
    model: pm.Model | ModelSpec,
    *,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    sampler: str = "auto",
    target_accept: float = 0.8,
    cores: int | None = None,
    warm_start: bool = True,
    **kwargs: Any,
) -> xr.DataTree:
    pm = import_pymc()
    check_choice("sampler", sampler, SAMPLERS, "fit")
    module = SAMPLERS[sampler]
    if module is not None and importlib.util.find_spec(module) is None:
        raise ImportError(
            f"sampler={sampler!r} needs the {module!r} package, which is not installed. "
            "Install the fast backends with `pip install 'bayescore[fast]'`, or use "
            "sampler='auto', 'pymc' or 'nutpie'."
        )
    TARGET_ACCEPT.check("target_accept", target_accept, "fit")
    if cores is not None:
        check_int("cores", cores, min_value=1, func="fit")
    if not isinstance(warm_start, bool):
        raise TypeError(f"warm_start must be True or False; got {warm_start!r}.")
    # The warm start needs bayescore's closed-form posterior; options of pm.sample's own
    # initialisation, numpyro, or warm_start=False take PyMC's route, started cold.
    warm = None
    if warm_start and sampler != "numpyro" and not (_PYMC_ONLY & set(kwargs)):
        warm = prepare_warm_start(model_spec(model))
    if warm is not None:
        # sampler="auto" and "nutpie": nutpie on the compiled density; "pymc": PyMC's NUTS.
        backend = "pymc" if sampler == "pymc" else "nutpie"
        runner: Callable[..., xr.DataTree] = sample_pymc if backend == "pymc" else sample_nutpie
        idata = runner(
            pymc_model(model) if backend == "pymc" else warm.posterior.spec,
            warm,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=random_seed,
            progressbar=progressbar,
            target_accept=target_accept,
            **kwargs,
        )
        return _stamp(idata, backend, "laplace")
    backend = "pymc" if sampler == "auto" else sampler
    with pymc_model(model):
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            cores=chains if cores is None else cores,
            random_seed=random_seed,
            target_accept=target_accept,
            nuts_sampler=backend,
            progressbar=progressbar,
            compute_convergence_checks=False,
            **kwargs,
        )
    return _stamp(idata, backend, "none")


def _stamp(idata: xr.DataTree, sampler: str, warm_start: str) -> xr.DataTree:
    for group in (POSTERIOR, SAMPLE_STATS):
        idata[group].attrs.update({ATTR_SAMPLER: sampler, ATTR_WARM_START: warm_start})
    return idata


#: Keyword arguments each method takes beyond fit's own; anything else is an error, so a
#: misspelt option is never silently ignored.
METHOD_OPTIONS: dict[str, frozenset[str]] = {
    "nuts": frozenset(
        {
            "sampler",
            "target_accept",
            "cores",
            "init",
            "initvals",
            "max_treedepth",
            "nuts_sampler_kwargs",
            "compile_kwargs",
            "mp_ctx",
            "discard_tuned_samples",
            "jitter_max_retries",
            "warm_start",
        }
    ),
    "advi": frozenset(
        {
            "max_iter",
            "learning_rate",
            "tol",
            "window",
            "batch_size",
            "obj_n_mc",
            "n_mc",
            "warm_start",
            "stochastic",
            "n_points",
        }
    ),
    "laplace": frozenset({"n_mc"}),
    "pathfinder": frozenset({"num_paths", "max_iter", "history_size", "num_elbo_draws", "n_mc"}),
}
METHOD_OPTIONS["fullrank_advi"] = METHOD_OPTIONS["advi"]

#: Options only stochastic-gradient ADVI understands: passing one selects that route.
_STOCHASTIC_ONLY = frozenset(
    {"learning_rate", "tol", "window", "batch_size", "obj_n_mc", "warm_start"}
)


def _fit_advi(
    model: pm.Model | ModelSpec,
    *,
    method: str,
    draws: int,
    tune: int,
    chains: int,
    random_seed: int | None,
    progressbar: bool,
    stochastic: bool | None = None,
    n_points: int | None = None,
    **kwargs: Any,
) -> xr.DataTree:
    """ADVI: fixed-draw L-BFGS in numpy where it applies, PyMC's stochastic gradients else."""
    if stochastic is not None and not isinstance(stochastic, bool):
        raise TypeError(f"stochastic must be True, False or None; got {stochastic!r}.")
    spec = model_spec(model)
    stochastic_options = sorted(_STOCHASTIC_ONLY & {k for k, v in kwargs.items() if v is not None})
    if stochastic is None:
        # The deterministic objective needs the closed-form posterior and all the data;
        # options of the stochastic optimiser ask for that route.
        stochastic = spec is None or not supports_closed_form(spec) or bool(stochastic_options)
    if stochastic:
        if n_points is not None:
            raise ValueError("n_points= sets the fixed draws of stochastic=False ADVI.")
        return fit_vi(
            pymc_model(model),
            method=method,
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            progressbar=progressbar,
            **kwargs,
        )
    if stochastic_options:
        raise ValueError(
            f"{stochastic_options} set the stochastic optimiser; drop them or pass "
            "stochastic=True."
        )
    options = {k: v for k, v in kwargs.items() if k in ("n_mc", "max_iter")}
    return fit_advi_fixed(
        model,
        method=method,
        draws=draws,
        random_seed=random_seed,
        n_points=n_points,
        **options,
    )


METHODS: dict[str, Callable[..., Any]] = {
    "nuts": _fit_nuts,
    "advi": functools.partial(_fit_advi, method="advi"),
    "fullrank_advi": functools.partial(_fit_advi, method="fullrank_advi"),
    "laplace": fit_laplace,
    "pathfinder": fit_pathfinder,
}


def _attach_metadata(
    idata: xr.DataTree, model: pm.Model | ModelSpec, method: str, seconds: float
) -> xr.DataTree:
    spec = model_spec(model)
    attrs = {
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


def fit(
    model: pm.Model | ModelSpec,
    method: str = "nuts",
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int | None = None,
    progressbar: bool | None = None,
    warn: bool = True,
    **kwargs: Any,
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
    method : {"nuts", "advi", "fullrank_advi", "laplace", "pathfinder"}, default "nuts"
        ``laplace``: the Gaussian at the posterior mode with the inverse Hessian as its
        covariance. ``pathfinder``: the Gaussians along L-BFGS paths with the L-BFGS inverse
        Hessian as covariance, the one of largest ELBO per path, several paths pooled by
        Pareto-smoothed importance resampling (Zhang et al. 2022). Both are computed in
        numpy, without compiling the model, for logistic and reference-coded softmax models
        from :func:`bayescore.build_model`.
    draws : int, default 1000
        Posterior draws per chain (NUTS) or draws from the approximation (one chain).
    tune : int, default 1000
        NUTS tuning steps per chain (ignored by the approximations).
    chains : int, default 2
        NUTS chains (ignored by the approximations).
    random_seed : int, optional
        The same seed gives the same draws, for NUTS and ADVI.
    progressbar : bool or None, default None
        Show the sampler's (or optimiser's) progress; None shows it in an interactive
        terminal or a notebook and stays silent otherwise (scripts, pipes, CI).
    warn : bool, default True
        Run :func:`bayescore.diagnose` and emit one
        :class:`~bayescore.diagnostics.ConvergenceWarning` summarising failed checks.
    **kwargs
        NUTS: ``sampler`` ("auto", "pymc", "nutpie", "numpyro"; default "auto": nutpie on
        the closed-form density where the warm start applies, else PyMC), ``warm_start``
        (True: start every chain from a draw of the Laplace approximation and give the
        sampler its covariance as the mass matrix; bayescore models other than zero-sum
        softmax), ``target_accept`` (0.8, as PyMC), ``cores`` (default: one per chain),
        ``max_treedepth``, and ``pm.sample`` options (``init``, ``initvals``, ...; these
        take PyMC's cold-started route).
        ADVI: ``max_iter`` (50 000), ``learning_rate`` (Adam's first step: 0.02; 0.01 for
        full-rank or with ``batch_size``; halved whenever the ELBO stalls), ``warm_start``
        (True: start q at the Laplace approximation), ``tol`` (1e-4: relative change of the
        ELBO of the window-averaged q, at fixed draws), ``window`` (500 iterations),
        ``batch_size`` (minibatch size for large N), ``obj_n_mc`` (1), ``n_mc`` (1000
        draws from q for the ELBO split and the Pareto k-hat). Laplace: ``n_mc``.
        Pathfinder: ``num_paths`` (4; 1 is single-path Pathfinder, no resampling),
        ``max_iter`` (1000 L-BFGS iterations per path), ``history_size`` (6 pairs for the
        inverse Hessian), ``num_elbo_draws`` (25 draws per iterate for its ELBO), ``n_mc``
        (1000 draws per path for the pool, the ELBO split and the Pareto k-hat).

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
    check_choice("method", method, METHODS, "fit")
    check_int("draws", draws, min_value=1, func="fit")
    check_int("tune", tune, min_value=0, func="fit")
    check_int("chains", chains, min_value=1, func="fit")
    unknown = sorted(set(kwargs) - METHOD_OPTIONS[method])
    if unknown:
        raise ValueError(
            f"fit(method={method!r}) got unknown options {unknown}; it accepts "
            f"{sorted(METHOD_OPTIONS[method])}."
        )
    progressbar = resolve_progress(progressbar)
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
