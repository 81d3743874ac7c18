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
the loops run as fast (sums over rows reassociated, so they vectorise). ``exp`` is the
kernels' own (``_exp``: a polynomial that vectorises, 1-1.5 ns against libm's 5-6 ns), taken
a class at a time over blocks of :data:`_BLOCK` rows so the loops vectorise, and a sum of
logs is the log of products of :data:`_GROUP` factors (each at most ``K``): one ``exp`` per
row and class, one ``log`` per 32 rows.

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

# The prior family codes the kernels read, shared with the numpy prior they mirror.
from bayescore.inference.codes import NORMAL, STUDENT_T

__all__ = [
    "CacheWarning",
    "exp_into",
    "logistic_sums",
    "logistic_value_grad",
    "nutpie_expand",
    "nutpie_logp",
    "softmax_sums",
    "softmax_value_grad",
    "user_data",
    "whitened_value_grad",
]


#: Rows whose exps and sums a kernel takes at once (in-cache temporaries of this size).
_BLOCK = 512
#: Factors multiplied before one ``log``: each is at most ``K`` (row sums of exps that are
#: at most 1), so a product of 32 stays finite for any K below 4e9.
_GROUP = 32

# exp by Cody-Waite reduction and a degree-12 polynomial: x = k ln 2 + r, |r| <= ln 2 / 2,
# exp(x) = 2^k p(r), 2^k built in the exponent bits. No call, no branch: the loops over
# rows vectorise (4 doubles a step on AVX2), about 1 ns an exp against libm's 5-6 ns, with
# a relative error below 4e-16 (tested against numpy).
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93145751953125e-1  # ln 2 in two parts: k * _LN2_HI is exact for |k| < 2^11
_LN2_LO = 1.42860682030941723212e-6
_ROUNDING = 6755399441055744.0  # 1.5 * 2^52: x + it holds round(x) in its low mantissa bits
_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(13))
_EXP_MIN = -708.0  # exp(-708) ~ 3e-308: smaller arguments give that (never 0 or subnormal)


def _bitcast(source: Any, target: Any) -> Any:
    def typer(context: Any, value: Any) -> Any:
        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return intrinsic(typer)


_as_bits: Any = _bitcast(types.float64, types.int64)
_from_bits: Any = _bitcast(types.int64, types.float64)
_ROUNDING_BITS = int(np.array(_ROUNDING).view(np.int64))


@numba.njit(inline="always", error_model="numpy", fastmath={"contract"})
def _exp(x: float) -> float:
    """``exp(x)`` for ``x <= 709``, inlined and vectorisable (see ``_TAYLOR``)."""
    x = max(x, _EXP_MIN)
    shifted = x * _LOG2E + _ROUNDING
    k = shifted - _ROUNDING  # round(x / ln 2), exactly
    r = x - k * _LN2_HI - k * _LN2_LO
    c = _TAYLOR
    p = c[12]
    p = p * r + c[11]
    p = p * r + c[10]
    p = p * r + c[9]
    p = p * r + c[8]
    p = p * r + c[7]
    p = p * r + c[6]
    p = p * r + c[5]
    p = p * r + c[4]
    p = p * r + c[3]
    p = p * r + c[2]
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _from_bits((_as_bits(shifted) - _ROUNDING_BITS + 1023) << 52)


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
def exp_into(x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = exp(x[i])`` by the kernels' own ``exp`` (exposed for its tests)."""
    for i in range(x.size):
        out[i] = _exp(x[i])


@_jit
def _project(ZT: np.ndarray, W: np.ndarray, eta: np.ndarray) -> None:
    """``eta[c, n] = sum_j W[j, c] ZT[j, n]``, ``W`` raveled: one pass over ``ZT``.

    Four design rows a pass: ``eta`` is read and written a quarter as often.
    """
    k = eta.shape[0]
    d1, n = ZT.shape
    eta[:] = 0.0
    j = 0
    while j + 4 <= d1:
        for c in range(k):
            w0, w1 = W[j * k + c], W[(j + 1) * k + c]
            w2, w3 = W[(j + 2) * k + c], W[(j + 3) * k + c]
            for i in range(n):
                eta[c, i] += (
                    w0 * ZT[j, i] + w1 * ZT[j + 1, i] + w2 * ZT[j + 2, i] + w3 * ZT[j + 3, i]
                )
        j += 4
    for rest in range(j, d1):
        for c in range(k):
            w = W[rest * k + c]
            for i in range(n):
                eta[c, i] += w * ZT[rest, i]


@_jit
def _back(ZT: np.ndarray, R: np.ndarray, grad: np.ndarray) -> None:
    """``grad[j * k + c] += sum_n ZT[j, n] R[c, n]``: ``Z^T R^T`` raveled, one pass.

    Four design rows a pass: ``R`` is read a quarter as often.
    """
    k = R.shape[0]
    d1, n = ZT.shape
    j = 0
    while j + 4 <= d1:
        for c in range(k):
            t0 = t1 = t2 = t3 = 0.0
            for i in range(n):
                r = R[c, i]
                t0 += ZT[j, i] * r
                t1 += ZT[j + 1, i] * r
                t2 += ZT[j + 2, i] * r
                t3 += ZT[j + 3, i] * r
            grad[j * k + c] += t0
            grad[(j + 1) * k + c] += t1
            grad[(j + 2) * k + c] += t2
            grad[(j + 3) * k + c] += t3
        j += 4
    for rest in range(j, d1):
        for c in range(k):
            total = 0.0
            for i in range(n):
                total += ZT[rest, i] * R[c, i]
            grad[rest * k + c] += total


@_jit
def _sum_logs(factors: np.ndarray, m: int) -> float:
    """``sum_i log(factors[i])`` over ``m`` factors in [1, K]: one ``log`` per group."""
    total = 0.0
    for g in range(0, m, _GROUP):
        product = 1.0
        for i in range(g, min(g + _GROUP, m)):
            product *= factors[i]
        total += math.log(product)
    return total


@_jit
def _logistic_block(
    eta: np.ndarray, y: np.ndarray, start: int, m: int, u: np.ndarray, keep: bool, value: float
) -> float:
    """``value`` plus the log-likelihood of rows ``start .. start + m`` of the logits ``eta``.

    ``log sigma(s) = min(s, 0) - log(1 + t)``, ``t = exp(-|s|)``, ``s = +-eta`` (+ for
    class 1), ``eta`` (N,). With ``keep``, ``eta`` receives the derivative in eta,
    ``+-sigma(-s) = +-(s > 0 ? t : 1) / (1 + t)``. The two cases are two loops: a store
    under a condition would keep the loop from vectorising (3x slower).
    """
    # Views of the block, not ``eta[start + i]``: with the offset LLVM does not vectorise.
    e, labels = eta[start : start + m], y[start : start + m]
    total = 0.0
    if keep:
        for i in range(m):
            sign = 2.0 * labels[i] - 1.0
            s = sign * e[i]
            t = _exp(-abs(s))
            w = 1.0 + t
            u[i] = w
            total += min(s, 0.0)
            e[i] = sign * (t if s > 0.0 else 1.0) / w
    else:
        for i in range(m):
            s = (2.0 * labels[i] - 1.0) * e[i]
            u[i] = 1.0 + _exp(-abs(s))
            total += min(s, 0.0)
    return value + total - _sum_logs(u, m)


@_jit
def _softmax_block(
    eta: np.ndarray,
    y: np.ndarray,
    start: int,
    m: int,
    top: np.ndarray,
    total: np.ndarray,
    keep: bool,
) -> float:
    """Rows ``start .. start + m`` of the free logits ``eta`` (K - 1, N): their log-likelihood.

    ``log p(y_i) = eta_{i y_i} - top_i - log sum_c exp(eta_ic - top_i)`` over the classes
    with the reference's logit 0, ``top_i = max(0, max_c eta_ic)``. Leaves the row sums of
    the exps in ``total``, and with ``keep`` the exps in ``eta``.
    """
    # Views of the block, not ``eta[c, start + i]``: with the offset LLVM does not vectorise.
    block, labels = eta[:, start : start + m], y[start : start + m]
    for i in range(m):
        top[i] = 0.0
    for c in range(block.shape[0]):
        row = block[c]
        for i in range(m):
            top[i] = max(top[i], row[i])
    value = 0.0
    for i in range(m):  # a gather: scalar, one load a row
        label = labels[i] - 1  # the label's free class, -1 for the reference
        if label >= 0:
            value += block[label, i]
    for i in range(m):
        value -= top[i]
        total[i] = _exp(-top[i])
    # Two loops, not a store under ``if keep``: that would keep them from vectorising.
    for c in range(block.shape[0]):
        row = block[c]
        if keep:
            for i in range(m):
                e = _exp(row[i] - top[i])
                row[i] = e
                total[i] += e
        else:
            for i in range(m):
                total[i] += _exp(row[i] - top[i])
    return value - _sum_logs(total, m)


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
    n = ZT.shape[1]
    eta2 = np.empty((1, n))
    _project(ZT, theta, eta2)
    eta = eta2[0]
    u = np.empty(_BLOCK)
    value = 0.0
    for start in range(0, n, _BLOCK):
        value = _logistic_block(eta, y, start, min(_BLOCK, n - start), u, True, value)
    _back(ZT, eta2, grad)
    return value


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
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    value = 0.0
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        value += _softmax_block(eta, y, start, m, top, total, True)
        for i in range(m):
            total[i] = -1.0 / total[i]
        block, labels = eta[:, start : start + m], y[start : start + m]  # views vectorise
        for c in range(k):
            row = block[c]
            for i in range(m):
                row[i] *= total[i]  # -p_ic
        for i in range(m):
            label = labels[i] - 1
            if label >= 0:
                block[label, i] += 1.0  # onehot - p
    _back(ZT, eta, grad)
    return value


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
        The whitening :math:`\theta = m + L z`, ``L`` any (P, P) matrix (a Cholesky factor,
        or a Cholesky factor times the rotation that spreads NUTS's frequencies).
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
        for j in range(p):
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
        for j in range(p):
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
        for j in range(p):
            out[i] += L[i, j] * x[j]
    return 0


@_jit
def logistic_sums(eta: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    r"""``out[m] = sum_n log sigma(s_mn)``, :math:`s = \pm\eta` (+ for class 1); ``eta`` (M, N)."""
    n = eta.shape[1]
    u = np.empty(_BLOCK)
    for p in range(eta.shape[0]):
        value = 0.0
        for start in range(0, n, _BLOCK):
            value = _logistic_block(eta[p], y, start, min(_BLOCK, n - start), u, False, value)
        out[p] = value


@_jit
def softmax_sums(eta: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    r"""``out[m] = sum_n log p(y_n | eta_mn)``, reference-coded; ``eta`` (M, K - 1, N)."""
    n = eta.shape[2]
    top = np.empty(_BLOCK)
    total = np.empty(_BLOCK)
    for p in range(eta.shape[0]):
        value = 0.0
        for start in range(0, n, _BLOCK):
            value += _softmax_block(eta[p], y, start, min(_BLOCK, n - start), top, total, False)
        out[p] = value
