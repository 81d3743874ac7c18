"""Where the rows of a fit live, and how the posterior sums over them.

The log posterior and its derivatives are sums over rows. :class:`InMemoryRows` keeps a
small design whole (standardised and transposed, once: every gradient is then two matrix
products) and builds larger ones block by block on the fly, so memory stays bounded at any
N; :class:`bayescore.inference.cluster.PartitionedRows` sums the partitions of a Dask array on the
workers. Both give :class:`~bayescore.inference.posterior.Posterior` one operation,
:meth:`Rows.sum`: a function of a block's transposed design and labels, summed over blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from bayescore._likelihood import Labels, design
from bayescore._memory import BLOCK_ELEMENTS, KEEP_ELEMENTS, rows_per_block
from bayescore.data import Standardization

__all__ = ["InMemoryRows", "Rows", "add"]

Floats = NDArray[np.float64]
T = TypeVar("T", Floats, tuple[Floats, Floats])


def add[S: (Floats, tuple[Floats, Floats])](total: S | None, part: S) -> S:
    """``total + part``, elementwise for tuples; ``part`` itself when ``total`` is None."""
    if total is None:
        return part
    if isinstance(total, tuple) and isinstance(part, tuple):
        return (total[0] + part[0], total[1] + part[1])
    return total + part


class Rows(Protocol):
    """The rows of a fit, as the posterior needs them."""

    n_obs: int

    def sum(self, fn: Callable[..., T], *args: object) -> T:
        """``sum over blocks of fn(ZT, labels, *args)``, elementwise for tuples."""
        ...

    def take(self, index: NDArray[np.intp]) -> InMemoryRows:
        """The rows at sorted positions ``index``, in memory, standardised as these are."""
        ...


class InMemoryRows:
    """The rows of an in-memory design: kept whole when small, else in blocks built on the fly.

    Parameters
    ----------
    X : ndarray (N, D)
        Raw features.
    y : ndarray of int (N,)
        Class indices.
    standardization : Standardization
    keep : int
        Elements of a design kept whole (:data:`~bayescore._memory.KEEP_ELEMENTS`).
    block : int
        Elements of one block otherwise (:data:`~bayescore._memory.BLOCK_ELEMENTS`).

    Examples
    --------
    >>> from bayescore._likelihood import block_log_likelihood
    >>> X, y = np.array([[0.0], [2.0]]), np.array([0, 1])
    >>> rows = InMemoryRows(X, y, Standardization.fit(X))
    >>> float(rows.sum(block_log_likelihood, np.zeros((1, 2, 1)))[0])   # 2 log(1/2)
    -1.3862943611198906
    """

    def __init__(
        self,
        X: Floats,
        y: NDArray[np.integer],
        standardization: Standardization,
        keep: int = KEEP_ELEMENTS,
        block: int = BLOCK_ELEMENTS,
    ) -> None:
        n, d = X.shape
        self.n_obs = n
        self._X = X
        self._y = y
        self._standardization = standardization
        rows = n if n * (d + 1) <= keep else rows_per_block(d + 1, block)
        self._blocks = [slice(s, min(s + rows, n)) for s in range(0, n, rows)]
        self._labels = [Labels.of(y[sl]) for sl in self._blocks]
        self._kept = [self._design(sl) for sl in self._blocks] if rows == n else None

    def _design(self, sl: slice) -> Floats:
        s = self._standardization
        return design(self._X[sl], s.mean, s.scale)

    @property
    def kept(self) -> bool:
        """Whether the design is kept whole (else built block by block)."""
        return self._kept is not None

    @property
    def n_blocks(self) -> int:
        """Number of row blocks."""
        return len(self._blocks)

    def designs(self) -> Iterator[tuple[Floats, Labels]]:
        """``(Z^T, labels)`` of each row block."""
        for i, sl in enumerate(self._blocks):
            ZT = self._kept[i] if self._kept is not None else self._design(sl)
            yield ZT, self._labels[i]

    def kept_design(self) -> tuple[Floats, Labels] | None:
        """The whole kept design and its labels, or None when it is built in blocks."""
        if self._kept is None:
            return None
        return self._kept[0], self._labels[0]

    def take(self, index: NDArray[np.intp]) -> InMemoryRows:  # noqa: D102
        return InMemoryRows(self._X[index], self._y[index], self._standardization)

    def sum(self, fn: Callable[..., T], *args: object) -> T:  # noqa: D102
        total: T | None = None
        for ZT, labels in self.designs():
            total = add(total, fn(ZT, labels, *args))
        assert total is not None
        return total
