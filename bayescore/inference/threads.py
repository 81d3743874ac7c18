"""The numpy fitters run BLAS on one thread.

Their matrix products are many and mid-sized (points x row blocks), where OpenBLAS's
threads cost more than they give, and numpy's and scipy's two OpenBLAS pools spin against
each other between L-BFGS steps; on a machine busy with other work, a Hessian at N = 50,000
took 50 times longer with the threads than without.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The process's thread pools (BLAS, OpenMP), found once: a scan of the loaded libraries."""
    return ThreadpoolController()


def one_blas_thread[**P, R](fit: Callable[P, R]) -> Callable[P, R]:
    """Run ``fit`` with BLAS on one thread; the limit is lifted when it returns."""

    @functools.wraps(fit)
    def serial(*args: P.args, **kwargs: P.kwargs) -> R:
        with _threadpools().limit(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return serial
