r"""The Laplace approximation: the posterior mode and the Hessian there (numpy, no compile).

The log posterior, its gradient and Hessian come in closed form from
:class:`bayescore._density.Posterior`; the mode is found by L-BFGS on them and the Gaussian
:math:`N(\hat\theta, H^{-1})` is the Laplace approximation: the starting point of ADVI,
the warm start of NUTS and ``method="laplace"``. Zero-sum coding is not covered (its free
variables live in a transformed space): :func:`bayescore._density.supports` says so and
callers fall back to PyMC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from bayescore._density import Posterior

__all__ = ["Laplace", "NumpyDensity", "laplace"]


@dataclass(frozen=True)
class Laplace:
    """The mode, the negative Hessian there and the parameter layout.

    Attributes
    ----------
    mode : dict of str to ndarray
        Free variable name (``intercept``/``coef`` or ``intercept_free``/``coef_free``) to
        its value at the posterior mode.
    precision : ndarray (P, P)
        Negative Hessian of the log posterior at the mode, over the flat parameters in the
        order of :attr:`names` (each variable raveled in C order).
    names : tuple of str
    shapes : tuple of tuple of int
    converged : bool
        Whether L-BFGS met its gradient tolerance.
    n_iterations : int
    """

    mode: dict[str, np.ndarray]
    precision: np.ndarray
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    converged: bool
    n_iterations: int

    def flat(self, order: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mode and covariance (``precision`` inverted) as flat arrays in ``order``."""
        order = list(self.names) if order is None else order
        slices, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = int(np.prod(shape))
            slices[name] = np.arange(start, start + size)
            start += size
        index = np.concatenate([slices[name] for name in order])
        mean = np.concatenate([self.mode[name].ravel() for name in order])
        cov = np.linalg.inv(self.precision)
        cov = 0.5 * (cov + cov.T)
        return mean, cov[np.ix_(index, index)]


def laplace(
    spec: Any, *, posterior: Posterior | None = None, max_iter: int = 2000, gtol: float = 1e-6
) -> Laplace:
    """Posterior mode and negative Hessian of a bayescore model, from its specification.

    Parameters
    ----------
    spec : ModelSpec
        Of a logistic or reference-coded softmax model (see :func:`bayescore._density.supports`).
    posterior : Posterior, optional
        The model's closed-form posterior, when the caller already built it (its design is
        then shared, not rebuilt).
    max_iter : int, default 2000
    gtol : float, default 1e-6
        L-BFGS tolerance on the largest gradient entry.

    Examples
    --------
    >>> import numpy as np
    >>> from bayescore.models import make_spec
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); y = (X @ [1.0, -1.0] + rng.logistic(size=500) > 0)
    >>> fit = laplace(make_spec(X, y.astype(np.int64), np.array([0, 1])))
    >>> fit.converged, fit.precision.shape, [float(np.sign(b)) for b in fit.mode["coef"]]
    (True, (3, 3), [1.0, -1.0])
    """
    post = Posterior(spec) if posterior is None else posterior

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = post.value_and_grad(x)
        return -value, -grad

    res = minimize(
        objective,
        np.zeros(post.size),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": gtol, "ftol": 1e-15},
    )
    W = post.unpack(res.x)
    names, shapes = post.names, post.shapes
    mode = {names[0]: W[0].reshape(shapes[0]), names[1]: W[1:].reshape(shapes[1])}
    return Laplace(
        mode=mode,
        precision=post.precision(res.x),
        names=names,
        shapes=shapes,
        converged=bool(res.success),
        n_iterations=int(res.nit),
    )


def _log_sigmoid_sums(s: np.ndarray) -> np.ndarray:
    r"""Column sums of :math:`\log\sigma(s)` for ``s`` of shape (rows, M), overwriting ``s``.

    :math:`\log\sigma(s) = \min(s, 0) - \log(1 + e^{-|s|})`; the second terms lie in
    :math:`(0, \log 2]`, so 512 rows' are summed as the log of their product (at most
    :math:`2^{512}`): one ``exp`` per element and one ``log`` per 512 rows, 3x faster than
    ``scipy.special.log_expit`` and as accurate (relative error ~1e-13 of the sum).

    Examples
    --------
    >>> s = np.array([[0.0, 50.0], [-3.0, 2.0]])
    >>> np.allclose(_log_sigmoid_sums(s.copy()), -np.log1p(np.exp(-s)).sum(axis=0))
    True
    """
    u = np.abs(s)
    np.negative(u, out=u)
    np.exp(u, out=u)
    u += 1.0
    total = np.minimum(s, 0.0, out=s).sum(axis=0)
    for start in range(0, u.shape[0], 512):
        total -= np.log(u[start : start + 512].prod(axis=0))
    return np.asarray(total)


class NumpyDensity:
    """Log-likelihood and log prior of a bayescore model at many flat points, in numpy.

    The same interface as the PyMC-compiled density of :mod:`bayescore._vi`, but vectorised
    over points and chunked over rows: ``X`` is never standardised into a copy (the
    standardisation is folded into the coefficients), so evaluating 64 points on 10^6 rows
    costs one pass of matrix products instead of 64 graph evaluations.

    Parameters
    ----------
    spec : ModelSpec
        Of a model :func:`bayescore._density.supports` covers.
    ordering : dict
        The approximation's flat layout: name -> (name, slice, shape, dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from bayescore.models import make_spec
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> spec = make_spec(X, y, np.array([0, 1]))
    >>> order = {"intercept": ("intercept", slice(0, 1), (), None),
    ...          "coef": ("coef", slice(1, 2), (1,), None)}
    >>> float(NumpyDensity(spec, order).log_likelihood(np.zeros((1, 2)))[0])  # 4 log(1/2)
    -2.772588722239781
    """

    #: Elements of one (rows, points, classes) block of logits: 8 MB, cache-sized (1.6x
    #: faster than 32 MB blocks for 1,000 points on 5,000 rows).
    CHUNK = 1 << 20

    def __init__(self, spec: Any, ordering: dict[str, Any]) -> None:
        self.spec = spec
        self.slices = {name: (info[1], tuple(info[2])) for name, info in ordering.items()}
        self.size = int(sum(sl.stop - sl.start for sl, _ in self.slices.values()))
        self.logistic = spec.kind == "logistic"
        self.names = ("intercept", "coef") if self.logistic else ("intercept_free", "coef_free")
        self.mean = spec.standardization.mean
        self.scale = spec.standardization.scale

    def _split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intercepts (M, k) and standardised-scale coefficients (M, D, k) of free classes."""
        m = z.shape[0]
        (sa, _), (sb, shape_b) = self.slices[self.names[0]], self.slices[self.names[1]]
        d = shape_b[0]
        return z[:, sa].reshape(m, -1), z[:, sb].reshape(m, d, -1)

    def log_likelihood(self, z: np.ndarray) -> np.ndarray:
        """``log p(y | theta)`` summed over rows, at each row of ``z`` (shape ``(M, P)``)."""
        a, B = self._split(np.atleast_2d(z))
        m, d, k = B.shape
        # eta = a + ((x - mean) / scale) B = (a - (mean / scale) B) + x (B / scale)
        W = (B / self.scale[None, :, None]).transpose(1, 0, 2).reshape(d, m * k)
        offset = a - np.einsum("d,mdk->mk", self.mean / self.scale, B)
        X, y = self.spec.X, self.spec.y
        n = X.shape[0]
        rows = max(1, self.CHUNK // max(1, m * (k + 1)))
        total = np.zeros(m)
        for start in range(0, n, rows):
            sl = slice(start, min(start + rows, n))
            flat = X[sl] @ W  # (rows, M k)
            flat += offset.reshape(1, m * k)
            if k == 1:  # logistic: log sigmoid(+-eta), the fast and exact binary case
                flat *= np.where(y[sl] == 1, 1.0, -1.0)[:, None]
                total += _log_sigmoid_sums(flat)
                continue
            eta = flat.reshape(-1, m, k)
            logits = np.concatenate([np.zeros(eta.shape[:2] + (1,)), eta], axis=2)
            logp = log_softmax(logits, axis=2)
            chosen = np.take_along_axis(logp, y[sl, None, None].repeat(m, 1), axis=2)
            total += chosen[..., 0].sum(axis=0)
        return total

    def log_prior(self, z: np.ndarray) -> np.ndarray:
        """Normalised ``log p(theta)`` at each row of ``z`` (flat intercept prior: 0)."""
        from scipy import stats

        a, B = self._split(np.atleast_2d(z))
        spec = self.spec
        if spec.flat_intercept:
            lp = np.zeros(a.shape[0])
        else:
            lp = stats.norm.logpdf(a, scale=spec.intercept_prior_scale).sum(axis=1)
        if spec.prior == "student_t":
            lp_b = stats.t.logpdf(B, df=spec.prior_nu, scale=spec.prior_scale)
        else:
            lp_b = stats.norm.logpdf(B, scale=spec.prior_scale)
        return np.asarray(lp + lp_b.sum(axis=(1, 2)))

    def log_joint(self, z: np.ndarray) -> np.ndarray:
        """``log p(theta, y)`` at each row of ``z``."""
        return self.log_likelihood(z) + self.log_prior(z)
