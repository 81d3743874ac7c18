r"""Predictions of a linear posterior in tiles of rows x draws, never all of (draw, obs, class).

The posterior predictive mean of :math:`N` new rows under :math:`S` draws,

.. math:: \bar p_{nk} = \frac1S \sum_s \mathrm{softmax}_k(\alpha_s + \tilde x_n B_s),

is an ``(N, K)`` array, but computing it through the ``(S, N, K)`` draws asks for
:math:`S N K` floats: 29.8 GiB for 10^6 rows and 2,000 draws (issue 19). Here the rows and
the draws are taken in tiles of at most :data:`~bayescore._memory.PREDICT_ELEMENTS`
logits: a tile's logits are one matrix product of the standardised rows with the draws'
coefficients, its probabilities are computed in float64 by the model's family and summed
over the tile's draws at once. Extra memory is a few tiles per thread whatever N and S are;
the result is the only array the size of the data.

The same tiles fill ``(S, N, K)`` arrays (probabilities, logits) and ``(S, N)``
log-likelihoods when those are asked for, stored in float32 on request (each tile is
computed in float64 and rounded once, on the way into the result).

Row blocks are independent, so they run on a few threads (NumPy and BLAS release the GIL)
with BLAS itself on one thread; on a Dask worker, which runs tasks on its own threads, the
caller passes ``n_threads=1`` (the ``*_task`` functions at the end are those callers, one
call per row partition). This module imports neither PyMC nor Dask.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax

from bayescore._dask import partition_of
from bayescore._inputs import encode_labels
from bayescore._memory import PREDICT_ELEMENTS
from bayescore.models import Family, Labels

__all__ = [
    "LinearDraws",
    "draws_task",
    "log_likelihood_task",
    "mean_log_proba_task",
    "mean_proba_task",
    "tile_shape",
]

Floats = NDArray[np.float64]

#: Mean probabilities below this are logged from log space (:meth:`LinearDraws.mean_log_proba`):
#: well above the smallest normal float64 (2.2e-308), below which digits are lost.
LOG_SPACE_BELOW = 1e-300

#: Fewest rows of a tile when the draws alone overflow the budget: the draws are then split
#: instead, so that each matrix product still has rows enough to run at full speed.
MIN_TILE_ROWS = 64


def tile_shape(
    n_rows: int, n_draws: int, n_classes: int, budget: int | None = None
) -> tuple[int, int]:
    """Rows and draws of one tile: ``rows * draws * n_classes <= budget`` when possible.

    ``budget`` defaults to :data:`~bayescore._memory.PREDICT_ELEMENTS` (read at each call,
    so ``benchmarks/bench_predict.py`` can try others).

    All draws go in one tile when at least :data:`MIN_TILE_ROWS` rows of them fit the
    budget (the usual case: 262 rows of 2,000 draws and 2 classes); otherwise tiles hold
    that many rows and split the draws.

    Examples
    --------
    >>> tile_shape(10**6, 2000, 2, budget=1 << 20)
    (262, 2000)
    >>> tile_shape(10**6, 10**6, 2, budget=1 << 20)
    (64, 8192)
    >>> tile_shape(5, 2000, 2, budget=1 << 20)
    (5, 2000)
    """
    budget = PREDICT_ELEMENTS if budget is None else budget
    per_row = max(1, n_draws * n_classes)
    if per_row * MIN_TILE_ROWS <= budget:
        return max(1, min(n_rows, budget // per_row)), n_draws
    rows = max(1, min(n_rows, MIN_TILE_ROWS))
    return rows, max(1, min(n_draws, budget // (rows * n_classes)))


@functools.cache
def _threadpools() -> Any:
    """The process's BLAS pools, found once (a scan of the loaded libraries)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    # Each tile's matrix product is small (hundreds of rows x 20 features); with our own
    # threads over row blocks, BLAS threads on top only oversubscribe the cores.
    with _threadpools().limit(limits=1, user_api="blas"):
        yield


def _run(n_rows: int, rows: int, work: Callable[[int, int], None], n_threads: int | None) -> None:
    """Call ``work(start, stop)`` for every row block, on up to ``n_threads`` threads."""
    starts = list(range(0, n_rows, rows))
    if n_threads is None:
        n_threads = min(len(starts), os.cpu_count() or 1)
    if n_threads <= 1:
        for start in starts:
            work(start, min(start + rows, n_rows))
        return

    def share(worker: int) -> None:
        for start in starts[worker::n_threads]:
            work(start, min(start + rows, n_rows))

    with _one_blas_thread(), ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(share, range(n_threads)))  # list(): re-raises a worker's error


@functools.lru_cache(maxsize=8)
def _draw_sums(n_draws: int, n_classes: int) -> Floats:
    """``(n_draws K, K)`` stacked identities: ``tile.reshape(rows, -1) @ it`` sums the draws."""
    ones = np.tile(np.eye(n_classes), (n_draws, 1))
    ones.flags.writeable = False
    return ones


@dataclass(frozen=True)
class LinearDraws:
    r"""The linear predictor of every posterior draw, and the training standardisation.

    Everything needed to predict new rows, and nothing else: small enough to send to each
    Dask worker (``S (D + 1) K`` floats) where the fit itself stays on the client.

    Attributes
    ----------
    family : Family
        The model kind (probabilities and log-likelihood of logits).
    intercept : ndarray (S, K)
    coef : ndarray (S, D, K)
        Per draw, on the standardised scale (class 0's column is 0 under reference coding).
    mean, scale : ndarray (D,)
        The training standardisation, :math:`\tilde x = (x - \mathrm{mean}) / \mathrm{scale}`.
    draws_per_tile : int or None
        Cap on the draws of a tile (``chunk_size`` of the public functions); None: as the
        memory budget allows.
    """

    family: Family
    intercept: Floats
    coef: Floats
    mean: Floats
    scale: Floats
    draws_per_tile: int | None = None

    @property
    def n_draws(self) -> int:
        """Number of draws ``S``."""
        return int(self.intercept.shape[0])

    @property
    def n_classes(self) -> int:
        """Number of classes ``K``."""
        return int(self.intercept.shape[1])

    @property
    def n_features(self) -> int:
        """Number of features ``D``."""
        return int(self.mean.size)

    def take(self, index: NDArray[np.intp]) -> LinearDraws:
        """The draws at positions ``index`` (flat over chains) only."""
        return LinearDraws(
            self.family,
            np.ascontiguousarray(self.intercept[index]),
            np.ascontiguousarray(self.coef[index]),
            self.mean,
            self.scale,
            self.draws_per_tile,
        )

    def with_tile_cap(self, draws_per_tile: int | None) -> LinearDraws:
        """The same draws, with at most ``draws_per_tile`` draws in a tile."""
        return LinearDraws(
            self.family, self.intercept, self.coef, self.mean, self.scale, draws_per_tile
        )

    @functools.cached_property
    def _weights(self) -> tuple[Floats, Floats]:
        """Coefficients as one ``(D, S K)`` matrix and intercepts as ``(S K,)``.

        A tile's logits for draws ``s0:s1`` are then ``Xs @ W[:, s0 K : s1 K] + b[...]``,
        one matrix product laid out ``(rows, draws, class)`` with no transpose.
        """
        S, D, K = self.coef.shape
        W = np.ascontiguousarray(self.coef.transpose(1, 0, 2).reshape(D, S * K))
        return W, self.intercept.reshape(S * K)

    def _tiles(self, n_rows: int) -> tuple[int, list[slice]]:
        rows, draws = tile_shape(n_rows, self.n_draws, self.n_classes)
        if self.draws_per_tile is not None and self.draws_per_tile < draws:
            draws = self.draws_per_tile
            rows = tile_shape(n_rows, draws, self.n_classes)[0]
        S = self.n_draws
        return rows, [slice(s, min(s + draws, S)) for s in range(0, S, draws)]

    def _logits(self, Xs: Floats, draws: slice) -> Floats:
        """Logits ``(rows, draws, class)`` of standardised rows ``Xs`` under ``draws``."""
        W, b = self._weights
        K = self.n_classes
        cols = slice(draws.start * K, draws.stop * K)
        logits = Xs @ W[:, cols]
        logits += b[cols]
        return logits.reshape(Xs.shape[0], -1, K)

    def _standardised(self, X: Floats, start: int, stop: int) -> Floats:
        return (X[start:stop] - self.mean) / self.scale

    def mean_proba(self, X: Floats, *, n_threads: int | None = None) -> Floats:
        """Posterior predictive mean probabilities ``(N, K)`` of validated rows ``X``."""
        n, K = X.shape[0], self.n_classes
        out = np.zeros((n, K))
        rows, tiles = self._tiles(n)

        def work(start: int, stop: int) -> None:
            Xs = self._standardised(X, start, stop)
            acc = out[start:stop]
            for draws in tiles:
                logits = self._logits(Xs, draws)
                probs = np.empty_like(logits)
                self.family.probs(logits, probs)
                # The sum over the tile's draws as one matrix product with stacked identities:
                # 10x faster than probs.sum(axis=1), a strided reduction over the middle
                # axis; BLAS's order of summation moves the sum by ~1e-15 relative.
                acc += probs.reshape(probs.shape[0], -1) @ _draw_sums(probs.shape[1], K)

        _run(n, rows, work, n_threads)
        out /= self.n_draws
        return out

    def mean_log_proba(self, X: Floats, *, n_threads: int | None = None) -> Floats:
        r"""``log`` of :meth:`mean_proba`: :math:`\log\frac1S\sum_s p_{snk}`, never ``-inf``.

        The log of the mean probability is exact to rounding while the mean is a normal
        float64 (each draw's probability is exact in relative terms, and draws below 1e-308
        add at most ``S * 5e-324`` to a sum of at least ``S * 1e-300``). Rows with a mean
        below :data:`LOG_SPACE_BELOW` are computed again in log space (log-sum-exp over the
        draws of the log-softmax), so a class given ``1e-400`` by every draw gets about
        ``-921``. The log-space pass costs 4x the probabilities' (163 s against 43 s at
        10^6 rows and 2,000 draws), so it is kept for the rows that need it.
        """
        with np.errstate(divide="ignore"):
            out = np.log(self.mean_proba(X, n_threads=n_threads))
        rows = np.flatnonzero((out < np.log(LOG_SPACE_BELOW)).any(axis=1))
        if rows.size:
            out[rows] = self._log_mean_exp(X[rows], n_threads)
        return out

    def _log_mean_exp(self, X: Floats, n_threads: int | None) -> Floats:
        """:meth:`mean_log_proba` in log space, for every row of ``X``."""
        n = X.shape[0]
        out = np.full((n, self.n_classes), -np.inf)
        rows, tiles = self._tiles(n)

        def work(start: int, stop: int) -> None:
            Xs = self._standardised(X, start, stop)
            acc = out[start:stop]
            for draws in tiles:
                log_p = log_softmax(self._logits(Xs, draws), axis=-1)
                # Draws last and contiguous (reductions over a middle axis are strided and
                # slow), then log-sum-exp in place: the tile's temporaries stay few.
                log_p = np.ascontiguousarray(log_p.transpose(0, 2, 1))
                top = log_p.max(axis=-1)  # finite: log-softmax of finite logits
                log_p -= top[..., None]
                np.exp(log_p, out=log_p)
                top += np.log(log_p.sum(axis=-1))
                np.logaddexp(acc, top, out=acc)

        _run(n, rows, work, n_threads)
        out -= np.log(self.n_draws)
        return out

    def fill_proba(self, X: Floats, out: NDArray[Any], *, n_threads: int | None = None) -> None:
        """Write the probabilities ``(S, N, K)`` of every draw and row into ``out``."""
        self._fill(X, out, n_threads, self.family.probs)

    def fill_logits(self, X: Floats, out: NDArray[Any], *, n_threads: int | None = None) -> None:
        """Write the logits ``(S, N, K)`` of every draw and row into ``out``."""
        self._fill(X, out, n_threads, None)

    def _fill(
        self,
        X: Floats,
        out: NDArray[Any],
        n_threads: int | None,
        transform: Callable[[Floats, Floats], None] | None,
    ) -> None:
        n = X.shape[0]
        rows, tiles = self._tiles(n)

        def work(start: int, stop: int) -> None:
            Xs = self._standardised(X, start, stop)
            for draws in tiles:
                logits = self._logits(Xs, draws)
                if transform is not None:
                    values = np.empty_like(logits)
                    transform(logits, values)
                    logits = values
                out[draws, start:stop] = logits.transpose(1, 0, 2)

        _run(n, rows, work, n_threads)

    def fill_log_likelihood(
        self,
        X: Floats,
        y_idx: NDArray[np.int64],
        out: NDArray[Any],
        *,
        n_threads: int | None = None,
    ) -> None:
        """Write ``log p(y_n | theta_s)`` ``(S, N)`` of rows ``X`` and class indices ``y_idx``."""
        n = X.shape[0]
        rows, tiles = self._tiles(n)

        def work(start: int, stop: int) -> None:
            Xs = self._standardised(X, start, stop)
            labels = Labels.of(y_idx[start:stop])
            for draws in tiles:
                # The family works on (draws, rows, class) logits, rows last in its output.
                eta = self.family.free_logits(self._logits(Xs, draws).transpose(1, 0, 2))
                out[draws, start:stop] = self.family.log_likelihood(eta, labels, reduce=False)

        _run(n, rows, work, n_threads)


# ------------------------------------------------------- tasks of a Dask X's partitions
# Run on Dask workers, one call per row partition (module-level: pickled by reference),
# from bayescore._dask.map_rows. n_threads=1: a worker already runs one task per thread.


def mean_proba_task(X: np.ndarray, start: int, bounds: Any, linear: LinearDraws) -> np.ndarray:
    """:meth:`LinearDraws.mean_proba` of one partition."""
    return linear.mean_proba(X, n_threads=1)


def mean_log_proba_task(X: np.ndarray, start: int, bounds: Any, linear: LinearDraws) -> np.ndarray:
    """:meth:`LinearDraws.mean_log_proba` of one partition."""
    return linear.mean_log_proba(X, n_threads=1)


def draws_task(X: np.ndarray, start: int, bounds: Any, task: tuple[Any, ...]) -> np.ndarray:
    """Probabilities or logits ``(chain, draw, rows, class)`` of one partition.

    ``task`` is ``(linear, "proba" or "logits", dtype, n_chains)``.
    """
    linear, what, dtype, n_chains = task
    out = np.empty((linear.n_draws, X.shape[0], linear.n_classes), dtype)
    if what == "proba":
        linear.fill_proba(X, out, n_threads=1)
    else:
        linear.fill_logits(X, out, n_threads=1)
    return out.reshape(n_chains, -1, *out.shape[1:])


def log_likelihood_task(
    X: np.ndarray, start: int, bounds: Any, y: np.ndarray, task: tuple[Any, ...]
) -> np.ndarray:
    """Log-likelihood ``(chain, draw, rows)`` of one partition and its labels ``y``.

    ``task`` is ``(linear, classes, encoded, dtype, n_chains)``; labels not yet encoded are
    matched to the classes here, and an unknown one is named by its row in all of ``y``.
    """
    linear, classes, encoded, dtype, n_chains = task
    if encoded:
        y_idx = np.asarray(y, dtype=np.int64)
    else:
        try:
            y_idx = encode_labels(y, classes, source="the classes of the fit")
        except ValueError:
            # Name the row as in memory: by its number in all of y, and its partition.
            known = {value: None for value in classes.tolist()}
            i = next(i for i, v in enumerate(np.asarray(y).tolist()) if not _known(v, known))
            raise ValueError(
                f"y contains label {np.asarray(y).tolist()[i]!r} at row {start + i} "
                f"(partition {partition_of(start, bounds)} of {bounds.size - 1}, its row {i}), "
                f"not among the classes {classes.tolist()} (the classes of the fit)."
            ) from None
    out = np.empty((linear.n_draws, X.shape[0]), dtype)
    linear.fill_log_likelihood(X, y_idx, out, n_threads=1)
    return out.reshape(n_chains, -1, X.shape[0])


def _known(label: Any, known: dict[Any, None]) -> bool:
    try:
        return label in known
    except TypeError:  # unhashable
        return False
