r"""The log posterior of a bayescore model, its gradient and Hessian, in closed form (numpy).

For logistic and reference-coded softmax regression the free parameters are intercepts
:math:`a \in \mathbb{R}^{K-1}` and coefficients :math:`B \in \mathbb{R}^{D \times (K-1)}`
(logistic is the case :math:`K = 2`), stacked as :math:`W = [a; B]` of shape
:math:`(D + 1) \times (K - 1)` and raveled in C order: ``(intercept_free (k,), coef_free
(d, k))``, the layout of the PyMC model's free variables. With the augmented design
:math:`Z = [1, \tilde X]` and :math:`p_n = \mathrm{softmax}(0, z_n W)`,

.. math::

    \nabla_W \log p(y \mid W) = Z^\top (Y - P), \qquad
    -\nabla^2 \log p(y \mid W)_{(d, j), (e, l)}
        = \sum_n Z_{nd} Z_{ne}\,(p_{nj}\,\delta_{jl} - p_{nj} p_{nl}),

plus the prior's terms (Normal: :math:`1/\sigma^2` on the diagonal; Student-t: its own
curvature; flat: none). One :class:`Posterior` serves the mode search of the Laplace
approximation, fixed-draw ADVI, Pathfinder and the warm-started NUTS (through the compiled
kernels of :mod:`bayescore._kernels`, given its design, labels and prior codes). Zero-sum
coding is not covered: :func:`supports` says so and callers fall back to PyMC's graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from bayescore._families import family

__all__ = ["Posterior", "supports"]


def supports(spec: Any) -> bool:
    """Whether the closed form covers this model (every kind but zero-sum softmax)."""
    return not (spec.kind == "softmax" and spec.coding == "zerosum")


def prior_terms(
    theta: np.ndarray, scale: float, family: str, nu: float = 3.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minus log prior (up to a constant), its gradient and Hessian diagonal.

    ``theta`` has shape (..., P); the value is summed over the last axis.
    """
    if family == "flat":
        zero = np.zeros_like(theta)
        return zero.sum(axis=-1), zero, zero
    if family == "student_t":
        s2 = scale**2
        r = nu * s2 + theta**2
        value = 0.5 * (nu + 1) * np.log1p(theta**2 / (nu * s2)).sum(axis=-1)
        return value, (nu + 1) * theta / r, (nu + 1) * (nu * s2 - theta**2) / r**2
    value = 0.5 * (theta**2).sum(axis=-1) / scale**2
    return value, theta / scale**2, np.full_like(theta, 1.0 / scale**2)


class Posterior:
    r"""``log p(theta | y)`` up to a constant, with gradient and Hessian, in numpy.

    The transposed design :math:`Z^\top` is built once and kept when it is small (up to
    :attr:`KEEP` elements: every gradient is then two matrix products and a few vectorised
    passes); larger data are processed in row blocks built on the fly, so memory stays
    bounded at any N and ``X`` is never copied whole.

    Parameters
    ----------
    spec : ModelSpec
        Of a model :func:`supports` covers.

    Examples
    --------
    >>> import numpy as np
    >>> from bayescore.models import make_spec
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> post = Posterior(make_spec(X, y, np.array([0, 1])))
    >>> value, grad = post.value_and_grad(np.zeros(2))
    >>> round(value, 6), grad.tolist()          # 4 log(1/2); the labels are balanced
    (-2.772589, [0.0, 1.7888543819998317])
    """

    #: Elements of the transposed design kept in memory (32 MB of float64).
    KEEP = 1 << 22
    #: Elements of one row block when the design is not kept.
    BLOCK = 1 << 19

    def __init__(self, spec: Any) -> None:
        if not supports(spec):
            raise ValueError(
                "The closed-form posterior covers logistic and reference-coded "
                "softmax models only."
            )
        self.spec = spec
        n, d = spec.X.shape
        self.n_obs, self.n_features = n, d
        self.n_free = spec.n_classes - 1
        logistic = spec.kind == "logistic"
        self.names = family(spec.kind).free_names(spec)
        self.shapes: tuple[tuple[int, ...], ...] = (
            ((), (d,)) if logistic else ((self.n_free,), (d, self.n_free))
        )
        self.size = (d + 1) * self.n_free
        rows = n if n * (d + 1) <= self.KEEP else max(1, self.BLOCK // (d + 1))
        self._blocks = [slice(s, min(s + rows, n)) for s in range(0, n, rows)]
        self._kept = [self._design(sl) for sl in self._blocks] if rows == n else None
        # Normal priors (flat intercept: precision 0) have a constant prior precision.
        self._precision: np.ndarray | None = None
        if spec.prior == "normal":
            precision = np.full((d + 1, self.n_free), spec.prior_scale**-2.0)
            precision[0] = 0.0 if spec.flat_intercept else spec.intercept_prior_scale**-2.0
            self._precision = precision.ravel()
        y = np.asarray(spec.y)
        self._labels = [self._label_terms(y[sl]) for sl in self._blocks]
        self._y = [np.ascontiguousarray(y[sl], dtype=np.int64) for sl in self._blocks]

    def _design(self, sl: slice) -> np.ndarray:
        """``Z^T`` of the rows ``sl``: (D + 1, rows), C-contiguous."""
        X = self.spec.X[sl]
        ZT = np.empty((self.n_features + 1, X.shape[0]))
        ZT[0] = 1.0
        ZT[1:] = self.spec.standardization.transform(X).T
        return ZT

    def _label_terms(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Signs (+1 for class 1, else -1) and flat indices of the labels' free logits.

        The index of row n's label y_n > 0 in the raveled (K - 1, rows) logits.
        """
        rows = np.flatnonzero(y > 0)
        return np.where(y == 1, 1.0, -1.0), (y[rows] - 1) * y.size + rows

    def designs(self) -> Iterator[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """``(Z^T, label terms)`` of each row block."""
        for i, sl in enumerate(self._blocks):
            ZT = self._kept[i] if self._kept is not None else self._design(sl)
            yield ZT, self._labels[i]

    def unpack(self, theta: np.ndarray) -> np.ndarray:
        """``W`` of shape (D + 1, K - 1): row 0 the intercepts, then the coefficients."""
        return np.asarray(theta, dtype=np.float64).reshape(self.n_features + 1, self.n_free)

    def _prior(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Minus log prior (up to a constant), gradient, Hessian diagonal; (..., P) input."""
        spec, k = self.spec, self.n_free
        intercept = "flat" if spec.flat_intercept else "normal"
        v0, g0, h0 = prior_terms(theta[..., :k], spec.intercept_prior_scale, intercept)
        v1, g1, h1 = prior_terms(theta[..., k:], spec.prior_scale, spec.prior, spec.prior_nu)
        return v0 + v1, np.concatenate([g0, g1], axis=-1), np.concatenate([h0, h1], axis=-1)

    def log_likelihood_and_grad(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log p(y | W)`` and its gradient for a batch ``W`` of shape (M, D + 1, K - 1).

        Returns values (M,) and gradients (M, D + 1, K - 1): one pass over the rows with
        matrix products over all M points.
        """
        m, d1, k = W.shape
        value, grad = np.zeros(m), np.zeros((m, d1, k))
        for ZT, (sign, chosen_at) in self.designs():
            n = ZT.shape[1]
            if k == 1:
                # log sigmoid(s) with s = sign * eta: min(s, 0) - log(1 + exp(-|s|)), and
                # d/ds log sigmoid(s) = sigmoid(-s) = (s > 0 ? t : 1) / (1 + t), t = exp(-|s|).
                s = W[:, :, 0] @ ZT  # (M, rows)
                s *= sign
                t = np.exp(-np.abs(s))
                u = 1.0 + t
                value += np.minimum(s, 0.0).sum(axis=1) - np.log(u).sum(axis=1)
                r = np.where(s > 0, t, 1.0)
                r /= u
                r *= sign
                grad[:, :, 0] += r @ ZT.T
                continue
            # (M k, rows): the free classes' logits of every point; the reference's are 0.
            eta = W.transpose(0, 2, 1).reshape(m * k, d1) @ ZT
            flat = eta.reshape(m, k * n)
            chosen = flat[:, chosen_at].sum(axis=1)
            cube = eta.reshape(m, k, n)
            top = np.maximum(cube.max(axis=1), 0.0)  # (M, rows)
            cube -= top[:, None, :]
            np.exp(cube, out=cube)
            total = cube.sum(axis=1)
            total += np.exp(-top)
            value += chosen - top.sum(axis=1) - np.log(total).sum(axis=1)
            cube /= total[:, None, :]  # probabilities of the free classes
            np.negative(cube, out=cube)
            flat[:, chosen_at] += 1.0  # onehot - p
            grad += (eta @ ZT.T).reshape(m, k, d1).transpose(0, 2, 1)
        return value, grad

    def values_and_grads(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log p(theta | y)`` up to a constant and its gradient at each row of ``theta``.

        ``theta`` is (M, P); returns values (M,) and gradients (M, P).
        """
        theta = np.asarray(theta, dtype=np.float64)
        m = theta.shape[0]
        value, grad = self.log_likelihood_and_grad(
            theta.reshape(m, self.n_features + 1, self.n_free)
        )
        return self._add_prior(theta, value, grad.reshape(m, -1))

    def _add_prior(
        self, theta: np.ndarray, value: np.ndarray, grad: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The log posterior's value and gradient at ``theta`` (M, P) from the likelihood's."""
        if self._precision is not None:  # Normal (or flat) priors: the fast path
            pg = self._precision * theta
            return value - 0.5 * (pg * theta).sum(axis=1), grad - pg
        pv, pg, _ = self._prior(theta)
        return value - pv, grad - pg

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """``log p(theta | y)`` up to a constant and its gradient, flat layout."""
        values, grads = self.values_and_grads(np.asarray(theta, dtype=np.float64)[None, :])
        return float(values[0]), grads[0]

    def whitened(
        self, mean: np.ndarray, L: np.ndarray
    ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """``z -> (log p(mean + L z | y), its gradient in z)``, up to a constant, compiled.

        NUTS's Python callback for designs processed in row blocks (:mod:`bayescore._nuts`;
        kept designs go to nutpie as C callbacks, with :meth:`kernel_arguments`): the
        likelihood of each block through :mod:`bayescore._kernels`, with the GIL released,
        the prior in numpy. The first call in a process imports numba and compiles the
        kernels or loads them from numba's cache.
        """
        from bayescore import _kernels

        kernel = _kernels.logistic_value_grad if self.n_free == 1 else _kernels.softmax_value_grad
        mean = np.ascontiguousarray(mean, dtype=np.float64)
        L = np.ascontiguousarray(L, dtype=np.float64)
        LT = np.ascontiguousarray(L.T)

        def density(z: np.ndarray) -> tuple[float, np.ndarray]:
            theta = mean + L @ z
            value, grad = 0.0, np.zeros(self.size)
            for i, sl in enumerate(self._blocks):
                ZT = self._kept[i] if self._kept is not None else self._design(sl)
                value += kernel(ZT, self._y[i], theta, grad)
            values, grads = self._add_prior(theta[None, :], np.array([value]), grad[None, :])
            return float(values[0]), LT @ grads[0]

        return density

    def kernel_arguments(
        self,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """``(ZT, y, family, scale, nu)`` of :func:`bayescore._kernels.whitened_value_grad`.

        The kept transposed design, the labels and each parameter's prior (family code,
        scale, degrees of freedom); None when the design is processed in row blocks.
        """
        from bayescore import _kernels

        if self._kept is None:
            return None
        spec, k = self.spec, self.n_free
        coef = _kernels.STUDENT_T if spec.prior == "student_t" else _kernels.NORMAL
        codes = np.full(self.size, coef, dtype=np.int64)
        codes[:k] = _kernels.FLAT if spec.flat_intercept else _kernels.NORMAL
        scale = np.full(self.size, float(spec.prior_scale))
        scale[:k] = spec.intercept_prior_scale
        nu = np.full(self.size, float(spec.prior_nu))
        return self._kept[0], self._y[0], codes, scale, nu

    def precision(self, theta: np.ndarray) -> np.ndarray:
        """Minus the Hessian of ``log p(theta | y)``, (P, P) in the flat layout."""
        W = self.unpack(theta)
        d1, k = W.shape
        H = np.zeros((d1, k, d1, k))
        for ZT, _ in self.designs():
            logits = np.vstack([np.zeros((1, ZT.shape[1])), W.T @ ZT])
            logits -= logits.max(axis=0)
            p = np.exp(logits)
            p /= p.sum(axis=0)
            p = p[1:]  # (k, rows)
            # H[(d, j), (e, l)] = sum_n Z_nd Z_ne (p_nj delta_jl - p_nj p_nl)
            for j in range(k):
                for m in range(j, k):
                    w = p[j] * ((j == m) - p[m])
                    block = (ZT * w) @ ZT.T
                    H[:, j, :, m] += block
                    if m != j:
                        H[:, m, :, j] += block
        flat = H.reshape(d1 * k, d1 * k)
        _, _, prior_diag = self._prior(np.asarray(theta, dtype=np.float64).ravel())
        flat[np.diag_indices_from(flat)] += prior_diag
        return 0.5 * (flat + flat.T)
