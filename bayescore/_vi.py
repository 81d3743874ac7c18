r"""ADVI for bayescore fits: the optimisation, its stopping rule, the ELBO split, Pareto k-hat.

Mean-field and full-rank ADVI (PyMC) with Adam and iterate averaging. The fit keeps the
ELBO history and the final ELBO split into its two parts,

.. math::

    \mathrm{ELBO} = \mathbb{E}_q[\log p(y \mid \theta)] - \mathrm{KL}(q \,\|\, p),

with the KL in closed form when q and the prior are Gaussian (mean-field or full-rank q,
Normal priors) and a Monte Carlo estimate otherwise; and the Pareto :math:`\hat k` of the
importance ratios :math:`\log p(\theta, y) - \log q(\theta)` over draws from q (Yao,
Vehtari, Simpson & Gelman 2018, "Yes, but did it work?"), which judges the approximation
independently of the optimiser: above 0.7, q is not a usable stand-in for the posterior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from bayescore._density import supports as supports_laplace
from bayescore._families import family
from bayescore._groups import data_groups
from bayescore._laplace import NumpyDensity, laplace
from bayescore._names import ITERATION, VARIATIONAL
from bayescore._pymc import import_pymc
from bayescore._validation import check_choice, check_int, check_positive
from bayescore.models import ModelSpec, build_from_spec, model_spec

if TYPE_CHECKING:
    import pymc as pm

__all__ = [
    "ELBOConvergence",
    "ELBOParts",
    "QDensity",
    "elbo_parts",
    "fit_vi",
    "pareto_k_hat",
    "split_from_draws",
]


class QDensity:
    """The model's log-likelihood and log prior (with Jacobian) at flat unconstrained points.

    The flat layout is the approximation's (``approx.groups[0].ordering``); the functions
    are compiled once per fit.
    """

    def __init__(self, model: pm.Model, ordering: dict[str, Any]) -> None:
        self.ordering = [(name, info[1], info[2]) for name, info in ordering.items()]
        self.size = int(sum(sl.stop - sl.start for _, sl, _ in self.ordering))
        value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
        self._loglik = model.compile_fn(
            model.logp(vars=model.observed_RVs, sum=True),
            inputs=value_vars,
            on_unused_input="ignore",
        )
        self._logprior = model.compile_fn(
            model.logp(vars=model.free_RVs, jacobian=True, sum=True),
            inputs=value_vars,
            on_unused_input="ignore",
        )

    def point(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The named values of one flat parameter vector."""
        return {name: flat[where].reshape(shape) for name, where, shape in self.ordering}

    def log_likelihood(self, z: np.ndarray) -> np.ndarray:
        """``log p(y | theta)`` at each row of ``z`` (shape ``(M, size)``)."""
        return np.array([self._loglik(self.point(zi)) for zi in z], dtype=np.float64)

    def log_prior(self, z: np.ndarray) -> np.ndarray:
        """``log p(theta)`` (unconstrained, with Jacobian) at each row of ``z``."""
        return np.array([self._logprior(self.point(zi)) for zi in z], dtype=np.float64)

    def log_joint(self, z: np.ndarray) -> np.ndarray:
        """``log p(theta, y)`` at each row of ``z``."""
        return self.log_likelihood(z) + self.log_prior(z)


def density_of(model: pm.Model, ordering: dict[str, Any]) -> QDensity | NumpyDensity:
    """The fastest exact density for ``model``.

    numpy for bayescore's own models where the closed form covers them (vectorised over
    points, no standardised copy of X), else the model's PyMC graph point by point.
    """
    spec = model_spec(model)
    if spec is not None and supports_laplace(spec):
        return NumpyDensity(spec, ordering)
    return QDensity(model, ordering)


def pareto_k_hat(log_ratios: np.ndarray) -> float:
    r"""Pareto :math:`\hat k` of importance ratios given on the log scale (PSIS).

    Below 0.5 the ratios have finite variance; up to 0.7 importance sampling is still
    usable; above 0.7 the approximation is too far from the target (Vehtari et al. 2024).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pareto_k_hat(0.3 * rng.standard_normal(4000)) < 0.5   # q close to p
    True
    >>> pareto_k_hat(3.0 * rng.standard_normal(4000)) > 0.7   # q far too narrow
    True
    """
    from arviz_stats.base import array_stats

    # arviz-stats' psislw takes log-likelihoods (LOO's convention, where the ratios are
    # 1 / p(y_i | theta)): it smooths exp(-input). Minus the log ratios gives the weights p/q.
    _, k = array_stats.psislw(-np.asarray(log_ratios, dtype=np.float64), r_eff=1.0)
    return float(k)


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
    pareto_k : float
        Pareto k-hat of ``log p(theta, y) - log q(theta)`` over the same draws (NaN if the
        draws gave no finite ratios).
    """

    elbo: float
    expected_log_likelihood: float
    kl: float
    kl_method: str
    mc_se: float
    n_mc: int
    pareto_k: float = np.nan


def q_moments(approx: Any) -> tuple[np.ndarray, np.ndarray]:
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
    density = density_of(model, group.ordering)
    mean, cov = q_moments(approx)
    rng = np.random.default_rng(random_seed)
    z = rng.multivariate_normal(mean, cov, size=n_mc, method="cholesky")
    from scipy.stats import multivariate_normal

    logq = np.atleast_1d(multivariate_normal(mean=mean, cov=cov, allow_singular=True).logpdf(z))
    loglik = density.log_likelihood(z)
    logprior = density.log_prior(z)
    ratios = loglik + logprior - logq
    k_hat = pareto_k_hat(ratios) if np.isfinite(ratios).all() else np.nan

    spec = model_spec(model)
    flat = spec is not None and spec.flat_intercept
    prior_sd = _gaussian_prior_sd(spec, group.ordering)
    if kl == "closed_form" and prior_sd is None and not flat:
        raise ValueError(
            "kl='closed_form' needs Normal priors on every free variable (no Student-t, flat "
            "or zero-sum priors); use kl='monte_carlo'."
        )
    closed = None
    if kl != "monte_carlo" and prior_sd is not None:
        closed = _kl_gaussian(mean, cov, prior_sd)
    return split_from_draws(loglik, logprior, logq, k_hat, flat_prior=flat, closed_form_kl=closed)


def split_from_draws(
    loglik: np.ndarray,
    log_prior: np.ndarray,
    log_q: np.ndarray,
    pareto_k: float,
    *,
    flat_prior: bool,
    closed_form_kl: float | None,
) -> ELBOParts:
    """The ELBO split from the log-likelihood, log prior and log q at draws from q.

    ``E_q[log p(y | theta)]`` is the draws' mean (with its Monte Carlo SE); the KL is
    ``closed_form_kl`` when given, else ``E_q[log q - log p(theta)]`` over the same draws;
    undefined (NaN) under a flat prior, which is improper.

    Examples
    --------
    >>> parts = split_from_draws(np.array([-1.0, -3.0]), np.zeros(2), np.zeros(2), 0.1,
    ...                          flat_prior=False, closed_form_kl=0.5)
    >>> parts.elbo, parts.kl_method
    (-2.5, 'closed_form')
    """
    n = loglik.size
    expected_ll = float(loglik.mean())
    ll_se = float(loglik.std(ddof=1) / np.sqrt(n))
    if flat_prior:
        # KL to an improper flat prior is not defined: report NaN rather than a number.
        return ELBOParts(np.nan, expected_ll, np.nan, "undefined (flat prior)", ll_se, n, pareto_k)
    if closed_form_kl is not None:
        kl, kl_method, kl_se = float(closed_form_kl), "closed_form", 0.0
    else:
        diff = log_q - log_prior
        kl, kl_method = float(diff.mean()), "monte_carlo"
        kl_se = float(diff.std(ddof=1) / np.sqrt(n))
    return ELBOParts(
        elbo=expected_ll - kl,
        expected_log_likelihood=expected_ll,
        kl=kl,
        kl_method=kl_method,
        mc_se=float(np.hypot(ll_se, kl_se)),
        n_mc=n,
        pareto_k=pareto_k,
    )


class ELBOConvergence:
    r"""Stop ADVI when the ELBO and q's means have stopped changing; then average.

    Every ``window`` iterations the iterates of that window are averaged
    (Polyak-Ruppert) and the ELBO of the averaged q is evaluated at *fixed* standard-normal
    draws (common random numbers), which makes it a smooth function of q's parameters
    instead of a one-sample estimate whose noise can hide a slow climb. Convergence needs,
    on two checks in a row, both

    - a relative ELBO change :math:`|\Delta| / \max(|\mathrm{ELBO}|, 1)` below ``tol``;
    - no mean of q moving by more than ``mean_tol`` of its sd.

    A constant step leaves the iterates jittering around the optimum, so the averaged ELBO
    never settles: whenever a check shows the ELBO of the averaged q fall instead of climb
    (the jitter now dominates the progress) the step size is halved, which shrinks the
    jitter until the rule above can hold. The
    parameters are finally replaced by their average over one more window.

    Parameters
    ----------
    density : QDensity or NumpyDensity
        The model's log densities at flat points.
    window : int
    tol : float
    mean_tol : float, default 0.05
    n_crn : int, default 64
        Fixed draws for the ELBO evaluation.
    random_seed : int, optional
    learning_rate : shared variable, optional
        The optimiser's step size, halved on a plateau.
    """

    def __init__(
        self,
        density: QDensity | NumpyDensity,
        window: int,
        tol: float,
        mean_tol: float = 0.05,
        n_crn: int = 64,
        random_seed: int | None = None,
        learning_rate: Any = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.n_decays = 0
        self.density = density
        self.window = window
        self.tol = tol
        self.mean_tol = mean_tol
        self.eps = np.random.default_rng(random_seed).standard_normal((n_crn, density.size))
        self.calm_checks = 0
        self.converged_at: int | None = None
        self.rel_change = np.nan
        self.mean_change = np.nan
        self.elbo_trace: list[float] = []
        self._sums: list[np.ndarray] | None = None
        self._n_avg = 0
        self._previous: tuple[float, np.ndarray] | None = None

    def _accumulate(self, approx: Any) -> None:
        values = [np.array(p.get_value(), dtype=np.float64) for p in approx.params]
        if self._sums is None:
            self._sums = values
        else:
            for acc, v in zip(self._sums, values, strict=True):
                acc += v
        self._n_avg += 1

    def _averaged_moments(self, approx: Any) -> tuple[np.ndarray, np.ndarray]:
        """Q's mean and covariance at the window's averaged parameters."""
        assert self._sums is not None
        current = [p.get_value() for p in approx.params]
        self.apply_average(approx)
        try:
            return q_moments(approx)
        finally:
            for p, v in zip(approx.params, current, strict=True):
                p.set_value(v)

    def __call__(self, approx: Any, losses: np.ndarray, i: int) -> None:
        self._accumulate(approx)
        if self._n_avg < self.window:
            return
        if self.converged_at is not None:
            raise StopIteration(f"ELBO converged at iteration {self.converged_at}")
        mean, cov = self._averaged_moments(approx)
        self._sums, self._n_avg = None, 0
        chol = np.linalg.cholesky(cov + 1e-300 * np.eye(cov.shape[0]))
        z = mean + self.eps @ chol.T
        entropy = 0.5 * (mean.size * np.log(2 * np.pi * math.e) + np.linalg.slogdet(cov)[1])
        elbo = float(np.mean(self.density.log_joint(z))) + entropy
        self.elbo_trace.append(elbo)
        if self._previous is not None:
            old_elbo, old_mean = self._previous
            self.rel_change = abs(elbo - old_elbo) / max(abs(elbo), 1.0)
            self.mean_change = float(np.max(np.abs(mean - old_mean) / np.sqrt(np.diag(cov))))
            calm = self.rel_change < self.tol and self.mean_change < self.mean_tol
            self.calm_checks = self.calm_checks + 1 if calm else 0
            if self.calm_checks >= 2:
                self.converged_at = i
            elif self.learning_rate is not None and elbo <= old_elbo:
                self.learning_rate.set_value(self.learning_rate.get_value() / 2)
                self.n_decays += 1
        self._previous = (elbo, mean)

    def apply_average(self, approx: Any) -> None:
        """Set the approximation's parameters to the averaged iterates."""
        if self._sums is None or self._n_avg == 0:
            return
        for p, acc in zip(approx.params, self._sums, strict=True):
            p.set_value((acc / self._n_avg).astype(p.dtype))


def fit_vi(
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
    warm_start: bool = True,
    **kwargs: Any,
) -> xr.DataTree:
    """Fit mean-field or full-rank ADVI; see :func:`bayescore.fit` for the options."""
    # tune and chains belong to NUTS: ADVI has one optimisation run and one set of draws.
    del tune, chains
    pm = import_pymc()
    check_int("draws", draws, min_value=1, func="fit")
    check_int("max_iter", max_iter, min_value=1, func="fit")
    check_int("window", window, min_value=10, func="fit")
    if learning_rate is None:
        # Minibatch gradients are noisier and a full-rank q has many more, coupled
        # parameters: a smaller constant step lets their averaged iterates settle (at 0.02
        # full-rank ADVI stalled 1 sd away from NUTS on a 36-parameter softmax).
        learning_rate = 0.01 if batch_size is not None or method == "fullrank_advi" else 0.02
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
        fit_model = build_from_spec(spec, batch_size=batch_size, data_from=model)
    inference_cls = {"advi": pm.ADVI, "fullrank_advi": pm.FullRankADVI}[method]
    import pytensor

    step = pytensor.shared(np.asarray(learning_rate, dtype=pytensor.config.floatX))
    with fit_model:
        inference = inference_cls(random_seed=random_seed)
    start = "prior"
    if spec is not None and supports_laplace(spec) and warm_start:
        # Start q at the Laplace approximation: for a near-Gaussian posterior that is where
        # full-rank ADVI ends (and mean-field ADVI's optimum has exactly these means and
        # sds 1 / sqrt(H_ii)), so the optimiser refines instead of travelling.
        set_gaussian(
            inference.approx, *laplace(spec).flat(list(inference.approx.groups[0].ordering))
        )
        start = "laplace"
    # The stopping rule evaluates the full-data model's ELBO (for minibatch fits too).
    stopper = ELBOConvergence(
        density_of(model, inference.approx.groups[0].ordering),
        window=window,
        tol=tol,
        random_seed=random_seed,
        learning_rate=step,
    )
    with fit_model:
        # Adam with a moderate constant step reaches the noise floor in a few thousand
        # steps on standardised features; PyMC's default (adagrad_window, lr 1e-3) needed
        # more than 20 000 on a 5 000-row problem. Iterate averaging then removes the jitter.
        approx = inference.fit(
            n=max_iter,
            obj_optimizer=pm.adam(learning_rate=step),
            obj_n_mc=obj_n_mc,
            callbacks=[stopper],
            progressbar=progressbar,
            **kwargs,
        )
    stopper.apply_average(approx)
    with fit_model:
        idata = approx.sample(draws, random_seed=random_seed, return_inferencedata=True)
    if spec is not None and batch_size is not None:
        # Minibatch graphs carry no full observed data; record the training data instead.
        for group, ds in data_groups(spec).items():
            idata[group] = xr.DataTree(ds)
    parts = elbo_parts(approx, model, n_mc=n_mc, random_seed=random_seed)
    history = -np.asarray(inference.hist, dtype=np.float64)
    variational = xr.Dataset(
        {
            "elbo_history": ((ITERATION,), history),
            "elbo": parts.elbo,
            "expected_log_likelihood": parts.expected_log_likelihood,
            "kl": parts.kl,
            "mc_se": parts.mc_se,
            "pareto_k": parts.pareto_k,
            "elbo_check": ((("check_" + ITERATION),), np.asarray(stopper.elbo_trace)),
        },
        coords={ITERATION: np.arange(1, history.size + 1)},
        attrs={
            "method": method,
            "converged": int(stopper.converged_at is not None),
            "converged_at": -1 if stopper.converged_at is None else int(stopper.converged_at),
            "n_iterations": int(history.size),
            "relative_change": stopper.rel_change,
            "mean_change": stopper.mean_change,
            "tol": tol,
            "window": window,
            "learning_rate": learning_rate,
            "final_learning_rate": float(step.get_value()),
            "optimizer": "adam",
            "start": start,
            "batch_size": -1 if batch_size is None else int(batch_size),
            "kl_method": parts.kl_method,
            "n_mc": parts.n_mc,
        },
    )
    idata[VARIATIONAL] = xr.DataTree(variational)
    return idata


def _sigma_to_rho(sigma: np.ndarray) -> np.ndarray:
    """Inverse of PyMC's ``sigma = softplus(rho)``, stable for small and large sigma."""
    return np.asarray(sigma + np.log(-np.expm1(-sigma)))


def set_gaussian(approx: Any, mean: np.ndarray, cov: np.ndarray) -> None:
    """Set a PyMC mean-field or full-rank approximation to ``N(mean, cov)``.

    Mean-field q gets ``sd_i = 1 / sqrt((cov^-1)_ii)``: the KL(q || p)-optimal mean-field
    sds for a Gaussian p, not the marginal sds.
    """
    params = approx.groups[0].params_dict
    dtype = params["mu"].get_value().dtype
    params["mu"].set_value(np.asarray(mean, dtype=dtype))
    if "rho" in params:
        sd = 1.0 / np.sqrt(np.diag(np.linalg.inv(cov)))
        params["rho"].set_value(_sigma_to_rho(sd).astype(dtype))
        return
    L = np.linalg.cholesky(cov)
    n = L.shape[0]
    L[np.diag_indices(n)] = _sigma_to_rho(np.diag(L))
    params["L_tril"].set_value(L[np.tril_indices(n)].astype(dtype))
