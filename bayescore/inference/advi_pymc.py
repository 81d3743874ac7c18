r"""Stochastic-gradient ADVI through PyMC: Adam, iterate averaging, a stopping rule.

Mean-field and full-rank ADVI (PyMC) for the cases fixed-draw ADVI
(:mod:`bayescore.inference.advi`) does not cover: minibatches, the options of the
stochastic optimiser, ``stochastic=True``, and models outside bayescore's closed form
(zero-sum coding, hand-written PyMC models). The fit keeps the ELBO history and the final
ELBO split (:mod:`bayescore.inference.record`), judged like every approximation by the
Pareto :math:`\hat k` of the importance ratios over draws from q.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from bayescore._names import VARIATIONAL
from bayescore._progress import current
from bayescore._pymc import import_pymc
from bayescore._validation import Interval, Options
from bayescore.inference.advi import AdviOptions
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.laplace import find_mode
from bayescore.inference.options import FitSettings
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import (
    ELBOParts,
    Optimisation,
    StochasticRecord,
    VariationalRecord,
    elbo_of_gaussians,
)
from bayescore.inference.tree import data_groups
from bayescore.inference.verdict import NU, judge, proposal_nu
from bayescore.models import build_from_spec, model_spec

if TYPE_CHECKING:
    import pymc as pm
    from pymc.variational.approximations import Approximation
    from pytensor.compile.sharedvalue import SharedVariable

__all__ = ["ELBOConvergence", "QDensity", "elbo_parts", "fit_stochastic", "set_gaussian"]

Floats = NDArray[np.float64]

#: PyMC's flat layout of an approximation: name -> (name, slice, shape, dtype).
Ordering = dict[str, tuple[str, slice, tuple[int, ...], object]]


class QDensity:
    """The model's log-likelihood and log prior (with Jacobian) at flat unconstrained points.

    The flat layout is the approximation's (``approx.groups[0].ordering``); the functions
    are compiled once per fit.
    """

    def __init__(self, model: pm.Model, ordering: Ordering) -> None:
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

    def point(self, flat: Floats) -> dict[str, Floats]:
        """The named values of one flat parameter vector."""
        return {name: flat[where].reshape(shape) for name, where, shape in self.ordering}

    def log_likelihood(self, z: Floats) -> Floats:
        """``log p(y | theta)`` at each row of ``z`` (shape ``(M, size)``)."""
        return np.array([self._loglik(self.point(zi)) for zi in z], dtype=np.float64)

    def log_prior(self, z: Floats) -> Floats:
        """``log p(theta)`` (unconstrained, with Jacobian) at each row of ``z``."""
        return np.array([self._logprior(self.point(zi)) for zi in z], dtype=np.float64)

    def log_joint(self, z: Floats) -> Floats:
        """``log p(theta, y)`` at each row of ``z``."""
        return self.log_likelihood(z) + self.log_prior(z)


class Reordered:
    """The closed-form posterior's densities at points in PyMC's layout.

    PyMC's approximation orders the free variables by its own ``ordering``; the posterior's
    layout is (intercepts, coefficients), each raveled in C order, as PyMC ravels them.
    """

    def __init__(self, post: Posterior, ordering: Ordering) -> None:
        self.post = post
        self.size = post.size
        self.index = np.concatenate(
            [np.arange(ordering[name][1].start, ordering[name][1].stop) for name in post.names]
        )

    def log_likelihood(self, z: Floats) -> Floats:
        """``log p(y | theta)`` at each row of ``z``."""
        return self.post.log_likelihood(np.atleast_2d(z)[:, self.index])

    def log_prior(self, z: Floats) -> Floats:
        """Normalised ``log p(theta)`` at each row of ``z``."""
        return self.post.log_prior(np.atleast_2d(z)[:, self.index])

    def log_joint(self, z: Floats) -> Floats:
        """``log p(theta, y)`` at each row of ``z``."""
        return self.log_likelihood(z) + self.log_prior(z)

    def prior_variance(self) -> Floats | None:
        """The prior variance per coordinate of PyMC's layout, when every prior is Normal."""
        var = self.post.prior.variance()
        if var is None:
            return None
        out = np.empty_like(var)
        out[self.index] = var
        return out


def density_of(model: pm.Model, ordering: Ordering) -> QDensity | Reordered:
    """The fastest exact density for ``model`` at points in PyMC's layout ``ordering``.

    bayescore's numpy posterior where the closed form covers the model (vectorised over
    points, no standardised copy of X), else the model's PyMC graph point by point.
    """
    spec = model_spec(model)
    if spec is not None and spec.closed_form:
        return Reordered(Posterior(spec), ordering)
    return QDensity(model, ordering)


def q_gaussian(approx: Approximation) -> Gaussian:
    """The Gaussian q of a PyMC mean-field or full-rank approximation (PyMC's layout)."""
    mean = np.asarray(approx.mean.eval(), dtype=np.float64)
    if hasattr(approx, "L"):
        L = np.asarray(approx.L.eval(), dtype=np.float64)
        return Gaussian.from_cov(mean, L @ L.T)
    std = np.asarray(approx.std.eval(), dtype=np.float64)
    return Gaussian.from_cov(mean, np.diag(std**2))


KL_METHODS = Options(("auto", "closed_form", "monte_carlo"))
N_MC = Interval(numbers.Integral, 2, None, "left")


def elbo_parts(
    approx: Approximation,
    model: pm.Model,
    *,
    n_mc: int = 1000,
    kl: str = "auto",
    random_seed: int | None = None,
) -> ELBOParts:
    r"""Split the ELBO of a PyMC Gaussian approximation into expected log-likelihood and KL.

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
    KL_METHODS.check("kl", kl, "elbo_parts")
    n_mc = N_MC.check("n_mc", n_mc, "elbo_parts")
    density = density_of(model, approx.groups[0].ordering)
    spec = model_spec(model)
    flat = spec is not None and spec.flat_intercept
    prior_variance = density.prior_variance() if isinstance(density, Reordered) else None
    if kl == "closed_form" and prior_variance is None and not flat:
        raise ValueError(
            "kl='closed_form' needs Normal priors on every free variable (no Student-t, flat "
            "or zero-sum priors); use kl='monte_carlo'."
        )
    q = q_gaussian(approx)
    z, log_q = q.draw(np.random.default_rng(random_seed), n_mc)
    parts, _ = elbo_of_gaussians(
        density,
        [q],
        z,
        log_q,
        prior_variance=None if kl == "monte_carlo" else prior_variance,
        flat_prior=flat,
    )
    return parts


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
    density : QDensity or Reordered
        The model's log densities at flat points (PyMC's layout).
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
        density: QDensity | Reordered,
        window: int,
        tol: float,
        mean_tol: float = 0.05,
        n_crn: int = 64,
        random_seed: int | None = None,
        learning_rate: SharedVariable | None = None,
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
        self._sums: list[Floats] | None = None
        self._n_avg = 0
        self._previous: tuple[float, Floats] | None = None

    def _accumulate(self, approx: Approximation) -> None:
        values = [np.array(p.get_value(), dtype=np.float64) for p in approx.params]
        if self._sums is None:
            self._sums = values
        else:
            for acc, v in zip(self._sums, values, strict=True):
                acc += v
        self._n_avg += 1

    def _averaged_moments(self, approx: Approximation) -> tuple[Floats, Floats]:
        """Q's mean and covariance at the window's averaged parameters."""
        assert self._sums is not None
        current = [p.get_value() for p in approx.params]
        self.apply_average(approx)
        try:
            q = q_gaussian(approx)
            return q.mean, q.cov
        finally:
            for p, v in zip(approx.params, current, strict=True):
                p.set_value(v)

    def __call__(self, approx: Approximation, losses: Floats, i: int) -> None:  # noqa: D102
        self._accumulate(approx)
        if self._n_avg < self.window:
            return
        if self.converged_at is not None:
            raise StopIteration(f"ELBO converged at iteration {self.converged_at}")
        mean, cov = self._averaged_moments(approx)
        self._sums, self._n_avg = None, 0
        chol = np.linalg.cholesky(cov + 1e-300 * np.eye(cov.shape[0]))
        q = Gaussian(mean, chol, float(np.linalg.slogdet(cov)[1]))
        elbo = float(np.mean(self.density.log_joint(q.transform(self.eps)))) + q.entropy()
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

    def apply_average(self, approx: Approximation) -> None:
        """Set the approximation's parameters to the averaged iterates."""
        if self._sums is None or self._n_avg == 0:
            return
        for p, acc in zip(approx.params, self._sums, strict=True):
            p.set_value((acc / self._n_avg).astype(p.dtype))


def fit_stochastic(
    model: pm.Model, settings: FitSettings, options: AdviOptions, *, full_rank: bool
) -> xr.DataTree:
    """Mean-field or full-rank ADVI by PyMC's stochastic gradients (Adam), averaged."""
    pm = import_pymc()
    method = "fullrank_advi" if full_rank else "advi"
    batch_size = options.batch_size
    learning_rate = options.learning_rate
    if learning_rate is None:
        # Minibatch gradients are noisier and a full-rank q has many more, coupled
        # parameters: a smaller constant step lets their averaged iterates settle (at 0.02
        # full-rank ADVI stalled 1 sd away from NUTS on a 36-parameter softmax).
        learning_rate = 0.01 if batch_size is not None or full_rank else 0.02
    tol = 1e-4 if options.tol is None else options.tol
    window = 500 if options.window is None else options.window
    spec = model_spec(model)
    fit_model = model
    if batch_size is not None:
        if spec is None:
            raise ValueError(
                "batch_size= needs a model made by bayescore.build_model (it rebuilds the "
                "likelihood with pm.Minibatch); for your own model, build it with pm.Minibatch."
            )
        fit_model = build_from_spec(spec, batch_size=batch_size, data_from=model)
    inference_cls = pm.FullRankADVI if full_rank else pm.ADVI
    import pytensor

    step = pytensor.shared(np.asarray(learning_rate, dtype=pytensor.config.floatX))
    with fit_model:
        inference = inference_cls(random_seed=settings.random_seed)
    ordering = inference.approx.groups[0].ordering
    density = density_of(model, ordering)  # the full-data model's, for minibatch fits too
    start = "prior"
    if isinstance(density, Reordered) and options.warm_start is not False:
        # Start q at the Laplace approximation: for a near-Gaussian posterior that is where
        # full-rank ADVI ends (and mean-field ADVI's optimum has exactly these means and
        # sds 1 / sqrt(H_ii)), so the optimiser refines instead of travelling.
        mode = find_mode(density.post)
        index = density.index
        mean, cov = np.empty_like(mode.theta), np.empty((index.size, index.size))
        mean[index] = mode.theta
        cov[np.ix_(index, index)] = mode.covariance()
        set_gaussian(inference.approx, mean, cov)
        start = "laplace"
    stopper = ELBOConvergence(
        density, window=window, tol=tol, random_seed=settings.random_seed, learning_rate=step
    )
    with fit_model, current().paused():  # PyMC draws its own bar
        # Adam with a moderate constant step reaches the noise floor in a few thousand
        # steps on standardised features; PyMC's default (adagrad_window, lr 1e-3) needed
        # more than 20 000 on a 5 000-row problem. Iterate averaging then removes the jitter.
        approx = inference.fit(
            n=50_000 if options.max_iter is None else options.max_iter,
            obj_optimizer=pm.adam(learning_rate=step),
            obj_n_mc=1 if options.obj_n_mc is None else options.obj_n_mc,
            callbacks=[stopper],
            progressbar=settings.progressbar,
        )
    stopper.apply_average(approx)
    with fit_model:
        idata = approx.sample(
            settings.draws, random_seed=settings.random_seed, return_inferencedata=True
        )
    if spec is not None and batch_size is not None:
        # Minibatch graphs carry no full observed data; record the training data instead.
        for group, ds in data_groups(spec).items():
            idata[group] = xr.DataTree(ds)
    parts = elbo_parts(approx, model, n_mc=options.n_mc, random_seed=settings.random_seed)
    history = -np.asarray(inference.hist, dtype=np.float64)
    optimisation = Optimisation(
        converged=stopper.converged_at is not None,
        n_iterations=int(history.size),
        optimizer="adam",
        start=start,
        converged_at=stopper.converged_at,
        relative_change=stopper.rel_change,
        history=history,
    )
    stochastic = StochasticRecord(
        tol=tol,
        window=window,
        learning_rate=float(learning_rate),
        final_learning_rate=float(step.get_value()),
        mean_change=stopper.mean_change,
        batch_size=batch_size,
        checks=np.asarray(stopper.elbo_trace),
    )
    q_pymc = q_gaussian(approx)
    nu = proposal_nu(spec) if spec is not None else NU
    verdict = judge(
        density, q_pymc.mean, q_pymc.cov, np.random.default_rng(settings.random_seed), nu=nu
    )
    q = None
    if isinstance(density, Reordered):  # q in the closed-form posterior's layout
        index = density.index
        q = Gaussian.from_cov(q_pymc.mean[index], q_pymc.cov[np.ix_(index, index)])
    record = VariationalRecord(
        method, parts, optimisation, stochastic=stochastic, q=q, verdict=verdict
    )
    idata[VARIATIONAL] = xr.DataTree(record.to_dataset())
    return idata


def _sigma_to_rho(sigma: Floats) -> Floats:
    """Inverse of PyMC's ``sigma = softplus(rho)``, stable for small and large sigma."""
    return np.asarray(sigma + np.log(-np.expm1(-sigma)))


def set_gaussian(approx: Approximation, mean: Floats, cov: Floats) -> None:
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
