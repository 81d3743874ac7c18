r"""The log posterior of a bayescore model, its gradient and Hessian, in closed form (numpy).

For logistic and reference-coded softmax regression the free parameters are intercepts
:math:`a \in \mathbb{R}^{K-1}` and coefficients :math:`B \in \mathbb{R}^{D \times (K-1)}`
(logistic is the case :math:`K = 2`), stacked as :math:`W = [a; B]` of shape
:math:`(D + 1) \times (K - 1)` and raveled in C order: ``(intercept_free (k,), coef_free
(d, k))``, the layout of the PyMC model's free variables. With the augmented design
:math:`Z = [1, \tilde X]` and the free logits :math:`\eta_n = z_n W`,

.. math::

    \nabla_W \log p(y \mid W) = Z^\top (Y - P), \qquad
    -\nabla^2 \log p(y \mid W)_{(d, j), (e, l)}
        = \sum_n Z_{nd} Z_{ne}\,(p_{nj}\,\delta_{jl} - p_{nj} p_{nl}),

plus the prior's terms (:class:`FlatPrior`). The likelihood itself is the family's
(:meth:`bayescore.models.Family.log_likelihood`); :class:`Posterior` adds the design, the
prior and the layout, and serves every numpy fitter: the Laplace mode and Hessian, ADVI on
fixed draws, Pathfinder, the ELBO and Pareto :math:`\hat k` of every approximation, and the
warm-started NUTS (through its compiled twin, :mod:`bayescore.inference.kernels`, tested
against it).
Zero-sum coding is not covered (:attr:`bayescore.models.ModelSpec.closed_form`): those
models are fitted through their PyMC graph.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from bayescore._likelihood import (
    Labels,
    RowSums,
    block_hessian,
    block_log_det_gradient,
    block_log_likelihood,
    block_value_grad,
)
from bayescore._memory import BLOCK_ELEMENTS, KEEP_ELEMENTS
from bayescore.inference.cluster import PartitionedRows
from bayescore.inference.codes import FLAT, NORMAL, STUDENT_T
from bayescore.inference.rows import InMemoryRows, Rows
from bayescore.models import ModelSpec, family

if TYPE_CHECKING:
    import dask.array as da

__all__ = ["FLAT", "NORMAL", "STUDENT_T", "FlatPrior", "Posterior"]

Floats = NDArray[np.float64]


def _terms(theta: Floats, scale: float, code: int, nu: float) -> tuple[Floats, Floats, Floats]:
    """Minus log prior (unnormalised, summed over the last axis), gradient, Hessian diagonal."""
    if code == FLAT:
        zero = np.zeros_like(theta)
        return zero.sum(axis=-1), zero, zero
    if code == STUDENT_T:
        s2 = scale**2
        r = nu * s2 + theta**2
        value = 0.5 * (nu + 1) * np.log1p(theta**2 / (nu * s2)).sum(axis=-1)
        return value, (nu + 1) * theta / r, (nu + 1) * (nu * s2 - theta**2) / r**2
    value = 0.5 * (theta**2).sum(axis=-1) / scale**2
    return value, theta / scale**2, np.full_like(theta, 1.0 / scale**2)


def _third(theta: Floats, scale: float, code: int, nu: float) -> Floats:
    """The third derivative of minus the log prior, elementwise (0 for Normal and flat)."""
    if code == STUDENT_T:
        a = nu * scale**2
        return -2.0 * (nu + 1) * theta * (3.0 * a - theta**2) / (a + theta**2) ** 3
    return np.zeros_like(theta)


def _log_normaliser(scale: float, code: int, nu: float) -> float:
    """The log normalising constant of one coordinate's prior density."""
    if code == FLAT:
        return 0.0
    if code == STUDENT_T:
        return float(gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi * scale**2))
    return float(-0.5 * np.log(2 * np.pi * scale**2))


@dataclass(frozen=True)
class FlatPrior:
    r"""The prior of the flat parameters: the intercepts' block, then the coefficients'.

    Intercepts (the first ``n_intercepts`` entries) are Normal or flat, coefficients Normal
    or Student-t, each block with one scale (and degrees of freedom).

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> prior = FlatPrior.of(make_spec(np.eye(2), np.array([0, 1]), np.array([0, 1])))
    >>> prior.codes().tolist(), prior.variance().tolist()
    ([0, 0, 0], [6.25, 6.25, 6.25])
    """

    n_intercepts: int
    size: int
    intercept_code: int
    intercept_scale: float
    coef_code: int
    coef_scale: float
    nu: float

    @classmethod
    def of(cls, spec: ModelSpec) -> FlatPrior:
        """The prior of a model's flat free parameters."""
        k = spec.n_free
        return cls(
            n_intercepts=k,
            size=(spec.n_features + 1) * k,
            intercept_code=FLAT if spec.flat_intercept else NORMAL,
            intercept_scale=float(spec.intercept_prior_scale),
            coef_code=STUDENT_T if spec.prior == "student_t" else NORMAL,
            coef_scale=float(spec.prior_scale),
            nu=float(spec.prior_nu),
        )

    def codes(self) -> NDArray[np.int64]:
        """Each parameter's family code (:data:`NORMAL`, :data:`STUDENT_T`, :data:`FLAT`)."""
        codes = np.full(self.size, self.coef_code, dtype=np.int64)
        codes[: self.n_intercepts] = self.intercept_code
        return codes

    def scales(self) -> Floats:
        """Each parameter's prior scale."""
        scale = np.full(self.size, self.coef_scale)
        scale[: self.n_intercepts] = self.intercept_scale
        return scale

    def variance(self) -> Floats | None:
        """Each parameter's prior variance when every prior is a proper Normal, else None."""
        if self.intercept_code != NORMAL or self.coef_code != NORMAL:
            return None
        return self.scales() ** 2

    def precision(self) -> Floats | None:
        """The constant prior precision per parameter under Normal (or flat) priors."""
        if self.coef_code != NORMAL:
            return None
        precision = np.full(self.size, self.coef_scale**-2.0)
        precision[: self.n_intercepts] = (
            0.0 if self.intercept_code == FLAT else self.intercept_scale**-2.0
        )
        return precision

    def terms(self, theta: Floats) -> tuple[Floats, Floats, Floats]:
        """Minus log prior up to its constant, gradient and Hessian diagonal; (..., P) input."""
        k = self.n_intercepts
        v0, g0, h0 = _terms(theta[..., :k], self.intercept_scale, self.intercept_code, self.nu)
        v1, g1, h1 = _terms(theta[..., k:], self.coef_scale, self.coef_code, self.nu)
        return v0 + v1, np.concatenate([g0, g1], axis=-1), np.concatenate([h0, h1], axis=-1)

    def third(self, theta: Floats) -> Floats:
        """Minus the log prior's third derivatives (a diagonal tensor), (..., P) input."""
        k = self.n_intercepts
        return np.concatenate(
            [
                _third(theta[..., :k], self.intercept_scale, self.intercept_code, self.nu),
                _third(theta[..., k:], self.coef_scale, self.coef_code, self.nu),
            ],
            axis=-1,
        )

    def log_constant(self) -> float:
        """The log normalising constant of the whole prior (0 for flat coordinates)."""
        k = self.n_intercepts
        return k * _log_normaliser(self.intercept_scale, self.intercept_code, self.nu) + (
            self.size - k
        ) * _log_normaliser(self.coef_scale, self.coef_code, self.nu)


class Posterior:
    r"""``log p(theta | y)`` with gradient and Hessian, in numpy, for a batch of points.

    The transposed design :math:`Z^\top` is built once and kept up to
    :data:`~bayescore._memory.KEEP_ELEMENTS` (1 GiB; every gradient is then two matrix
    products and a few vectorised passes); larger data are processed in row blocks built
    on the fly, so memory stays bounded at any N and ``X`` is never copied whole.

    :meth:`value_and_grad` and :meth:`values_and_grads` drop the prior's normalising
    constant (the optimisers do not need it); :meth:`log_joint` keeps it, as the ELBO and
    the importance ratios :math:`\log p(\theta, y) - \log q(\theta)` do.

    Parameters
    ----------
    spec : ModelSpec
        Of a model the closed form covers (:attr:`~bayescore.models.ModelSpec.closed_form`).

    Examples
    --------
    >>> from bayescore.models import make_spec
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> post = Posterior(make_spec(X, y, np.array([0, 1])))
    >>> value, grad = post.value_and_grad(np.zeros(2))
    >>> round(value, 6), grad.tolist()          # 4 log(1/2); the labels are balanced
    (-2.772589, [0.0, 1.7888543819998317])
    >>> float(post.log_likelihood(np.zeros((1, 2)))[0])
    -2.772588722239781
    """

    #: Elements of a design kept whole, and of one row block otherwise.
    KEEP = KEEP_ELEMENTS
    BLOCK = BLOCK_ELEMENTS
    #: Logits (points x rows x free classes) from which the compiled kernels sum them.
    COMPILED = 20_000_000

    def __init__(self, spec: ModelSpec, rows: Rows | None = None) -> None:
        if not spec.closed_form:
            raise ValueError(
                "The closed-form posterior covers logistic and reference-coded "
                "softmax models only."
            )
        self.spec = spec
        n, d = spec.X.shape
        self.n_obs, self.n_features = int(n), int(d)
        self.n_free = spec.n_free
        self.family = family(spec.kind)
        self.names = self.family.free_names(spec)
        self.shapes: tuple[tuple[int, ...], ...] = (
            ((), (d,)) if spec.kind == "logistic" else ((self.n_free,), (d, self.n_free))
        )
        self.size = (d + 1) * self.n_free
        self.prior = FlatPrior.of(spec)
        self._precision = self.prior.precision()
        if rows is None and spec.distributed:
            # ModelSpec types its rows as numpy's; a distributed spec holds Dask arrays.
            rows = PartitionedRows(
                cast("da.Array", spec.X), cast("da.Array", spec.y), spec.standardization
            )
        elif rows is None:
            rows = InMemoryRows(spec.X, spec.y, spec.standardization, self.KEEP, self.BLOCK)
        self.rows = rows

    # ---------------------------------------------------------------- layout and design
    @property
    def blocked(self) -> bool:
        """Whether the design is processed in blocks (not kept whole in memory)."""
        return not (isinstance(self.rows, InMemoryRows) and self.rows.kept)

    @property
    def n_blocks(self) -> int:
        """Number of row blocks (in memory)."""
        return self.rows.n_blocks if isinstance(self.rows, InMemoryRows) else 0

    def designs(self) -> Iterator[tuple[Floats, Labels]]:
        """``(Z^T, labels)`` of each row block of an in-memory design (NUTS's callback)."""
        if not isinstance(self.rows, InMemoryRows):
            raise TypeError("The row blocks of this posterior are not in this process.")
        return self.rows.designs()

    def unpack(self, theta: Floats) -> Floats:
        """``W`` of shape (D + 1, K - 1): row 0 the intercepts, then the coefficients."""
        return np.asarray(theta, dtype=np.float64).reshape(self.n_features + 1, self.n_free)

    def split(self, theta: Floats) -> dict[str, Floats]:
        """The named free variables of one flat point (PyMC's names and shapes).

        Examples
        --------
        >>> from bayescore.models import make_spec
        >>> post = Posterior(make_spec(np.eye(2), np.array([0, 1]), np.array([0, 1])))
        >>> {k: v.tolist() for k, v in post.split(np.array([1.0, 2.0, 3.0])).items()}
        {'intercept': 1.0, 'coef': [2.0, 3.0]}
        """
        W = self.unpack(theta)
        return {
            self.names[0]: W[0].reshape(self.shapes[0]),
            self.names[1]: W[1:].reshape(self.shapes[1]),
        }

    # ---------------------------------------------------------------------- likelihood
    def log_likelihood(self, theta: Floats) -> Floats:
        """``log p(y | theta)`` at each row of ``theta`` (M, P); values only, (M,).

        The points are taken in groups whose logits for a block of rows fit
        :data:`~bayescore._memory.WORK_ELEMENTS`, so 1,000 draws cost one pass of matrix
        products over the design with cache-sized temporaries; the logits are summed by
        :meth:`row_sums`.
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
        W = theta.reshape(theta.shape[0], self.n_features + 1, self.n_free)
        return self.rows.sum(block_log_likelihood, W, self.row_sums(W.shape[0], self.n_obs))

    def row_sums(self, points: int, rows: int) -> RowSums | None:
        """The compiled sums of the logits of ``points`` points over ``rows`` rows, or None.

        From :data:`COMPILED` logits on, the compiled kernels (one fused pass, 3-4x faster
        than numpy's); below, importing numba and loading them would cost more than they
        save, and None leaves the sums to numpy, as it does for rows on a cluster (the
        workers import numpy only).
        """
        if not isinstance(self.rows, InMemoryRows) or points * rows * self.n_free < self.COMPILED:
            return None
        from bayescore.inference import kernels

        return kernels.softmax_sums if self.n_free > 1 else kernels.logistic_sums

    def log_likelihood_and_grad(self, W: Floats) -> tuple[Floats, Floats]:
        """``log p(y | W)`` and its gradient for a batch ``W`` of shape (M, D + 1, K - 1).

        Returns values (M,) and gradients (M, D + 1, K - 1): one pass over the rows with
        matrix products over all M points.
        """
        return self.rows.sum(block_value_grad, W)

    # ------------------------------------------------------------------------ posterior
    def log_prior(self, theta: Floats, *, normalised: bool = True) -> Floats:
        """``log p(theta)`` at each row of ``theta`` (M, P); flat coordinates count 0."""
        theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
        value, _, _ = self.prior.terms(theta)
        return np.asarray(-value + (self.prior.log_constant() if normalised else 0.0))

    def log_joint(self, theta: Floats) -> Floats:
        """``log p(theta, y)`` (normalised prior) at each row of ``theta`` (M, P)."""
        return self.log_likelihood(theta) + self.log_prior(theta)

    def values_and_grads(self, theta: Floats) -> tuple[Floats, Floats]:
        """``log p(theta | y)`` up to a constant and its gradient at each row of ``theta``.

        ``theta`` is (M, P); returns values (M,) and gradients (M, P).
        """
        theta = np.asarray(theta, dtype=np.float64)
        m = theta.shape[0]
        value, grad = self.log_likelihood_and_grad(
            theta.reshape(m, self.n_features + 1, self.n_free)
        )
        return self.add_prior(theta, value, grad.reshape(m, -1))

    def add_prior(self, theta: Floats, value: Floats, grad: Floats) -> tuple[Floats, Floats]:
        """The log posterior's value and gradient at ``theta`` (M, P) from the likelihood's.

        Up to the prior's normalising constant, as :meth:`values_and_grads`.
        """
        if self._precision is not None:  # Normal (or flat) priors: the fast path
            pg = self._precision * theta
            return value - 0.5 * (pg * theta).sum(axis=1), grad - pg
        pv, pg, _ = self.prior.terms(theta)
        return value - pv, grad - pg

    def value_and_grad(self, theta: Floats) -> tuple[float, Floats]:
        """``log p(theta | y)`` up to a constant and its gradient, flat layout."""
        values, grads = self.values_and_grads(np.asarray(theta, dtype=np.float64)[None, :])
        return float(values[0]), grads[0]

    def precision(self, theta: Floats) -> Floats:
        """Minus the Hessian of ``log p(theta | y)``, (P, P) in the flat layout."""
        W = self.unpack(theta)
        d1, k = W.shape
        H = self.rows.sum(block_hessian, W)
        flat = H.reshape(d1 * k, d1 * k)
        _, _, prior_diag = self.prior.terms(np.asarray(theta, dtype=np.float64).ravel())
        flat[np.diag_indices_from(flat)] += prior_diag
        return np.asarray(0.5 * (flat + flat.T))

    def log_det_gradient(self, theta: Floats, cov: Floats) -> Floats:
        r"""``tr(cov dH / dtheta_a)`` for each a, (P,) in the flat layout.

        The gradient of :math:`\log\det H(\theta)` when ``cov`` is :math:`H(\theta)^{-1}`.
        One pass over the rows (:func:`~bayescore._likelihood.block_log_det_gradient`),
        plus the prior's third derivatives on the diagonal.
        """
        theta = np.asarray(theta, dtype=np.float64).ravel()
        grad = self.rows.sum(block_log_det_gradient, self.unpack(theta), cov).ravel()
        return np.asarray(grad + np.diag(cov) * self.prior.third(theta))

    # ------------------------------------------------------------- the compiled twin
    def kernel_arguments(
        self,
    ) -> tuple[Floats, NDArray[np.int64], NDArray[np.int64], Floats, Floats] | None:
        """The arrays of NUTS's compiled density: ``(ZT, y, family, scale, nu)``.

        As :func:`bayescore.inference.kernels.whitened_value_grad` takes them: the kept
        transposed design, the labels and each parameter's prior (family code,
        scale, degrees of freedom); None when the design is processed in row blocks.
        """
        kept = self.rows.kept_design() if isinstance(self.rows, InMemoryRows) else None
        if kept is None:
            return None
        ZT, labels = kept
        nu = np.full(self.size, self.prior.nu)
        return ZT, labels.y, self.prior.codes(), self.prior.scales(), nu
