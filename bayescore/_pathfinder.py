r"""Pathfinder's building blocks in numpy: the L-BFGS path and a Gaussian at every iterate.

Zhang, Carpenter, Gelman & Vehtari (2022), "Pathfinder: Parallel quasi-Newton variational
inference", JMLR 23(306), Algorithms 1, 3 and 4. L-BFGS minimises :math:`-\log p(\theta
\mid y)`; at iterate :math:`x_l` with :math:`g_l = \nabla \log p(x_l \mid y)` the last
:math:`m \le J` accepted position and gradient changes
:math:`s_i = x_{i} - x_{i-1}`, :math:`z_i = g_{i-1} - g_{i}` (the change of the gradient of
:math:`-\log p`) are kept as columns of :math:`S, Z \in \mathbb{R}^{P \times m}`, oldest
first. A pair is accepted when its curvature is positive and tame,
:math:`s^\top z > 0` and :math:`\|z\|^2 \le 10^{12}\, s^\top z` (as Stan does). The
diagonal :math:`\alpha` of the initial inverse Hessian follows the update of Gilbert &
Lemaréchal (1989, eq. 4.9) with each accepted pair,

.. math::

    \frac{1}{\alpha_{\mathrm{new}}} = \frac{z^\top \operatorname{diag}(\alpha) z}
    {s^\top z\;\alpha} + \frac{z^2}{s^\top z}
    - \frac{z^\top \operatorname{diag}(\alpha) z}{s^\top z}\,
    \frac{(s / \alpha)^2}{s^\top \operatorname{diag}(1/\alpha)\, s}

(elementwise), and the inverse Hessian is the compact L-BFGS form (Byrd, Nocedal &
Schnabel 1994) started at :math:`\operatorname{diag}(\alpha)`:

.. math::

    \Sigma = \operatorname{diag}(\alpha) + \beta \gamma \beta^\top, \quad
    \beta = [\operatorname{diag}(\alpha) Z,\; S], \quad
    \gamma = \begin{pmatrix} 0 & -R^{-1} \\ -R^{-\top} &
    R^{-\top}(E + Z^\top \operatorname{diag}(\alpha) Z) R^{-1} \end{pmatrix},

with :math:`R` the upper triangle of :math:`S^\top Z` and :math:`E` its diagonal: exactly
:math:`m` BFGS updates of :math:`\operatorname{diag}(\alpha)`. The iterate's Gaussian is
:math:`N(x_l + \Sigma g_l, \Sigma)`, drawn through the thin QR factorisation
:math:`\operatorname{diag}(\alpha)^{-1/2} \beta = Q R_\beta` and the Cholesky factor
:math:`L L^\top = I + R_\beta \gamma R_\beta^\top`:
:math:`\theta = \mu + \operatorname{diag}(\sqrt\alpha)\,(Q (L - I) Q^\top u + u)`,
:math:`\log\det\Sigma = \sum \log \alpha + 2 \sum \log L_{ii}` (Algorithm 4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import minimize

__all__ = [
    "Gaussian",
    "Iterate",
    "LBFGSPath",
    "PathResult",
    "gaussian_at",
    "inverse_hessian_factors",
    "iterate_gaussians",
    "lbfgs_path",
    "single_path",
    "update_diagonal",
]

#: Largest ``|z|^2 / s^T z`` of an accepted pair (Stan's curvature check).
MAX_CURVATURE = 1e12


@dataclass(frozen=True)
class Gaussian:
    r"""``N(mean, scale scale^T)`` with the log determinant of its covariance.

    Examples
    --------
    >>> q = Gaussian.from_cov(np.zeros(2), np.diag([4.0, 1.0]))
    >>> z, log_q = q.draw(np.random.default_rng(0), 3)
    >>> z.shape, q.variance.tolist(), round(q.logdet, 6)
    ((3, 2), [4.0, 1.0], 1.386294)
    """

    mean: np.ndarray
    scale: np.ndarray
    logdet: float

    @classmethod
    def from_cov(cls, mean: np.ndarray, cov: np.ndarray) -> Gaussian:
        """The Gaussian with this mean and (positive definite) covariance."""
        chol = np.linalg.cholesky(cov)
        return cls(
            np.asarray(mean, dtype=np.float64), chol, 2.0 * float(np.log(np.diag(chol)).sum())
        )

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws (n, P) and the log density of each."""
        u = rng.standard_normal((n, self.mean.size))
        log_q = -0.5 * (
            np.einsum("ij,ij->i", u, u) + self.mean.size * np.log(2 * np.pi) + self.logdet
        )
        return self.mean + u @ self.scale.T, log_q

    @property
    def variance(self) -> np.ndarray:
        """The diagonal of the covariance."""
        return np.einsum("ij,ij->i", self.scale, self.scale)

    @property
    def cov(self) -> np.ndarray:
        """The covariance, (P, P)."""
        return self.scale @ self.scale.T


@dataclass(frozen=True)
class LBFGSPath:
    """The iterates of one L-BFGS run on ``-log p`` and the gradients of ``log p`` there.

    Attributes
    ----------
    x, grad : ndarray (L + 1, P)
        Row 0 is the starting point.
    converged : bool
        Whether L-BFGS met its tolerances before ``max_iter``.
    """

    x: np.ndarray
    grad: np.ndarray
    converged: bool

    @property
    def n_iterations(self) -> int:
        """Number of L-BFGS iterations L."""
        return self.x.shape[0] - 1


def lbfgs_path(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    *,
    max_iter: int,
    history_size: int,
) -> LBFGSPath:
    """Maximise ``log p`` by L-BFGS from ``x0`` and record every iterate and gradient.

    ``value_and_grad`` returns ``log p`` (up to a constant) and its gradient. Stan's
    Pathfinder tolerances: relative objective change 1e4 machine epsilons, gradient 1e-8.

    Examples
    --------
    >>> path = lbfgs_path(lambda x: (-0.5 * x @ x, -x), np.ones(2), max_iter=50, history_size=6)
    >>> path.converged, bool(np.abs(path.x[-1]).max() < 1e-6)
    (True, True)
    """
    seen: dict[bytes, np.ndarray] = {}

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(x)
        seen[x.tobytes()] = grad
        return -value, -grad

    xs = [np.array(x0, dtype=np.float64)]
    grads = [value_and_grad(xs[0])[1]]

    def record(intermediate_result: object) -> None:
        # L-BFGS-B evaluates every accepted point during its line search.
        x = np.array(intermediate_result.x, dtype=np.float64)  # type: ignore[attr-defined]
        grad = seen.get(x.tobytes())
        xs.append(x)
        grads.append(value_and_grad(x)[1] if grad is None else grad)
        seen.clear()

    res = minimize(
        objective,
        xs[0],
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options={
            "maxiter": max_iter,
            "maxcor": history_size,
            "ftol": 1e4 * np.finfo(np.float64).eps,
            "gtol": 1e-8,
        },
    )
    return LBFGSPath(np.array(xs), np.array(grads), bool(res.success))


def update_diagonal(alpha: np.ndarray, s: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Gilbert & Lemaréchal's diagonal update with the pair ``(s, z)`` (see module doc).

    Examples
    --------
    >>> s = np.array([1.0, 0.0]); z = np.array([2.0, 0.0])  # curvature 2 along axis 0
    >>> update_diagonal(np.ones(2), s, z).tolist()  # the unexplored axis takes its scale
    [0.5, 0.5]
    """
    z_alpha_z = float(z @ (alpha * z))
    s_z = float(s @ z)
    s_alpha_s = float(s @ (s / alpha))
    inverse = (
        z_alpha_z / (s_z * alpha) + z**2 / s_z - z_alpha_z / s_z * (s / alpha) ** 2 / s_alpha_s
    )
    return 1.0 / inverse


def inverse_hessian_factors(
    alpha: np.ndarray, S: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""The factors of the L-BFGS inverse Hessian: ``beta`` (P, 2m) and ``gamma`` (2m, 2m).

    :math:`\Sigma = \mathrm{diag}(\alpha) + \beta\gamma\beta^\top`; ``S`` and ``Z`` hold
    the accepted pairs as columns, oldest first.

    Examples
    --------
    >>> beta, gamma = inverse_hessian_factors(np.ones(1), np.array([[1.0]]), np.array([[4.0]]))
    >>> 1.0 + (beta @ gamma @ beta.T).item()   # one BFGS update on a 1-D quadratic: 1 / 4
    0.25
    """
    m = S.shape[1]
    s_z = S.T @ Z
    R = np.triu(s_z)
    R_inv = solve_triangular(R, np.eye(m))
    alpha_z = alpha[:, None] * Z
    beta = np.hstack([alpha_z, S])
    lower = R_inv.T @ (np.diag(np.diag(s_z)) + Z.T @ alpha_z) @ R_inv
    gamma = np.block([[np.zeros((m, m)), -R_inv], [-R_inv.T, lower]])
    return beta, gamma


def gaussian_at(
    x: np.ndarray, grad: np.ndarray, alpha: np.ndarray, S: np.ndarray, Z: np.ndarray
) -> Gaussian:
    """The Gaussian ``N(x + Sigma grad, Sigma)`` of an iterate (Algorithm 4, thin QR)."""
    sqrt_alpha = np.sqrt(alpha)
    if S.shape[1] == 0:  # no accepted pair yet: Sigma = diag(alpha)
        return Gaussian(x + alpha * grad, np.diag(sqrt_alpha), float(np.log(alpha).sum()))
    beta, gamma = inverse_hessian_factors(alpha, S, Z)
    Q, R_beta = np.linalg.qr(beta / sqrt_alpha[:, None])
    L = np.linalg.cholesky(np.eye(R_beta.shape[0]) + R_beta @ gamma @ R_beta.T)
    mean = x + alpha * grad + beta @ (gamma @ (beta.T @ grad))
    inner = np.eye(x.size) + Q @ (L - np.eye(L.shape[0])) @ Q.T
    logdet = float(np.log(alpha).sum() + 2.0 * np.log(np.diag(L)).sum())
    return Gaussian(mean, sqrt_alpha[:, None] * inner, logdet)


@dataclass(frozen=True)
class Iterate:
    """One iterate's inverse-Hessian ingredients and its Gaussian (None if not PD)."""

    index: int
    alpha: np.ndarray
    S: np.ndarray
    Z: np.ndarray
    q: Gaussian | None


def iterate_gaussians(path: LBFGSPath, history_size: int) -> Iterator[Iterate]:
    """The Gaussian at every iterate ``l = 1 .. L`` of ``path`` (Algorithm 3)."""
    size = path.x.shape[1]
    alpha = np.ones(size)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for index in range(1, path.x.shape[0]):
        s = path.x[index] - path.x[index - 1]
        z = path.grad[index - 1] - path.grad[index]
        s_z = float(s @ z)
        if s_z > 0 and float(z @ z) <= MAX_CURVATURE * s_z:
            alpha = update_diagonal(alpha, s, z)
            pairs = [*pairs, (s, z)][-history_size:]
        S = np.array([p[0] for p in pairs]).reshape(-1, size).T
        Z = np.array([p[1] for p in pairs]).reshape(-1, size).T
        try:
            q: Gaussian | None = gaussian_at(path.x[index], path.grad[index], alpha, S, Z)
        except np.linalg.LinAlgError:
            q = None
        yield Iterate(index, alpha, S, Z, q)


@dataclass(frozen=True)
class PathResult:
    """A single-path Pathfinder: the Gaussian of largest ELBO along one L-BFGS path.

    Attributes
    ----------
    q : Gaussian or None
        None when no iterate had a finite ELBO.
    iteration : int
        The chosen iterate (1 .. n_iterations; 0 when none).
    elbo : float
        Its ELBO estimate from the ``num_elbo_draws`` draws (-inf when none).
    n_iterations : int
    converged : bool
    """

    q: Gaussian | None
    iteration: int
    elbo: float
    n_iterations: int
    converged: bool


def single_path(
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    log_density: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    rng: np.random.Generator,
    *,
    max_iter: int,
    history_size: int,
    num_elbo_draws: int,
) -> PathResult:
    r"""Run L-BFGS from ``x0`` and keep the iterate's Gaussian of largest ELBO.

    The ELBO of :math:`q_l` is estimated as the mean of
    :math:`\log p(\theta, y) - \log q_l(\theta)` over ``num_elbo_draws`` draws;
    ``log_density`` evaluates :math:`\log p(\theta, y)` at the rows of an (n, P) array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> res = single_path(lambda x: (-0.5 * x @ x, -x),
    ...                   lambda z: -0.5 * (z**2).sum(1) - np.log(2 * np.pi), np.ones(2), rng,
    ...                   max_iter=50, history_size=6, num_elbo_draws=25)
    >>> np.allclose(res.q.mean, 0.0), np.allclose(res.q.cov, np.eye(2)), round(res.elbo, 12)
    (True, True, 0.0)
    """
    path = lbfgs_path(value_and_grad, x0, max_iter=max_iter, history_size=history_size)
    best = PathResult(None, 0, -np.inf, path.n_iterations, path.converged)
    for it in iterate_gaussians(path, history_size):
        if it.q is None:
            continue
        z, log_q = it.q.draw(rng, num_elbo_draws)
        elbo = float(np.mean(log_density(z) - log_q))
        if np.isfinite(elbo) and elbo > best.elbo:
            best = PathResult(it.q, it.index, elbo, path.n_iterations, path.converged)
    return best
