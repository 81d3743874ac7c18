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

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import minimize

from bayescore._validation import Interval
from bayescore.inference.gaussian import Gaussian
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import Optimisation, VariationalRecord, judge_gaussians
from bayescore.inference.threads import one_blas_thread
from bayescore.inference.tree import approximation_tree
from bayescore.models import ModelSpec

__all__ = ["N_MC", "LaplaceOptions", "Mode", "find_mode", "fit_laplace"]

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
        Whether L-BFGS met its gradient tolerance.
    n_iterations : int
    """

    theta: Floats
    precision: Floats
    converged: bool
    n_iterations: int

    def covariance(self) -> Floats:
        """The inverse of :attr:`precision`, symmetrised."""
        cov = np.linalg.inv(self.precision)
        return np.asarray(0.5 * (cov + cov.T))

    def gaussian(self) -> Gaussian:
        """The Laplace approximation ``N(theta, precision^-1)``."""
        return Gaussian.from_cov(self.theta, self.covariance())


def find_mode(post: Posterior, *, max_iter: int = 2000, gtol: float = 1e-6) -> Mode:
    """The posterior mode by L-BFGS from 0, and the negative Hessian there.

    Parameters
    ----------
    post : Posterior
    max_iter : int, default 2000
    gtol : float, default 1e-6
        L-BFGS tolerance on the largest gradient entry.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); y = (X @ [1.0, -1.0] + rng.logistic(size=500) > 0)
    >>> mode = find_mode(Posterior(make_spec(X, y.astype(np.int64), np.array([0, 1]))))
    >>> mode.converged, mode.precision.shape, np.sign(mode.theta[1:]).tolist()
    (True, (3, 3), [1.0, -1.0])
    """

    def objective(x: Floats) -> tuple[float, Floats]:
        value, grad = post.value_and_grad(x)
        return -value, -grad

    res = minimize(
        objective,
        np.zeros(post.size),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    return Mode(
        theta=theta,
        precision=post.precision(theta),
        converged=bool(res.success),
        n_iterations=int(res.nit),
    )


@one_blas_thread
def fit_laplace(spec: ModelSpec, settings: FitSettings, options: LaplaceOptions) -> xr.DataTree:
    """The Laplace approximation ``N(mode, H^-1)`` as a fit, judged like ADVI (k-hat).

    ``settings.draws`` draws of q, then ``n_mc`` further draws for the ELBO split and the
    Pareto k-hat, from ``np.random.default_rng(settings.random_seed)``.
    """
    post = Posterior(spec)
    mode = find_mode(post)
    q = mode.gaussian()
    rng = np.random.default_rng(settings.random_seed)
    theta, _ = q.draw(rng, settings.draws)
    z, log_q = q.draw(rng, options.n_mc)
    parts, _ = judge_gaussians(
        post,
        [q],
        z,
        log_q,
        prior_variance=post.prior.variance(),
        flat_prior=spec.flat_intercept,
    )
    optimisation = Optimisation(mode.converged, mode.n_iterations)
    record = VariationalRecord("laplace", parts, optimisation, q=q)
    return approximation_tree(spec, theta, record)
