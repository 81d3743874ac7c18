r"""NUTS's log density, compiled (numba): C callbacks nutpie calls without Python.

nutpie runs its chains on threads. Through a Python callback of bayescore's numpy density
(:class:`bayescore.inference.posterior.Posterior`, a dozen short numpy calls) the chains
fight for the GIL: a gradient costs *more* on two threads than on one. The kernels below
make the whole pass in compiled loops, and :data:`nutpie_logp` / :data:`nutpie_expand`
expose them with the C calling convention of nutpie's own numba-compiled PyMC models,
reading their arrays through a table of addresses (:func:`user_data`): the chains never
enter Python and run on all cores. They are the compiled twin of the numpy posterior and
are tested against it.

Explicit loops, not array expressions or ``np.dot``: numba compiles those slowly (the
first fit on a machine pays the compile; the benchmarks' cold-start row measures it), and
the loops run as fast (sums over rows reassociated, so they vectorise). The sums of logs are
taken as the log of a running product, logged and restarted before it can overflow (every
factor is at most ``K``), which leaves one ``exp`` per row and class.

The kernels are compiled once per machine (numba's on-disk cache, ``cache=True``); this
module is imported only by the sampler, so ``import bayescore`` and the scoring functions
never import numba.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from bayescore._stack import user_stacklevel

# The prior family codes the kernels read, defined with the numpy prior they mirror.
from bayescore.inference.posterior import NORMAL, STUDENT_T

__all__ = [
    "CacheWarning",
    "logistic_value_grad",
    "nutpie_expand",
    "nutpie_logp",
    "softmax_value_grad",
    "user_data",
    "whitened_value_grad",
]


#: A running product of factors <= K (<= P <= 2000 here) is logged once it passes this.
_FLUSH = 1e200


class CacheWarning(UserWarning):
    """numba found no writable cache for the compiled kernels; a private one is used."""


def _ensure_cache_location() -> None:
    """Give numba a writable cache when neither the package's nor the user's one is.

    numba caches next to the source (``__pycache__``), then in ``NUMBA_CACHE_DIR`` or the
    user's cache directory; with none writable (a read-only install and HOME) every
    ``cache=True`` kernel fails with "no locator available". A private temporary directory
    then holds this process's cache (the kernels compile once per process), with a notice.
    """
    from numba.core.caching import FunctionCache

    try:
        FunctionCache(_ensure_cache_location)
    except RuntimeError:
        import tempfile
        import warnings

        cache_dir = tempfile.mkdtemp(prefix="bayescore-numba-")
        numba.config.CACHE_DIR = cache_dir  # type: ignore[attr-defined]
        warnings.warn(
            "numba has no writable cache location (the package's __pycache__, "
            "NUMBA_CACHE_DIR, the user's cache): compiled kernels are cached in "
            f"{cache_dir} for this process only. Set NUMBA_CACHE_DIR to a "
            "writable directory to keep them.",
            CacheWarning,
            stacklevel=user_stacklevel(),
        )


_ensure_cache_location()


#: The decorator of every kernel: explicit loops only (numba compiles array expressions
#: and ``np.dot`` slowly: seconds per kernel on a cold cache), and sums over rows
#: reassociated so they vectorise.
_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc", "contract"})


@_jit
def _project(ZT: np.ndarray, W: np.ndarray, eta: np.ndarray) -> None:
    """``eta[c, n] = sum_j W[j, c] ZT[j, n]``, ``W`` raveled: one pass over ``ZT``."""
    k = eta.shape[0]
    eta[:] = 0.0
    for j in range(ZT.shape[0]):
        for c in range(k):
            w = W[j * k + c]
            for n in range(ZT.shape[1]):
                eta[c, n] += w * ZT[j, n]


@_jit
def _back(ZT: np.ndarray, R: np.ndarray, grad: np.ndarray) -> None:
    """``grad[j * k + c] += sum_n ZT[j, n] R[c, n]``: ``Z^T R^T`` raveled, one pass."""
    k = R.shape[0]
    for j in range(ZT.shape[0]):
        for c in range(k):
            total = 0.0
            for n in range(ZT.shape[1]):
                total += ZT[j, n] * R[c, n]
            grad[j * k + c] += total


@_jit
def logistic_value_grad(
    ZT: np.ndarray, y: np.ndarray, theta: np.ndarray, grad: np.ndarray
) -> float:
    r"""``log p(y | theta)`` of a logistic regression; its gradient added to ``grad``.

    Parameters
    ----------
    ZT : ndarray (D + 1, N)
        The transposed augmented design (row 0 ones), C-contiguous float64.
    y : ndarray (N,)
        Labels in {0, 1}, int64.
    theta : ndarray (D + 1,)
        Intercept, then coefficients.
    grad : ndarray (D + 1,)
        Receives :math:`Z^\top r`, :math:`r_n = \pm\sigma(-s_n)`.

    Returns
    -------
    float
        :math:`\sum_n \log\sigma(s_n)`, :math:`s_n = \pm\eta_n` (+ for class 1).
    """
    eta2 = np.empty((1, ZT.shape[1]))
    _project(ZT, theta, eta2)
    eta = eta2[0]
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
    _back(ZT, eta2, grad)
    return value - math.log(product)


@_jit
def softmax_value_grad(ZT: np.ndarray, y: np.ndarray, W: np.ndarray, grad: np.ndarray) -> float:
    r"""``log p(y | W)`` of a reference-coded softmax regression; its gradient added to ``grad``.

    Parameters
    ----------
    ZT : ndarray (D + 1, N)
        The transposed augmented design (row 0 ones), C-contiguous float64.
    y : ndarray (N,)
        Class indices in 0..K-1, int64; class 0 is the reference (logit 0).
    W : ndarray ((D + 1) (K - 1),)
        The free classes' intercepts and coefficients, ``(D + 1, K - 1)`` raveled in C
        order.
    grad : ndarray ((D + 1) (K - 1),)
        Receives :math:`Z^\top (Y - P)` over the free classes, in the layout of ``W``.

    Returns
    -------
    float
        :math:`\sum_n \log p_{n y_n}`, :math:`p_n = \mathrm{softmax}(0, z_n W)`.
    """
    d1, n = ZT.shape
    k = W.size // d1
    eta = np.empty((k, n))
    _project(ZT, W, eta)
    value = 0.0
    product = 1.0  # prod sum_c exp(eta_c - top), with the reference's exp(-top)
    for i in range(n):
        top = 0.0
        for c in range(k):
            top = max(top, eta[c, i])
        label = y[i] - 1  # the label's free class, -1 for the reference
        value += (eta[label, i] if label >= 0 else 0.0) - top
        total = math.exp(-top)
        for c in range(k):
            e = math.exp(eta[c, i] - top)
            eta[c, i] = e
            total += e
        product *= total
        if product > _FLUSH:
            value -= math.log(product)
            product = 1.0
        inverse = 1.0 / total
        for c in range(k):
            eta[c, i] *= -inverse
        if label >= 0:
            eta[label, i] += 1.0
    _back(ZT, eta, grad)
    return value - math.log(product)


@_jit
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
    grad_z: np.ndarray,
) -> float:
    r"""``log p(theta | y)`` (up to a constant) at :math:`\theta = m + L z`; gradient in z.

    The density NUTS sees on whitened parameters, in one call: likelihood, prior and the
    chain rule :math:`\nabla_z = L^\top \nabla_\theta`.

    Parameters
    ----------
    z : ndarray (P,)
    mean, L : ndarray (P,), (P, P)
        The whitening :math:`\theta = m + L z`, ``L`` lower triangular.
    ZT, y
        As in :func:`logistic_value_grad` (``n_free == 1``) or :func:`softmax_value_grad`.
    n_free : int
        ``K - 1``; ``theta`` is ``W`` of shape (D + 1, K - 1) raveled in C order.
    family, scale, nu : ndarray (P,)
        Each parameter's prior: :data:`NORMAL` (sd ``scale``), :data:`STUDENT_T` (``nu``
        degrees of freedom, scale ``scale``) or :data:`FLAT`.
    grad_z : ndarray (P,)
        Receives the gradient in ``z``.

    Returns
    -------
    float
    """
    p = z.size
    theta = mean.copy()
    for i in range(p):
        for j in range(i + 1):
            theta[i] += L[i, j] * z[j]
    grad = np.zeros(p)
    if n_free == 1:
        value = logistic_value_grad(ZT, y, theta, grad)
    else:
        value = softmax_value_grad(ZT, y, theta, grad)
    for j in range(p):
        t = theta[j]
        if family[j] == NORMAL:
            value -= 0.5 * t * t / (scale[j] * scale[j])
            grad[j] -= t / (scale[j] * scale[j])
        elif family[j] == STUDENT_T:
            s2 = nu[j] * scale[j] * scale[j]
            value -= 0.5 * (nu[j] + 1.0) * math.log1p(t * t / s2)
            grad[j] -= (nu[j] + 1.0) * t / (s2 + t * t)
    grad_z[:] = 0.0
    for i in range(p):
        for j in range(i + 1):
            grad_z[j] += L[i, j] * grad[i]
    return value


# ---------------------------------------------------------------- nutpie's C callbacks

#: Entries of the user-data table: four sizes, then the addresses of seven arrays.
_N, _D1, _K, _P, _ZT, _Y, _MEAN, _L, _FAMILY, _SCALE, _NU = range(11)


def user_data(
    n_free: int,
    ZT: np.ndarray,
    y: np.ndarray,
    mean: np.ndarray,
    L: np.ndarray,
    family: np.ndarray,
    scale: np.ndarray,
    nu: np.ndarray,
) -> np.ndarray:
    """The table :data:`nutpie_logp` and :data:`nutpie_expand` read their arrays from.

    Sizes ``(N, D + 1, K - 1, P)``, then the addresses of ``ZT, y, mean, L, family, scale,
    nu`` (the arguments of :func:`whitened_value_grad`), as uint64. The arrays must be
    C-contiguous with the kernel's dtypes and outlive every call: the caller keeps them.
    """
    arrays = (ZT, y, mean, L, family, scale, nu)
    dtypes = (np.float64, np.int64, np.float64, np.float64, np.int64, np.float64, np.float64)
    for a, dtype in zip(arrays, dtypes, strict=True):
        if a.dtype != dtype or not a.flags.c_contiguous:
            raise ValueError(f"user_data needs C-contiguous {np.dtype(dtype)} arrays.")
    sizes = [ZT.shape[1], ZT.shape[0], n_free, mean.size]
    return np.array(sizes + [a.ctypes.data for a in arrays], dtype=np.uint64)


# numba's typing and lowering objects have no stubs: they are Any to mypy in any case.
def _pointer_from_address(typingctx: Any, address: Any) -> tuple[Any, Any]:
    """The integer ``address`` as a void pointer (a numba intrinsic)."""
    signature = types.voidptr(address)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return signature, codegen


_pointer: Any = intrinsic(_pointer_from_address)


_LOGP = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
_EXPAND = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


@numba.cfunc(_LOGP, cache=True, error_model="numpy")
def nutpie_logp(dim, x_, grad_, logp_, table_):
    """The log density callback of nutpie: ``logp, grad <- whitened_value_grad(x, ...)``.

    Returns 0, or nutpie's codes: -1 wrong dimension, 3 a non-finite gradient, 4 a
    non-finite value (the sampler treats the point as a divergence).
    """
    table = numba.carray(table_, (11,), np.uint64)
    n, d1, k, p = table[_N], table[_D1], table[_K], table[_P]
    if dim != p:
        return -1
    grad = numba.carray(grad_, (p,))
    value = whitened_value_grad(
        numba.carray(x_, (p,)),
        numba.carray(_pointer(table[_MEAN]), (p,), np.float64),
        numba.carray(_pointer(table[_L]), (p, p), np.float64),
        numba.carray(_pointer(table[_ZT]), (d1, n), np.float64),
        numba.carray(_pointer(table[_Y]), (n,), np.int64),
        k,
        numba.carray(_pointer(table[_FAMILY]), (p,), np.int64),
        numba.carray(_pointer(table[_SCALE]), (p,), np.float64),
        numba.carray(_pointer(table[_NU]), (p,), np.float64),
        grad,
    )
    logp_[0] = value
    for j in range(p):
        if not math.isfinite(grad[j]):
            return 3
    if not math.isfinite(value):
        return 4
    return 0


@numba.cfunc(_EXPAND, cache=True, error_model="numpy")
def nutpie_expand(dim, expanded, x_, out_, table_):
    """The draw callback of nutpie: the parameters ``theta = mean + L x`` of a whitened draw."""
    table = numba.carray(table_, (11,), np.uint64)
    p = table[_P]
    if dim != p or expanded != p:
        return -1
    mean = numba.carray(_pointer(table[_MEAN]), (p,), np.float64)
    L = numba.carray(_pointer(table[_L]), (p, p), np.float64)
    x = numba.carray(x_, (p,))
    out = numba.carray(out_, (p,))
    for i in range(p):
        out[i] = mean[i]
        for j in range(i + 1):
            out[i] += L[i, j] * x[j]
    return 0
