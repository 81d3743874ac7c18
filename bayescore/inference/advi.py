r"""ADVI with a deterministic objective: fixed, moment-matched draws and L-BFGS (numpy).

Stochastic-gradient ADVI spends thousands of noisy steps, and its stopping rule must tell
convergence from noise. Following DADVI (Giordano, Ingram & Broderick 2024, "Black box
variational inference with a deterministic objective", JMLR 25), the expectations in the
ELBO are taken over a *fixed* set of standard-normal draws :math:`z_1..z_M`, so the objective

.. math::

    \widehat{\mathrm{ELBO}}(\mu, L) = \frac1M \sum_m \log p(\mu + L z_m, y)
        + \sum_i \log |L_{ii}| + \text{const}

is deterministic and L-BFGS maximises it to a gradient tolerance in a few dozen steps. The
draws are antithetic pairs whitened so their mean is exactly 0 and their second moment
exactly the identity (hence :math:`M \ge 2P`): for a Gaussian posterior (a quadratic log
density) the fixed-draw optimum is then the exact ELBO optimum, and for the near-Gaussian
posteriors of logistic and softmax regression the remaining error comes from fourth and
higher moments only. The fit is judged, as stochastic ADVI is, by the ELBO and the Pareto
:math:`\hat k` on fresh draws from q.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize

from bayescore._progress import current
from bayescore._validation import POSITIVE, Boolean, Interval
from bayescore.inference.gaussian import LOG_2PI_E, Gaussian
from bayescore.inference.laplace import N_MC, Mode, assess, find_mode
from bayescore.inference.options import FitSettings, MethodOptions, option
from bayescore.inference.posterior import Posterior
from bayescore.inference.record import Optimisation, VariationalRecord
from bayescore.inference.tree import approximation_tree
from bayescore.models import ModelSpec

__all__ = [
    "ADVI_METHODS",
    "AdviOptions",
    "FullRankAdviOptions",
    "GaussianFit",
    "fit_advi_fixed",
    "fit_gaussian",
    "moment_matched_draws",
]

Floats = NDArray[np.float64]

#: The ADVI methods: mean-field and full-rank q.
ADVI_METHODS = ("advi", "fullrank_advi")

_POSITIVE_INT = Interval(numbers.Integral, 1, None, "left")


@dataclass(frozen=True)
class AdviOptions(MethodOptions):
    """Options of ``method="advi"`` and ``"fullrank_advi"``.

    Two routes: by default q is fitted by L-BFGS on fixed moment-matched draws (numpy,
    all the data, bayescore's logistic and reference-coded softmax models); options of the
    stochastic optimiser, ``stochastic=True``, or a model the closed form does not cover
    take PyMC's stochastic-gradient ADVI (Adam with iterate averaging,
    :mod:`bayescore.inference.advi_pymc`).
    """

    method = "advi"

    stochastic: bool | None = option(
        None,
        Boolean(),
        "True: PyMC's stochastic-gradient ADVI; None: chosen from the other options.",
    )
    n_mc: int = option(1000, N_MC, "Draws from q for the ELBO split and the Pareto k-hat.")
    max_iter: int | None = option(
        None,
        _POSITIVE_INT,
        "Most iterations: 1,000 L-BFGS steps on fixed draws, 50,000 Adam steps when stochastic.",
    )
    n_points: int | None = option(
        None,
        Interval(numbers.Integral, 2, None, "left"),
        "Fixed draws of the objective (at least twice the parameters; default 2 max(P, 16)).",
        route="fixed",
    )
    learning_rate: float | None = option(
        None,
        POSITIVE,
        "Adam's first step (0.02; 0.01 for full-rank q or with batch_size), halved "
        "whenever the ELBO stalls.",
        route="stochastic",
    )
    tol: float | None = option(
        None,
        POSITIVE,
        "Relative change of the ELBO of the window-averaged q at fixed draws (1e-4).",
        route="stochastic",
    )
    window: int | None = option(
        None,
        Interval(numbers.Integral, 10, None, "left"),
        "Iterations averaged per convergence check (500).",
        route="stochastic",
    )
    batch_size: int | None = option(
        None, _POSITIVE_INT, "Minibatch size for large N.", route="stochastic"
    )
    obj_n_mc: int | None = option(
        None, _POSITIVE_INT, "Draws per stochastic gradient (1).", route="stochastic"
    )
    warm_start: bool | None = option(
        None, Boolean(), "Start q at the Laplace approximation (True).", route="stochastic"
    )


# The full-rank method reads the same options; only its name in messages differs.
@dataclass(frozen=True)
class FullRankAdviOptions(AdviOptions):
    """Options of ``method="fullrank_advi"`` (those of ``"advi"``)."""

    method = "fullrank_advi"


def moment_matched_draws(n_points: int, size: int, seed: int | None) -> Floats:
    """Standard-normal draws with exact first and second moments, (n_points, size).

    Antithetic pairs (mean 0, odd moments 0), whitened so that ``Z.T @ Z / n_points`` is
    the identity; needs ``n_points >= 2 * size``.

    Examples
    --------
    >>> Z = moment_matched_draws(8, 3, seed=0)
    >>> np.allclose(Z.mean(0), 0), np.allclose(Z.T @ Z / 8, np.eye(3))
    (True, True)
    """
    half = n_points // 2
    if half < size:
        raise ValueError(f"moment matching needs n_points >= 2 * size = {2 * size}.")
    Z = np.random.default_rng(seed).standard_normal((half, size))
    Z = np.vstack([Z, -Z])
    second = Z.T @ Z / Z.shape[0]
    return np.asarray(Z @ np.linalg.cholesky(np.linalg.inv(second)))


@dataclass(frozen=True)
class GaussianFit:
    """The optimised Gaussian q = N(mean, chol chol^T) and the optimiser's record.

    Attributes
    ----------
    mean : ndarray (P,)
    chol : ndarray (P, P)
        Lower Cholesky factor of q's covariance (diagonal for mean-field q).
    history : ndarray
        The fixed-draw ELBO at each L-BFGS iteration, up to a constant (the log density's
        normalising constants and ``P/2 log(2 pi e)``).
    converged : bool
        Whether L-BFGS met its gradient tolerance.
    n_iterations : int
    n_points : int
        Fixed draws in the objective.
    """

    mean: Floats
    chol: Floats
    history: Floats
    converged: bool
    n_iterations: int
    n_points: int


def fit_gaussian(
    post: Posterior,
    start_mean: Floats,
    start_cov: Floats,
    *,
    full_rank: bool,
    seed: int | None,
    n_points: int | None = None,
    max_iter: int = 1000,
    gtol: float = 1e-6,
) -> GaussianFit:
    """Maximise the fixed-draw ELBO of a mean-field or full-rank Gaussian q.

    Parameters
    ----------
    post : Posterior
    start_mean, start_cov : ndarray
        Where q starts (the Laplace approximation); mean-field q starts at the sds
        ``1 / sqrt(diag(precision))``, the KL-optimal mean-field sds of that Gaussian.
    full_rank : bool
    seed : int or None
        Seed of the fixed draws.
    n_points : int, optional
        Fixed draws (default ``2 * max(P, 16)``).
    max_iter : int, default 1000
    gtol : float, default 1e-6
        L-BFGS tolerance on the largest gradient entry.

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 2)); y = (X @ [1.0, -1.0] + rng.logistic(size=400) > 0)
    >>> post = Posterior(make_spec(X, y.astype(np.int64), np.array([0, 1])))
    >>> q = fit_gaussian(post, np.zeros(3), np.eye(3), full_rank=False, seed=0)
    >>> q.converged, q.chol.shape, bool(np.all(np.diag(q.chol) < 0.2))
    (True, (3, 3), True)
    """
    size = start_mean.size
    m = 2 * max(size, 16) if n_points is None else int(n_points)
    Z = moment_matched_draws(m, size, seed)
    history: list[float] = []
    tril = np.tril_indices(size)
    diag = np.diag_indices(size)

    if full_rank:
        L0 = np.linalg.cholesky(start_cov)
        L0[diag] = np.log(np.diag(L0))  # the diagonal is optimised on the log scale
        x0 = np.concatenate([start_mean, L0[tril]])

        def unpack(x: Floats) -> tuple[Floats, Floats]:
            L = np.zeros((size, size))
            L[tril] = x[size:]
            L[diag] = np.exp(L[diag])
            return x[:size], L

        def objective(x: Floats) -> tuple[float, Floats]:
            mu, L = unpack(x)
            values, grads = post.values_and_grads(mu + Z @ L.T)
            elbo = float(values.mean() + np.log(np.diag(L)).sum())
            gL = np.tril(grads.T @ Z / m)
            gL[diag] = gL[diag] * np.diag(L) + 1.0  # chain rule through exp, + entropy
            return -elbo, -np.concatenate([grads.mean(axis=0), gL[tril]])

    else:
        sd0 = 1.0 / np.sqrt(np.diag(np.linalg.inv(start_cov)))
        x0 = np.concatenate([start_mean, np.log(sd0)])

        def unpack(x: Floats) -> tuple[Floats, Floats]:
            return x[:size], np.diag(np.exp(x[size:]))

        def objective(x: Floats) -> tuple[float, Floats]:
            mu, log_sd = x[:size], x[size:]
            sd = np.exp(log_sd)
            values, grads = post.values_and_grads(mu + Z * sd)
            elbo = float(values.mean() + log_sd.sum())
            g_log_sd = (grads * Z).mean(axis=0) * sd + 1.0
            return -elbo, -np.concatenate([grads.mean(axis=0), g_log_sd])

    def record(intermediate_result: OptimizeResult) -> None:
        history.append(-float(intermediate_result.fun))  # one entry per iteration
        task.advance(note=f"ELBO {history[-1]:.6g}")

    kind = "full-rank" if full_rank else "mean-field"
    with current().phase(f"{kind} ADVI: L-BFGS on {m} fixed draws") as task:
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            callback=record,
            options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-14},
        )
    mean, chol = unpack(res.x)
    return GaussianFit(
        mean=mean,
        chol=chol,
        history=np.asarray(history),
        converged=bool(res.success),
        n_iterations=int(res.nit),
        n_points=m,
    )


def fit_advi_fixed(
    spec: ModelSpec,
    settings: FitSettings,
    options: AdviOptions,
    *,
    full_rank: bool,
    post: Posterior | None = None,
    mode: Mode | None = None,
) -> xr.DataTree:
    """Mean-field or full-rank ADVI on fixed moment-matched draws.

    q starts at the Laplace approximation and L-BFGS maximises the fixed-draw ELBO; the
    final ELBO split and the Pareto k-hat use ``n_mc`` fresh draws from q, as for every
    approximation. The ``variational`` group's ``elbo_history`` holds the fixed-draw ELBO
    at each L-BFGS iteration, on the scale of the reported ELBO.
    """
    post = Posterior(spec) if post is None else post
    mode = find_mode(post) if mode is None else mode
    mean, cov = mode.theta, mode.covariance()
    if options.n_points is not None and options.n_points < 2 * mean.size:
        raise ValueError(
            f"The 'n_points' parameter of fit must be an int >= {2 * mean.size} (twice the "
            f"{mean.size} parameters). Got {options.n_points} instead."
        )
    fit = fit_gaussian(
        post,
        mean,
        cov,
        full_rank=full_rank,
        seed=settings.random_seed,
        n_points=options.n_points,
        max_iter=1000 if options.max_iter is None else options.max_iter,
    )
    q = Gaussian.from_cholesky(fit.mean, fit.chol)
    rng = np.random.default_rng(settings.random_seed)
    found = assess(post, q, rng, settings.draws, options.n_mc)
    # The fixed-draw objective leaves out constants; restore them so that the history is
    # on the scale of the reported ELBO: the prior's normalising constant and the Gaussian
    # entropy's P/2 log(2 pi e).
    history = fit.history + post.prior.log_constant() + 0.5 * fit.mean.size * LOG_2PI_E
    last = history[-2:] if history.size >= 2 else np.array([np.nan, np.nan])
    optimisation = Optimisation(
        converged=fit.converged,
        n_iterations=fit.n_iterations,
        optimizer="lbfgs",
        start="laplace",
        converged_at=fit.n_iterations if fit.converged else None,
        relative_change=float(abs(last[1] - last[0]) / max(abs(last[1]), 1e-300)),
        objective="fixed moment-matched draws (DADVI)",
        history=history,
    )
    method = "fullrank_advi" if full_rank else "advi"
    record = VariationalRecord(
        method,
        found.parts,
        optimisation,
        n_points=fit.n_points,
        q=q,
        verdict=found.verdict,
        likelihood_rows=found.likelihood_rows,
    )
    return approximation_tree(spec, found.theta, record)
