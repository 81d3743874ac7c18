r"""The Laplace approximation: the posterior mode and the Hessian there (numpy, no compile).

The mode is found by L-BFGS on the closed-form log posterior
(:class:`~bayescore.inference.posterior.Posterior`) and the Gaussian
:math:`N(\hat\theta, H^{-1})`, :math:`H = -\nabla^2 \log p(\hat\theta \mid y)`, is the
Laplace approximation: ``method="laplace"``, the start of ADVI and the warm start of NUTS.
As every approximation it is judged by the ELBO and the Pareto :math:`\hat k` of the
importance ratios :math:`p/q` (:mod:`bayescore.inference.record`).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize

from bayescore._progress import current
from bayescore._validation import Interval
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import (
    ELBOParts,
    Optimisation,
    VariationalRecord,
    elbo_of_gaussians,
)
from bayescore.inference.subsample import SubsampledLikelihood, draws_density
from bayescore.inference.tree import approximation_tree
from bayescore.inference.verdict import Verdict, judge, proposal_nu
from bayescore.models import ModelSpec

__all__ = [
    "MODE_TOL",
    "N_MC",
    "Assessment",
    "LaplaceOptions",
    "Mode",
    "assess",
    "find_mode",
    "fit_laplace",
    "second_order_mean",
]

Floats = NDArray[np.float64]

#: Draws from q for the ELBO split and the Pareto k-hat (at least 2).
N_MC = Interval(numbers.Integral, 2, None, "left")


@dataclass(frozen=True)
class LaplaceOptions(MethodOptions):
    """Options of ``method="laplace"``."""

    method = "laplace"

    n_mc: int = option(1000, N_MC, "Draws from q for the ELBO split and the Pareto k-hat.")


@dataclass(frozen=True)
class Mode:
    r"""The posterior mode and the negative Hessian there, in the flat layout.

    Attributes
    ----------
    theta : ndarray (P,)
    precision : ndarray (P, P)
        :math:`-\nabla^2 \log p(\theta \mid y)` at ``theta``.
    converged : bool
        Whether ``theta`` is the mode to within :data:`MODE_TOL` posterior sd: the Newton
        step there, :math:`H^{-1} \nabla \log p`, is shorter than that in every coordinate.
    n_iterations : int
        L-BFGS iterations plus Newton steps.
    route : {"lbfgs", "lbfgs+newton"}
        How the mode was reached: L-BFGS alone, or L-BFGS polished by Newton steps.
    accuracy : float
        The largest Newton step at ``theta``, in posterior sd (inf when the Hessian is not
        positive definite).
    message : str
        Why the search ended (L-BFGS's message, and the Newton steps' outcome).
    """

    theta: Floats
    precision: Floats
    converged: bool
    n_iterations: int
    route: str = "lbfgs"
    accuracy: float = np.nan
    message: str = ""

    def covariance(self) -> Floats:
        """The inverse of :attr:`precision`, symmetrised (inverted once; a copy each call)."""
        return self._covariance.copy()

    @cached_property
    def _covariance(self) -> Floats:
        cov = np.linalg.inv(self.precision)
        return np.asarray(0.5 * (cov + cov.T))

    def gaussian(self) -> Gaussian:
        """The Laplace approximation ``N(theta, precision^-1)``."""
        return Gaussian.from_cov(self.theta, self.covariance())


#: The mode is found when a Newton step moves no coordinate by more than this many
#: posterior sds: a scale-free test, the same at N = 10^3 and 10^7 (an absolute gradient
#: tolerance is below floating-point noise once the log density is -10^5).
MODE_TOL = 1e-3
#: Newton steps that may polish L-BFGS's end point.
MAX_NEWTON = 20


def _newton_step(precision: Floats, grad: Floats) -> tuple[Floats, float]:
    """The Newton step ``H^-1 g`` and its largest coordinate in posterior sd (inf if not PD)."""
    try:
        chol = np.linalg.cholesky(precision)
    except np.linalg.LinAlgError:
        return np.zeros_like(grad), np.inf
    step = np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
    # Posterior sds: sqrt(diag(H^-1)) = row norms of chol^-1 (columns of chol^-T).
    inv = np.linalg.solve(chol, np.eye(grad.size))
    sd = np.sqrt(np.einsum("ij,ij->j", inv, inv))
    return step, float(np.max(np.abs(step) / sd))


def _damped_newton(
    post: Posterior, theta: Floats, value: float, step: Floats
) -> tuple[Floats, float, Floats]:
    """One Newton step, halved until the log density does not fall beyond float noise."""
    t = 1.0
    while True:
        candidate = theta + t * step
        new_value, new_grad = post.value_and_grad(candidate)
        if new_value >= value - 1e-12 * abs(value) or t < 1e-10:
            return candidate, new_value, new_grad
        t /= 2


def find_mode(
    post: Posterior, *, max_iter: int = 2000, gtol: float = 1e-6, tol: float = MODE_TOL
) -> Mode:
    """The posterior mode by L-BFGS from 0, checked (and polished) by Newton steps.

    L-BFGS runs to scipy's tolerances; its end point is the mode when the Newton step there
    is shorter than ``tol`` posterior sd in every coordinate. If it is not (at large N,
    L-BFGS can stop on float precision short of its absolute gradient tolerance), damped
    Newton steps with the closed-form Hessian finish the search, which converges
    quadratically from there. Without a mode (separable classes under a flat intercept
    prior) the steps run away and ``converged`` is False.

    Parameters
    ----------
    post : Posterior
    max_iter : int, default 2000
    gtol : float, default 1e-6
        L-BFGS's tolerance on the largest gradient entry (not the convergence test).
    tol : float, default MODE_TOL
        The convergence test, in posterior sd.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); y = (X @ [1.0, -1.0] + rng.logistic(size=500) > 0)
    >>> mode = find_mode(Posterior(make_spec(X, y.astype(np.int64), np.array([0, 1]))))
    >>> mode.converged, mode.route, mode.precision.shape, np.sign(mode.theta[1:]).tolist()
    (True, 'lbfgs', (3, 3), [1.0, -1.0])
    """

    def objective(x: Floats) -> tuple[float, Floats]:
        value, grad = post.value_and_grad(x)
        return -value, -grad

    def progress(intermediate_result: OptimizeResult) -> None:  # scipy's name for it
        task.advance(note=f"log p {-float(intermediate_result.fun):.6g}")

    reporter = current()
    with reporter.phase("finding the posterior mode (L-BFGS)") as task:
        res = minimize(
            objective,
            np.zeros(post.size),
            jac=True,
            method="L-BFGS-B",
            callback=progress,
            options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15},
        )
    theta = np.asarray(res.x, dtype=np.float64)
    value, grad = post.value_and_grad(theta)
    with reporter.phase(f"Hessian at the mode ({post.size} parameters)"):
        precision = post.precision(theta)
    step, accuracy = _newton_step(precision, grad)
    message, route, n_newton = str(res.message), "lbfgs", 0
    if not accuracy < tol and np.isfinite(accuracy):
        route = "lbfgs+newton"
        with reporter.phase("Newton steps to the mode") as task:
            while n_newton < MAX_NEWTON:
                n_newton += 1
                theta, value, grad = _damped_newton(post, theta, value, step)
                precision = post.precision(theta)
                step, accuracy = _newton_step(precision, grad)
                task.advance(note=f"step {accuracy:.2g} sd")
                if accuracy < tol or not np.isfinite(accuracy):
                    break
    converged = bool(accuracy < tol)
    if n_newton:
        message += f"; {n_newton} Newton steps"
    if not converged:
        message += f"; the Newton step is still {accuracy:.3g} posterior sd"
    return Mode(
        theta=theta,
        precision=precision,
        converged=converged,
        n_iterations=int(res.nit) + n_newton,
        route=route,
        accuracy=accuracy,
        message=message,
    )


def second_order_mean(post: Posterior, mode: Mode) -> Floats:
    r"""The posterior mean to second order: the mode plus its skewness correction.

    :math:`E[\theta] \approx \hat\theta - \tfrac12 \Sigma \nabla \log\det H(\hat\theta)`,
    :math:`\Sigma = H^{-1}` (Tierney, Kass and Kadane 1989): the mode moved by the
    third derivatives of the log posterior, which the Gaussian leaves out. The error is of
    a smaller order in N than the mode's own :math:`O(1/\sqrt N)` sd, with no Monte Carlo
    noise. For these likelihoods it costs one pass over the rows
    (:meth:`~bayescore.inference.posterior.Posterior.log_det_gradient`).

    Examples
    --------
    A Gamma-shaped direction: 8 successes in 10 trials put the posterior of the log odds
    above its mode.

    >>> from bayescore.models import make_spec
    >>> spec = make_spec(np.zeros((10, 1)), np.array([1] * 8 + [0] * 2), np.array([0, 1]))
    >>> post = Posterior(spec)
    >>> mode = find_mode(post)
    >>> bool(second_order_mean(post, mode)[0] > mode.theta[0])
    True
    """
    cov = mode.covariance()
    return np.asarray(mode.theta - 0.5 * cov @ post.log_det_gradient(mode.theta, cov))


def fit_laplace(
    spec: ModelSpec,
    settings: FitSettings,
    options: LaplaceOptions,
    *,
    post: Posterior | None = None,
    mode: Mode | None = None,
    mean: Floats | None = None,
) -> tuple[xr.DataTree, VariationalRecord]:
    """The Laplace approximation ``N(mode, H^-1)`` as a fit, with its verdict.

    ``settings.draws`` draws of q, then ``n_mc`` further draws for the ELBO split, from
    ``np.random.default_rng(settings.random_seed)``, then the verdict's draws. From
    :data:`~bayescore.inference.subsample.MIN_ROWS` rows on, the log-likelihood of the ELBO's
    and the verdict's draws is estimated from a subsample of rows with a Taylor control
    variate (:mod:`bayescore.inference.subsample`), and the verdict is taken again on every
    row if the estimates' error could flip it. ``post`` and ``mode``, when given, are the
    posterior and its mode already found (``method="auto"``).

    ``mean``, when given, replaces the mode as the Gaussian's centre: the posterior mean
    to second order (:func:`second_order_mean`, ``method="auto"``): the same draws of the
    seed, moved. Returns the fit and its ``variational`` record.
    """
    post = Posterior(spec) if post is None else post
    mode = find_mode(post) if mode is None else mode
    q = mode.gaussian()
    if mean is not None:
        q = Gaussian.from_cholesky(np.asarray(mean, dtype=np.float64), q.scale)
    found = assess(
        post,
        q,
        np.random.default_rng(settings.random_seed),
        settings.draws,
        options.n_mc,
        mode.precision,
        centre=mode.theta,
    )
    optimisation = Optimisation(
        mode.converged,
        mode.n_iterations,
        optimizer=mode.route,
        mode_accuracy=mode.accuracy,
        message=mode.message,
    )
    record = VariationalRecord(
        "laplace",
        found.parts,
        optimisation,
        q=q,
        verdict=found.verdict,
        likelihood_rows=found.likelihood_rows,
    )
    return approximation_tree(spec, found.theta, record), record


@dataclass(frozen=True)
class Assessment:
    """A Gaussian approximation's draws, its ELBO split and its verdict (:func:`assess`)."""

    theta: Floats
    parts: ELBOParts
    verdict: Verdict
    likelihood_rows: int | None


def assess(
    post: Posterior,
    q: Gaussian,
    rng: np.random.Generator,
    draws: int,
    n_mc: int,
    precision: Floats | None = None,
    *,
    centre: Floats | None = None,
) -> Assessment:
    """``draws`` draws of ``q``, the ELBO split from ``n_mc`` more, then the verdict.

    The one sequence every Gaussian fit (Laplace, ADVI on fixed draws) runs, in this order
    on ``rng``, so a seed gives the same draws whichever method made ``q``. The fit's draws
    are centred (:meth:`Gaussian.centred_draws`): their mean is ``q``'s, without Monte
    Carlo error. The draws' log-likelihood comes from a row subsample at large N
    (:func:`draws_density`, centred at ``centre``, by default ``q``'s mean; ``precision``
    there when known, else estimated by the pilot); ``likelihood_rows`` is its size, or
    None when every row was read.
    """
    spec = post.spec
    theta = q.centred_draws(rng, draws)
    z, log_q = q.draw(rng, n_mc)
    density = draws_density(post, q.mean if centre is None else centre, rng, precision)
    with current().phase(f"ELBO of the Gaussian ({n_mc} draws)"):
        parts, _ = elbo_of_gaussians(
            density,
            [q],
            z,
            log_q,
            prior_variance=post.prior.variance(),
            flat_prior=spec.flat_intercept,
        )
    verdict = judge(
        density,
        q.mean,
        q.cov,
        rng,
        nu=proposal_nu(spec),
    )
    rows = density.n_rows if isinstance(density, SubsampledLikelihood) else None
    return Assessment(theta, parts, verdict, rows)
