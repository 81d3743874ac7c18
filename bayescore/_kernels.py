r"""Compiled log-likelihood kernels of one parameter point, run without the GIL (numba).

nutpie runs its chains on threads and calls a Python log density. The numpy density of
:class:`bayescore._density.Posterior` is a dozen short numpy calls, between which two
chains fight for the GIL: measured here (N = 5,000, D = 20), one thread needs 75-100 us a
gradient and two threads *more* per gradient than one. These kernels do the whole pass
(two BLAS products and one loop over the rows) with the GIL released, so two chains run
on two cores: about 40 us a gradient each, effectively.

The loop's cost is its transcendental functions. A sum of logs is taken as the log of a
running product, logged and restarted before it can overflow (every factor is at most
``K``), which leaves one ``exp`` per row and class.

The kernels are compiled once per machine (numba's on-disk cache, ``cache=True``); this
module is imported only by the sampler, so ``import bayescore`` and the scoring functions
never import numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "NORMAL",
    "STUDENT_T",
    "FLAT",
    "logistic_value_grad",
    "softmax_value_grad",
    "whitened_value_grad",
]

#: Prior family codes of :func:`whitened_value_grad`, one per parameter.
NORMAL, STUDENT_T, FLAT = 0, 1, 2

#: A running product of factors <= K (<= P <= 2000 here) is logged once it passes this.
_FLUSH = 1e200


@numba.njit(nogil=True, cache=True, error_model="numpy")
def logistic_value_grad(
    ZT: np.ndarray, y: np.ndarray, theta: np.ndarray
) -> tuple[float, np.ndarray]:
    r"""``log p(y | theta)`` of a logistic regression and its gradient.

    Parameters
    ----------
    ZT : ndarray (D + 1, N)
        The transposed augmented design (row 0 ones), C-contiguous float64.
    y : ndarray (N,)
        Labels in {0, 1}, int64.
    theta : ndarray (D + 1,)
        Intercept, then coefficients.

    Returns
    -------
    value : float
        :math:`\sum_n \log\sigma(s_n)`, :math:`s_n = \pm\eta_n` (+ for class 1).
    grad : ndarray (D + 1,)
        :math:`Z^\top r`, :math:`r_n = \pm\sigma(-s_n)`.
    """
    eta = np.dot(theta, ZT)
    value = 0.0
    product = 1.0  # prod (1 + exp(-|s|)): log sigma(s) = min(s, 0) - log(1 + exp(-|s|))
    for i in range(eta.size):
        sign = 1.0 if y[i] == 1 else -1.0
        s = sign * eta[i]
        t = math.exp(-abs(s))
        u = 1.0 + t
        value += min(s, 0.0)
        product *= u
        if product > _FLUSH:
            value -= math.log(product)
            product = 1.0
        eta[i] = sign * (t if s > 0.0 else 1.0) / u  # sigma(-s) = (s > 0 ? t : 1) / (1 + t)
    value -= math.log(product)
    return value, np.dot(ZT, eta)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def softmax_value_grad(ZT: np.ndarray, y: np.ndarray, W: np.ndarray) -> tuple[float, np.ndarray]:
    r"""``log p(y | W)`` of a reference-coded softmax regression and its gradient.

    Parameters
    ----------
    ZT : ndarray (D + 1, N)
        The transposed augmented design (row 0 ones), C-contiguous float64.
    y : ndarray (N,)
        Class indices in 0..K-1, int64; class 0 is the reference (logit 0).
    W : ndarray (D + 1, K - 1)
        The free classes' intercepts (row 0) and coefficients, C-contiguous.

    Returns
    -------
    value : float
        :math:`\sum_n \log p_{n y_n}`, :math:`p_n = \mathrm{softmax}(0, z_n W)`.
    grad : ndarray (D + 1, K - 1)
        :math:`Z^\top (Y - P)` over the free classes.
    """
    eta = np.dot(ZT.T, W)  # (N, K - 1)
    n, k = eta.shape
    value = 0.0
    product = 1.0  # prod sum_c exp(eta_c - top), with the reference's exp(-top)
    for i in range(n):
        top = 0.0
        for c in range(k):
            top = max(top, eta[i, c])
        label = y[i] - 1  # the label's free class, -1 for the reference
        value += (eta[i, label] if label >= 0 else 0.0) - top
        total = math.exp(-top)
        for c in range(k):
            e = math.exp(eta[i, c] - top)
            eta[i, c] = e
            total += e
        product *= total
        if product > _FLUSH:
            value -= math.log(product)
            product = 1.0
        for c in range(k):
            eta[i, c] = -eta[i, c] / total
        if label >= 0:
            eta[i, label] += 1.0
    value -= math.log(product)
    return value, np.dot(ZT, eta)


@numba.njit(nogil=True, cache=True, error_model="numpy")
def whitened_value_grad(
    z: np.ndarray,
    mean: np.ndarray,
    L: np.ndarray,
    ZT: np.ndarray,
    y: np.ndarray,
    n_free: int,
    family: np.ndarray,
    scale: np.ndarray,
    nu: np.ndarray,
) -> tuple[float, np.ndarray]:
    r"""``log p(theta | y)`` (up to a constant) at :math:`\theta = m + L z`, and its gradient in z.

    The density NUTS sees on whitened parameters, in one call: likelihood, prior and the
    chain rule :math:`\nabla_z = L^\top \nabla_\theta`.

    Parameters
    ----------
    z : ndarray (P,)
    mean, L : ndarray (P,), (P, P)
        The whitening :math:`\theta = m + L z`.
    ZT, y
        As in :func:`logistic_value_grad` (``n_free == 1``) or :func:`softmax_value_grad`.
    n_free : int
        ``K - 1``; ``theta`` is ``W`` of shape (D + 1, K - 1) raveled in C order.
    family, scale, nu : ndarray (P,)
        Each parameter's prior: :data:`NORMAL` (sd ``scale``), :data:`STUDENT_T` (``nu``
        degrees of freedom, scale ``scale``) or :data:`FLAT`.
    """
    theta = mean + np.dot(L, z)
    if n_free == 1:
        value, grad = logistic_value_grad(ZT, y, theta)
    else:
        value, g = softmax_value_grad(ZT, y, theta.reshape(ZT.shape[0], n_free))
        grad = g.ravel()
    for j in range(theta.size):
        t = theta[j]
        if family[j] == NORMAL:
            value -= 0.5 * t * t / (scale[j] * scale[j])
            grad[j] -= t / (scale[j] * scale[j])
        elif family[j] == STUDENT_T:
            s2 = nu[j] * scale[j] * scale[j]
            value -= 0.5 * (nu[j] + 1.0) * math.log1p(t * t / s2)
            grad[j] -= (nu[j] + 1.0) * t / (s2 + t * t)
    return value, np.dot(L.T, grad)
