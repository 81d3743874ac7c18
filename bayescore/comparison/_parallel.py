"""Independent tasks (folds, models) through joblib: local processes or a Dask cluster.

``n_jobs`` follows joblib: 1 runs in this process, in order; ``n_jobs > 1`` (``-1``: every
core) runs in joblib's ``loky`` worker processes. With an active ``dask.distributed``
client the tasks go to its cluster instead, through joblib's Dask backend, for any
``n_jobs`` but 1 (``None`` included: a client is the user's request for a cluster);
without one, ``None`` means 1. Each task carries everything it needs (its
estimator, rows and seeds), so the results do not depend on where or in which order the
tasks run: the same as serial, to the last bit (``tests/comparison/test_parallel.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

__all__ = ["backend", "run_tasks"]


def backend() -> str:
    """``"dask"`` with an active ``dask.distributed`` client, else ``"loky"``.

    Examples
    --------
    >>> backend()
    'loky'
    """
    try:
        from distributed import get_client

        get_client()
    except (ImportError, ValueError):
        return "loky"
    return "dask"


def run_tasks(
    func: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    n_jobs: int | None,
    *,
    progress: Callable[[Iterable[Any], int], Iterator[Any]] | None = None,
) -> list[Any]:
    """``[func(*task) for task in tasks]``, on ``n_jobs`` workers (see the module doc).

    ``progress(results, total)`` wraps the results as they arrive (a progress bar).

    Examples
    --------
    >>> run_tasks(pow, [(2, 3), (3, 2)], n_jobs=None)
    [8, 9]
    """
    where = backend()
    if n_jobs == 1 or (n_jobs is None and where == "loky"):
        results: Iterable[Any] = (func(*task) for task in tasks)
        if progress is not None:
            results = progress(results, len(tasks))
        return list(results)
    import joblib

    with joblib.parallel_config(backend=where, n_jobs=n_jobs):
        results = joblib.Parallel(return_as="generator")(
            joblib.delayed(func)(*task) for task in tasks
        )
        if progress is not None:
            results = progress(results, len(tasks))
        return list(results)
